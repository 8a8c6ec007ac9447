//! The command line's ROS arguments (`--ros-args -r/-p/--params-file ...`): split from
//! rtseg's own, parsed, and a topic remapped through the rules they gave.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::ros::args::{NodeIdentity, RosArgs, split};

fuzz_target!(|fuzzed: Vec<String>| {
    // After `--ros-args`, so every fuzzed word reaches the parser.
    let argv = ["rtseg", "node", "--ros-args"]
        .map(String::from)
        .into_iter()
        .chain(fuzzed);
    let (_, ros) = split(argv);
    if let Ok(args) = RosArgs::parse(&ros) {
        let node = NodeIdentity::new(
            args.namespace.as_deref().unwrap_or("/"),
            args.node_name.as_deref().unwrap_or("rtseg"),
        );
        let _ = node.remap("image_raw", &args.remaps);
    }
});
