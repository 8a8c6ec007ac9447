//! Encoders (the mmsegmentation "backbones" layer).

pub mod darts;
pub mod fsffnet;
pub mod light;
pub mod mobilenet_v3;
pub mod resnet;
pub mod xception;
