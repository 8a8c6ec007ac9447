//! The segmentation core, with no ROS in it: the frame-level inference boundary
//! ([`Segmenter`]: borrowed 8-bit camera frames and a fit rule in, masks with timings out), the
//! CPU pre/post stage that the CPU backends share ([`cpu`]), camera-frame decoding, the
//! keep-latest hand-off between transport callbacks and inference workers, and the counters
//! and latency percentiles that diagnostics report. [`crate::node`] (the node service, over any
//! transport) is built on this, and `rtseg infer`, `eval` and `bench` call the same boundary.

pub mod autoware;
pub mod cpu;
pub mod frame;
pub mod latest;
pub mod resize;
pub mod stats;

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use self::frame::{FrameError, FrameRef};
use crate::models::card::SizeError;

/// How a frame is fitted to a fixed network input size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizePolicy {
    /// Scale each axis independently to the network size.
    #[default]
    Stretch,
    /// Keep the aspect ratio, pad the rest (top-left placement) with the mean colour.
    Letterbox,
}

/// Which resolution the mask comes back at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskResolution {
    /// The frame's own size (nearest-neighbour resize of the class ids).
    #[default]
    Input,
    /// The network's, cropped to the image area for letterbox.
    Network,
}

/// How frames are fitted to the network and what comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fit {
    /// Network input `(height, width)`; `None` runs the network at each frame's own size.
    pub size: Option<(u32, u32)>,
    pub policy: ResizePolicy,
    pub resolution: MaskResolution,
    /// `Some(α)` also returns the palette blended over the frame with weight α, at the
    /// mask's resolution.
    pub overlay_alpha: Option<f32>,
}

/// A network extent a backend accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Extent {
    Fixed(usize),
    /// Any value (within the model card's limits).
    Any,
}

impl Extent {
    fn accepts(self, n: usize) -> bool {
        matches!(self, Extent::Any) || self == Extent::Fixed(n)
    }
}

/// What the network consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputLayout {
    /// Normalised f32 planes N×3×H×W (the model card's mean, std and channel order).
    NormalizedNchwF32,
    /// 8-bit RGB N×H×W×3; normalisation happens inside the network.
    RgbNhwcU8,
}

/// What a backend accepts and runs, as it declares it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelIo {
    /// Backend name (`burn`, `ort`).
    pub backend: &'static str,
    /// Where the network runs, e.g. `cpu`, `cuda:0`.
    pub device: String,
    /// Registered model name.
    pub model: String,
    pub num_classes: usize,
    pub height: Extent,
    pub width: Extent,
    /// Most frames per network call.
    pub batch: Extent,
    /// `f32` or `f16` arithmetic inside the network.
    pub precision: &'static str,
    pub input: InputLayout,
}

impl ModelIo {
    /// # Errors
    /// [`SegmentError::Unsupported`] when the network cannot take `height × width`.
    pub fn check_size(&self, height: u32, width: u32) -> Result<(), SegmentError> {
        if self.height.accepts(height as usize) && self.width.accepts(width as usize) {
            return Ok(());
        }
        let side = |e: Extent| match e {
            Extent::Fixed(n) => n.to_string(),
            Extent::Any => "any".into(),
        };
        Err(SegmentError::Unsupported(format!(
            "the {} network takes {}×{} inputs (height × width), not {height}×{width}; set the \
             network size to match (--size HxW / network_size) or export for this size",
            self.backend,
            side(self.height),
            side(self.width)
        )))
    }
}

/// Time spent per stage of one call, milliseconds. Frames batched into one network call each
/// report the whole call's times, which every one of them waited for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Timing {
    /// Decode, fit and normalise.
    pub pre_ms: f64,
    /// The network, including moving data to and from it.
    pub network_ms: f64,
    /// Argmax (where the backend leaves it), crop, mask resize, overlay.
    pub post_ms: f64,
}

impl Timing {
    pub fn total_ms(&self) -> f64 {
        self.pre_ms + self.network_ms + self.post_ms
    }
}

/// A mask and how it relates to the frame: mask pixel = frame pixel × scale.
#[derive(Clone, Debug)]
pub struct Segmentation {
    /// Class ids, 255 = unlabelled.
    pub mask: GrayImage,
    pub scale_x: f64,
    pub scale_y: f64,
    /// The palette overlay at the mask's size, when [`Fit::overlay_alpha`] asked for it.
    pub overlay: Option<RgbImage>,
    pub timing: Timing,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("frame {index}: {source}")]
    Frame { index: usize, source: FrameError },
    #[error(transparent)]
    Size(#[from] SizeError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{backend} backend: {message}")]
    Backend {
        backend: &'static str,
        message: String,
    },
}

/// The inference boundary: one per worker thread (`&mut self`: ONNX Runtime sessions and CUDA
/// streams are not shared). `infer`, `eval`, `bench` and the node all call it.
pub trait Segmenter: Send {
    /// What the backend accepts and runs.
    fn io(&self) -> &ModelIo;

    /// Segments `frames` (any sizes and encodings) with `fit`; one [`Segmentation`] per frame,
    /// in order.
    ///
    /// # Errors
    /// [`SegmentError`]: a malformed frame (naming its index), a network size the model or
    /// backend cannot take, or a backend fault.
    fn segment(
        &mut self,
        frames: &[FrameRef<'_>],
        fit: &Fit,
    ) -> Result<Vec<Segmentation>, SegmentError>;
}
