//! Dataset label PNGs (class ids or colours, every bit depth rtseg reads).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rtseg::io::load_label(&rtseg_fuzz::scratch_file("label.png", data));
});
