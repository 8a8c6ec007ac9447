"""A real ROS 2 peer (rclpy, Jazzy wheels from PyPI) for rtseg's node tests.

    peer.py send PLAN.json OUT.json

PLAN lists frames to publish, one at a time, on <camera>/image or <camera>/image/compressed;
after each good frame the peer waits for the node's mask with the same stamp. It subscribes
to mask, color_mask and mask/compressed (reliable) and to /diagnostics, and records what it
receives (raw bytes written next to OUT.json) plus the ROS graph as it sees it; with
label_info_topic, it subscribes to label_info last, as a late joiner (needs the vision_msgs
that scripts/test.sh builds on PYTHONPATH); with ground, it also receives the ground outputs;
with tf_static, it first publishes those transforms on /tf_static (tf2_msgs, built likewise).
Discovery stays on loopback: run with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST.
"""
import json
import os
import struct
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan


def main():
    plan = json.load(open(sys.argv[1]))
    out_path = sys.argv[2]
    out_dir = os.path.dirname(out_path)
    rclpy.init()
    node = rclpy.create_node(plan.get("peer_name", "rtseg_test_peer"))
    cam, outs = plan["camera"], plan["camera"] + "/" + plan["output_namespace"]
    received = {"mask": {}, "color_mask": {}, "mask_compressed": {}, "mask_camera_info": {},
                "mask_autoware_rle": {}, "drivable_area": {}, "class_grid": {}, "free_space": {},
                "mask_rect": {}}
    diagnostics = []

    def keep(kind):
        def cb(msg):
            key = f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"
            received[kind][key] = msg
        return cb

    reliable = QoSProfile(depth=10)
    node.create_subscription(Image, outs + "/mask", keep("mask"), reliable)
    node.create_subscription(Image, outs + "/color_mask", keep("color_mask"), reliable)
    node.create_subscription(CompressedImage, outs + "/mask/compressed", keep("mask_compressed"), reliable)
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, reliable)
    node.create_subscription(CameraInfo, outs + "/mask/camera_info", keep("mask_camera_info"), reliable)
    node.create_subscription(Image, outs + "/mask/autoware_rle", keep("mask_autoware_rle"), reliable)
    node.create_subscription(Image, outs + "/mask_rect", keep("mask_rect"), reliable)
    if plan.get("ground"):
        from nav_msgs.msg import OccupancyGrid
        node.create_subscription(OccupancyGrid, outs + "/drivable_area", keep("drivable_area"), reliable)
        node.create_subscription(OccupancyGrid, outs + "/class_grid", keep("class_grid"), reliable)
        node.create_subscription(LaserScan, outs + "/free_space", keep("free_space"), reliable)
    # Every node's log, as `ros2 topic echo /rosout` shows it.
    from rcl_interfaces.msg import Log
    rosout = []
    node.create_subscription(Log, "/rosout", rosout.append, reliable)
    if "tf_static" in plan:
        # As tf2_ros's StaticTransformBroadcaster: one latched message, transient local.
        from geometry_msgs.msg import TransformStamped
        from rclpy.qos import DurabilityPolicy
        from tf2_msgs.msg import TFMessage
        tf_msg = TFMessage()
        for t in plan["tf_static"]:
            ts = TransformStamped()
            ts.header.frame_id, ts.child_frame_id = t["parent"], t["child"]
            v, q = ts.transform.translation, ts.transform.rotation
            v.x, v.y, v.z = t["translation"]
            q.x, q.y, q.z, q.w = t["rotation"]
            tf_msg.transforms.append(ts)
        latched = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        tf_pub = node.create_publisher(TFMessage, "/tf_static", latched)
        tf_pub.publish(tf_msg)
    pub_qos = qos_profile_sensor_data if plan.get("sensor_qos", False) else reliable
    raw_pub = node.create_publisher(Image, cam + "/image", pub_qos)
    compressed_pub = node.create_publisher(CompressedImage, cam + "/image/compressed", pub_qos)
    info_pub = node.create_publisher(CameraInfo, cam + "/camera_info", pub_qos)

    def spin_until(pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
            if pred():
                return True
        return False

    # Wait for the node to match our publisher and our mask subscription.
    matched = spin_until(
        lambda: raw_pub.get_subscription_count() > 0
        and compressed_pub.get_subscription_count() > 0
        and info_pub.get_subscription_count() > 0
        and node.count_publishers(outs + "/mask") > 0,
        plan.get("discovery_timeout", 30),
    )
    results = {"matched": matched, "frames": []}

    def make(frame, stamp_sec, stamp_nsec):
        data = open(frame["data_file"], "rb").read()
        if frame["kind"] == "raw":
            msg = Image()
            msg.height, msg.width = frame["height"], frame["width"]
            msg.encoding, msg.step, msg.is_bigendian = frame["encoding"], frame["step"], 0
            msg.data = data
        else:
            msg = CompressedImage()
            msg.format = frame["format"]
            msg.data = data
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp_sec, stamp_nsec
        msg.header.frame_id = "camera_optical"
        return msg

    # Discovery matches each topic on its own time, and a sample sent before its reader is
    # matched is lost, so first publish a good frame until one comes back on every output
    # the plan waits for (the node also turns color_mask on only once it sees our reader).
    def wanted(frame):
        """The outputs a good frame must come back on (mask/camera_info aside: the node
        publishes it only once it has our camera_info, which is sent after the warm-up)."""
        return (["mask", "mask_compressed"] + (["color_mask"] if frame.get("expect_color") else [])
                + (["mask_autoware_rle"] if plan.get("autoware_rle") else [])
                + (["drivable_area", "class_grid", "free_space"] if plan.get("ground") else [])
                + (["mask_rect"] if plan.get("mask_rect") else []))

    warm_want = set().union(*map(wanted, plan["frames"]))

    def warmed_up():
        return any(k.startswith("1600000000.") and all(k in received[w] for w in warm_want)
                   for k in received["mask"])

    if "warmup" in plan:
        for attempt in range(60):
            warm = make(plan["warmup"], 1_600_000_000, attempt)
            (raw_pub if plan["warmup"]["kind"] == "raw" else compressed_pub).publish(warm)
            if spin_until(warmed_up, 1.0):
                break
        results["warmed_up"] = warmed_up()
    # After the warm-up, so the node's reader has matched ours.
    if plan.get("zero_camera_info"):
        info = CameraInfo()  # all zeros: no usable intrinsics
        info.header.frame_id = "camera_optical"
        info_pub.publish(info)
        # Its reader may have matched after ours saw it: wait until the node counts it.
        spin_until(lambda: any(kv.key == "bad_camera_info" and kv.value != "0"
                               for d in diagnostics[-1:] for s in d.status for kv in s.values), 10)
    if "camera_info" in plan:
        info = CameraInfo(**{k: v for k, v in plan["camera_info"].items()})
        info.header.frame_id = "camera_optical"
        info_pub.publish(info)
        spin_until(lambda: False, 0.5)
    for i, frame in enumerate(plan["frames"]):
        stamp_sec, stamp_nsec = 1_700_000_000 + i, 123_456_789
        key = f"{stamp_sec}.{stamp_nsec:09d}"
        msg = make(frame, stamp_sec, stamp_nsec)
        sent = time.monotonic()
        (raw_pub if frame["kind"] == "raw" else compressed_pub).publish(msg)
        want = wanted(frame) + (["mask_camera_info"] if "camera_info" in plan else [])
        if frame.get("expect_mask", True):
            got = spin_until(lambda: all(key in received[k] for k in want), plan.get("frame_timeout", 60))
        else:
            # A malformed frame: nothing may come back for it.
            spin_until(lambda: False, plan.get("quiet_period", 2.0))
            got = key in received["mask"]
        entry = {"stamp": key, "received": got, "latency_s": time.monotonic() - sent}
        info = received["mask_camera_info"].get(key)
        if info is not None:
            entry["mask_camera_info"] = {"width": info.width, "height": info.height,
                                         "k": list(info.k), "p": list(info.p)}
        rle = received["mask_autoware_rle"].get(key)
        if rle is not None:
            # Autoware's records: u8 label, then an int32 run length (little-endian).
            data = bytes(rle.data)
            records = list(struct.iter_unpack("<Bi", data)) if len(data) % 5 == 0 else []
            raw = os.path.join(out_dir, f"frame{i}_mask_autoware_rle.bin")
            open(raw, "wb").write(data)
            entry["mask_autoware_rle"] = {"height": rle.height, "width": rle.width,
                                          "encoding": rle.encoding, "raw_file": raw}
            if records and sum(count for _, count in records) == rle.width * rle.height:
                blob = os.path.join(out_dir, f"frame{i}_mask_autoware_rle_decoded.bin")
                open(blob, "wb").write(b"".join(bytes([label]) * count for label, count in records))
                entry["mask_autoware_rle"]["file"] = blob
        for kind in ["drivable_area", "class_grid"]:
            grid = received[kind].get(key)
            if grid is not None:
                blob = os.path.join(out_dir, f"frame{i}_{kind}.bin")
                open(blob, "wb").write(bytes(b & 0xFF for b in grid.data))
                o = grid.info.origin
                entry[kind] = {"file": blob, "frame_id": grid.header.frame_id,
                               "stamp": [grid.header.stamp.sec, grid.header.stamp.nanosec],
                               "resolution": grid.info.resolution, "width": grid.info.width,
                               "height": grid.info.height,
                               "origin": [o.position.x, o.position.y, o.position.z, o.orientation.x,
                                          o.orientation.y, o.orientation.z, o.orientation.w]}
        scan = received["free_space"].get(key)
        if scan is not None:
            entry["free_space"] = {
                "frame_id": scan.header.frame_id, "stamp": [scan.header.stamp.sec, scan.header.stamp.nanosec],
                "angle_min": scan.angle_min, "angle_max": scan.angle_max,
                "angle_increment": scan.angle_increment, "range_min": scan.range_min,
                "range_max": scan.range_max, "intensities": len(scan.intensities),
                # JSON has no inf/nan: as strings.
                "ranges": [repr(float(r)) for r in scan.ranges]}
        for kind in ["mask", "color_mask", "mask_compressed", "mask_rect"]:
            m = received[kind].get(key)
            if m is None:
                continue
            blob = os.path.join(out_dir, f"frame{i}_{kind}.bin")
            open(blob, "wb").write(bytes(m.data))
            entry[kind] = {"file": blob, "frame_id": m.header.frame_id}
            if kind == "mask_compressed":
                entry[kind]["format"] = m.format
            else:
                entry[kind].update(height=m.height, width=m.width, encoding=m.encoding, step=m.step)
        results["frames"].append(entry)
    if "label_info_topic" in plan:
        # Only now, after the frames: label_info is transient-local, so a late joiner gets it.
        from rclpy.qos import DurabilityPolicy
        from vision_msgs.msg import LabelInfo
        labels = []
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(LabelInfo, plan["label_info_topic"], labels.append, latched)
        if spin_until(lambda: labels, 20):
            results["label_info"] = {"threshold": labels[0].threshold,
                                     "class_map": [[c.class_id, c.class_name] for c in labels[0].class_map]}
    spin_until(lambda: len(diagnostics) > 0 and any(
        kv.key == "malformed" for s in diagnostics[-1].status for kv in s.values), 5)
    if diagnostics:
        last = diagnostics[-1]
        results["diagnostics"] = [
            {"name": s.name, "values": {kv.key: kv.value for kv in s.values}} for s in last.status
        ]
    results["graph_nodes"] = [name for name, _ in node.get_node_names_and_namespaces()]
    # The topics the node advertises (publishers), as `ros2 topic list -v` counts them.
    results["published_topics"] = sorted(
        name for name, _ in node.get_topic_names_and_types()
        if name.startswith(outs) and node.count_publishers(name) > 0)
    # What the node offers on mask, as `ros2 topic info -v` shows it.
    results["mask_qos"] = [
        {"reliability": int(i.qos_profile.reliability),
         "deadline_ns": i.qos_profile.deadline.nanoseconds}
        for i in node.get_publishers_info_by_topic(outs + "/mask")]
    results["rosout"] = [{"name": m.name, "level": int(m.level), "msg": m.msg} for m in rosout]
    json.dump(results, open(out_path, "w"), indent=1)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
