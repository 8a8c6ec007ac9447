//! sensor_msgs/CameraInfo as the node takes it: CDR-decoded, checked, scaled to a mask's size
//! for the published camera_info, and turned into the camera model the ground plane and the
//! rectified mask use (at a small mask size, so each run stays fast).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::ros::msgs::CameraInfo;

fuzz_target!(|payload: &[u8]| {
    let Some(info) = rtseg_fuzz::cdr::<CameraInfo>(payload) else {
        return;
    };
    if info.validate().is_err() {
        return;
    }
    let _ = info.scaled(0.5, 0.5, info.width / 2, info.height / 2);
    if let Ok(model) = info.calibration().model(16, 12) {
        let _ = model.rectify_nearest();
    }
});
