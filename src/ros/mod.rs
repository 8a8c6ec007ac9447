//! ROS 2 interface of rtseg: the message definitions, the parameter file and the ROS
//! command-line arguments and the RIHS01 type hashes, which every transport shares, and the
//! transports [`crate::node`] runs over: DDS (ros2-client/RustDDS) and, with the `zenoh`
//! feature, zenoh as rmw_zenoh speaks it.

pub mod args;
pub mod dds;
pub mod msgs;
pub mod params;
pub mod type_hash;
#[cfg(feature = "zenoh")]
pub mod zenoh;
