//! Raw frame decoding for every encoding rtseg reads, with the fields drawn independently so
//! the fuzzer reaches consistent sizes quickly (the CDR target reaches the same code only
//! through whole messages).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rtseg::pipeline::frame::{FrameRef, decode_raw};

/// Every name `Encoding::parse` reads, and two it refuses.
const ENCODINGS: &[&str] = &[
    "rgb8",
    "bgr8",
    "8UC3",
    "rgba8",
    "bgra8",
    "8UC4",
    "mono8",
    "8UC1",
    "rgb16",
    "bgr16",
    "rgba16",
    "bgra16",
    "mono16",
    "yuyv",
    "yuv422_yuy2",
    "uyvy",
    "yuv422",
    "nv12",
    "nv21",
    "bayer_rggb8",
    "bayer_bggr8",
    "bayer_gbrg8",
    "bayer_grbg8",
    "bayer_rggb16",
    "bayer_bggr16",
    "bayer_gbrg16",
    "bayer_grbg16",
    "32FC1",
    "",
];

#[derive(Arbitrary, Debug)]
struct Frame {
    width: u8,
    height: u8,
    encoding: u8,
    big_endian: bool,
    step: u16,
    data: Vec<u8>,
}

fuzz_target!(|f: Frame| {
    let frame = FrameRef {
        width: f.width.into(),
        height: f.height.into(),
        encoding: ENCODINGS[f.encoding as usize % ENCODINGS.len()],
        big_endian: f.big_endian,
        step: f.step.into(),
        data: &f.data,
    };
    let _ = decode_raw(&frame);
});
