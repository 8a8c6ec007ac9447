//! The model card of a registered model: how its input is prepared (mean, std, channel order,
//! size rules) and what its output means (label space, class names, palette). Training
//! augmentation, the CPU pre/post stage, ONNX export metadata and GPU kernels all read it from
//! here, as mmsegmentation's `SegDataPreProcessor` is part of the model config.

use serde::{Deserialize, Serialize};

use crate::labels::LabelSpace;

/// Order of the three colour planes the network reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// How an 8-bit image becomes the network's input: `x = (v / 255 − mean) / std` per channel,
/// planes in `channel_order`, any height and width in `min_side..=max_side` that is a multiple
/// of `size_divisor`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Per-channel mean in `[0, 1]` units, in RGB order.
    pub mean: [f32; 3],
    /// Per-channel standard deviation in `[0, 1]` units, in RGB order.
    pub std: [f32; 3],
    pub channel_order: ChannelOrder,
    pub min_side: u32,
    pub max_side: u32,
    pub size_divisor: u32,
}

/// Why a network input size was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "network input would be {width}×{height}; this network takes {min} to {max} pixels a side{divisor} (choose a network size)"
)]
pub struct SizeError {
    pub width: u32,
    pub height: u32,
    pub min: u32,
    pub max: u32,
    divisor: String,
}

impl InputSpec {
    /// ImageNet statistics on RGB planes: every seed network's input, any side from 64 (the
    /// deepest features are at 1/64) to 8192.
    pub const IMAGENET_RGB: InputSpec = InputSpec {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        channel_order: ChannelOrder::Rgb,
        min_side: 64,
        max_side: 8192,
        size_divisor: 1,
    };

    /// The mean colour in 8-bit RGB: what letterbox padding is filled with (≈ 0 once
    /// normalised).
    pub fn pad_rgb(&self) -> [u8; 3] {
        self.mean.map(|m| (m * 255.0).round() as u8)
    }

    /// `(scale, shift)` per input plane (in `channel_order`) with `x = v · scale + shift` for an
    /// 8-bit value `v`: the one affine map the CPU stage, exported preprocessing and GPU
    /// kernels all apply.
    pub fn affine(&self) -> ([f32; 3], [f32; 3]) {
        let rgb = |c: usize| (1.0 / (255.0 * self.std[c]), -self.mean[c] / self.std[c]);
        let planes = match self.channel_order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        (planes.map(|c| rgb(c).0), planes.map(|c| rgb(c).1))
    }

    /// Whether the network can run at `height × width`.
    ///
    /// # Errors
    /// [`SizeError`] naming the size and the rule it breaks.
    pub fn check_size(&self, height: u32, width: u32) -> Result<(), SizeError> {
        let ok = |s: u32| {
            (self.min_side..=self.max_side).contains(&s) && s.is_multiple_of(self.size_divisor)
        };
        if ok(height) && ok(width) {
            return Ok(());
        }
        Err(SizeError {
            width,
            height,
            min: self.min_side,
            max: self.max_side,
            divisor: if self.size_divisor > 1 {
                format!(", multiples of {}", self.size_divisor)
            } else {
                String::new()
            },
        })
    }
}

/// Everything outside the weights that a consumer of a model's output needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCard {
    /// Registered model name.
    pub model: String,
    pub input: InputSpec,
    pub label_space: LabelSpace,
}

impl ModelCard {
    pub fn num_classes(&self) -> usize {
        self.label_space.num_classes()
    }

    /// The network size `(height, width)` the node runs at unless told otherwise: see
    /// [`realtime_size`].
    pub fn realtime_size(&self) -> (u32, u32) {
        realtime_size(self.label_space)
    }
}

/// The network size for real-time use on a CPU, in the label space's frame aspect: CamVid
/// 240×320 (4:3), Cityscapes 256×512 (1:2). Measured 2026-12-01 on a 2-core CI-class CPU (AMD
/// EPYC): the shipped MsNet-M at 240×320 runs in 26 ms under ONNX Runtime (38 Hz, so a 30 Hz
/// camera keeps up) and gives CamVid val mIoU 60.77 (60.23 at 360×480: it was trained on
/// 224×288 crops).
pub fn realtime_size(label_space: LabelSpace) -> (u32, u32) {
    match label_space {
        LabelSpace::Camvid => (240, 320),
        LabelSpace::Cityscapes => (256, 512),
    }
}
