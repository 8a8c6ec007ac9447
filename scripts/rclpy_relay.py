"""The transport floor that scripts/bench_node.py compares `rtseg node` with: a plain rclpy
node that answers each frame on <camera>/image at once with a mono8 mask of the frame's size
(all zeros, built once per size) on <camera>/<ns>/mask, with the frame's header. Same QoS as
rtseg's defaults: best-effort input, reliable output, depth 10. No decoding, no network.

    rclpy_relay.py OUTPUT_NAMESPACE CAMERA [CAMERA ...]
"""
import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image


def main():
    namespace, cameras = sys.argv[1], sys.argv[2:]
    rclpy.init()
    node = rclpy.create_node("rclpy_relay")
    masks = {}

    def relay_to(publisher):
        def on_frame(frame):
            size = (frame.width, frame.height)
            if size not in masks:
                masks[size] = Image(width=frame.width, height=frame.height, encoding="mono8",
                                    step=frame.width, data=bytes(frame.width * frame.height))
            mask = masks[size]
            mask.header = frame.header
            publisher.publish(mask)
        return on_frame

    for camera in cameras:
        publisher = node.create_publisher(Image, f"{camera}/{namespace}/mask", QoSProfile(depth=10))
        node.create_subscription(Image, f"{camera}/image", relay_to(publisher), qos_profile_sensor_data)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


if __name__ == "__main__":
    main()
