"""A dashboard's view of rtseg's /diagnostics: waits for a status while no camera publishes,
then sends one frame and watches the camera's status until input has been quiet longer than
the node's input timeout. Writes {"before": [level, message], "after_frame": [...],
"stopped": [...]} for the camera's status.

    python health.py PLAN REPORT   # PLAN: {"camera", "frame": {"width", "height", "data_file"}}
"""
import json
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image

plan = json.load(open(sys.argv[1]))
rclpy.init()
node = rclpy.create_node("rtseg_health_peer")
statuses = []


def level(status):
    # diagnostic_msgs' level is a `byte`: rclpy gives a one-byte bytes object.
    return status.level[0] if isinstance(status.level, bytes) else int(status.level)


node.create_subscription(DiagnosticArray, "/diagnostics",
                         lambda m: statuses.extend((level(s), s.message) for s in m.status
                                                   if s.name.endswith(plan["camera"])),
                         QoSProfile(depth=10))
pub = node.create_publisher(Image, plan["camera"] + "/image", QoSProfile(depth=10))


def spin_until(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not pred():
        rclpy.spin_once(node, timeout_sec=0.05)
    return pred()


report = {}
spin_until(lambda: statuses and pub.get_subscription_count() > 0, 30)
report["before"] = statuses[-1] if statuses else None
frame = plan["frame"]
msg = Image(height=frame["height"], width=frame["width"], encoding="rgb8",
            step=3 * frame["width"], data=open(frame["data_file"], "rb").read())
seen = len(statuses)
pub.publish(msg)
# The status right after the frame (within one diagnostics period)...
spin_until(lambda: any(level != 1 or message != "no frame yet" for level, message in statuses[seen:]), 10)
report["after_frame"] = next(((l, m) for l, m in statuses[seen:] if m != "no frame yet"), None)
# ...and once input has been quiet for longer than the timeout.
spin_until(lambda: statuses and statuses[-1][0] == 2, 10)
report["stopped"] = statuses[-1] if statuses else None
json.dump(report, open(sys.argv[2], "w"))
node.destroy_node()
rclpy.shutdown()
