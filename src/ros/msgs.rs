//! The ROS 2 messages the node speaks, as serde structs in IDL field order (CDR is
//! positional). `uint8[]` fields go through `serde_bytes` so they serialise as one block.

use serde::{Deserialize, Serialize};

use crate::geometry::camera::{CameraCalibration, Roi};
use crate::pipeline::frame::FrameRef;

/// builtin_interfaces/msg/Time
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

impl Time {
    /// The system clock.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            sec: since.as_secs() as i32,
            nanosec: since.subsec_nanos(),
        }
    }
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

impl<'a> From<&'a Image> for FrameRef<'a> {
    /// The message's pixels as the frame decoders read them (borrowed, not copied).
    fn from(m: &'a Image) -> Self {
        FrameRef {
            width: m.width,
            height: m.height,
            encoding: &m.encoding,
            big_endian: m.is_bigendian != 0,
            step: m.step,
            data: &m.data,
        }
    }
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

/// rcl_interfaces/msg/Log: one /rosout line. ros2-client publishes the node's over DDS; the
/// zenoh transport publishes these itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    pub stamp: Time,
    /// 10 debug, 20 info, 30 warn, 40 error, 50 fatal.
    pub level: u8,
    /// The logger: the node's name.
    pub name: String,
    pub msg: String,
    pub file: String,
    pub function: String,
    pub line: u32,
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
    /// The calibration this message carries (everything but its header).
    pub fn calibration(&self) -> CameraCalibration {
        CameraCalibration {
            width: self.width,
            height: self.height,
            distortion_model: self.distortion_model.clone(),
            d: self.d.clone(),
            k: self.k,
            r: self.r,
            p: self.p,
            binning_x: self.binning_x,
            binning_y: self.binning_y,
            roi: Roi {
                x_offset: self.roi.x_offset,
                y_offset: self.roi.y_offset,
                width: self.roi.width,
                height: self.roi.height,
                do_rectify: self.roi.do_rectify,
            },
        }
    }

    /// A message carrying `calibration` under `header`.
    pub fn from_calibration(header: Header, c: CameraCalibration) -> Self {
        CameraInfo {
            header,
            height: c.height,
            width: c.width,
            distortion_model: c.distortion_model,
            d: c.d,
            k: c.k,
            r: c.r,
            p: c.p,
            binning_x: c.binning_x,
            binning_y: c.binning_y,
            roi: RegionOfInterest {
                x_offset: c.roi.x_offset,
                y_offset: c.roi.y_offset,
                height: c.roi.height,
                width: c.roi.width,
                do_rectify: c.roi.do_rectify,
            },
        }
    }

    /// Usable for scaling (see [`CameraCalibration::validate`]).
    ///
    /// # Errors
    /// What is missing, with the values seen.
    pub fn validate(&self) -> Result<(), String> {
        self.calibration().validate()
    }

    /// The camera_info of a mask resized by `sx` × `sy` to `width` × `height` (see
    /// [`CameraCalibration::scaled`]), same header.
    pub fn scaled(&self, sx: f64, sy: f64, width: u32, height: u32) -> CameraInfo {
        let scaled = self.calibration().scaled(sx, sy, width, height);
        CameraInfo::from_calibration(self.header.clone(), scaled)
    }
}

/// geometry_msgs/msg/Point
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// geometry_msgs/msg/Quaternion (x, y, z, w)
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quaternion {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub w: f64,
}

impl Default for Quaternion {
    /// The identity rotation (the IDL's default w is 1).
    fn default() -> Self {
        Self {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

/// geometry_msgs/msg/Pose
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub position: Point,
    pub orientation: Quaternion,
}

/// nav_msgs/msg/MapMetaData
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MapMetaData {
    pub map_load_time: Time,
    /// Cell edge, m/cell.
    pub resolution: f32,
    pub width: u32,
    pub height: u32,
    /// Cell (0, 0)'s corner in the header's frame.
    pub origin: Pose,
}

/// nav_msgs/msg/OccupancyGrid: row-major cells, 0..=100 occupancy probability, -1 unknown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OccupancyGrid {
    pub header: Header,
    pub info: MapMetaData,
    pub data: Vec<i8>,
}

/// sensor_msgs/msg/LaserScan (angles in rad, ranges in m; REP 117 special values).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LaserScan {
    pub header: Header,
    pub angle_min: f32,
    pub angle_max: f32,
    pub angle_increment: f32,
    pub time_increment: f32,
    pub scan_time: f32,
    pub range_min: f32,
    pub range_max: f32,
    pub ranges: Vec<f32>,
    pub intensities: Vec<f32>,
}

/// geometry_msgs/msg/Vector3
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vector3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// geometry_msgs/msg/Transform
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    pub translation: Vector3,
    pub rotation: Quaternion,
}

/// geometry_msgs/msg/TransformStamped: `child_frame_id`'s pose in `header.frame_id`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformStamped {
    pub header: Header,
    pub child_frame_id: String,
    pub transform: Transform,
}

/// tf2_msgs/msg/TFMessage (what /tf and /tf_static carry).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TFMessage {
    pub transforms: Vec<TransformStamped>,
}

impl Transform {
    /// As an isometry mapping child points into the parent; `None` for a zero or non-finite
    /// quaternion or translation.
    pub fn isometry(&self) -> Option<nalgebra::Isometry3<f64>> {
        let (t, r) = (self.translation, self.rotation);
        let q = nalgebra::Quaternion::new(r.w, r.x, r.y, r.z);
        let finite = [t.x, t.y, t.z, r.x, r.y, r.z, r.w]
            .iter()
            .all(|v| v.is_finite());
        (finite && q.norm() > 1e-9).then(|| {
            nalgebra::Isometry3::from_parts(
                nalgebra::Translation3::new(t.x, t.y, t.z),
                nalgebra::UnitQuaternion::from_quaternion(q),
            )
        })
    }
}

/// A message type as ROS names it (`<package>/msg/<name>`), which every transport needs: DDS
/// derives its topic type name from it, rmw_zenoh its key expression.
pub trait RosMessage: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    /// The interface package, e.g. `sensor_msgs`.
    const PACKAGE: &'static str;
    /// The message's name in its package, e.g. `Image`.
    const NAME: &'static str;

    /// `package/msg/Name`, as ROS 2 names the type.
    fn type_name() -> String {
        format!("{}/msg/{}", Self::PACKAGE, Self::NAME)
    }
}

/// Names the ROS type of each message struct above.
macro_rules! ros_message {
    ($($ty:ident: $package:literal),* $(,)?) => {
        $(impl RosMessage for $ty {
            const PACKAGE: &'static str = $package;
            const NAME: &'static str = stringify!($ty);
        })*
    };
}

ros_message! {
    Image: "sensor_msgs",
    CompressedImage: "sensor_msgs",
    CameraInfo: "sensor_msgs",
    LaserScan: "sensor_msgs",
    Clock: "rosgraph_msgs",
    Log: "rcl_interfaces",
    LabelInfo: "vision_msgs",
    DiagnosticArray: "diagnostic_msgs",
    OccupancyGrid: "nav_msgs",
    TFMessage: "tf2_msgs",
}
