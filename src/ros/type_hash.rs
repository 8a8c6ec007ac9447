//! RIHS01 type hashes (REP 2016, "ROS 2 Interface Type Descriptions and Hashing") of the
//! messages rtseg speaks, computed from their definitions as rosidl computes them at build
//! time: the type description (each field's name, type id, capacity, string capacity and
//! nested type name; no default values) and those of every type it references, sorted by
//! name, as JSON with `", "` and `": "` separators, hashed with SHA-256. rmw_zenoh puts the hash
//! in every key expression and liveliness token, so a wrong one means no match.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The fields of each message type rtseg sends or reads and of every type they nest, in
/// `.msg` syntax (nested types as `package/Name`), from the Jazzy interface packages.
const DEFINITIONS: &[(&str, &str)] = &[
    ("builtin_interfaces/msg/Time", "int32 sec\nuint32 nanosec"),
    (
        "std_msgs/msg/Header",
        "builtin_interfaces/Time stamp\nstring frame_id",
    ),
    (
        "sensor_msgs/msg/Image",
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\n\
         uint8 is_bigendian\nuint32 step\nuint8[] data",
    ),
    (
        "sensor_msgs/msg/CompressedImage",
        "std_msgs/Header header\nstring format\nuint8[] data",
    ),
    (
        "sensor_msgs/msg/RegionOfInterest",
        "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify",
    ),
    (
        "sensor_msgs/msg/CameraInfo",
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\n\
         float64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\n\
         uint32 binning_y\nsensor_msgs/RegionOfInterest roi",
    ),
    (
        "sensor_msgs/msg/LaserScan",
        "std_msgs/Header header\nfloat32 angle_min\nfloat32 angle_max\n\
         float32 angle_increment\nfloat32 time_increment\nfloat32 scan_time\n\
         float32 range_min\nfloat32 range_max\nfloat32[] ranges\nfloat32[] intensities",
    ),
    ("rosgraph_msgs/msg/Clock", "builtin_interfaces/Time clock"),
    (
        "rcl_interfaces/msg/Log",
        "builtin_interfaces/Time stamp\nuint8 level\nstring name\nstring msg\nstring file\n\
         string function\nuint32 line",
    ),
    (
        "vision_msgs/msg/LabelInfo",
        "std_msgs/Header header\nvision_msgs/VisionClass[] class_map\nfloat32 threshold",
    ),
    (
        "vision_msgs/msg/VisionClass",
        "uint16 class_id\nstring class_name",
    ),
    (
        "diagnostic_msgs/msg/DiagnosticArray",
        "std_msgs/Header header\ndiagnostic_msgs/DiagnosticStatus[] status",
    ),
    (
        "diagnostic_msgs/msg/DiagnosticStatus",
        "byte level\nstring name\nstring message\nstring hardware_id\n\
         diagnostic_msgs/KeyValue[] values",
    ),
    ("diagnostic_msgs/msg/KeyValue", "string key\nstring value"),
    (
        "nav_msgs/msg/OccupancyGrid",
        "std_msgs/Header header\nnav_msgs/MapMetaData info\nint8[] data",
    ),
    (
        "nav_msgs/msg/MapMetaData",
        "builtin_interfaces/Time map_load_time\nfloat32 resolution\nuint32 width\n\
         uint32 height\ngeometry_msgs/Pose origin",
    ),
    (
        "geometry_msgs/msg/Pose",
        "geometry_msgs/Point position\ngeometry_msgs/Quaternion orientation",
    ),
    ("geometry_msgs/msg/Point", "float64 x\nfloat64 y\nfloat64 z"),
    (
        "geometry_msgs/msg/Quaternion",
        "float64 x\nfloat64 y\nfloat64 z\nfloat64 w",
    ),
    (
        "geometry_msgs/msg/Vector3",
        "float64 x\nfloat64 y\nfloat64 z",
    ),
    (
        "geometry_msgs/msg/Transform",
        "geometry_msgs/Vector3 translation\ngeometry_msgs/Quaternion rotation",
    ),
    (
        "geometry_msgs/msg/TransformStamped",
        "std_msgs/Header header\nstring child_frame_id\ngeometry_msgs/Transform transform",
    ),
    (
        "tf2_msgs/msg/TFMessage",
        "geometry_msgs/TransformStamped[] transforms",
    ),
];

/// Why a type has no hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TypeHashError {
    #[error("no definition of {0} in rtseg (it only knows the types it speaks)")]
    Unknown(String),
    #[error("{type_name}: field {field:?} has a type rtseg cannot describe")]
    Field { type_name: String, field: String },
}

