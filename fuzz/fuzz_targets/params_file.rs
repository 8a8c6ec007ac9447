//! The node's parameter file (`--params-file`), resolved by rcl's rules and validated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::ros::args::NodeIdentity;
use rtseg::ros::params::resolve;

fuzz_target!(|data: &[u8]| {
    let path = rtseg_fuzz::scratch_file("params.yaml", data);
    let _ = resolve(&[path], &[], &NodeIdentity::new("/", "rtseg"));
});
