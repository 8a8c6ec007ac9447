//! Camera calibration files (camera_calibration_parsers YAML with rtseg's extrinsics block),
//! then the camera model at a small mask size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::geometry::calibration::Calibration;

fuzz_target!(|text: &str| {
    if let Ok(Calibration {
        camera: Some(camera),
        ..
    }) = Calibration::parse(text)
    {
        let _ = camera.model(16, 12);
    }
});
