//! sensor_msgs/Image as the node takes it: CDR-decoded, checked, decoded to RGB.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::pipeline::frame::{FrameRef, decode_raw};
use rtseg::ros::msgs::Image;

fuzz_target!(|payload: &[u8]| {
    if let Some(image) = rtseg_fuzz::cdr::<Image>(payload) {
        let _ = decode_raw(&FrameRef::from(&image));
    }
});
