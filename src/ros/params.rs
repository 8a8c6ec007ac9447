//! The node's parameters, read from a ROS 2 parameter file (`<node>: ros__parameters: …`) —
//! the file `ros2 launch` passes — so one YAML serves both `rtseg node` and the launch files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::backend::trt_config::TensorRtOptions;
use crate::backend::{BackendConfig, BackendKind, OrtOptions, Tta};
use crate::geometry::calibration::Calibration;
use crate::geometry::ground::{GridSpec, ScanSpec};
use crate::labels::LabelSpace;
use crate::pipeline::stats::HealthThresholds;
use crate::pipeline::{MaskResolution, ResizePolicy};
use crate::ros::args::{NodeIdentity, Rule};
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

/// The middleware the node speaks ROS 2 over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// DDS (RTPS) through ros2-client/RustDDS, as rmw_fastrtps and rmw_cyclonedds speak it.
    #[default]
    Dds,
    /// Zenoh as rmw_zenoh_cpp speaks it (built with `--features zenoh`).
    Zenoh,
}

/// How a zenoh session joins: its mode, the router it connects to, where a peer listens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZenohMode {
    /// Connects to the router for discovery, then talks to other peers directly
    /// (rmw_zenoh's default).
    #[default]
    Peer,
    /// Everything goes through the router (one connection; for constrained links).
    Client,
}

/// The zenoh session (with `transport: zenoh`); the defaults are rmw_zenoh_cpp's session
/// defaults: a peer that connects to a router on this machine and listens on loopback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZenohParams {
    #[serde(default)]
    pub mode: ZenohMode,
    /// Router endpoints to connect to (`zenohd`'s `tcp/<host>:7447`).
    #[serde(default = "zenoh_router")]
    pub connect: Vec<String>,
    /// Endpoints a peer listens on for other peers (`tcp/<address>:0` picks a port).
    #[serde(default = "zenoh_listen")]
    pub listen: Vec<String>,
}

impl ZenohMode {
    /// The mode as the parameter file and zenoh's configuration spell it.
    pub fn name(self) -> &'static str {
        match self {
            ZenohMode::Peer => "peer",
            ZenohMode::Client => "client",
        }
    }
}

/// A TCP endpoint `tcp/<host>:<port>` (the only link this build has).
fn tcp_endpoint(endpoint: &str) -> bool {
    endpoint
        .strip_prefix("tcp/")
        .and_then(|address| address.rsplit_once(':'))
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

fn zenoh_router() -> Vec<String> {
    vec!["tcp/localhost:7447".into()]
}

fn zenoh_listen() -> Vec<String> {
    vec!["tcp/localhost:0".into()]
}

impl Default for ZenohParams {
    fn default() -> Self {
        Self {
            mode: ZenohMode::Peer,
            connect: zenoh_router(),
            listen: zenoh_listen(),
        }
    }
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
    /// `mask_rect`: the mask rectified through the camera_info's R and P (nearest pixel), as
    /// `image_proc` rectifies images; needs a camera_info (or a ground calibration file).
    #[serde(default)]
    pub mask_rect: bool,
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
            mask_rect: false,
            label_info: true,
            diagnostics: true,
        }
    }
}

/// Which ground outputs to publish (with `ground.enabled`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundOutputs {
    /// `<ns>/drivable_area`: nav_msgs/OccupancyGrid, 0 drivable, 100 not, -1 unseen.
    pub drivable_area: bool,
    /// `<ns>/class_grid`: nav_msgs/OccupancyGrid whose cells hold class ids (-1 unseen).
    pub class_grid: bool,
    /// `<ns>/free_space`: sensor_msgs/LaserScan, free distance per azimuth.
    pub free_space: bool,
}

impl Default for GroundOutputs {
    fn default() -> Self {
        Self {
            drivable_area: true,
            class_grid: false,
            free_space: true,
        }
    }
}

fn base_link() -> String {
    "base_link".into()
}

impl Default for GroundParams {
    fn default() -> Self {
        Self {
            enabled: false,
            calibration_files: Vec::new(),
            frame_id: base_link(),
            drivable_classes: Vec::new(),
            grid: GridSpec::default(),
            scan: ScanSpec::default(),
            publish: GroundOutputs::default(),
        }
    }
}

