//! Decoders and necks (the mmsegmentation "decode heads / necks" layer).

pub mod attanet;
pub mod bisenet;
pub mod fsffnet;
pub mod mfaranet;
pub mod mfma;
