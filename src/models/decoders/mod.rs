//! Decoders and necks (the mmsegmentation "decode heads / necks" layer).

pub mod mfaranet;
pub mod mfma;