/// type_description_interfaces/msg/FieldType, as the hash serialises it.
#[derive(Serialize)]
struct FieldType {
    type_id: u8,
    capacity: u64,
    string_capacity: u64,
    nested_type_name: String,
}

/// type_description_interfaces/msg/Field without its default value (left out of the hash).
#[derive(Serialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    ty: FieldType,
}

/// type_description_interfaces/msg/IndividualTypeDescription.
#[derive(Serialize)]
struct TypeDescription {
    type_name: String,
    fields: Vec<Field>,
}

/// What the hash is computed over (REP 2016's hashable representation).
#[derive(Serialize)]
struct Hashable {
    type_description: TypeDescription,
    referenced_type_descriptions: Vec<TypeDescription>,
}

/// The type id of a primitive `.msg` type (FieldType's constants).
fn primitive_id(name: &str) -> Option<u8> {
    Some(match name {
        "int8" => 2,
        "uint8" => 3,
        "int16" => 4,
        "uint16" => 5,
        "int32" => 6,
        "uint32" => 7,
        "int64" => 8,
        "uint64" => 9,
        "float32" => 10,
        "float64" => 11,
        "bool" => 15,
        "byte" => 16,
        "string" => 17,
        "wstring" => 18,
        _ => return None,
    })
}

/// One `.msg` field type: `base`, `base[N]` (array, id + 48), `base[<=N]` (bounded
/// sequence, + 96) or `base[]` (sequence, + 144); a base with a `/` is a nested type.
fn field_type(text: &str) -> Option<FieldType> {
    let (base, offset, capacity) = match text.split_once('[') {
        None => (text, 0, 0),
        Some((base, rest)) => {
            let bound = rest.strip_suffix(']')?;
            match bound.strip_prefix("<=") {
                _ if bound.is_empty() => (base, 144, 0),
                Some(n) => (base, 96, n.parse().ok()?),
                None => (base, 48, bound.parse().ok()?),
            }
        }
    };
    let (id, nested_type_name) = match base.split_once('/') {
        Some((package, name)) => (1, format!("{package}/msg/{name}")),
        None => (primitive_id(base)?, String::new()),
    };
    Some(FieldType {
        type_id: id + offset,
        capacity,
        string_capacity: 0,
        nested_type_name,
    })
}

fn describe(type_name: &str) -> Result<TypeDescription, TypeHashError> {
    let (_, text) = DEFINITIONS
        .iter()
        .find(|(name, _)| *name == type_name)
        .ok_or_else(|| TypeHashError::Unknown(type_name.to_string()))?;
    let fields = text
        .lines()
        .map(|line| {
            let bad = || TypeHashError::Field {
                type_name: type_name.to_string(),
                field: line.trim().to_string(),
            };
            let (ty, name) = line.trim().split_once(' ').ok_or_else(bad)?;
            Ok(Field {
                name: name.to_string(),
                ty: field_type(ty).ok_or_else(bad)?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(TypeDescription {
        type_name: type_name.to_string(),
        fields,
    })
}

/// Python's `json.dumps(..., separators=(", ", ": "))` layout, which the hash is defined over.
struct SpacedFormatter;

/// `", "` before every array element and object key but the first.
fn separator<W: ?Sized + std::io::Write>(writer: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for SpacedFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// The RIHS01 hash of `type_name` (`package/msg/Name`), as `RIHS01_<64 hex digits>`.
///
/// # Errors
/// The type, or a type it nests, is not one rtseg defines.
pub fn rihs01(type_name: &str) -> Result<String, TypeHashError> {
    let type_description = describe(type_name)?;
    // Every type reachable through nested fields, once each, sorted by name.
    let mut referenced: Vec<String> = Vec::new();
    let mut queue = vec![type_name.to_string()];
    while let Some(next) = queue.pop() {
        for field in describe(&next)?.fields {
            let nested = field.ty.nested_type_name;
            if !nested.is_empty() && !referenced.contains(&nested) {
                referenced.push(nested.clone());
                queue.push(nested);
            }
        }
    }
    referenced.sort();
    let hashable = Hashable {
        type_description,
        referenced_type_descriptions: referenced
            .iter()
            .map(|name| describe(name))
            .collect::<Result<_, _>>()?,
    };
    let mut json = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut json, SpacedFormatter);
    hashable
        .serialize(&mut serializer)
        .expect("serialising plain structs to memory cannot fail");
    Ok(format!("RIHS01_{:x}", Sha256::digest(&json)))
}

/// Every type rtseg has a definition for, `package/msg/Name`.
pub fn known_types() -> impl Iterator<Item = &'static str> {
    DEFINITIONS.iter().map(|(name, _)| *name)
}
