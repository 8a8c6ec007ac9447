//! `rtseg node`: the thin ROS 2 shell around [`crate::pipeline`]. DDS callbacks only hand
//! frames to keep-latest slots; worker threads decode, segment and publish; the main loop
//! publishes diagnostics at 1 Hz and tracks who listens to the colour mask.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use image::{GrayImage, RgbImage};
use ros2_client::dds::rustdds::DomainParticipantBuilder;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{
    Context, MessageTypeName, Name, Node, NodeName, NodeOptions, Publisher, QosProfile,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::args::{NodeIdentity, Rule};
use super::msgs::{
    CameraInfo, Clock, CompressedImage, DiagnosticArray, DiagnosticStatus, Header, Image, KeyValue,
    LabelInfo, LaserScan, MapMetaData, OccupancyGrid, Point, Pose, TFMessage, Time, VisionClass,
};
use super::params::{NodeParams, ParamsFile, QosPreset};
use crate::geometry::calibration::Calibration;
use crate::geometry::camera::{CameraCalibration, MaskRectifier};
use crate::geometry::ground::{Extrinsics, GroundFrame, GroundLookup, GroundProjector};
use crate::geometry::transforms::StaticTransforms;
use crate::pipeline::autoware::run_length_encode;
use crate::pipeline::frame::{FrameRef, decode_compressed};
use crate::pipeline::latest::LatestSlots;
use crate::pipeline::stats::{Percentiles, PipelineStats, WarningThrottle};
use crate::pipeline::{Fit, MaskResolution, Segmentation, Segmenter};

/// How the node reaches the network, from the standard ROS 2 environment variables.
pub struct Discovery {
    pub domain_id: u16,
    pub localhost_only: bool,
}

impl Discovery {
    pub fn from_env() -> anyhow::Result<Self> {
        let domain_id = match std::env::var("ROS_DOMAIN_ID") {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|&d| d <= 232)
                .ok_or_else(|| {
                    anyhow::anyhow!("ROS_DOMAIN_ID={v:?} is not a domain id (0..=232)")
                })?,
            _ => 0,
        };
        let range = std::env::var("ROS_AUTOMATIC_DISCOVERY_RANGE").unwrap_or_default();
        let legacy = std::env::var("ROS_LOCALHOST_ONLY").is_ok_and(|v| v == "1");
        Ok(Self {
            domain_id,
            localhost_only: range.eq_ignore_ascii_case("LOCALHOST") || legacy,
        })
    }
}

fn qos(preset: QosPreset) -> QosProfile {
    match preset {
        QosPreset::SensorData => {
            QosProfile::subscription_default().history(History::KeepLast { depth: 5 })
        }
        QosPreset::Default => QosProfile::publisher_default()
            .reliability_reliable(WhenFull::DEFAULT)
            .history(History::KeepLast { depth: 10 }),
    }
}

/// A frame as it arrived, waiting for a worker.
enum Arrival {
    Raw(Image),
    Compressed(CompressedImage),
}

struct Pending {
    frame: Arrival,
    received: Instant,
}

/// Everything one camera publishes, and what the workers need to know about it. Outputs the
/// parameter file turns off have no publisher, so the node never advertises a topic it does
/// not publish.
struct CameraOutputs {
    name: String,
    mask: Option<Publisher<Image>>,
    color_mask: Option<Publisher<Image>>,
    /// The color_mask topic, to count its subscribers.
    color_topic: String,
    mask_compressed: Option<Publisher<CompressedImage>>,
    mask_autoware_rle: Option<Publisher<Image>>,
    /// Only with `mask_resolution: network` (the mask's own geometry).
    mask_camera_info: Option<Publisher<CameraInfo>>,
    mask_rect: Option<Publisher<Image>>,
    rectifier: Mutex<MaskRectifier>,
    /// Someone subscribes to `color_mask` (refreshed by the main loop).
    color_wanted: AtomicBool,
    camera_info: Mutex<Option<CameraInfo>>,
    /// With `ground.enabled`: the ground-plane outputs.
    ground: Option<Mutex<CameraGround>>,
    stats: Mutex<PipelineStats>,
    warnings: Mutex<WarningThrottle>,
    /// Warnings on their way to /rosout (the main loop owns the node and publishes them).
    rosout: std::sync::mpsc::SyncSender<String>,
}

