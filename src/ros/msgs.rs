//! The ROS 2 messages the node speaks, as serde structs in IDL field order (CDR is
//! positional). `uint8[]` fields go through `serde_bytes` so they serialise as one block.

use serde::{Deserialize, Serialize};

/// builtin_interfaces/msg/Time
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

/// std_msgs/msg/Header
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub stamp: Time,
    pub frame_id: String,
}

/// sensor_msgs/msg/Image
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub encoding: String,
    pub is_bigendian: u8,
    pub step: u32,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// sensor_msgs/msg/CompressedImage
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressedImage {
    pub header: Header,
    pub format: String,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// sensor_msgs/msg/RegionOfInterest
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionOfInterest {
    pub x_offset: u32,
    pub y_offset: u32,
    pub height: u32,
    pub width: u32,
    pub do_rectify: bool,
}

/// sensor_msgs/msg/CameraInfo
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraInfo {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub distortion_model: String,
    pub d: Vec<f64>,
    pub k: [f64; 9],
    pub r: [f64; 9],
    pub p: [f64; 12],
    pub binning_x: u32,
    pub binning_y: u32,
    pub roi: RegionOfInterest,
}

/// vision_msgs/msg/VisionClass
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisionClass {
    pub class_id: u16,
    pub class_name: String,
}

/// vision_msgs/msg/LabelInfo
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelInfo {
    pub header: Header,
    pub class_map: Vec<VisionClass>,
    pub threshold: f32,
}

/// diagnostic_msgs/msg/KeyValue
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// diagnostic_msgs/msg/DiagnosticStatus
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticStatus {
    /// OK = 0, WARN = 1, ERROR = 2, STALE = 3.
    pub level: u8,
    pub name: String,
    pub message: String,
    pub hardware_id: String,
    pub values: Vec<KeyValue>,
}

/// diagnostic_msgs/msg/DiagnosticArray
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticArray {
    pub header: Header,
    pub status: Vec<DiagnosticStatus>,
}

impl CameraInfo {
    /// Intrinsics are usable: positive focal lengths in K and P, positive size.
    pub fn validate(&self) -> Result<(), String> {
        let (fx, fy) = (self.k[0], self.k[4]);
        let (px, py) = (self.p[0], self.p[5]);
        if self.width == 0 || self.height == 0 {
            return Err(format!(
                "camera_info size is {}×{}",
                self.width, self.height
            ));
        }
        if !(fx > 0.0 && fy > 0.0 && px > 0.0 && py > 0.0) {
            return Err(format!(
                "camera_info has zero or negative focal lengths (K fx {fx} fy {fy}, P fx {px} fy {py})"
            ));
        }
        Ok(())
    }

    /// The same camera seen at `sx`× the width and `sy`× the height (the mask's
    /// camera_info when the mask is published at network resolution).
    pub fn scaled(&self, sx: f64, sy: f64, width: u32, height: u32) -> CameraInfo {
        let mut out = self.clone();
        out.width = width;
        out.height = height;
        for (row, s) in [(0, sx), (1, sy)] {
            for col in 0..3 {
                out.k[row * 3 + col] *= s;
            }
            for col in 0..4 {
                out.p[row * 4 + col] *= s;
            }
        }
        let roi = &mut out.roi;
        roi.x_offset = (roi.x_offset as f64 * sx).round() as u32;
        roi.width = (roi.width as f64 * sx).round() as u32;
        roi.y_offset = (roi.y_offset as f64 * sy).round() as u32;
        roi.height = (roi.height as f64 * sy).round() as u32;
        out
    }
}
