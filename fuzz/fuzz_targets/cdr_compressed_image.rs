//! sensor_msgs/CompressedImage as the node takes it: CDR-decoded, then its JPEG/PNG decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::pipeline::frame::decode_compressed;
use rtseg::ros::msgs::CompressedImage;

fuzz_target!(|payload: &[u8]| {
    if let Some(message) = rtseg_fuzz::cdr::<CompressedImage>(payload) {
        let _ = decode_compressed(&message.data);
    }
});
