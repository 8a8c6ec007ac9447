"""Publishes image files as a camera (sensor_msgs/Image rgb8) for trying `rtseg node`:

    python scripts/camera_publisher.py ../shared/data/camvid/val/*.png

Publishes on /camera/image at 2 Hz, cycling through the files."""
import sys
import time

import numpy as np
import rclpy
from PIL import Image as PILImage
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image


def main():
    rclpy.init()
    node = rclpy.create_node("rtseg_camera_publisher")
    pub = node.create_publisher(Image, "/camera/image", qos_profile_sensor_data)
    frames = [np.asarray(PILImage.open(p).convert("RGB")) for p in sys.argv[1:]]
    i = 0
    while rclpy.ok():
        rgb = frames[i % len(frames)]
        msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=3 * rgb.shape[1])
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.header.frame_id = "camera_optical"
        msg.data = rgb.tobytes()
        pub.publish(msg)
        i += 1
        time.sleep(0.5)


if __name__ == "__main__":
    main()
