"""What rcl (through rclpy) makes of ROS arguments: for each case, the node's fully qualified
name, its parameters (from --params-file, -p, wildcards, as rcl matches and merges them) and
the topic names it resolves after remapping. The peer rtseg's own resolution is checked
against (tests/ros_params.rs).

    python rcl_resolve.py CASES.json   # [{"ros_args": [...], "topics": [...]}] -> JSON lines
"""
import json
import sys

import rclpy
from rclpy.node import Node

for case in json.load(open(sys.argv[1])):
    rclpy.init(args=["rtseg", "--ros-args", *case["ros_args"]])
    node = Node("rtseg", automatically_declare_parameters_from_overrides=True)
    parameters = {name: p.value for name, p in node._parameters.items()}
    for name, value in parameters.items():
        if isinstance(value, (list, tuple)) or type(value).__name__ == "array":
            parameters[name] = list(value)
    print(json.dumps({
        "node": node.get_fully_qualified_name(),
        "parameters": parameters,
        "topics": {t: node.resolve_topic_name(t) for t in case["topics"]},
    }))
    node.destroy_node()
    rclpy.shutdown()
