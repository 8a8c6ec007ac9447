//! The manifest beside a TensorRT plan (`<plan>.json`, what `rtseg engine check` and the
//! TensorRT backend read before trusting the plan).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::backend::tensorrt::engine::{manifest_path, read_manifest};

fuzz_target!(|data: &[u8]| {
    let plan = rtseg_fuzz::scratch_file("engine.plan", b"");
    std::fs::write(manifest_path(&plan), data).expect("scratch manifest");
    let _ = read_manifest(&plan);
});
