//! The node's parameters, read from a ROS 2 parameter file (`<node>: ros__parameters: …`) —
//! the file `ros2 launch` passes — so one YAML serves both `rtseg node` and the launch files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::backend::trt_config::TensorRtOptions;
use crate::backend::{BackendConfig, BackendKind, OrtOptions};
use crate::labels::LabelSpace;
use crate::pipeline::stats::HealthThresholds;
use crate::pipeline::{MaskResolution, ResizePolicy};
use crate::source::Weights;

/// Reliability/durability of a topic, by the names of rclpy's presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QosPreset {
    /// Best effort, volatile, keep last 5 (`qos_profile_sensor_data`).
    SensorData,
    /// Reliable, volatile, keep last 10 (rclpy's default).
    Default,
}

/// Which outputs to publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    pub mask: bool,
    /// Computed only while someone subscribes.
    pub color_mask: bool,
    pub mask_compressed: bool,
    /// `mask/autoware_rle`: Autoware's run-length mono8 (off unless asked for: image tools
    /// cannot display it).
    #[serde(default)]
    pub mask_autoware_rle: bool,
    pub label_info: bool,
    pub diagnostics: bool,
}

impl Default for Outputs {
    fn default() -> Self {
        Self {
            mask: true,
            color_mask: true,
            mask_compressed: true,
            mask_autoware_rle: false,
            label_info: true,
            diagnostics: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeParams {
    pub model: String,
    pub dataset: LabelSpace,
    /// Weight file; empty = the shipped `weights/<model>_<dataset>.bpk`.
    #[serde(default)]
    pub weights: String,
    /// Inference backend: `burn` or `ort` (ONNX Runtime, built with `--features ort`).
    #[serde(default)]
    pub backend: BackendKind,
    /// Settings of the `ort` backend (ONNX file, execution providers, threads, library).
    #[serde(default)]
    pub ort: OrtOptions,
    /// Settings of the `tensorrt` backend (ONNX, engine cache, precision, when to build).
    #[serde(default)]
    pub tensorrt: TensorRtOptions,
    /// With `backend: tensorrt`: build (or check) the engine, then exit — for provisioning a
    /// car before it drives.
    #[serde(default)]
    pub build_only: bool,
    /// Camera namespaces; each provides `image`, `image/compressed` and `camera_info`.
    pub cameras: Vec<String>,
    /// Outputs go to `<camera>/<output_namespace>/…`.
    pub output_namespace: String,
    /// The size the network runs at.
    #[serde(default)]
    pub network_size: NetworkSize,
    #[serde(default)]
    pub resize_policy: ResizePolicy,
    #[serde(default)]
    pub mask_resolution: MaskResolution,
    pub input_qos: QosPreset,
    pub output_qos: QosPreset,
    /// DDS Deadline QoS offered on the outputs, ms; 0 offers none. RustDDS (0.15) repairs
    /// what a reliable reader lost in rounds a fifth of the writer's deadline apart (1 ms at
    /// most 5 ms, 10 ms without a deadline), and a stock Fast DDS subscriber, with its 208 KiB
    /// socket receive buffer, loses part of every mask over ~128 KiB: the deadline sets how
    /// fast that repair runs. Subscribers requesting a deadline shorter than this do not match
    /// (DDS 1.4 §2.2.3.7).
    #[serde(default = "output_deadline_ms")]
    pub output_deadline_ms: u64,
    #[serde(default)]
    pub publish: Outputs,
    /// When /diagnostics turns a camera WARN or ERROR.
    #[serde(default)]
    pub health: HealthThresholds,
    /// Inference threads shared by all cameras; two keep a one-camera pipeline busy (one
    /// network call while the other frame is decoded, resized, encoded and published).
    #[serde(default = "two")]
    pub workers: usize,
    /// Most frames (one per camera, of one size) a worker runs through the network in one
    /// call; more than 1 pays off where the backend runs a batch faster than its frames
    /// one by one (`rtseg bench --batch`).
    #[serde(default = "one")]
    pub max_batch: usize,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn one() -> usize {
    1
}

fn output_deadline_ms() -> u64 {
    5
}

fn two() -> usize {
    2
}

/// `network_size`: `auto` (the model card's real-time size, the default), `[0, 0]` (each
/// frame's own size) or `[height, width]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetworkSize {
    #[default]
    Auto,
    FrameSize,
    Fixed(u32, u32),
}

impl Serialize for NetworkSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            NetworkSize::Auto => s.serialize_str("auto"),
            NetworkSize::FrameSize => [0u32, 0].serialize(s),
            NetworkSize::Fixed(h, w) => [h, w].serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for NetworkSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Pair([u32; 2]),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "auto" => Ok(NetworkSize::Auto),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "network_size {w:?}: auto, [0, 0] or [height, width]"
            ))),
            Raw::Pair([0, 0]) => Ok(NetworkSize::FrameSize),
            Raw::Pair([h, w]) => Ok(NetworkSize::Fixed(h, w)),
        }
    }
}

