//! One camera's side of the node: the frames that arrive for it, checked and segmented by the
//! workers, and every output of a mask encoded into finished ROS messages (mono8, PNG,
//! Autoware run-length, colour overlay, scaled camera_info, rectified mask, ground grids)
//! handed to the transport's outlets, with the counters diagnostics report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::{GrayImage, RgbImage};

use super::advertise_if;
use super::ground::CameraGround;
use super::topics::CameraTopics;
use super::transport::{Outlet, Qos, Transport};
use crate::geometry::camera::MaskRectifier;
use crate::pipeline::autoware::run_length_encode;
use crate::pipeline::frame::{FrameRef, decode_compressed};
use crate::pipeline::latest::LatestSlots;
use crate::pipeline::stats::{PipelineStats, WarningThrottle};
use crate::pipeline::{Fit, MaskResolution, Segmentation, Segmenter};
use crate::ros::msgs::{CameraInfo, CompressedImage, Header, Image};
use crate::ros::params::NodeParams;

/// A frame as it arrived, waiting for a worker.
pub(super) enum Arrival {
    Raw(Image),
    Compressed(CompressedImage),
}

/// A frame in its camera's keep-latest slot.
pub(super) struct Pending {
    frame: Arrival,
    received: Instant,
}

/// Everything one camera publishes, and what the workers need to know about it. Outputs the
/// parameter file turns off have no outlet, so the node never advertises a topic it does not
/// publish.
pub(super) struct Camera {
    pub(super) name: String,
    mask: Option<Box<dyn Outlet<Image>>>,
    color_mask: Option<Box<dyn Outlet<Image>>>,
    /// The color_mask topic, to count its subscribers.
    pub(super) color_topic: String,
    mask_compressed: Option<Box<dyn Outlet<CompressedImage>>>,
    mask_autoware_rle: Option<Box<dyn Outlet<Image>>>,
    /// Only with `mask_resolution: network` (the mask's own geometry).
    mask_camera_info: Option<Box<dyn Outlet<CameraInfo>>>,
    mask_rect: Option<Box<dyn Outlet<Image>>>,
    rectifier: Mutex<MaskRectifier>,
    /// Someone subscribes to `color_mask` (refreshed by the main loop).
    pub(super) color_wanted: AtomicBool,
    camera_info: Mutex<Option<CameraInfo>>,
    /// With `ground.enabled`: the ground-plane outputs.
    pub(super) ground: Option<Mutex<CameraGround>>,
    pub(super) stats: Mutex<PipelineStats>,
    warnings: Mutex<WarningThrottle>,
    /// Warnings on their way to /rosout (the main loop owns the node and publishes them).
    rosout: std::sync::mpsc::SyncSender<String>,
}

impl Camera {
    /// A camera named `name` publishing on `topics` the outputs `params` turns on (`ground`:
    /// its ground-plane outputs, when enabled); its warnings also go to `rosout`.
    ///
    /// # Errors
    /// The transport refused an output.
    pub(super) fn new(
        transport: &mut impl Transport,
        (name, topics, params): (&str, &CameraTopics, &NodeParams),
        qos: Qos,
        ground: Option<CameraGround>,
        rosout: std::sync::mpsc::SyncSender<String>,
    ) -> anyhow::Result<Self> {
        let (t, p) = (topics, &params.publish);
        let network = params.mask_resolution == MaskResolution::Network;
        Ok(Camera {
            name: name.to_string(),
            color_topic: t.color_mask.clone(),
            mask: advertise_if(transport, p.mask, &t.mask, qos)?,
            color_mask: advertise_if(transport, p.color_mask, &t.color_mask, qos)?,
            mask_compressed: advertise_if(transport, p.mask_compressed, &t.mask_compressed, qos)?,
            mask_autoware_rle: advertise_if(
                transport,
                p.mask_autoware_rle,
                &t.mask_autoware_rle,
                qos,
            )?,
            mask_camera_info: advertise_if(transport, network, &t.mask_camera_info, qos)?,
            mask_rect: advertise_if(transport, p.mask_rect, &t.mask_rect, qos)?,
            rectifier: Mutex::default(),
            ground: ground.map(Mutex::new),
            rosout,
            color_wanted: AtomicBool::new(false),
            camera_info: Mutex::new(None),
            stats: Mutex::new(PipelineStats::default()),
            warnings: Mutex::new(WarningThrottle::new(Duration::from_secs(5))),
        })
    }

    /// Subscribes to the camera's image, compressed image and camera_info topics: frames go
    /// to the camera's slot (`index`), a camera_info is checked and kept for the next mask.
    ///
    /// # Errors
    /// The transport refused a subscription.
    pub(super) fn subscribe(
        self: &Arc<Self>,
        transport: &mut impl Transport,
        (topics, qos): (&CameraTopics, Qos),
        slots: &Arc<LatestSlots<Pending>>,
        index: usize,
    ) -> anyhow::Result<()> {
        let (s, o) = (slots.clone(), self.clone());
        transport.subscribe::<Image>(
            &topics.image,
            qos,
            Box::new(move |m| o.arrived(&s, index, m.map(Arrival::Raw))),
        )?;
        let (s, o) = (slots.clone(), self.clone());
        transport.subscribe::<CompressedImage>(
            &topics.image_compressed,
            qos,
            Box::new(move |m| o.arrived(&s, index, m.map(Arrival::Compressed))),
        )?;
        let o = self.clone();
        transport.subscribe::<CameraInfo>(
            &topics.camera_info,
            qos,
            Box::new(move |m| {
                let checked = m.and_then(|m| m.validate().map(|()| m));
                let bad = checked.as_ref().err().cloned();
                // A bad one also retires the last good one: no stale mask/camera_info.
                *o.camera_info.lock().unwrap_or_else(|e| e.into_inner()) = checked.ok();
                if let Some(e) = bad {
                    o.reject_camera_info(&e);
                }
            }),
        )
    }

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
pub(super) fn process(
    segmenter: &mut dyn Segmenter,
    params: &NodeParams,
    outputs: &[Arc<Camera>],
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

/// The format string compressed_image_transport writes for a PNG-compressed mono8 image.
pub const MASK_PNG_FORMAT: &str = "mono8; png compressed ";

/// Weight of the palette in the colour mask.
const OVERLAY_ALPHA: f32 = 0.5;

/// Publishes every enabled output of one segmented frame and records its latency.
fn publish(out: &Camera, frame: &Ready, seg: Segmentation) {
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
