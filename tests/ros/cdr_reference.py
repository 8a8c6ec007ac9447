"""Serialises messages with rosbags (an independent CDR implementation) for rtseg's CDR
tests: reads a JSON list of {"type": ..., "msg": {...}} from argv[1], writes the hex of each
serialised message (with its 4-byte encapsulation header) as a JSON list to argv[2].
vision_msgs is not in rosbags' Jazzy store, so its two message definitions are registered
from their .msg text (vision_msgs 4.x)."""
import json
import sys

import numpy as np
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

store = get_typestore(Stores.ROS2_JAZZY)
store.register(get_types_from_msg("uint16 class_id\nstring class_name\n", "vision_msgs/msg/VisionClass"))
store.register(get_types_from_msg(
    "std_msgs/Header header\nvision_msgs/VisionClass[] class_map\nfloat32 threshold\n",
    "vision_msgs/msg/LabelInfo"))


def build(type_name, value):
    fields = store.fielddefs[type_name][1]
    cls = store.types[type_name]
    return cls(**{name: convert(kind, detail, value[name]) for name, (kind, detail) in fields})


def convert(kind, detail, v):
    # Node types: 1 base, 2 nested message, 3 fixed array, 4 sequence.
    if kind == 1:
        return v
    if kind == 2:
        return build(detail, v)
    (inner_kind, inner), _ = detail
    if inner_kind == 1 and inner[0] in ("uint8", "octet", "byte", "float64"):
        return np.array(v, dtype=np.uint8 if inner[0] != "float64" else np.float64)
    return [convert(inner_kind, inner, x) for x in v]


items = json.load(open(sys.argv[1]))
out = [store.serialize_cdr(build(i["type"], i["msg"]), i["type"]).hex() for i in items]
json.dump(out, open(sys.argv[2], "w"))
