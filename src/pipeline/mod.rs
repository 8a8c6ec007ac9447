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
use crate::backend::{InputBatch, SegmentationBackend};
use crate::infer::{MAX_SIDE, MIN_SIDE, mean_rgb, normalize_into, side_in_range};

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
    let mut one = segment_frames(backend, &[image], size, policy, resolution)?;
    Ok(one.remove(0))
}

/// Segments frames of equal size in one network call (a batch, e.g. one frame per camera);
/// each mask's `model_ms` is the whole call's time, which every frame in it waited for.
pub fn segment_frames(
    backend: &dyn SegmentationBackend,
    images: &[&RgbImage],
    size: Option<(u32, u32)>,
    policy: ResizePolicy,
    resolution: MaskResolution,
) -> anyhow::Result<Vec<Segmentation>> {
    let Some(first) = images.first() else {
        return Ok(Vec::new());
    };
    let (w, h) = first.dimensions();
    anyhow::ensure!(
        images.iter().all(|i| i.dimensions() == (w, h)),
        "frames batched into one network call must have the same size"
    );
    let (nh, nw) = size.unwrap_or((h, w));
    if !side_in_range(nw) || !side_in_range(nh) {
        anyhow::bail!(
            "network input would be {nw}×{nh}; the networks run at {MIN_SIDE} to {MAX_SIDE} \
             pixels a side (use a network size)"
        );
    }
    let fitted: Vec<NetworkInput> = images
        .iter()
        .map(|image| fit_to_network(image, nw, nh, policy))
        .collect();
    let mut batch = InputBatch {
        data: Vec::with_capacity(images.len() * 3 * (nw * nh) as usize),
        shape: [images.len(), 3, nh as usize, nw as usize],
    };
    for (input, image) in fitted.iter().zip(images) {
        normalize_into(input.image.as_ref().unwrap_or(image), &mut batch.data);
    }
    let started = std::time::Instant::now();
    let ids = backend.segment(batch)?;
    let model_ms = started.elapsed().as_secs_f64() * 1e3;
    let plane = (nw * nh) as usize;
    anyhow::ensure!(
        ids.len() == plane * images.len(),
        "backend returned a mask of the wrong size"
    );
    Ok(ids
        .chunks_exact(plane)
        .zip(&fitted)
        .map(|(ids, input)| {
            let full = GrayImage::from_raw(nw, nh, ids.to_vec()).expect("chunk of one plane");
            let (cw, ch) = input.content;
            let content = if (cw, ch) == (nw, nh) {
                full
            } else {
                imageops::crop_imm(&full, 0, 0, cw, ch).to_image()
            };
            match resolution {
                MaskResolution::Network => Segmentation {
                    scale_x: cw as f64 / w as f64,
                    scale_y: ch as f64 / h as f64,
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
            }
        })
        .collect())
}

/// A frame fitted to the network: the resized (and padded) input, or `None` when the frame
/// already has the network's size, and the region of the input that holds the image.
struct NetworkInput {
    image: Option<RgbImage>,
    content: (u32, u32),
}

fn fit_to_network(image: &RgbImage, nw: u32, nh: u32, policy: ResizePolicy) -> NetworkInput {
    let (w, h) = image.dimensions();
    if (nw, nh) == (w, h) {
        return NetworkInput {
            image: None,
            content: (w, h),
        };
    }
    match policy {
        ResizePolicy::Stretch => NetworkInput {
            image: Some(resize_rgb(image, nw, nh)),
            content: (nw, nh),
        },
        ResizePolicy::Letterbox => {
            let s = (nw as f64 / w as f64).min(nh as f64 / h as f64);
            let (cw, ch) = (
                ((w as f64 * s).round() as u32).clamp(1, nw),
                ((h as f64 * s).round() as u32).clamp(1, nh),
            );
            let mut canvas = RgbImage::from_pixel(nw, nh, mean_rgb());
            imageops::replace(&mut canvas, &resize_rgb(image, cw, ch), 0, 0);
            NetworkInput {
                image: Some(canvas),
                content: (cw, ch),
            }
        }
    }
}