/// One camera's ground-plane projection and its publishers.
struct CameraGround {
    projector: GroundProjector,
    /// The calibration file's intrinsics, used until a camera_info arrives.
    file_camera: Option<CameraCalibration>,
    /// The calibration file's pose; without one, the pose comes from /tf_static.
    file_pose: Option<Extrinsics>,
    /// The frames /tf_static has placed (shared by every camera).
    tf_static: Arc<Mutex<StaticTransforms>>,
    /// The grids' frame when the pose comes from /tf_static.
    frame_id: String,
    drivable_area: Option<Publisher<OccupancyGrid>>,
    class_grid: Option<Publisher<OccupancyGrid>>,
    free_space: Option<Publisher<LaserScan>>,
}

impl CameraGround {
    /// The ground outputs of a camera with this calibration (read from its file, or empty);
    /// advertises the enabled outputs.
    fn new(
        node: &mut Node,
        params: &NodeParams,
        calibration: Calibration,
        tf_static: Arc<Mutex<StaticTransforms>>,
        (topics, qos): (&CameraTopics, &QosProfile),
    ) -> anyhow::Result<Self> {
        let g = &params.ground;
        let drivable = crate::geometry::drivable_table(params.dataset, &g.drivable_classes)
            .map_err(|e| anyhow::anyhow!("ground.drivable_classes: {e}"))?;
        Ok(Self {
            projector: GroundProjector::new(g.grid, g.scan, drivable)
                .map_err(|e| anyhow::anyhow!("ground: {e}"))?,
            file_camera: calibration.camera,
            file_pose: calibration.extrinsics,
            tf_static,
            frame_id: g.frame_id.clone(),
            drivable_area: optional_publisher(
                node,
                g.publish.drivable_area,
                &topics.drivable_area,
                OCCUPANCY_GRID,
                qos,
            )?,
            class_grid: optional_publisher(
                node,
                g.publish.class_grid,
                &topics.class_grid,
                OCCUPANCY_GRID,
                qos,
            )?,
            free_space: optional_publisher(
                node,
                g.publish.free_space,
                &topics.free_space,
                ("sensor_msgs", "LaserScan"),
                qos,
            )?,
        })
    }

    /// The camera's pose: the calibration file's, else /tf_static's transform from the
    /// camera's frame (the camera_info's frame_id, else the image's) to `frame_id`.
    fn pose(&self, camera_frame: &str) -> Result<Extrinsics, String> {
        if let Some(pose) = &self.file_pose {
            return Ok(pose.clone());
        }
        let tf = self.tf_static.lock().unwrap_or_else(|e| e.into_inner());
        let camera_to_parent = tf.lookup(&self.frame_id, camera_frame).ok_or_else(|| {
            format!(
                "no /tf_static chain from {camera_frame:?} to {:?} yet (and no extrinsics in \
                 the calibration file): no ground outputs",
                self.frame_id
            )
        })?;
        Ok(Extrinsics {
            parent_frame: self.frame_id.clone(),
            camera_to_parent,
        })
    }

    /// Projects a mask and publishes the enabled outputs, stamped with the frame's stamp in
    /// the pose's parent frame; returns what looked wrong about a camera seen for the first
    /// time (to warn about).
    ///
    /// # Errors
    /// No intrinsics or pose yet, or unusable intrinsics.
    fn publish(
        &mut self,
        header: &Header,
        camera_info: Option<CameraInfo>,
        mask: &GrayImage,
    ) -> Result<Vec<String>, String> {
        let camera_frame = match &camera_info {
            Some(info) if !info.header.frame_id.is_empty() => info.header.frame_id.clone(),
            _ => header.frame_id.clone(),
        };
        let camera = camera_info
            .map(|info| info.calibration())
            .or_else(|| self.file_camera.clone())
            .ok_or(
                "no camera_info yet and no intrinsics in a calibration file: no ground outputs",
            )?;
        let pose = self.pose(&camera_frame)?;
        let classes = self.class_grid.is_some();
        let GroundFrame {
            lookup,
            occupancy,
            classes,
            ranges,
        } = self
            .projector
            .project(&camera, &pose, mask.as_raw(), mask.dimensions(), classes)?;
        let header = Header {
            stamp: header.stamp,
            frame_id: lookup.frame_id.clone(),
        };
        if let Some(publisher) = &self.drivable_area {
            let _ = publisher.publish(occupancy_grid(&header, &lookup, occupancy));
        }
        if let Some((publisher, classes)) = self.class_grid.as_ref().zip(classes) {
            let _ = publisher.publish(occupancy_grid(&header, &lookup, classes));
        }
        if let Some(publisher) = &self.free_space {
            let _ = publisher.publish(laser_scan(&header, &lookup, ranges));
        }
        Ok(self.projector.take_doubts())
    }
}

