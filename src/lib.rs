//! rtseg: real-time semantic segmentation for cars — the model zoo (MsNet, MFARANet),
//! weights, inference backends, and the command-line tools built on them.

pub mod backend;
pub mod bench;
pub mod datasets;
pub mod evaluation;
pub mod infer;
pub mod losses;
pub mod models;
pub mod pipeline;
pub mod ros;
pub mod train;
pub mod weights;
