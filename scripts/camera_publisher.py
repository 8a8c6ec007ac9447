"""Publishes image files as a camera (sensor_msgs/Image rgb8) for trying `rtseg node`:

    python scripts/camera_publisher.py [--rate 2] [--camera /camera] [--frame-id camera_optical]
        ../shared/data/camvid/val/*.png

Publishes on <camera>/image at --rate Hz, cycling through the files, with the frame_id a
/tf_static chain (ground outputs without a calibration file's extrinsics) must name."""
import argparse
import time

import numpy as np
import rclpy
from PIL import Image as PILImage
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image


def main():
    ap = argparse.ArgumentParser(description="Publishes image files as a camera for rtseg node.")
    ap.add_argument("images", nargs="+", help="PNG/JPEG files, published in turn")
    ap.add_argument("--rate", type=float, default=2.0, help="frames per second")
    ap.add_argument("--camera", default="/camera", help="camera namespace: publishes <camera>/image")
    ap.add_argument("--frame-id", default="camera_optical", help="header.frame_id of the frames")
    args = ap.parse_args()
    rclpy.init()
    node = rclpy.create_node("rtseg_camera_publisher")
    pub = node.create_publisher(Image, args.camera + "/image", qos_profile_sensor_data)
    frames = [np.asarray(PILImage.open(p).convert("RGB")) for p in args.images]
    i = 0
    while rclpy.ok():
        rgb = frames[i % len(frames)]
        msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=3 * rgb.shape[1])
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.header.frame_id = args.frame_id
        msg.data = rgb.tobytes()
        pub.publish(msg)
        i += 1
        time.sleep(1.0 / args.rate)


if __name__ == "__main__":
    main()
