//! rosgraph_msgs/Clock (simulated time) as the node takes it: CDR-decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::ros::msgs::Clock;

fuzz_target!(|payload: &[u8]| {
    let _ = rtseg_fuzz::cdr::<Clock>(payload);
});
