//! A zenoh sample's payload as the zenoh transport decodes it for each type the node
//! subscribes to (encapsulation header, then little-endian CDR), and a frame's pixels after.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::pipeline::frame::{FrameRef, decode_raw};
use rtseg::ros::msgs::{CameraInfo, Clock, CompressedImage, Image, TFMessage};
use rtseg::ros::zenoh::decode;

fuzz_target!(|payload: &[u8]| {
    if let Ok(image) = decode::<Image>(payload) {
        let _ = decode_raw(&FrameRef::from(&image));
    }
    let _ = decode::<CompressedImage>(payload);
    if let Ok(info) = decode::<CameraInfo>(payload) {
        let _ = info.validate();
    }
    let _ = decode::<Clock>(payload);
    let _ = decode::<TFMessage>(payload);
});
