"""Masks across a real (virtual) network link, over DDS and over zenoh, in one run.

    sudo .venv/bin/python scripts/two_hosts.py [--rate 30] [--seconds 10] [--size 1280x720]
        [--network 64x112] [--topic mask/compressed]

Makes two network namespaces joined by a veth pair — `rtseg_cam` (10.77.0.1, the camera
host) and `rtseg_car` (10.77.0.2, the host running rtseg) — so nothing leaves this machine,
and runs, for each transport, `rtseg node` (target/release/rtseg, built with --features
zenoh) in rtseg_car and a camera plus mask subscriber in rtseg_cam:
  - DDS: tests/ros/stream.py (rclpy on Fast DDS), discovery over the link (no LOCALHOST
    restriction; the namespaces only have lo and the veth);
  - zenoh: scripts/zenoh_stream.py (eclipse-zenoh, as an rmw_zenoh camera), which is also the
    zenoh router the node (a zenoh peer) connects to across the link.
Prints frames sent, masks received and end-to-end latency (camera publish -> mask arrival)
per transport. Needs root (ip netns); removes the namespaces when done. Not part of CI.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAM, CAR = "rtseg_cam", "rtseg_car"
CAM_IP, CAR_IP = "10.77.0.1", "10.77.0.2"


def sh(*args):
    subprocess.run(args, check=True)


def make_link():
    for ns in (CAM, CAR):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", "rtseg_veth_cam", "netns", CAM, "type", "veth",
       "peer", "name", "rtseg_veth_car", "netns", CAR)
    for ns, dev, ip in ((CAM, "rtseg_veth_cam", CAM_IP), (CAR, "rtseg_veth_car", CAR_IP)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        # DDS discovery is multicast: route it over the link.
        sh("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)


def params(tmp, transport, network):
    text = open(os.path.join(ROOT, "launch/rtseg.params.yaml")).read()
    h, w = network
    for old, new in [
        ('cameras: ["/camera"]', 'cameras: ["/cam0"]'),
        ("backend: auto ", "backend: burn "),
        ("network_size: auto ", f"network_size: [{h}, {w}] "),
        ("transport: dds ", f"transport: {transport} "),
        ('connect: ["tcp/localhost:7447"]', f'connect: ["tcp/{CAM_IP}:7447"]'),
        ('listen: ["tcp/localhost:0"]', f'listen: ["tcp/{CAR_IP}:0"]'),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    path = os.path.join(tmp, f"{transport}.params.yaml")
    open(path, "w").write(text)
    return path


def run(transport, args, tmp, size, network):
    w, h = size
    plan = {"camera": "/cam0", "output_namespace": "segmentation", "topic": args.topic,
            "frames": int(args.rate * args.seconds), "rate_hz": args.rate, "width": w,
            "height": h, "encoding": "rgb8", "endpoint": f"tcp/{CAM_IP}:7447", "domain": 77}
    plan_path, out = os.path.join(tmp, f"{transport}.plan.json"), os.path.join(tmp, f"{transport}.out")
    json.dump(plan, open(plan_path, "w"))
    env = dict(os.environ, ROS_DOMAIN_ID="77", ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET")
    env.pop("ROS_LOCALHOST_ONLY", None)
    peer_script = "tests/ros/stream.py" if transport == "dds" else "scripts/zenoh_stream.py"
    peer_cmd = ["ip", "netns", "exec", CAM, sys.executable, os.path.join(ROOT, peer_script),
                plan_path, out]
    node_cmd = ["ip", "netns", "exec", CAR, os.path.join(ROOT, "target/release/rtseg"), "node",
                "--params-file", params(tmp, transport, network)]
    log = open(os.path.join(tmp, f"{transport}.node.log"), "w")
    if transport == "zenoh":
        # The camera host runs the router: start it before the node connects.
        peer = subprocess.Popen(peer_cmd, env=env)
        time.sleep(2.0)
        node = subprocess.Popen(node_cmd, env=env, stderr=log)
    else:
        node = subprocess.Popen(node_cmd, env=env, stderr=log)
        peer = subprocess.Popen(peer_cmd, env=env)
    peer.wait()
    node.terminate()
    node.wait()
    if peer.returncode != 0:
        sys.exit(f"{transport} peer failed; node log: {log.name}")
    return json.load(open(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=30)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--network", default="64x112", help="HxW the network runs at")
    ap.add_argument("--topic", default="mask/compressed")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    network = tuple(int(v) for v in args.network.split("x"))
    make_link()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {t: run(t, args, tmp, size, network) for t in ("dds", "zenoh")}
    finally:
        for ns in (CAM, CAR):
            subprocess.run(["ip", "netns", "del", ns])
    print(f"{args.size} rgb8 at {args.rate:g} Hz for {args.seconds:g} s over a veth link, "
          f"network {args.network}, topic {args.topic}")
    print("| transport | masks / frames | e2e p50 ms | e2e p99 ms |")
    print("|---|---|---|---|")
    for t, r in results.items():
        fmt = lambda v: "-" if v is None else f"{v:.1f}"
        print(f"| {t} | {r['received']}/{r['sent']} | {fmt(r['latency_p50_ms'])} | "
              f"{fmt(r['latency_p99_ms'])} |")


if __name__ == "__main__":
    main()