/// The ground-plane outputs: each mask projected onto the flat ground of the vehicle frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundParams {
    #[serde(default)]
    pub enabled: bool,
    /// One calibration file per camera, in `cameras` order (calibration/README.md): its
    /// extrinsics place the camera; its intrinsics serve until a camera_info arrives. `""`
    /// (or a file without extrinsics): the camera's pose comes from /tf_static.
    #[serde(default)]
    pub calibration_files: Vec<String>,
    /// With the pose from /tf_static: the frame the grids are in (a file's extrinsics name
    /// their own `parent_frame`).
    #[serde(default = "base_link")]
    pub frame_id: String,
    /// Class names a car may drive on; empty = `road` (the shipped file names it: ROS
    /// parameter files cannot hold an empty list).
    #[serde(default)]
    pub drivable_classes: Vec<String>,
    #[serde(default)]
    pub grid: GridSpec,
    #[serde(default)]
    pub scan: ScanSpec,
    #[serde(default)]
    pub publish: GroundOutputs,
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
    /// Stamps the node makes itself (diagnostics) come from /clock (rosgraph_msgs/Clock), as
    /// every ROS 2 node does with this parameter; mask stamps are always the frame's.
    #[serde(default)]
    pub use_sim_time: bool,
    /// The middleware: `dds` or `zenoh` (rmw_zenoh's wire format).
    #[serde(default)]
    pub transport: TransportKind,
    /// The zenoh session, with `transport: zenoh`.
    #[serde(default)]
    pub zenoh: ZenohParams,
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
    /// Drivable-area grid, class grid and free-space scan on the ground plane.
    #[serde(default)]
    pub ground: GroundParams,
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

/// The node's identity and its parameters.
pub struct ParamsFile {
    pub node: NodeIdentity,
    pub params: NodeParams,
    /// Every parameter by its dotted ROS name, as the node resolved it (`--print-params`).
    pub flat: BTreeMap<String, serde_yaml::Value>,
    /// Topic remapping rules (`-r from:=to`), applied to every topic the node uses.
    pub remaps: Vec<Rule>,
    /// With `ground.enabled`: each camera's calibration file, read (`""`: an empty one).
    pub calibrations: Vec<Calibration>,
}

/// Reads every camera's ground calibration file (none when the ground outputs are off), so a
/// missing or malformed file stops the node at start, and `--print-params` too.
///
/// # Errors
/// The first file that cannot be read or parsed, with its camera.
fn load_calibrations(params: &NodeParams) -> anyhow::Result<Vec<Calibration>> {
    if !params.ground.enabled {
        return Ok(Vec::new());
    }
    let files = params.cameras.iter().zip(&params.ground.calibration_files);
    files
        .map(|(camera, file)| match file.is_empty() {
            true => Ok(Calibration::default()),
            false => Calibration::load(Path::new(file))
                .map_err(|e| anyhow::anyhow!("ground.calibration_files ({camera}): {e:#}")),
        })
        .collect()
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
            tta: Tta::default(),
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
        let z = &self.zenoh;
        if z.mode == ZenohMode::Client && z.connect.is_empty() {
            return Err("zenoh.connect: a client needs a router endpoint".into());
        }
        for (key, endpoints) in [("connect", &z.connect), ("listen", &z.listen)] {
            if let Some(bad) = endpoints.iter().find(|e| !tcp_endpoint(e)) {
                return Err(format!(
                    "zenoh.{key}: {bad:?} is not tcp/<host>:<port> (e.g. tcp/localhost:7447; \
                     this build has zenoh's TCP link only)"
                ));
            }
        }
        let g = &self.ground;
        if g.enabled {
            if g.calibration_files.len() != self.cameras.len() {
                return Err(format!(
                    "ground.calibration_files: one file per camera ({} camera(s), {} file(s))",
                    self.cameras.len(),
                    g.calibration_files.len()
                ));
            }
            if g.frame_id.is_empty() {
                return Err("ground.frame_id is empty".into());
            }
            g.grid.validate().map_err(|e| format!("ground.grid: {e}"))?;
            g.scan.validate().map_err(|e| format!("ground.scan: {e}"))?;
            crate::geometry::drivable_table(self.dataset, &g.drivable_classes)
                .map_err(|e| format!("ground.drivable_classes: {e}"))?;
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

/// Reads the shipped-style parameter file for the default node `/rtseg`.
pub fn load(path: &Path) -> anyhow::Result<ParamsFile> {
    resolve(&[path.to_path_buf()], &[], &NodeIdentity::new("/", "rtseg"))
}

/// The node's parameters by rcl's rules: the `ros__parameters` blocks of every file, one set
/// per node key (`/**`, `*` wildcards; nested namespace keys; a relative name is under `/`)
/// where later files override earlier ones; the wildcard keys matching the node's fully
/// qualified name apply in the order they first appear, its own key last; then the `-p`
/// overrides for this node (values read as YAML). Nested maps and dotted names are the same
/// parameter (`ort: {onnx: x}` = `ort.onnx: x`).
///
/// # Errors
/// An unreadable file, no block for this node, an unknown parameter (named), a bad value.
pub fn resolve(
    files: &[PathBuf],
    overrides: &[Rule],
    node: &NodeIdentity,
) -> anyhow::Result<ParamsFile> {
    let fqn = node.fully_qualified();
    let shown = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    // rcl keeps one parameter set per node key (`/**`, `/ns/name`, ...), later files
    // overriding earlier ones within a key, in the order keys first appear.
    let mut keys: Vec<(Vec<String>, BTreeMap<String, serde_yaml::Value>)> = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read parameter file {}: {e}", path.display()))?;
        let root: serde_yaml::Mapping = serde_yaml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not valid YAML: {e}", path.display()))?;
        let mut blocks = Vec::new();
        node_blocks(&root, &mut Vec::new(), &mut blocks);
        for (pattern, params) in blocks {
            let params = params.as_mapping().ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: `/{}: ros__parameters` is not a map",
                    path.display(),
                    pattern.join("/")
                )
            })?;
            let index = match keys.iter().position(|(k, _)| *k == pattern) {
                Some(index) => index,
                None => {
                    keys.push((pattern, BTreeMap::new()));
                    keys.len() - 1
                }
            };
            flatten(params, "", &mut keys[index].1);
        }
    }
    // Then, as rclpy and rclcpp take the overrides: the wildcard keys that match, in order,
    // and the node's own key last, so it wins over them.
    let wildcard = |k: &[String]| k.iter().any(|t| t.contains('*'));
    let own = |k: &[String]| !wildcard(k) && matches_node(k, &fqn);
    let matching = keys
        .iter()
        .filter(|(k, _)| wildcard(k) && matches_node(k, &fqn))
        .chain(keys.iter().filter(|(k, _)| own(k)));
    let mut flat = BTreeMap::new();
    let mut matched = false;
    for (_, params) in matching {
        matched = true;
        flat.extend(params.clone());
    }
    if !matched {
        let seen: Vec<String> = keys
            .iter()
            .map(|(k, _)| format!("/{}", k.join("/")))
            .collect();
        anyhow::bail!(
            "no `<node>: ros__parameters:` block for node {fqn} in {shown} (blocks for: {}); \
             name the node there, or use `/**:` for every node",
            if seen.is_empty() {
                "none".into()
            } else {
                seen.join(", ")
            }
        );
    }
    for rule in overrides.iter().filter(|r| r.applies_to(&node.name)) {
        let value = serde_yaml::from_str(&rule.right).map_err(|e| {
            anyhow::anyhow!("-p {}:={}: not a YAML value: {e}", rule.left, rule.right)
        })?;
        flat.insert(rule.left.clone(), value);
    }
    let params: NodeParams = serde_yaml::from_value(unflatten(&flat))
        .map_err(|e| anyhow::anyhow!("parameters of {fqn} ({shown}): {e}"))?;
    params
        .validate()
        .map_err(|e| anyhow::anyhow!("parameters of {fqn} ({shown}): {e}"))?;
    let calibrations = load_calibrations(&params)?;
    Ok(ParamsFile {
        node: node.clone(),
        params,
        flat,
        remaps: Vec::new(),
        calibrations,
    })
}

