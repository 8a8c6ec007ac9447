//! Datasets: the on-disk layouts (`sources`), training augmentation (`transforms`) and the
//! threaded batch stream (`loader`). The label spaces they decode into are in
//! [`crate::labels`].

pub mod loader;
pub mod sources;
pub mod transforms;
