//! ONNX files as the TensorRT path reads them before building or serving an engine
//! (`onnx::inspect`: metadata, inputs, outputs, opset), then the input spec an INT8
//! calibration build takes from them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = rtseg::onnx::inspect(&rtseg_fuzz::scratch_file("model.onnx", data)) {
        let _ = info.input_spec();
    }
});
