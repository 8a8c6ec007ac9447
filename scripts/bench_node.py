"""End-to-end benchmark of `rtseg node` against rclpy publishers and subscribers (loopback).

    .venv/bin/python scripts/bench_node.py [--cameras 2] [--rate 15] [--seconds 10]
        [--size 1280x720] [--network 64x112] [--backend burn|ort] [--encoding rgb8]
        [--weights W] [--workers N] [--max-batch N] [--topic mask|mask/compressed]
        [--mask-resolution input|network] [--consumer-profile FILE|''] [--no-relay]

Starts target/release/rtseg node with one camera per stream, runs one rclpy stream peer per
camera (tests/ros/stream.py: publishes frames stamped at publish time, receives the masks),
and reports per camera: masks published and received, frames dropped by keep-latest,
masks superseded (a newer frame's mask went out first: several workers on one camera),
end-to-end latency (rclpy publish -> mask arrival) p50/p99, the node's own split of its
latency into network time and everything else (decode, resize, encode, publish), and the node
process's CPU use. Then the same streams run against scripts/rclpy_relay.py, an rclpy node that
answers each frame at once with an all-zero mask: its end-to-end latency is what moving the
frame and the mask through DDS and rclpy costs, the floor under rtseg's overhead.
Build first: cargo build --release --features ort (the shipped `backend: auto` picks ort)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(server_cmd, cams, args, env, peer_env, tmp, w, h):
    """Starts one server (rtseg node or the rclpy relay), streams from one rclpy peer per
    camera, and returns the peers' reports and the server's CPU use (fraction of one core)."""
    server = subprocess.Popen(server_cmd, env=env, stderr=subprocess.DEVNULL)
    peers = []
    for cam in cams:
        plan = {"camera": cam, "output_namespace": "segmentation", "topic": args.topic,
                "frames": int(args.rate * args.seconds), "rate_hz": args.rate,
                "width": w, "height": h, "encoding": args.encoding}
        plan_path, out = os.path.join(tmp, cam[1:] + ".json"), os.path.join(tmp, cam[1:] + ".out")
        json.dump(plan, open(plan_path, "w"))
        peers.append((cam, out, subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests/ros/stream.py"), plan_path, out], env=peer_env)))
    cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
    for _, _, p in peers:
        p.wait()
    cpu = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
    server.terminate()
    server.wait()
    return {cam: json.load(open(out)) for cam, out, _ in peers}, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=2)
    ap.add_argument("--rate", type=float, default=15)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--network", default="shipped",
                    help="network input HxW (default: the shipped parameter file's, auto)")
    ap.add_argument("--backend", default="shipped",
                    help="burn, ort, ... (default: the shipped parameter file's, auto)")
    ap.add_argument("--encoding", default="rgb8", choices=["rgb8", "mono8"])
    ap.add_argument("--weights", default="", help="weight file (default: shipped)")
    ap.add_argument("--workers", type=int, default=0, help="inference threads (default: the shipped parameter file's)")
    ap.add_argument("--max-batch", type=int, default=1, help="frames per network call (node max_batch)")
    ap.add_argument("--mask-resolution", default="input", choices=["input", "network"],
                    help="the node's mask_resolution (network: masks at the network size)")
    ap.add_argument("--domain", default="57")
    ap.add_argument("--topic", default="mask", choices=["mask", "mask/compressed"])
    ap.add_argument("--consumer-profile", default=os.path.join(ROOT, "launch/fastdds_large_frames.xml"),
                    help="Fast DDS profile for the rclpy peers ('' = Fast DDS defaults)")
    ap.add_argument("--no-relay", action="store_true",
                    help="skip the rclpy relay run (the transport floor rtseg is compared with)")
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    env = dict(os.environ, ROS_DOMAIN_ID=args.domain, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    peer_env = dict(env, FASTRTPS_DEFAULT_PROFILES_FILE=args.consumer_profile) if args.consumer_profile else env
    cams = [f"/bench_cam{i}" for i in range(args.cameras)]
    with tempfile.TemporaryDirectory() as tmp:
        params = open(os.path.join(ROOT, "launch/rtseg.params.yaml")).read()
        if args.network != "shipped":
            nh, nw = map(int, args.network.split("x"))
            params = params.replace("network_size: auto", f"network_size: [{nh}, {nw}]")
        params = params.replace("mask_resolution: input", f"mask_resolution: {args.mask_resolution}")
        if args.workers:
            params = params.replace("workers: 2", f"workers: {args.workers}")
        if args.backend != "shipped":
            params = params.replace("backend: auto", f"backend: {args.backend}")
        params = (params.replace('cameras: ["/camera"]', "cameras: " + json.dumps(cams))
                  .replace('weights: ""', f'weights: "{args.weights}"')
                  .replace("max_batch: 1", f"max_batch: {args.max_batch}"))
        params_path = os.path.join(tmp, "params.yaml")
        open(params_path, "w").write(params)
        rtseg = run([os.path.join(ROOT, "target/release/rtseg"), "node", "--params-file", params_path],
                    cams, args, env, peer_env, tmp, w, h)
        relay = None
        if not args.no_relay and args.topic == "mask":
            relay = run([sys.executable, os.path.join(ROOT, "scripts/rclpy_relay.py"), "segmentation"] + cams,
                        cams, args, peer_env, peer_env, tmp, w, h)
    reports, cpu = rtseg
    backend = next(iter(reports.values()), {}).get("node", {}).get("backend", "?")
    print(f"rtseg node (backend {backend}): {args.cameras} camera(s), {args.size} {args.encoding} at {args.rate} Hz for "
          f"{args.seconds} s, network {args.network}, {args.workers or 'shipped'} worker(s), "
          f"max_batch {args.max_batch}, masks on {args.topic} at {args.mask_resolution} resolution, "
          f"consumer profile {args.consumer_profile or 'none'}; "
          f"node CPU {100 * cpu:.0f}% of one core")
    print(f"{'camera':<12} {'sent':>5} {'publ':>5} {'recv':>5} {'drop':>5} {'sup':>4} {'e2e p50':>8} {'e2e p99':>8} "
          f"{'net p50':>8} {'net p99':>8} {'rest p50':>8} {'rest p99':>8}  (ms)")
    fmt = lambda v: f"{v:8.1f}" if isinstance(v, float) else f"{str(v):>8}"
    for cam, r in reports.items():
        n = r.get("node", {})
        print(f"{cam:<12} {r['sent']:>5} {str(r['published']):>5} {r['received']:>5} "
              f"{n.get('dropped', '?'):>5} {n.get('superseded', '?'):>4} {fmt(r['latency_p50_ms'])} {fmt(r['latency_p99_ms'])} "
              f"{n.get('model_p50_ms', '?'):>8} {n.get('model_p99_ms', '?'):>8} "
              f"{n.get('overhead_p50_ms', '?'):>8} {n.get('overhead_p99_ms', '?'):>8}")
    if relay:
        relay_reports, relay_cpu = relay
        print(f"rclpy relay (same streams, mask of zeros sent back at once, no network): "
              f"relay CPU {100 * relay_cpu:.0f}% of one core")
        for cam, r in relay_reports.items():
            print(f"{cam:<12} {r['sent']:>5} {'':>5} {r['received']:>5} {'':>5} "
                  f"{fmt(r['latency_p50_ms'])} {fmt(r['latency_p99_ms'])}")
    print(json.dumps({"cpu_fraction": cpu, "cameras": reports,
                      "relay": relay and {"cpu_fraction": relay[1], "cameras": relay[0]}}))


if __name__ == "__main__":
    main()