/// A grid as nav_msgs/OccupancyGrid: origin at the grid's (x min, y min) corner, unrotated.
fn occupancy_grid(header: &Header, lookup: &GroundLookup, data: Vec<i8>) -> OccupancyGrid {
    let grid = &lookup.grid;
    let (width, height) = grid.size();
    OccupancyGrid {
        header: header.clone(),
        info: MapMetaData {
            map_load_time: header.stamp,
            resolution: grid.resolution as f32,
            width,
            height,
            origin: Pose {
                position: Point {
                    x: grid.x_range[0],
                    y: grid.y_range[0],
                    z: 0.0,
                },
                ..Default::default()
            },
        },
        data,
    }
}

/// Free-space distances as sensor_msgs/LaserScan from the frame's origin (REP 117 values).
fn laser_scan(header: &Header, lookup: &GroundLookup, ranges: Vec<f32>) -> LaserScan {
    let scan = &lookup.scan;
    LaserScan {
        header: header.clone(),
        angle_min: scan.angle(0) as f32,
        angle_max: scan.angle(ranges.len().saturating_sub(1)) as f32,
        angle_increment: scan.angle_increment_deg.to_radians() as f32,
        time_increment: 0.0,
        scan_time: 0.0,
        range_min: 0.0,
        range_max: lookup.range_max(),
        ranges,
        intensities: Vec::new(),
    }
}

/// Warnings waiting for /rosout at most; more are dropped (stderr still has them).
const ROSOUT_BACKLOG: usize = 64;

impl CameraOutputs {
    /// A frame (or a sample that failed to deserialize) arrived from the transport.
    fn arrived(&self, slots: &LatestSlots<Pending>, index: usize, frame: Result<Arrival, String>) {
        match frame {
            Ok(frame) => {
                self.stats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .frame_received();
                slots.put(
                    index,
                    Pending {
                        frame,
                        received: Instant::now(),
                    },
                );
            }
            Err(e) => self.reject(&e),
        }
    }

    /// Counts a malformed frame and warns (throttled) on stderr and /rosout.
    fn reject(&self, message: &str) {
        self.count_and_warn(PipelineStats::frame_malformed, "dropped a frame", message);
    }

    /// Counts an unusable camera_info (not a frame: frames still get masks) and warns.
    fn reject_camera_info(&self, message: &str) {
        let count = PipelineStats::camera_info_rejected;
        self.count_and_warn(count, "ignored a camera_info", message);
    }

    fn count_and_warn(&self, count: fn(&mut PipelineStats), what: &str, message: &str) {
        count(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
        self.warn(&format!("{what}: {message}"));
    }

    /// Logs a throttled warning on stderr and /rosout.
    fn warn(&self, message: &str) {
        let line = self
            .warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .warn(&self.name, message);
        if let Some(line) = line {
            eprintln!("warning: {line}");
            // Never blocks a transport callback: a full backlog drops the /rosout copy.
            let _ = self.rosout.try_send(line);
        }
    }
}

/// Calls `handle` with every sample a subscription delivers; one that fails to deserialize
/// comes as an error describing it.
async fn for_each<M: DeserializeOwned + 'static>(
    subscription: ros2_client::Subscription<M>,
    mut handle: impl FnMut(Result<M, String>),
) {
    let stream = subscription.async_stream();
    futures::pin_mut!(stream);
    while let Some(sample) = stream.next().await {
        handle(
            sample
                .map(|(m, _)| m)
                .map_err(|e| format!("undecodable sample: {e:?}")),
        );
    }
}

fn topic(
    node: &mut Node,
    name: &str,
    type_name: (&str, &str),
    qos: &QosProfile,
) -> anyhow::Result<ros2_client::dds::rustdds::Topic> {
    let parsed = Name::parse(name).map_err(|e| anyhow::anyhow!("topic {name:?}: {e:?}"))?;
    node.create_topic(&parsed, MessageTypeName::new(type_name.0, type_name.1), qos)
        .map_err(|e| anyhow::anyhow!("topic {name}: {e:?}"))
}

