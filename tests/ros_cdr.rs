//! rtseg's CDR bytes for every message it sends or reads equal those of rosbags, an
//! independent serializer (PyPI `rosbags`, Jazzy type store). The Rust side uses cdr-encoding,
//! the encoder ros2-client/RustDDS put on the wire (same version, pinned by Cargo.lock).

use std::path::Path;
use std::process::Command;

use byteorder::LittleEndian;
use rtseg::ros::msgs::*;
use serde::Serialize;

mod common;
use common::{python_with, text};

/// Encapsulation header (CDR, little endian) + body, as DDS sends a sample.
fn cdr<T: Serialize>(msg: &T) -> String {
    let mut bytes = vec![0x00, 0x01, 0x00, 0x00];
    bytes.extend(cdr_encoding::to_vec::<_, LittleEndian>(msg).unwrap());
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header() -> Header {
    Header {
        stamp: Time {
            sec: 1_700_000_000,
            nanosec: 123_456_789,
        },
        frame_id: "camera_optical".into(),
    }
}

#[test]
fn cdr_matches_rosbags_for_every_message() {
    let Some(python) = python_with("rosbags") else {
        return;
    };
    let data: Vec<u8> = (0..24u32).map(|i| ((i * 7 + i / 3) & 0xFF) as u8).collect();
    let image = Image {
        header: header(),
        height: 2,
        width: 4,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: 12,
        data: data.clone(),
    };
    // Odd lengths everywhere, so alignment padding is exercised.
    let padded = Image {
        height: 3,
        width: 5,
        encoding: "mono8".into(),
        step: 7,
        data: vec![9; 21],
        ..image.clone()
    };
    let compressed = CompressedImage {
        header: header(),
        format: "mono8; png compressed ".into(),
        data: vec![1, 2, 3],
    };
    let info = CameraInfo {
        header: header(),
        height: 720,
        width: 1280,
        distortion_model: "plumb_bob".into(),
        d: vec![0.1, -0.2, 0.0, 0.0, 0.01],
        k: [700.0, 0.0, 640.0, 0.0, 700.0, 360.0, 0.0, 0.0, 1.0],
        r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p: [
            700.0, 0.0, 640.0, 0.0, 0.0, 700.0, 360.0, 0.0, 0.0, 0.0, 1.0, 0.0,
        ],
        binning_x: 0,
        binning_y: 0,
        roi: RegionOfInterest {
            x_offset: 1,
            y_offset: 2,
            height: 3,
            width: 4,
            do_rectify: true,
        },
    };
    let labels = LabelInfo {
        header: header(),
        class_map: vec![
            VisionClass {
                class_id: 0,
                class_name: "sky".into(),
            },
            VisionClass {
                class_id: 10,
                class_name: "bicyclist".into(),
            },
        ],
        threshold: 0.5,
    };
    let diagnostics = DiagnosticArray {
        header: header(),
        status: vec![DiagnosticStatus {
            level: 1,
            name: "rtseg: /camera".into(),
            message: "ok".into(),
            hardware_id: "rtseg".into(),
            values: vec![KeyValue {
                key: "dropped".into(),
                value: "3".into(),
            }],
        }],
    };
    let mine = [
        cdr(&image),
        cdr(&padded),
        cdr(&compressed),
        cdr(&info),
        cdr(&labels),
        cdr(&diagnostics),
    ];
    let h = serde_json::json!({"stamp": {"sec": 1_700_000_000, "nanosec": 123_456_789}, "frame_id": "camera_optical"});
    let items = serde_json::json!([
        {"type": "sensor_msgs/msg/Image", "msg": {"header": h, "height": 2, "width": 4, "encoding": "rgb8",
            "is_bigendian": 0, "step": 12, "data": data}},
        {"type": "sensor_msgs/msg/Image", "msg": {"header": h, "height": 3, "width": 5, "encoding": "mono8",
            "is_bigendian": 0, "step": 7, "data": vec![9; 21]}},
        {"type": "sensor_msgs/msg/CompressedImage", "msg": {"header": h, "format": "mono8; png compressed ",
            "data": [1, 2, 3]}},
        {"type": "sensor_msgs/msg/CameraInfo", "msg": {"header": h, "height": 720, "width": 1280,
            "distortion_model": "plumb_bob", "d": info.d, "k": info.k, "r": info.r, "p": info.p,
            "binning_x": 0, "binning_y": 0,
            "roi": {"x_offset": 1, "y_offset": 2, "height": 3, "width": 4, "do_rectify": true}}},
        {"type": "vision_msgs/msg/LabelInfo", "msg": {"header": h, "class_map": [
            {"class_id": 0, "class_name": "sky"}, {"class_id": 10, "class_name": "bicyclist"}],
            "threshold": 0.5}},
        {"type": "diagnostic_msgs/msg/DiagnosticArray", "msg": {"header": h, "status": [
            {"level": 1, "name": "rtseg: /camera", "message": "ok", "hardware_id": "rtseg",
             "values": [{"key": "dropped", "value": "3"}]}]}},
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&input, items.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ros/cdr_reference.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let theirs: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(output).unwrap()).unwrap();
    // The first is the reference frame of the ROS 2 research notes, checked byte by byte.
    assert!(mine[0].starts_with("0001000000f1536515cd5b070f00000063616d6572615f6f7074696361"));
    assert_eq!(mine[0].len(), 2 * 84);
    for (i, (a, b)) in mine.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "message {i} differs from rosbags");
    }
}
