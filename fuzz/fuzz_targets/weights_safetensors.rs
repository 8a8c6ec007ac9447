//! Safetensors weight files (`.safetensors`): the JSON header and the tensor offsets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rtseg::weights::read(&rtseg_fuzz::scratch_file("weights.safetensors", data));
});