/// The node name and its parameters.
pub struct ParamsFile {
    pub node_name: String,
    pub params: NodeParams,
}

impl NodeParams {
    /// The network size `(height, width)`, or `None` for each frame's own size.
    pub fn network_size(&self) -> Option<(u32, u32)> {
        match self.network_size {
            NetworkSize::Auto => Some(crate::models::card::realtime_size(self.dataset)),
            NetworkSize::FrameSize => None,
            NetworkSize::Fixed(h, w) => Some((h, w)),
        }
    }

    /// Where the weights come from: the `weights` file, or the shipped ones when empty.
    pub fn weights(&self) -> Weights {
        if self.weights.is_empty() {
            Weights::Shipped
        } else {
            Weights::File(PathBuf::from(&self.weights))
        }
    }

    /// The backend the workers open.
    pub fn backend_config(&self) -> BackendConfig {
        BackendConfig {
            kind: self.backend,
            ort: OrtOptions {
                // `0` shares the cores among the workers: two workers of all cores each would
                // fight over them and both run slower.
                intra_op_threads: match self.ort.intra_op_threads {
                    0 => (cores() / self.workers).max(1),
                    n => n,
                },
                ..self.ort.clone()
            },
            tensorrt: TensorRtOptions {
                // The engine's profile covers the node's largest batch.
                max_batch: self.max_batch as u32,
                ..self.tensorrt.clone()
            },
            network_size: self.network_size(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.cameras.is_empty() {
            return Err("cameras: list at least one camera namespace".into());
        }
        if let Some(bad) = self.cameras.iter().find(|c| !c.starts_with('/')) {
            return Err(format!(
                "cameras: {bad:?} must be an absolute namespace (start with /)"
            ));
        }
        if self.output_namespace.is_empty() || self.output_namespace.starts_with('/') {
            return Err("output_namespace must be a relative name such as `segmentation`".into());
        }
        let h = &self.health;
        if !(h.input_timeout_s > 0.0
            && (0.0..=1.0).contains(&h.malformed_error_ratio)
            && (0.0..=1.0).contains(&h.output_warn_ratio))
        {
            return Err(format!(
                "health: input_timeout_s must be > 0 and both ratios in 0..=1, got {h:?}"
            ));
        }
        if self.output_deadline_ms > 60_000 {
            return Err(format!(
                "output_deadline_ms {} must be 0 (none) or at most 60000",
                self.output_deadline_ms
            ));
        }
        if !(1..=64).contains(&self.workers) {
            return Err(format!("workers {} must be 1..=64", self.workers));
        }
        if !(1..=64).contains(&self.max_batch) {
            return Err(format!("max_batch {} must be 1..=64", self.max_batch));
        }
        if let NetworkSize::Fixed(h, w) = self.network_size
            && crate::models::card::InputSpec::IMAGENET_RGB
                .check_size(h, w)
                .is_err()
        {
            return Err(format!(
                "network_size [{h}, {w}]: auto, [0, 0] or both sides 64..=8192"
            ));
        }
        Ok(())
    }
}

/// Reads `<node>: ros__parameters:` from a ROS 2 parameter file (the first node in it).
pub fn load(path: &Path) -> anyhow::Result<ParamsFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read parameter file {}: {e}", path.display()))?;
    let root: serde_yaml::Mapping = serde_yaml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not valid YAML: {e}", path.display()))?;
    let (name, node) = root
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{}: empty parameter file", path.display()))?;
    let node_name = name
        .as_str()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: the top-level key must be the node name",
                path.display()
            )
        })?
        .trim_start_matches('/')
        .to_string();
    let params = node.get("ros__parameters").cloned().ok_or_else(|| {
        anyhow::anyhow!("{}: `{node_name}` has no `ros__parameters`", path.display())
    })?;
    let params: NodeParams =
        serde_yaml::from_value(params).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    params
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(ParamsFile { node_name, params })
}
