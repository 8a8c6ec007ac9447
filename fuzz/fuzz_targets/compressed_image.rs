//! JPEG and PNG frame decoding (CompressedImage data, the size check, EXIF orientation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::pipeline::frame::decode_compressed;

fuzz_target!(|data: &[u8]| {
    let _ = decode_compressed(data);
});
