//! The segmentation node's core, with no ROS in it: decode a camera frame, fit it to the
//! network (stretch or letterbox), run a backend, and bring the mask back to the frame; plus
//! the keep-latest hand-off between transport callbacks and inference workers, and the
//! counters and latency percentiles that diagnostics report. `src/ros` is a thin shell
//! around this.

pub mod autoware;
pub mod frame;
pub mod latest;
pub mod resize;
pub mod stats;

use image::imageops;
use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use self::resize::resize_rgb;
use crate::backend::SegmentationBackend;
use crate::infer::{MAX_SIDE, MIN_SIDE, mean_rgb, normalize, side_in_range};

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

/// A mask and how it relates to the frame: mask pixel = frame pixel × scale.
pub struct Segmentation {
    pub mask: GrayImage,
    pub scale_x: f64,
    pub scale_y: f64,
    /// Time spent in the backend (the network and its read-back), milliseconds.
    pub model_ms: f64,
}

/// Segments one RGB frame. `size = None` runs the network at the frame's own size.
pub fn segment_frame(
    backend: &dyn SegmentationBackend,
    image: &RgbImage,
    size: Option<(u32, u32)>,
    policy: ResizePolicy,
    resolution: MaskResolution,
) -> anyhow::Result<Segmentation> {
    let (w, h) = image.dimensions();
    let (nh, nw) = size.unwrap_or((h, w));
    if !side_in_range(nw) || !side_in_range(nh) {
        anyhow::bail!(
            "network input would be {nw}×{nh}; the networks run at {MIN_SIDE} to {MAX_SIDE} \
             pixels a side (use a network size)"
        );
    }
    // The region of the network input that holds the image, and the input itself.
    let (content_w, content_h, input) = if (nw, nh) == (w, h) {
        (w, h, None)
    } else {
        match policy {
            ResizePolicy::Stretch => (nw, nh, Some(resize_rgb(image, nw, nh))),
            ResizePolicy::Letterbox => {
                let s = (nw as f64 / w as f64).min(nh as f64 / h as f64);
                let (cw, ch) = (
                    ((w as f64 * s).round() as u32).clamp(1, nw),
                    ((h as f64 * s).round() as u32).clamp(1, nh),
                );
                let mut canvas = RgbImage::from_pixel(nw, nh, mean_rgb());
                imageops::replace(&mut canvas, &resize_rgb(image, cw, ch), 0, 0);
                (cw, ch, Some(canvas))
            }
        }
    };
    let net_input = input.as_ref().unwrap_or(image);
    let batch = normalize(net_input);
    let started = std::time::Instant::now();
    let ids = backend.segment(batch)?;
    let model_ms = started.elapsed().as_secs_f64() * 1e3;
    let full = GrayImage::from_raw(nw, nh, ids)
        .ok_or_else(|| anyhow::anyhow!("backend returned a mask of the wrong size"))?;
    let content = if (content_w, content_h) == (nw, nh) {
        full
    } else {
        imageops::crop_imm(&full, 0, 0, content_w, content_h).to_image()
    };
    Ok(match resolution {
        MaskResolution::Network => Segmentation {
            scale_x: content_w as f64 / w as f64,
            scale_y: content_h as f64 / h as f64,
            mask: content,
            model_ms,
        },
        MaskResolution::Input => Segmentation {
            mask: if content.dimensions() == (w, h) {
                content
            } else {
                resize::resize_nearest(&content, w, h)
            },
            scale_x: 1.0,
            scale_y: 1.0,
            model_ms,
        },
    })
}
