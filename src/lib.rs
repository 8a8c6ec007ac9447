//! rtseg: real-time semantic segmentation for cars — the model zoo (MsNet, MFARANet), weights,
//! ONNX export, inference backends behind a frame-level boundary, training and evaluation, and
//! the ROS 2 node built on them.

pub mod backend;
pub mod bench;
pub mod datasets;
pub mod device;
pub mod evaluation;
pub mod geometry;
pub mod gpu;
pub mod io;
pub mod labels;
pub mod models;
pub mod node;
pub mod onnx;
pub mod pipeline;
pub mod plots;
pub mod ros;
pub mod search;
pub mod source;
pub mod train;
pub mod weights;
