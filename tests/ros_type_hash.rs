//! rtseg's RIHS01 type hashes equal rosidl's: the type description JSON files that
//! rosidl_generator_type_description wrote when the Jazzy interface wheels were built (and
//! when `scripts/test.sh` built vision_msgs and tf2_msgs against them) list the hash of each
//! type and of every type it references. rosbags' own implementation (Jazzy type store) is
//! checked too, for the types it knows.

use std::path::PathBuf;
use std::process::Command;

use rtseg::ros::msgs::{
    CameraInfo, Clock, CompressedImage, DiagnosticArray, Image, LabelInfo, LaserScan,
    OccupancyGrid, RosMessage, TFMessage,
};
use rtseg::ros::type_hash::{TypeHashError, known_types, rihs01};

mod common;
use common::{missing, python_with, text};

/// The `share` folders holding the interface packages' JSON: the venv's (wheels) and the
/// prefix the test command builds vision_msgs and tf2_msgs into.
fn share_dirs() -> Option<Vec<PathBuf>> {
    let python = python_with("rosidl_generator_type_description")?;
    let venv = python.parent()?.parent()?.to_path_buf();
    let msgs = std::env::var_os("RTSEG_ROS_MSGS_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv.join("ros_msgs"));
    let dirs = vec![venv.join("share"), msgs.join("share")];
    if !dirs[1].join("vision_msgs").is_dir() {
        missing(&format!(
            "vision_msgs not built at {} (run scripts/test.sh once)",
            dirs[1].display()
        ))?;
    }
    Some(dirs)
}

/// `type_name -> hash` from one package's JSON file of `type_name`.
fn rosidl_hashes(dirs: &[PathBuf], type_name: &str) -> Vec<(String, String)> {
    let file = dirs
        .iter()
        .map(|d| d.join(format!("{type_name}.json")))
        .find(|f| f.is_file())
        .unwrap_or_else(|| panic!("no {type_name}.json under {dirs:?}"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    json["type_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["type_name"].as_str().unwrap().to_string(),
                h["hash_string"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn type_hashes_match_rosidl_for_every_type_rtseg_speaks() {
    let Some(dirs) = share_dirs() else { return };
    let mut checked = 0;
    for type_name in known_types() {
        // The file of a type lists its own hash and those of the types it nests: every
        // referenced hash is checked too, from a second place.
        for (name, hash) in rosidl_hashes(&dirs, type_name) {
            assert_eq!(
                rihs01(&name).unwrap(),
                hash,
                "{name} (from {type_name}.json)"
            );
            checked += 1;
        }
    }
    assert!(checked > known_types().count(), "{checked} hashes compared");
}

#[test]
fn type_hashes_match_rosbags() {
    let Some(python) = python_with("rosbags") else {
        return;
    };
    let script = r#"
import sys
from rosbags.typesys import Stores, get_typestore
store = get_typestore(Stores.ROS2_JAZZY)
for name in sys.argv[1:]:
    if name in store.fielddefs:
        print(name, store.hash_rihs01(name))
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .args(known_types())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let lines = String::from_utf8(out.stdout).unwrap();
    for line in lines.lines() {
        let (name, hash) = line.split_once(' ').unwrap();
        assert_eq!(rihs01(name).unwrap(), hash, "{name}");
    }
    // Everything but vision_msgs' two types, which rosbags' Jazzy store lacks.
    assert!(
        lines.lines().count() >= known_types().count() - 2,
        "{lines}"
    );
}

#[test]
fn every_message_type_the_node_publishes_or_reads_has_a_hash() {
    let names = [
        Image::type_name(),
        CompressedImage::type_name(),
        CameraInfo::type_name(),
        LaserScan::type_name(),
        Clock::type_name(),
        LabelInfo::type_name(),
        DiagnosticArray::type_name(),
        OccupancyGrid::type_name(),
        TFMessage::type_name(),
    ];
    for name in names {
        let hash = rihs01(&name).unwrap();
        assert!(
            hash.starts_with("RIHS01_") && hash.len() == 7 + 64,
            "{name}: {hash}"
        );
    }
    assert_eq!(
        rihs01("std_msgs/msg/String"),
        Err(TypeHashError::Unknown("std_msgs/msg/String".into()))
    );
}
