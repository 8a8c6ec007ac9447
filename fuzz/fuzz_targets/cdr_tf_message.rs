//! tf2_msgs/TFMessage as the node takes /tf_static: CDR-decoded, each transform turned into an
//! isometry and stored, then a lookup across the tree it built.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtseg::geometry::transforms::StaticTransforms;
use rtseg::ros::msgs::TFMessage;

fuzz_target!(|payload: &[u8]| {
    let Some(message) = rtseg_fuzz::cdr::<TFMessage>(payload) else {
        return;
    };
    let mut tf = StaticTransforms::default();
    for t in &message.transforms {
        if let Some(pose) = t.transform.isometry() {
            tf.insert(&t.header.frame_id, &t.child_frame_id, pose);
        }
    }
    if let (Some(first), Some(last)) = (message.transforms.first(), message.transforms.last()) {
        let _ = tf.lookup(&first.header.frame_id, &last.child_frame_id);
    }
});
