//! The node's topic names: each camera's inputs and outputs under its namespace, and the
//! node-wide ones, after the ROS remapping rules — the same for every transport.

use crate::pipeline::MaskResolution;
use crate::ros::args::{NodeIdentity, Rule};
use crate::ros::params::{NodeParams, ParamsFile};

/// One camera's topics after the node's remapping rules (rcl's). The compressed,
/// run-length and camera_info siblings follow their image topic, as image_transport derives
/// `<image>/compressed` from the remapped image topic.
pub(super) struct CameraTopics {
    pub(super) image: String,
    pub(super) image_compressed: String,
    pub(super) camera_info: String,
    pub(super) mask: String,
    pub(super) mask_compressed: String,
    pub(super) mask_autoware_rle: String,
    pub(super) mask_camera_info: String,
    pub(super) mask_rect: String,
    pub(super) color_mask: String,
    pub(super) drivable_area: String,
    pub(super) class_grid: String,
    pub(super) free_space: String,
}

impl CameraTopics {
    pub(super) fn new(
        camera: &str,
        params: &NodeParams,
        node: &NodeIdentity,
        remaps: &[Rule],
    ) -> Self {
        let name = |topic: String| node.remap(&topic, remaps);
        let out = format!("{camera}/{}", params.output_namespace);
        let (image, mask) = (name(format!("{camera}/image")), name(format!("{out}/mask")));
        CameraTopics {
            image_compressed: format!("{image}/compressed"),
            camera_info: name(format!("{camera}/camera_info")),
            mask_compressed: format!("{mask}/compressed"),
            mask_autoware_rle: format!("{mask}/autoware_rle"),
            mask_camera_info: format!("{mask}/camera_info"),
            color_mask: name(format!("{out}/color_mask")),
            mask_rect: name(format!("{out}/mask_rect")),
            drivable_area: name(format!("{out}/drivable_area")),
            class_grid: name(format!("{out}/class_grid")),
            free_space: name(format!("{out}/free_space")),
            image,
            mask,
        }
    }
}

/// The node as its parameters and ROS arguments resolve it: fully qualified name, every
/// parameter by its dotted name, and the topics it subscribes and publishes after
/// remapping (`rtseg node --print-params`).
pub fn describe(file: &ParamsFile) -> serde_json::Value {
    let p = &file.params;
    let name = |topic: String| file.node.remap(&topic, &file.remaps);
    let mut subscriptions = Vec::new();
    let mut publications = Vec::new();
    let g = &p.ground;
    for camera in &p.cameras {
        let t = CameraTopics::new(camera, p, &file.node, &file.remaps);
        subscriptions.extend([t.image_compressed, t.image, t.camera_info]);
        let outputs = [
            (t.mask_compressed, p.publish.mask_compressed),
            (t.mask_autoware_rle, p.publish.mask_autoware_rle),
            (
                t.mask_camera_info,
                p.mask_resolution == MaskResolution::Network,
            ),
            (t.mask, p.publish.mask),
            (t.mask_rect, p.publish.mask_rect),
            (t.color_mask, p.publish.color_mask),
            (t.drivable_area, g.enabled && g.publish.drivable_area),
            (t.class_grid, g.enabled && g.publish.class_grid),
            (t.free_space, g.enabled && g.publish.free_space),
        ];
        publications.extend(outputs.into_iter().filter(|(_, on)| *on).map(|(t, _)| t));
    }
    if p.use_sim_time {
        subscriptions.push(name("/clock".into()));
    }
    if g.enabled && file.calibrations.iter().any(|c| c.extrinsics.is_none()) {
        subscriptions.push(name("/tf_static".into()));
    }
    if p.publish.label_info {
        publications.push(name("~/label_info".into()));
    }
    if p.publish.diagnostics {
        publications.push(name("/diagnostics".into()));
    }
    let parameters: serde_json::Map<String, serde_json::Value> = file
        .flat
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
        .collect();
    serde_json::json!({
        "node": file.node.fully_qualified(),
        "parameters": parameters,
        "subscriptions": subscriptions,
        "publications": publications,
    })
}
