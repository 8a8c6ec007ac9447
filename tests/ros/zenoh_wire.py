"""rmw_zenoh's wire conventions for the Python zenoh peers (tests/ros/zenoh_peer.py,
scripts/zenoh_stream.py), from eclipse-zenoh and rosbags only — never from rtseg."""
import json
import struct
import time

import zenoh
from rosbags.typesys import Stores, get_typestore

store = get_typestore(Stores.ROS2_JAZZY)


def open_router(endpoint):
    """A zenoh router listening on `endpoint` only (what zenohd is on a car), no multicast."""
    config = zenoh.Config()
    config.insert_json5("mode", '"router"')
    config.insert_json5("listen/endpoints", json.dumps([endpoint]))
    config.insert_json5("scouting/multicast/enabled", "false")
    return zenoh.open(config)


def data_key(domain, topic, type_name):
    """`<domain>/<topic>/<package>::msg::dds_::<Type>_/<RIHS01 hash>`, the hash from rosbags."""
    package, _, name = type_name.split("/")
    return (f"{domain}/{topic.lstrip('/')}/{package}::msg::dds_::{name}_/"
            f"{store.hash_rihs01(type_name)}")


def attachment(sequence, gid=bytes(range(16))):
    """rmw_zenoh's attachment: sequence number, source timestamp (ns), 16-byte GID."""
    return struct.pack("<qqB", sequence, time.time_ns(), 16) + gid
