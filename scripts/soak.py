"""Soak: `rtseg node` for N minutes under K cameras at R Hz from rclpy, with churn, watched once
a second; prints a verdict and exits 1 when it fails.

    .venv/bin/python scripts/soak.py [--minutes 2] [--cameras 2] [--rate 10] [--size 320x240]
        [--network 64x112] [--backend burn] [--domain 58] [--report soak.json]

The rclpy side (one process) publishes rgb8 frames on <cam>/image at R Hz per camera and
counts the masks that come back. Churn, on a 12 s cycle: a second subscriber to each camera's
mask joins and leaves (another rclpy process: a participant coming and going); one camera's publisher is destroyed and created again (a new GID, as a
restarted camera driver); one camera switches frame size (its camera_info, sent with every
frame as drivers do, switches with it), then switches back (with mask_rect on, so the node rebuilds its per-camera map).

Every second it records the node process's RSS, open file descriptors, threads and CPU, and
per camera the masks delivered and sent and the latency (arrival − stamp) p50/p99. Verdict,
after a warm-up (the first quarter, at least 60 s, at most half the run):
- RSS slope (least squares) below --rss-slope MiB/min;
- no growth in file descriptors or threads (last sample at most the warm-up's highest);
- no stall: every camera gets masks in every 5 s window;
- the node alive to the end, and stopped by SIGTERM with exit status 0.
Discovery stays on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST). Build first:
cargo build --release.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CYCLE_S = 12.0


def proc_sample(pid):
    status = open(f"/proc/{pid}/status").read()
    field = lambda name: int(next(l for l in status.splitlines() if l.startswith(name)).split()[1])
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return {"rss_mib": field("VmRSS:") / 1024, "threads": field("Threads:"),
            "fds": len(os.listdir(f"/proc/{pid}/fd")), "cpu_s": cpu}


def slope_per_min(xs, ys):
    if len(xs) < 3:
        return 0.0
    return float(np.polyfit(np.array(xs), np.array(ys), 1)[0]) * 60.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--cameras", type=int, default=2)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--size", default="320x240", help="frame WxH")
    ap.add_argument("--network", default="64x112", help="network HxW")
    ap.add_argument("--backend", default="burn")
    ap.add_argument("--domain", default="58")
    ap.add_argument("--rss-slope", type=float, default=2.0, help="largest RSS slope after warm-up, MiB/min")
    ap.add_argument("--report", default="", help="write the per-second samples and verdict here (JSON)")
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    nh, nw = map(int, args.network.split("x"))
    os.environ.update(ROS_DOMAIN_ID=args.domain, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    import rclpy
    from rclpy.qos import QoSProfile, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    cams = [f"/soak_cam{i}" for i in range(args.cameras)]
    subscriber_code = (
        "import sys, time, rclpy\n"
        "from rclpy.qos import QoSProfile\n"
        "from sensor_msgs.msg import Image\n"
        "rclpy.init(); n = rclpy.create_node('rtseg_soak_listener')\n"
        "for t in sys.argv[2:]: n.create_subscription(Image, t, lambda m: None, QoSProfile(depth=10))\n"
        "end = time.monotonic() + float(sys.argv[1])\n"
        "while time.monotonic() < end: rclpy.spin_once(n, timeout_sec=0.05)\n"
        "n.destroy_node(); rclpy.shutdown()\n")
    tmp = tempfile.mkdtemp(prefix="rtseg_soak_")
    params = (open(os.path.join(ROOT, "launch/rtseg.params.yaml")).read()
              .replace('cameras: ["/camera"]', "cameras: " + json.dumps(cams))
              .replace("backend: auto", f"backend: {args.backend}")
              .replace("network_size: auto", f"network_size: [{nh}, {nw}]")
              .replace("mask_rect: false", "mask_rect: true"))
    params_path = os.path.join(tmp, "params.yaml")
    open(params_path, "w").write(params)
    log_path = os.path.join(tmp, "node.log")
    node_proc = subprocess.Popen([os.path.join(ROOT, "target/release/rtseg"), "node", "--params-file", params_path],
                                 stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))

    rclpy.init()
    node = rclpy.create_node("rtseg_soak_peer")
    reliable = QoSProfile(depth=10)
    arrivals = {c: [] for c in cams}  # (arrival monotonic, latency ms)

    def on_mask(cam):
        def cb(msg):
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            arrivals[cam].append((time.monotonic(), (time.time() - stamp) * 1e3))
        return cb

    for c in cams:
        node.create_subscription(Image, f"{c}/segmentation/mask", on_mask(c), reliable)
    pubs = {c: node.create_publisher(Image, f"{c}/image", qos_profile_sensor_data) for c in cams}
    info_pubs = {c: node.create_publisher(CameraInfo, f"{c}/camera_info", reliable) for c in cams}

    def frame(width, height):
        data = (np.arange(width * height * 3, dtype=np.uint32) % 251).astype(np.uint8).tobytes()
        return width, height, data

    frames = {"normal": frame(w, h), "switched": frame(w // 2 * 2 + 64, h // 2 * 2 + 48)}

    def camera_info(width, height):
        info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
        f = 0.8 * width
        info.k = [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0]
        info.p = [f, 0.0, width / 2, 0.0, 0.0, f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.d = [0.0] * 5
        info.header.frame_id = "camera_optical"
        return info

    def spin_until(pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred():
            rclpy.spin_once(node, timeout_sec=0.01)
        return pred()

    up = spin_until(lambda: all(pubs[c].get_subscription_count() > 0
                                and node.count_publishers(f"{c}/segmentation/mask") > 0 for c in cams), 120)
    if not up or node_proc.poll() is not None:
        print("the node did not come up:\n" + open(log_path).read()[-3000:])
        sys.exit(1)
    infos = {(fw, fh): camera_info(fw, fh) for fw, fh, _ in frames.values()}

    duration = args.minutes * 60
    start = time.monotonic()
    period = 1.0 / args.rate
    sent = {c: 0 for c in cams}
    samples, extra = [], None
    last_sample = start
    base = proc_sample(node_proc.pid)
    tick = 0
    while time.monotonic() - start < duration and node_proc.poll() is None:
        now = time.monotonic()
        phase = (now - start) % CYCLE_S
        # Churn: extra subscribers in the first third of each cycle, a switched frame size on
        # camera 0 in the middle third, a restarted publisher on the last camera at 2/3.
        want_extra = phase < CYCLE_S / 3
        if want_extra and extra is None:
            topics = [f"{c}/segmentation/mask" for c in cams]
            extra = subprocess.Popen([sys.executable, "-c", subscriber_code, str(CYCLE_S / 3)] + topics)
        elif not want_extra and extra is not None:
            extra.wait()
            extra = None
        switched = CYCLE_S / 3 <= phase < 2 * CYCLE_S / 3
        if 2 * CYCLE_S / 3 <= phase < 2 * CYCLE_S / 3 + period * 1.5 and tick % 2 == 0:
            last = cams[-1]
            node.destroy_publisher(pubs[last])
            pubs[last] = node.create_publisher(Image, f"{last}/image", qos_profile_sensor_data)
        for i, c in enumerate(cams):
            fw, fh, data = frames["switched" if switched and i == 0 else "normal"]
            msg = Image(height=fh, width=fw, encoding="rgb8", step=fw * 3)
            msg.header.frame_id = "camera_optical"
            msg.data = data
            msg.header.stamp = node.get_clock().now().to_msg()
            # As camera drivers do: a camera_info with every frame, same stamp.
            info = infos[(fw, fh)]
            info.header.stamp = msg.header.stamp
            info_pubs[c].publish(info)
            pubs[c].publish(msg)
            sent[c] += 1
        tick += 1
        if now - last_sample >= 1.0:
            last_sample = now
            s = proc_sample(node_proc.pid)
            s["t"] = now - start
            s["cpu"] = s["cpu_s"] - base["cpu_s"]
            for c in cams:
                recent = [lat for (t, lat) in arrivals[c] if t >= now - 1.0]
                s[c] = {"sent": sent[c], "delivered": len(arrivals[c]),
                        "p50_ms": float(np.percentile(recent, 50)) if recent else None,
                        "p99_ms": float(np.percentile(recent, 99)) if recent else None}
            samples.append(s)
            print(f"{s['t']:6.0f}s rss {s['rss_mib']:7.1f} MiB fds {s['fds']:3d} threads {s['threads']:3d} "
                  + " ".join(f"{c}: {s[c]['delivered']}/{s[c]['sent']}" for c in cams), flush=True)
        next_tick = start + tick * period
        spin_until(lambda: False, max(0.0, next_tick - time.monotonic()))

    if extra is not None:
        extra.wait()
    alive = node_proc.poll() is None
    stop_status = None
    if alive:
        node_proc.send_signal(signal.SIGTERM)
        try:
            stop_status = node_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node_proc.kill()
            stop_status = "did not stop within 10 s"
    node.destroy_node()
    rclpy.shutdown()

    # Allocator pools and DDS caches fill for the first minute or so.
    warm = min(max(60.0, duration / 4), duration / 2)
    after = [s for s in samples if s["t"] >= warm]
    before = [s for s in samples if s["t"] < warm]
    rss_slope = slope_per_min([s["t"] for s in after], [s["rss_mib"] for s in after])
    growth = lambda k: (after[-1][k] - max(s[k] for s in before)) if after and before else 0
    stalls = []
    for c in cams:
        times = sorted(t - start for (t, _) in arrivals[c] if t - start >= warm)
        edges = [warm] + times + [duration]
        worst = max(b - a for a, b in zip(edges, edges[1:]))
        if worst > 5.0:
            stalls.append(f"{c}: no mask for {worst:.1f} s")
    checks = {
        "alive to the end": alive,
        "stopped by SIGTERM with status 0": stop_status == 0,
        f"RSS slope {rss_slope:+.2f} MiB/min below {args.rss_slope}": abs(rss_slope) < args.rss_slope,
        f"file descriptors grew by {growth('fds')}": growth("fds") <= 0,
        f"threads grew by {growth('threads')}": growth("threads") <= 0,
        "no stall" if not stalls else "stalls: " + "; ".join(stalls): not stalls,
    }
    total_sent = sum(sent.values())
    total_got = sum(len(a) for a in arrivals.values())
    lat = sorted(l for c in cams for (t, l) in arrivals[c] if t - start >= warm)
    summary = {
        "minutes": args.minutes, "cameras": args.cameras, "rate_hz": args.rate, "size": args.size,
        "network": args.network, "backend": args.backend,
        "delivered": total_got, "sent": total_sent,
        "latency_p50_ms": float(np.percentile(lat, 50)) if lat else None,
        "latency_p99_ms": float(np.percentile(lat, 99)) if lat else None,
        "rss_mib_first_last": [samples[0]["rss_mib"], samples[-1]["rss_mib"]] if samples else None,
        "cpu_cores": (samples[-1]["cpu"] / samples[-1]["t"]) if samples else None,
        "checks": checks, "pass": all(checks.values()),
    }
    print(f"delivered {total_got}/{total_sent} masks; latency p50 {summary['latency_p50_ms']} ms, "
          f"p99 {summary['latency_p99_ms']} ms after warm-up; node CPU {summary['cpu_cores']:.2f} cores")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print("soak: " + ("pass" if summary["pass"] else "FAIL"))
    if args.report:
        json.dump({"summary": summary, "samples": samples}, open(args.report, "w"), indent=1)
    if not summary["pass"]:
        print("node log (tail):\n" + open(log_path).read()[-2000:])
    sys.exit(0 if summary["pass"] else 1)


if __name__ == "__main__":
    main()