fn create_publisher<M: Serialize>(
    node: &mut Node,
    name: &str,
    type_name: (&str, &str),
    qos: &QosProfile,
) -> anyhow::Result<Publisher<M>> {
    let topic = topic(node, name, type_name, qos)?;
    node.create_publisher(&topic, None)
        .map_err(|e| anyhow::anyhow!("publisher {name}: {e:?}"))
}

/// A publisher for an output the parameter file turns on; `None` (and no topic advertised)
/// for one it turns off.
fn optional_publisher<M: Serialize>(
    node: &mut Node,
    enabled: bool,
    name: &str,
    type_name: (&str, &str),
    qos: &QosProfile,
) -> anyhow::Result<Option<Publisher<M>>> {
    enabled
        .then(|| create_publisher(node, name, type_name, qos))
        .transpose()
}

fn create_subscription<M: DeserializeOwned + 'static>(
    node: &mut Node,
    name: &str,
    type_name: (&str, &str),
    qos: &QosProfile,
) -> anyhow::Result<ros2_client::Subscription<M>> {
    let topic = topic(node, name, type_name, qos)?;
    node.create_subscription(&topic, None)
        .map_err(|e| anyhow::anyhow!("subscription {name}: {e:?}"))
}

const IMAGE: (&str, &str) = ("sensor_msgs", "Image");
const COMPRESSED: (&str, &str) = ("sensor_msgs", "CompressedImage");
const CAMERA_INFO: (&str, &str) = ("sensor_msgs", "CameraInfo");
const OCCUPANCY_GRID: (&str, &str) = ("nav_msgs", "OccupancyGrid");

/// The format string compressed_image_transport writes for a PNG-compressed mono8 image.
pub const MASK_PNG_FORMAT: &str = "mono8; png compressed ";

/// Opens a segmenter for one worker thread.
pub type BackendFactory<'a> = dyn Fn() -> anyhow::Result<Box<dyn Segmenter>> + Sync + 'a;

/// One camera's topics after the node's remapping rules (rcl's). The compressed,
/// run-length and camera_info siblings follow their image topic, as image_transport derives
/// `<image>/compressed` from the remapped image topic.
struct CameraTopics {
    image: String,
    image_compressed: String,
    camera_info: String,
    mask: String,
    mask_compressed: String,
    mask_autoware_rle: String,
    mask_camera_info: String,
    mask_rect: String,
    color_mask: String,
    drivable_area: String,
    class_grid: String,
    free_space: String,
}

