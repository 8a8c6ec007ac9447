"""Streams frames to `rtseg node` over zenoh (as an rmw_zenoh camera would) and measures what
comes back; the zenoh counterpart of tests/ros/stream.py, used by scripts/two_hosts.py.

    zenoh_stream.py PLAN.json OUT.json

PLAN: endpoint (the router this session runs and listens on), domain, camera,
output_namespace, topic ("mask" or "mask/compressed"), frames, rate_hz, width, height.
Publishes rgb8 sensor_msgs/Image frames (stamp = publish time, rosbags CDR, rmw_zenoh
attachment) on <camera>/image after the node's subscription token appears, counts the masks
that arrive, and writes sent, received, latency p50/p99 (arrival - stamp, ms).
"""
import json
import os
import sys
import threading
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ros"))
from zenoh_wire import attachment, data_key, open_router, store  # noqa: E402

plan = json.load(open(sys.argv[1]))
Image = store.types["sensor_msgs/msg/Image"]
Header = store.types["std_msgs/msg/Header"]
Time = store.types["builtin_interfaces/msg/Time"]


def key(topic, type_name):
    return data_key(plan["domain"], topic, type_name)


session = open_router(plan["endpoint"])
lock = threading.Lock()
arrivals = {}
tokens = []
kind = "CompressedImage" if plan["topic"].endswith("compressed") else "Image"


def on_mask(sample):
    now = time.time()
    message = store.deserialize_cdr(bytes(sample.payload.to_bytes()), f"sensor_msgs/msg/{kind}")
    stamp = message.header.stamp.sec + message.header.stamp.nanosec * 1e-9
    with lock:
        arrivals.setdefault(stamp, now)


def on_token(sample):
    with lock:
        tokens.append(str(sample.key_expr))


camera = plan["camera"]
out = f"{camera}/{plan['output_namespace']}/{plan['topic']}"
mask_sub = session.declare_subscriber(key(out, f"sensor_msgs/msg/{kind}"), on_mask)
token_sub = session.liveliness().declare_subscriber("@ros2_lv/**", on_token, history=True)
wanted = f"/MS/%/%/rtseg/{camera.replace('/', '%')}%image/"
end = time.monotonic() + 60
while time.monotonic() < end:
    with lock:
        if any(wanted in t for t in tokens):
            break
    time.sleep(0.05)
time.sleep(1.0)

w, h = plan["width"], plan["height"]
pixels = (numpy.arange(w * h * 3, dtype=numpy.uint32) % 251).astype(numpy.uint8)
image_key = key(f"{camera}/image", "sensor_msgs/msg/Image")
period = 1.0 / plan["rate_hz"]
start = time.monotonic()
for i in range(plan["frames"]):
    now = time.time_ns()
    header = Header(stamp=Time(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000),
                    frame_id="camera_optical")
    message = Image(header=header, height=h, width=w, encoding="rgb8", is_bigendian=0,
                    step=3 * w, data=pixels)
    payload = bytes(store.serialize_cdr(message, "sensor_msgs/msg/Image"))
    session.put(image_key, payload, attachment=attachment(i + 1))
    time.sleep(max(0.0, start + (i + 1) * period - time.monotonic()))
sent_s = time.monotonic() - start
time.sleep(3.0)
with lock:
    latencies = sorted((t - s) * 1e3 for s, t in arrivals.items())


def pct(p):
    return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else None


json.dump({"sent": plan["frames"], "send_rate_hz": plan["frames"] / sent_s,
           "received": len(latencies), "latency_p50_ms": pct(50), "latency_p99_ms": pct(99)},
          open(sys.argv[2], "w"))
session.close()
