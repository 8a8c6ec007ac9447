//! ONNX files as rtseg reads them before serving one (`onnx::inspect`: metadata, inputs,
//! outputs, opset; then the input spec the ort backend builds from them).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = rtseg::onnx::inspect(&rtseg_fuzz::scratch_file("model.onnx", data)) {
        let _ = info.input_spec();
    }
});
