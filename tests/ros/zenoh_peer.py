"""A camera and a mask subscriber on zenoh, as rmw_zenoh_cpp nodes put them on the wire,
built only from the eclipse-zenoh package and rosbags (no rtseg code): the session is the
router the node connects to (what `zenohd` is on a car), listening on loopback only.

    python zenoh_peer.py PLAN REPORT

PLAN: {"endpoint": "tcp/127.0.0.1:PORT", "domain": D, "camera": "/cam",
       "output_namespace": "segmentation", "frames": [{"kind": "raw"|"compressed",
       "frame_id": ..., "data_file": ..., raw: "width", "height", "encoding"; compressed:
       "format"}], "timeout_s": 90, "out_dir": ...}
Each frame is sent (with a 33-byte rmw_zenoh attachment) every 0.5 s until the node's mask
of it (matched by frame_id) arrives. REPORT: the type hashes rosbags computes, every
liveliness token seen, and per frame the mask received (data written to a file), its key
expression and attachment.
"""

import json
import os
import sys
import threading
import time
import traceback

import numpy
import zenoh
from zenoh_wire import attachment, data_key, open_router, store

def fail_fast(kind, value, trace):
    traceback.print_exception(kind, value, trace)
    os._exit(1)  # zenoh's threads would keep the interpreter alive after an error


sys.excepthook = fail_fast
plan = json.load(open(sys.argv[1]))
report_path = sys.argv[2]
Image = store.types["sensor_msgs/msg/Image"]
CompressedImage = store.types["sensor_msgs/msg/CompressedImage"]
Header = store.types["std_msgs/msg/Header"]
Time = store.types["builtin_interfaces/msg/Time"]


def key(topic, type_name):
    return data_key(plan["domain"], topic, type_name)


session = open_router(plan["endpoint"])

lock = threading.Lock()
tokens = []
masks = {}


def on_token(sample):
    if sample.kind == zenoh.SampleKind.PUT:
        with lock:
            tokens.append(str(sample.key_expr))


def on_mask(kind):
    def handle(sample):
        payload = bytes(sample.payload.to_bytes())
        attachment = bytes(sample.attachment.to_bytes()) if sample.attachment else b""
        decoded = store.deserialize_cdr(payload, f"sensor_msgs/msg/{kind}")
        with lock:
            masks.setdefault(decoded.header.frame_id, {})[kind] = {
                "key": str(sample.key_expr),
                "attachment": attachment.hex(),
                "message": decoded,
            }
    return handle


liveliness = session.liveliness().declare_subscriber("@ros2_lv/**", on_token, history=True)
out = f"{plan['camera']}/{plan['output_namespace']}"
subscribers = [
    session.declare_subscriber(key(f"{out}/mask", "sensor_msgs/msg/Image"), on_mask("Image")),
    session.declare_subscriber(
        key(f"{out}/mask/compressed", "sensor_msgs/msg/CompressedImage"),
        on_mask("CompressedImage")),
]

deadline = time.monotonic() + plan.get("timeout_s", 90)
image_topic = f"{plan['camera']}/image"
# Wait for the node's subscription token on the camera topic, as a publisher's graph cache
# would see it, before sending.
while time.monotonic() < deadline:
    with lock:
        if any("/MS/" in t and t.split("/")[9] == image_topic.replace("/", "%") for t in tokens):
            break
    time.sleep(0.05)

sequence = 0
received = {}
for frame in plan["frames"]:
    data = numpy.frombuffer(open(frame["data_file"], "rb").read(), dtype=numpy.uint8)
    header = Header(stamp=Time(sec=1_700_000_000, nanosec=5), frame_id=frame["frame_id"])
    if frame["kind"] == "raw":
        message = Image(header=header, height=frame["height"], width=frame["width"],
                        encoding=frame["encoding"], is_bigendian=0,
                        step=data.size // frame["height"], data=data)
        topic, type_name = image_topic, "sensor_msgs/msg/Image"
    else:
        message = CompressedImage(header=header, format=frame["format"], data=data)
        topic, type_name = f"{image_topic}/compressed", "sensor_msgs/msg/CompressedImage"
    payload = bytes(store.serialize_cdr(message, type_name))
    while time.monotonic() < deadline:
        with lock:
            got = masks.get(frame["frame_id"], {})
            if "Image" in got and "CompressedImage" in got:
                break
        sequence += 1
        session.put(key(topic, type_name), payload, attachment=attachment(sequence))
        time.sleep(0.5)
    with lock:
        got = masks.get(frame["frame_id"], {})
    entry = {}
    if "Image" in got:
        m = got["Image"]["message"]
        path = os.path.join(plan["out_dir"], f"{frame['frame_id']}.mask")
        open(path, "wb").write(bytes(m.data))
        entry["mask"] = {"key": got["Image"]["key"], "attachment": got["Image"]["attachment"],
                         "width": m.width, "height": m.height, "encoding": m.encoding,
                         "step": m.step, "data_file": path}
    if "CompressedImage" in got:
        m = got["CompressedImage"]["message"]
        path = os.path.join(plan["out_dir"], f"{frame['frame_id']}.png")
        open(path, "wb").write(bytes(m.data))
        entry["mask_compressed"] = {"key": got["CompressedImage"]["key"], "format": m.format,
                                    "data_file": path}
    received[frame["frame_id"]] = entry

with lock:
    seen = sorted(set(tokens))
json.dump({
    "hashes": {t: store.hash_rihs01(t) for t in
               ["sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"]},
    "tokens": seen,
    "sent": sequence,
    "frames": received,
}, open(report_path, "w"), indent=1)
session.close()
