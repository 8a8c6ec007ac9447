"""Prints the masks rtseg publishes: run beside `rtseg node` with the same ROS_DOMAIN_ID.

    python scripts/mask_listener.py [/camera/segmentation]

Needs rclpy (e.g. `pip install "ros-jazzy-rclpy[fastrtps]" ros-jazzy-sensor-msgs`, or a
sourced ROS 2 Jazzy install)."""
import sys
from collections import Counter

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image


def main():
    topic = (sys.argv[1] if len(sys.argv) > 1 else "/camera/segmentation") + "/mask"
    rclpy.init()
    node = rclpy.create_node("rtseg_mask_listener")

    def on_mask(msg):
        classes = Counter(bytes(msg.data)).most_common(3)
        stamp = f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"
        print(f"{topic}: {msg.width}x{msg.height} {msg.encoding} stamp {stamp} "
              f"frame '{msg.header.frame_id}' top classes {classes}", flush=True)

    node.create_subscription(Image, topic, on_mask, QoSProfile(depth=10))
    print(f"listening on {topic} (Ctrl-C to stop)", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C, or SIGTERM (rclpy shuts the context down itself)


if __name__ == "__main__":
    main()
