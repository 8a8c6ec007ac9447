//! ROS 2 interface of rtseg (DDS through ros2-client/RustDDS): message definitions, the
//! parameter file, the ROS command-line arguments, and the node shell around the ROS-free
//! [`crate::pipeline`].

pub mod args;
pub mod msgs;
pub mod node;
pub mod params;