impl CameraTopics {
    fn new(camera: &str, params: &NodeParams, node: &NodeIdentity, remaps: &[Rule]) -> Self {
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

/// Runs the node until `stop` is set.
pub fn run(
    file: ParamsFile,
    discovery: Discovery,
    make_backend: &BackendFactory<'_>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let ParamsFile {
        node: identity,
        params,
        remaps,
        calibrations,
        ..
    } = file;
    let node_name = identity.name.clone();
    // Every topic through the node's remapping rules, as rcl resolves them.
    let name = |topic: String| identity.remap(&topic, &remaps);
    let mut builder = DomainParticipantBuilder::new(discovery.domain_id);
    if discovery.localhost_only {
        builder = builder.with_only_networks([std::net::Ipv4Addr::LOCALHOST]);
    }
    let participant = builder.build().map_err(|e| {
        anyhow::anyhow!("cannot start DDS on domain {}: {e:?}", discovery.domain_id)
    })?;
    let context = Context::from_domain_participant(participant)
        .map_err(|e| anyhow::anyhow!("cannot create the ROS context: {e:?}"))?;
    let mut node = context
        .new_node(
            NodeName::new(&identity.namespace, &node_name).map_err(|e| {
                anyhow::anyhow!("node name {:?}: {e:?}", identity.fully_qualified())
            })?,
            NodeOptions::new().enable_rosout(true),
        )
        .map_err(|e| anyhow::anyhow!("cannot create node {node_name}: {e:?}"))?;
    let executor = smol::Executor::new();
    let spinner = node
        .spinner()
        .map_err(|e| anyhow::anyhow!("spinner: {e:?}"))?;
    executor.spawn(spinner.spin()).detach();

    let in_qos = qos(params.input_qos);
    let out_qos = qos(params.output_qos).deadline(
        (params.output_deadline_ms > 0).then(|| Duration::from_millis(params.output_deadline_ms)),
    );
    let latched = QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::TransientLocal)
        .history(History::KeepLast { depth: 1 });
    let slots = Arc::new(LatestSlots::<Pending>::new(params.cameras.len()));
    let (rosout, warnings) = std::sync::mpsc::sync_channel::<String>(ROSOUT_BACKLOG);
    let mut outputs = Vec::new();
    let tf_static: Arc<Mutex<StaticTransforms>> = Arc::default();
    for (index, camera) in params.cameras.iter().enumerate() {
        let t = CameraTopics::new(camera, &params, &identity, &remaps);
        let p = &params.publish;
        let network = params.mask_resolution == MaskResolution::Network;
        outputs.push(Arc::new(CameraOutputs {
            name: camera.clone(),
            color_topic: t.color_mask.clone(),
            mask: optional_publisher(&mut node, p.mask, &t.mask, IMAGE, &out_qos)?,
            color_mask: optional_publisher(
                &mut node,
                p.color_mask,
                &t.color_mask,
                IMAGE,
                &out_qos,
            )?,
            mask_compressed: optional_publisher(
                &mut node,
                p.mask_compressed,
                &t.mask_compressed,
                COMPRESSED,
                &out_qos,
            )?,
            mask_autoware_rle: optional_publisher(
                &mut node,
                p.mask_autoware_rle,
                &t.mask_autoware_rle,
                IMAGE,
                &out_qos,
            )?,
            mask_camera_info: optional_publisher(
                &mut node,
                network,
                &t.mask_camera_info,
                CAMERA_INFO,
                &out_qos,
            )?,
            mask_rect: optional_publisher(&mut node, p.mask_rect, &t.mask_rect, IMAGE, &out_qos)?,
            rectifier: Mutex::default(),
            ground: match params.ground.enabled {
                true => Some(Mutex::new(CameraGround::new(
                    &mut node,
                    &params,
                    calibrations[index].clone(),
                    tf_static.clone(),
                    (&t, &out_qos),
                )?)),
                false => None,
            },
            rosout: rosout.clone(),
            color_wanted: AtomicBool::new(false),
            camera_info: Mutex::new(None),
            stats: Mutex::new(PipelineStats::default()),
            warnings: Mutex::new(WarningThrottle::new(Duration::from_secs(5))),
        }));
        let image = create_subscription::<Image>(&mut node, &t.image, IMAGE, &in_qos)?;
        let compressed = create_subscription::<CompressedImage>(
            &mut node,
            &t.image_compressed,
            COMPRESSED,
            &in_qos,
        )?;
        let info =
            create_subscription::<CameraInfo>(&mut node, &t.camera_info, CAMERA_INFO, &in_qos)?;
        let (s, o) = (slots.clone(), outputs[index].clone());
        executor
            .spawn(for_each(image, move |m| {
                o.arrived(&s, index, m.map(Arrival::Raw))
            }))
            .detach();
        let (s, o) = (slots.clone(), outputs[index].clone());
        executor
            .spawn(for_each(compressed, move |m| {
                o.arrived(&s, index, m.map(Arrival::Compressed))
            }))
            .detach();
        let o = outputs[index].clone();
        executor
            .spawn(for_each(info, move |m| {
                let checked = m.and_then(|m| m.validate().map(|()| m));
                let bad = checked.as_ref().err().cloned();
                // A bad one also retires the last good one: no stale mask/camera_info.
                *o.camera_info.lock().unwrap_or_else(|e| e.into_inner()) = checked.ok();
                if let Some(e) = bad {
                    o.reject_camera_info(&e);
                }
            }))
            .detach();
    }
    // The cameras placed by /tf_static: subscribe as tf2's static listener does (reliable,
    // transient local, so transforms published before the node started arrive too).
    let needs_tf = outputs.iter().any(|o| {
        o.ground.as_ref().is_some_and(|g| {
            g.lock()
                .unwrap_or_else(|e| e.into_inner())
                .file_pose
                .is_none()
        })
    });
    if needs_tf {
        let static_qos = latched.clone().history(History::KeepLast { depth: 100 });
        let subscription = create_subscription::<TFMessage>(
            &mut node,
            &name("/tf_static".into()),
            ("tf2_msgs", "TFMessage"),
            &static_qos,
        )?;
        let store = tf_static.clone();
        executor
            .spawn(for_each(subscription, move |m| {
                let Ok(m) = m else { return };
                let mut tf = store.lock().unwrap_or_else(|e| e.into_inner());
                for t in m.transforms {
                    if let Some(pose) = t.transform.isometry() {
                        tf.insert(&t.header.frame_id, &t.child_frame_id, pose);
                    }
                }
            }))
            .detach();
    }
    // Transient local: the publisher lives as long as the node, so late joiners get it.
    let _label_info = if params.publish.label_info {
        let label_info: Publisher<LabelInfo> = create_publisher(
            &mut node,
            &name("~/label_info".into()),
            ("vision_msgs", "LabelInfo"),
            &latched,
        )?;
        let class_map = params
            .dataset
            .class_names()
            .iter()
            .enumerate()
            .map(|(i, name)| VisionClass {
                class_id: i as u16,
                class_name: name.to_string(),
            })
            .collect();
        label_info
            .publish(LabelInfo {
                header: Header::default(),
                class_map,
                threshold: 0.0,
            })
            .map_err(|e| anyhow::anyhow!("label_info: {e:?}"))?;
        Some(label_info)
    } else {
        None
    };
    // use_sim_time: the stamps the node makes come from the newest /clock (zero before the
    // first, as ROS time is).
    let sim_clock: Arc<Mutex<Option<Time>>> = Arc::default();
    if params.use_sim_time {
        let clock = create_subscription::<Clock>(
            &mut node,
            &name("/clock".into()),
            ("rosgraph_msgs", "Clock"),
            &qos(QosPreset::SensorData),
        )?;
        let latest = sim_clock.clone();
        executor
            .spawn(for_each(clock, move |m| {
                if let Ok(m) = m {
                    *latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(m.clock);
                }
            }))
            .detach();
    }
    let stamp = || match params.use_sim_time {
        true => sim_clock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_default(),
        false => now(),
    };
    let diagnostics: Option<Publisher<DiagnosticArray>> = optional_publisher(
        &mut node,
        params.publish.diagnostics,
        &name("/diagnostics".into()),
        ("diagnostic_msgs", "DiagnosticArray"),
        &qos(QosPreset::Default),
    )?;

    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut workers = Vec::new();
        for _ in 0..params.workers {
            let (slots, outputs, params) = (slots.clone(), outputs.clone(), &params);
            workers.push(scope.spawn(move || -> anyhow::Result<()> {
                let mut segmenter = make_backend()?;
                loop {
                    let taken = slots.take(Duration::from_millis(200), params.max_batch);
                    if !taken.is_empty() {
                        process(segmenter.as_mut(), params, &outputs, taken);
                    } else if slots.is_closed() {
                        break;
                    }
                }
                Ok(())
            }));
        }
        let main = smol::block_on(executor.run(async {
            let mut next = Instant::now();
            while !stop.load(Ordering::SeqCst) && !workers.iter().any(|w| w.is_finished()) {
                if Instant::now() >= next {
                    next += Duration::from_secs(1);
                    for o in &outputs {
                        let wanted = params.publish.color_mask
                            && node.subscription_count(&o.color_topic) > 0;
                        o.color_wanted.store(wanted, Ordering::SeqCst);
                    }
                    if let Some(diagnostics) = &diagnostics {
                        let array =
                            diagnostics_message(&params, &node_name, &outputs, &slots, stamp());
                        let _ = diagnostics.publish(array);
                    }
                }
                for line in warnings.try_iter() {
                    ros2_client::rosout!(node, ros2_client::ros2::LogLevel::Warn, "{line}");
                }
                smol::Timer::after(Duration::from_millis(50)).await;
            }
            Ok::<(), anyhow::Error>(())
        }));
        slots.close();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("an inference worker panicked"))??;
        }
        main
    })
}

