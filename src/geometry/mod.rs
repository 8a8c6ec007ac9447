//! Camera geometry for the ground plane (ROS-free): the camera model `sensor_msgs/CameraInfo`
//! describes, calibration files, and the projection of masks onto the vehicle's ground.

pub mod calibration;
pub mod camera;
pub mod ground;
pub mod transforms;

use crate::labels::LabelSpace;

/// The classes a car may drive on, by name in `space`, as a table indexed by class id;
/// none named = `road` (CamVid's 11-class road includes lane markings; Cityscapes' road
/// excludes sidewalk and parking).
///
/// # Errors
/// A name that is not a class of `space`, with the names it has.
pub fn drivable_table(space: LabelSpace, names: &[String]) -> Result<[bool; 256], String> {
    let classes = space.class_names();
    let mut table = [false; 256];
    let names: Vec<&str> = match names.is_empty() {
        true => vec!["road"],
        false => names.iter().map(String::as_str).collect(),
    };
    for name in names {
        let id = classes.iter().position(|c| *c == name).ok_or_else(|| {
            format!(
                "drivable class {name:?} is not a {} class ({})",
                space.name(),
                classes.join(", ")
            )
        })?;
        table[id] = true;
    }
    Ok(table)
}
