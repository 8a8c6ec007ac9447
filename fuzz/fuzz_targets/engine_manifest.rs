//! The manifest beside a TensorRT plan (`<plan>.json`), read and then checked against a plan
//! and an ONNX file as `rtseg engine check` and the TensorRT backend check them before
//! trusting the plan (the checks that need no TensorRT or GPU).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::backend::tensorrt::engine::{check_files, manifest_path, read_manifest};

fuzz_target!(|data: &[u8]| {
    let plan = rtseg_fuzz::scratch_file("engine.plan", b"plan");
    let onnx = rtseg_fuzz::scratch_file("model.onnx", b"onnx");
    std::fs::write(manifest_path(&plan), data).expect("scratch manifest");
    if let Ok(manifest) = read_manifest(&plan) {
        let _ = check_files(b"plan", &manifest, Some(&onnx));
    }
});
