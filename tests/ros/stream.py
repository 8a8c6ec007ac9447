"""Streams frames to `rtseg node` at a fixed rate and measures what comes back (rclpy).

    stream.py PLAN.json OUT.json

PLAN: camera, output_namespace, topic ("mask" or "mask/compressed"), frames (count), rate_hz,
width, height. Publishes mono8 frames (stamp = publish time) on <camera>/image, counts the
masks that arrive on the chosen output, and reads the node's cumulative `published` count
from /diagnostics, so delivery = received / published. Latency = arrival − stamp."""
import json
import sys
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image


def main():
    plan = json.load(open(sys.argv[1]))
    rclpy.init()
    node = rclpy.create_node("rtseg_stream_peer")
    cam = plan["camera"]
    out = f"{cam}/{plan['output_namespace']}/{plan['topic']}"
    arrivals = {}
    diagnostics = []

    def on_mask(msg):
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        arrivals.setdefault(stamp, time.time())

    kind = CompressedImage if plan["topic"].endswith("compressed") else Image
    node.create_subscription(kind, out, on_mask, QoSProfile(depth=10))
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, QoSProfile(depth=10))
    pub = node.create_publisher(Image, cam + "/image", qos_profile_sensor_data)

    def spin_for(seconds, pred=lambda: False):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not pred():
            rclpy.spin_once(node, timeout_sec=0.002)

    spin_for(30, lambda: pub.get_subscription_count() > 0 and node.count_publishers(out) > 0)
    spin_for(1.0)
    w, h = plan["width"], plan["height"]
    pattern = (np.arange(w * h, dtype=np.uint32) % 251).astype(np.uint8).tobytes()
    period = 1.0 / plan["rate_hz"]
    start = time.monotonic()
    for i in range(plan["frames"]):
        msg = Image(height=h, width=w, encoding="mono8", step=w)
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.header.frame_id = "camera_optical"
        msg.data = pattern
        pub.publish(msg)
        spin_for(max(0.0, start + (i + 1) * period - time.monotonic()))
    sent_s = time.monotonic() - start
    spin_for(3.0)
    published = None
    for d in reversed(diagnostics):
        for s in d.status:
            values = {kv.key: kv.value for kv in s.values}
            if s.name.endswith(cam) and "published" in values:
                published = int(values["published"])
                break
        if published is not None:
            break
    latencies = sorted((t - s) * 1e3 for s, t in arrivals.items())
    pct = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else None
    json.dump({
        "sent": plan["frames"], "send_rate_hz": plan["frames"] / sent_s, "received": len(arrivals),
        "published": published, "latency_p50_ms": pct(50), "latency_p99_ms": pct(99),
    }, open(sys.argv[2], "w"))
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
