//! ROS 2 interface of rtseg: the message definitions, the parameter file and the ROS
//! command-line arguments, which every transport shares, and the DDS transport
//! (ros2-client/RustDDS) that [`crate::node`] runs over.

pub mod args;
pub mod dds;
pub mod msgs;
pub mod params;
pub mod type_hash;