/// A frame ready for the network, with what its outputs need.
struct Ready {
    camera: usize,
    header: Header,
    received: Instant,
    pixels: Pixels,
}

/// Where a frame's pixels are: the message as it arrived (raw), or decoded from JPEG/PNG.
enum Pixels {
    Raw(Image),
    Decoded(RgbImage),
}

impl Pixels {
    fn frame(&self) -> FrameRef<'_> {
        match self {
            Pixels::Raw(m) => FrameRef::from(m),
            Pixels::Decoded(image) => FrameRef::rgb(image),
        }
    }
}

/// Checks, segments and publishes the frames a worker took (one per camera; frames of one
/// size share a network call); a malformed frame is counted and warned about (throttled)
/// and the others go on.
fn process(
    segmenter: &mut dyn Segmenter,
    params: &NodeParams,
    outputs: &[Arc<CameraOutputs>],
    taken: Vec<(usize, Pending)>,
) {
    let mut frames: Vec<Ready> = taken
        .into_iter()
        .filter_map(|(camera, pending)| {
            let (header, checked) = match pending.frame {
                Arrival::Raw(m) => {
                    let header = m.header.clone();
                    let pixels = Pixels::Raw(m);
                    let valid = pixels.frame().validate();
                    (header, valid.map(|_| pixels))
                }
                Arrival::Compressed(m) => {
                    let decoded = decode_compressed(&m.data).map(Pixels::Decoded);
                    (m.header, decoded)
                }
            };
            match checked {
                Ok(pixels) => Some(Ready {
                    camera,
                    header,
                    received: pending.received,
                    pixels,
                }),
                Err(e) => {
                    outputs[camera].reject(&e.to_string());
                    None
                }
            }
        })
        .collect();
    frames.sort_by_key(|f| (f.pixels.frame().width, f.pixels.frame().height));
    let same_size = |a: &Ready, b: &Ready| {
        let (a, b) = (a.pixels.frame(), b.pixels.frame());
        (a.width, a.height) == (b.width, b.height)
    };
    for group in frames.chunk_by(same_size) {
        let overlay = group
            .iter()
            .any(|f| outputs[f.camera].color_wanted.load(Ordering::SeqCst));
        let fit = Fit {
            size: params.network_size(),
            policy: params.resize_policy,
            resolution: params.mask_resolution,
            overlay_alpha: overlay.then_some(OVERLAY_ALPHA),
        };
        let refs: Vec<FrameRef<'_>> = group.iter().map(|f| f.pixels.frame()).collect();
        match segmenter.segment(&refs, &fit) {
            Ok(masks) => {
                for (frame, seg) in group.iter().zip(masks) {
                    publish(&outputs[frame.camera], frame, seg);
                }
            }
            Err(e) => group
                .iter()
                .for_each(|f| outputs[f.camera].reject(&format!("{e:#}"))),
        }
    }
}

