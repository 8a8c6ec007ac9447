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

/// rosgraph_msgs/msg/Clock: simulated time, published by simulators and `ros2 bag play
/// --clock`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub clock: Time,
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
    /// Usable for scaling: a positive size and positive focal lengths in P or in K (stereo
    /// and uncalibrated drivers publish a zero K with a valid P, or the other way round).
    ///
    /// # Errors
    /// What is missing, with the values seen.
    pub fn validate(&self) -> Result<(), String> {
        let (fx, fy) = (self.k[0], self.k[4]);
        let (px, py) = (self.p[0], self.p[5]);
        if self.width == 0 || self.height == 0 {
            return Err(format!(
                "camera_info size is {}×{}",
                self.width, self.height
            ));
        }
        let usable_k = fx > 0.0 && fy > 0.0;
        let usable_p = px > 0.0 && py > 0.0;
        if !(usable_k || usable_p) {
            return Err(format!(
                "camera_info has no positive focal lengths in K (fx {fx} fy {fy}) or P (fx {px} fy {py})"
            ));
        }
        Ok(())
    }

    /// The camera of the image this info describes, resized by `sx` × `sy` to `width` ×
    /// `height` (the mask at network resolution), as image_geometry's pinhole model reads
    /// both: the image's binning and ROI (REP 104; sensor_msgs/CameraInfo) are folded into K
    /// and P first, then the first two rows of K and P are scaled, as `image_proc`'s resize
    /// does; the result has no binning and a full-image ROI. D and R stay (distortion works
    /// in normalised coordinates); zeros stay zero.
    pub fn scaled(&self, sx: f64, sy: f64, width: u32, height: u32) -> CameraInfo {
        let mut out = self.clone();
        let roi = &self.roi;
        // image_geometry: the image is the ROI of the calibrated sensor, binned.
        let axes = [
            (sx, self.binning_x.max(1) as f64, roi.x_offset as f64),
            (sy, self.binning_y.max(1) as f64, roi.y_offset as f64),
        ];
        for (row, (scale, binning, offset)) in axes.into_iter().enumerate() {
            // The principal point moves with the ROI (through K[8] and P[10], which are 1
            // where the matrix is set and 0 where it is not, so zeros stay zero).
            out.k[row * 3 + 2] = (self.k[row * 3 + 2] - offset * self.k[8]) / binning * scale;
            out.k[row * 3] = self.k[row * 3] / binning * scale;
            out.k[row * 3 + 1] = self.k[row * 3 + 1] / binning * scale;
            out.p[row * 4 + 2] = (self.p[row * 4 + 2] - offset * self.p[10]) / binning * scale;
            for col in [0, 1, 3] {
                out.p[row * 4 + col] = self.p[row * 4 + col] / binning * scale;
            }
        }
        out.width = width;
        out.height = height;
        out.binning_x = 0;
        out.binning_y = 0;
        out.roi = RegionOfInterest::default();
        out
    }
}