/// Every `ros__parameters` block under `map`, with the node-name tokens of the keys above it.
fn node_blocks(
    map: &serde_yaml::Mapping,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, serde_yaml::Value)>,
) {
    for (key, value) in map {
        let Some(key) = key.as_str() else { continue };
        if key == "ros__parameters" {
            out.push((path.clone(), value.clone()));
        } else if let Some(inner) = value.as_mapping() {
            let depth = path.len();
            path.extend(key.split('/').filter(|t| !t.is_empty()).map(String::from));
            node_blocks(inner, path, out);
            path.truncate(depth);
        }
    }
}

/// rcl's node-name match: `**` matches any number of tokens, `*` exactly one.
fn matches_node(pattern: &[String], fqn: &str) -> bool {
    fn go(pattern: &[String], name: &[&str]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((p, rest)) if p == "**" => (0..=name.len()).any(|skip| go(rest, &name[skip..])),
            Some((p, rest)) => {
                !name.is_empty() && (p == "*" || p == name[0]) && go(rest, &name[1..])
            }
        }
    }
    let name: Vec<&str> = fqn.split('/').filter(|t| !t.is_empty()).collect();
    go(pattern, &name)
}

/// Nested maps → dotted names (rcl's parameter names).
fn flatten(map: &serde_yaml::Mapping, prefix: &str, out: &mut BTreeMap<String, serde_yaml::Value>) {
    for (key, value) in map {
        let key = match key {
            serde_yaml::Value::String(k) => k.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        let name = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value.as_mapping() {
            Some(inner) => flatten(inner, &name, out),
            None => {
                out.insert(name, value.clone());
            }
        }
    }
}

/// Dotted names → nested maps, for the parameter struct.
fn unflatten(flat: &BTreeMap<String, serde_yaml::Value>) -> serde_yaml::Value {
    let mut root = serde_yaml::Mapping::new();
    for (name, value) in flat {
        let mut map = &mut root;
        let mut parts = name.split('.').peekable();
        while let Some(part) = parts.next() {
            let key = serde_yaml::Value::String(part.to_string());
            if parts.peek().is_none() {
                map.insert(key, value.clone());
                break;
            }
            let entry = map
                .entry(key)
                .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
            if !entry.is_mapping() {
                *entry = serde_yaml::Value::Mapping(Default::default());
            }
            map = entry.as_mapping_mut().expect("just made a map");
        }
    }
    serde_yaml::Value::Mapping(root)
}