/// Weight of the palette in the colour mask.
const OVERLAY_ALPHA: f32 = 0.5;

/// Publishes every enabled output of one segmented frame and records its latency.
fn publish(out: &CameraOutputs, frame: &Ready, seg: Segmentation) {
    if !out
        .stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .claim(frame.received)
    {
        return;
    }
    let header = &frame.header;
    let Segmentation {
        mask,
        scale_x,
        scale_y,
        overlay,
        timing,
    } = seg;
    if let Some(publisher) = &out.mask {
        let message = image_message(header, "mono8", 1, &mask, mask.as_raw().clone());
        let _ = publisher.publish(message);
    }
    if let Some(publisher) = &out.mask_compressed {
        let mut png = Vec::new();
        // Fast deflate: on a 480×360 mask 0.12 ms and 4.5 KB against the default level's
        // 2.0 ms and 3.3 KB (CI-class CPU). The adaptive row filters stay: without them the
        // PNG grows 19× (85 KB), too big for one datagram to a stock subscriber.
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            &mut png,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        );
        let encoded = mask.write_with_encoder(encoder);
        if encoded.is_ok() {
            let _ = publisher.publish(CompressedImage {
                header: header.clone(),
                format: MASK_PNG_FORMAT.into(),
                data: png,
            });
        }
    }
    if let Some(publisher) = &out.mask_autoware_rle {
        // Width, height and step describe the decoded mask, as Autoware's consumer expects.
        let message = image_message(header, "mono8", 1, &mask, run_length_encode(&mask));
        let _ = publisher.publish(message);
    }
    if let Some(publisher) = &out.mask_camera_info {
        let scaled = out
            .camera_info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|info| info.scaled(scale_x, scale_y, mask.width(), mask.height()));
        if let Some(mut scaled) = scaled {
            scaled.header = header.clone();
            let _ = publisher.publish(scaled);
        }
    }
    // Only the geometry outputs need the camera; most nodes copy nothing per frame.
    let camera_info = (out.mask_rect.is_some() || out.ground.is_some())
        .then(|| {
            out.camera_info
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
        .flatten();
    if let Some(publisher) = &out.mask_rect {
        // The ground calibration file's intrinsics stand in until a camera_info arrives.
        let camera = camera_info
            .as_ref()
            .map(CameraInfo::calibration)
            .or_else(|| {
                out.ground.as_ref().and_then(|g| {
                    let g = g.lock().unwrap_or_else(|e| e.into_inner());
                    g.file_camera.clone()
                })
            });
        let rectified = camera
            .ok_or_else(|| "no camera_info yet: no mask_rect".to_string())
            .and_then(|camera| {
                out.rectifier
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .rectify(&camera, mask.as_raw(), mask.dimensions())
            });
        match rectified {
            Ok(data) => {
                let _ = publisher.publish(image_message(header, "mono8", 1, &mask, data));
            }
            Err(e) => out.warn(&e),
        }
    }
    if let Some(ground) = &out.ground {
        let published =
            ground
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .publish(header, camera_info, &mask);
        match published {
            Ok(doubts) => doubts
                .iter()
                .for_each(|d| out.warn(&format!("ground: {d}"))),
            Err(e) => out.warn(&e),
        }
    }
    if let Some((overlay, publisher)) = overlay.zip(out.color_mask.as_ref())
        && out.color_wanted.load(Ordering::SeqCst)
    {
        let message = image_message(header, "rgb8", 3, &mask, overlay.into_raw());
        let _ = publisher.publish(message);
    }
    let latency = frame.received.elapsed().as_secs_f64() * 1e3;
    out.stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .mask_published(latency, timing.network_ms);
}

/// An 8-bit image message of `channels` interleaved channels, the size of `mask`.
fn image_message(
    header: &Header,
    encoding: &str,
    channels: u32,
    mask: &GrayImage,
    data: Vec<u8>,
) -> Image {
    Image {
        header: header.clone(),
        height: mask.height(),
        width: mask.width(),
        encoding: encoding.into(),
        is_bigendian: 0,
        step: channels * mask.width(),
        data,
    }
}

fn now() -> Time {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Time {
        sec: since.as_secs() as i32,
        nanosec: since.subsec_nanos(),
    }
}

/// One status per camera: rates, latency percentiles, drop and malformed counts.
fn diagnostics_message(
    params: &NodeParams,
    node_name: &str,
    outputs: &[Arc<CameraOutputs>],
    slots: &LatestSlots<Pending>,
    stamp: Time,
) -> DiagnosticArray {
    let status = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let r = o.stats.lock().unwrap_or_else(|e| e.into_inner()).report();
            let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
            let p50 = |p: Option<Percentiles>| ms(p.map(|p| p.p50));
            let p99 = |p: Option<Percentiles>| ms(p.map(|p| p.p99));
            let kv = |key: &str, value: String| KeyValue {
                key: key.into(),
                value,
            };
            let (level, message) = r.health(&params.health);
            DiagnosticStatus {
                level: level as u8,
                name: format!("{node_name}: {}", o.name),
                message,
                hardware_id: node_name.to_string(),
                values: vec![
                    kv("input_rate_hz", format!("{:.2}", r.input_hz)),
                    kv("output_rate_hz", format!("{:.2}", r.output_hz)),
                    kv("latency_p50_ms", p50(r.latency_ms)),
                    kv("latency_p99_ms", p99(r.latency_ms)),
                    kv("model_p50_ms", p50(r.model_ms)),
                    kv("model_p99_ms", p99(r.model_ms)),
                    kv("overhead_p50_ms", p50(r.overhead_ms)),
                    kv("overhead_p99_ms", p99(r.overhead_ms)),
                    kv("dropped", slots.dropped(i).to_string()),
                    kv("malformed", r.malformed.to_string()),
                    kv("superseded", r.superseded.to_string()),
                    kv("bad_camera_info", r.bad_camera_info.to_string()),
                    kv("published", r.total_published.to_string()),
                    kv("backend", params.backend.name().to_string()),
                    kv("model", params.model.clone()),
                ],
            }
        })
        .collect();
    DiagnosticArray {
        header: Header {
            stamp,
            frame_id: String::new(),
        },
        status,
    }
}
