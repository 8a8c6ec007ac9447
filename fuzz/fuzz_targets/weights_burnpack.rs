//! Burnpack weight files (`.bpk`): the header, the tensors and the stored checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rtseg::weights::read(&rtseg_fuzz::scratch_file("weights.bpk", data));
});
