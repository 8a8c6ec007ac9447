"""Streams frames to `rtseg node` at a fixed rate and measures what comes back (rclpy).

    stream.py PLAN.json OUT.json

PLAN: camera, output_namespace, topic ("mask" or "mask/compressed"), frames (count), rate_hz,
width, height, encoding (mono8 or rgb8; default mono8). Publishes frames (stamp = publish
time) on <camera>/image, counts the masks that arrive on the chosen output, and reads the
node's diagnostics for this camera (cumulative `published` count, dropped frames, in-node
latency split), so delivery = received / published. Latency = arrival − stamp."""
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
    encoding = plan.get("encoding", "mono8")
    channels = 3 if encoding == "rgb8" else 1
    pattern = (np.arange(w * h * channels, dtype=np.uint32) % 251).astype(np.uint8).tobytes()
    period = 1.0 / plan["rate_hz"]
    start = time.monotonic()
    for i in range(plan["frames"]):
        msg = Image(height=h, width=w, encoding=encoding, step=w * channels)
        msg.header.frame_id = "camera_optical"
        msg.data = pattern
        # Stamped after the 2.7 MB copy into the message: latency starts at publish.
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
        spin_for(max(0.0, start + (i + 1) * period - time.monotonic()))
    sent_s = time.monotonic() - start
    spin_for(3.0)
    node_values = {}
    for d in reversed(diagnostics):
        mine = [s for s in d.status if s.name.endswith(cam)]
        if mine:
            node_values = {kv.key: kv.value for kv in mine[0].values}
            break
    published = int(node_values["published"]) if "published" in node_values else None
    latencies = sorted((t - s) * 1e3 for s, t in arrivals.items())
    pct = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else None
    json.dump({
        "sent": plan["frames"], "send_rate_hz": plan["frames"] / sent_s, "received": len(arrivals),
        "published": published, "latency_p50_ms": pct(50), "latency_p99_ms": pct(99),
        "node": node_values,
    }, open(sys.argv[2], "w"))
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
