//! The CPU pre/post stage that the CPU backends (`burn`, ONNX Runtime on its CPU provider)
//! share: decode a frame to RGB, fit it to the network (stretch or letterbox), normalise it by
//! the model card, run a [`TensorRunner`], then crop, resize and colour the mask. Each step is
//! a plain function — the CPU twin of a GPU kernel — and [`CpuSegmenter`] strings them
//! together behind the frame-level [`Segmenter`] boundary.

use std::ops::Deref;
use std::time::Instant;

use image::{GrayImage, ImageBuffer, Rgb, RgbImage, imageops};

use super::frame::{FrameRef, decode_raw};
use super::resize::{resize_nearest, resize_rgb};
use super::{
    Fit, InputLayout, MaskResolution, ModelIo, ResizePolicy, SegmentError, Segmentation, Segmenter,
    Timing,
};
use crate::models::card::{InputSpec, ModelCard};

/// A borrowed RGB8 image.
pub type RgbView<'a> = ImageBuffer<Rgb<u8>, &'a [u8]>;

/// A batch on the host in the layout [`ModelIo::input`] names.
pub enum HostBatch<'a> {
    /// Normalised planes, `[N, 3, H, W]`.
    F32(&'a [f32], [usize; 4]),
    /// RGB pixels, `[N, H, W, 3]`.
    U8(&'a [u8], [usize; 4]),
}

/// Runs the network on a host batch and returns class ids; a backend under [`CpuSegmenter`].
pub trait TensorRunner: Send {
    fn io(&self) -> &ModelIo;

    /// Class ids `[N, H, W]` row-major for a batch of `[N, ·, H, W]`.
    ///
    /// # Errors
    /// [`SegmentError::Backend`] for a fault of the runtime.
    fn run(&mut self, batch: HostBatch<'_>) -> Result<Vec<u8>, SegmentError>;
}

/// A borrowed view of an owned RGB image.
pub fn view(image: &RgbImage) -> RgbView<'_> {
    RgbView::from_raw(image.width(), image.height(), image.as_raw()).expect("a valid image")
}

/// A frame fitted to the network: the resized (and padded) input, or `None` when the frame
/// already has the network's size, and the region `(width, height)` of the input that holds
/// the image (top-left).
pub struct Fitted {
    pub image: Option<RgbImage>,
    pub content: (u32, u32),
}

/// The region `(width, height)` of an `(nw, nh)` network input that a `(w, h)` frame fills:
/// all of it when stretched, the aspect-preserving fit (top-left) when letterboxed.
pub fn content_size((w, h): (u32, u32), (nw, nh): (u32, u32), policy: ResizePolicy) -> (u32, u32) {
    match policy {
        ResizePolicy::Stretch => (nw, nh),
        ResizePolicy::Letterbox => {
            let s = (nw as f64 / w as f64).min(nh as f64 / h as f64);
            (
                ((w as f64 * s).round() as u32).clamp(1, nw),
                ((h as f64 * s).round() as u32).clamp(1, nh),
            )
        }
    }
}

/// Fits `image` to `nw × nh`: stretched, or letterboxed (aspect kept, top-left, the rest
/// filled with `pad`).
pub fn fit_to_network<C: Deref<Target = [u8]>>(
    image: &ImageBuffer<Rgb<u8>, C>,
    nw: u32,
    nh: u32,
    policy: ResizePolicy,
    pad: [u8; 3],
) -> Fitted {
    let (w, h) = image.dimensions();
    if (nw, nh) == (w, h) {
        return Fitted {
            image: None,
            content: (w, h),
        };
    }
    match policy {
        ResizePolicy::Stretch => Fitted {
            image: Some(resize_rgb(image, nw, nh)),
            content: (nw, nh),
        },
        ResizePolicy::Letterbox => {
            let (cw, ch) = content_size((w, h), (nw, nh), policy);
            let mut canvas = RgbImage::from_pixel(nw, nh, Rgb(pad));
            imageops::replace(&mut canvas, &resize_rgb(image, cw, ch), 0, 0);
            Fitted {
                image: Some(canvas),
                content: (cw, ch),
            }
        }
    }
}

/// Appends the normalised `3 × H × W` planes of `image` to `out` (one image of an N×3×H×W
/// batch): `x = v · scale + shift` per plane, planes in the card's channel order.
pub fn normalize_into<C: Deref<Target = [u8]>>(
    image: &ImageBuffer<Rgb<u8>, C>,
    spec: &InputSpec,
    out: &mut Vec<f32>,
) {
    let plane = (image.width() * image.height()) as usize;
    let (scale, shift) = spec.affine();
    let order = match spec.channel_order {
        crate::models::card::ChannelOrder::Rgb => [0, 1, 2],
        crate::models::card::ChannelOrder::Bgr => [2, 1, 0],
    };
    let start = out.len();
    out.resize(start + 3 * plane, 0.0);
    let data = &mut out[start..];
    for (p, src) in order.iter().enumerate() {
        let dst = &mut data[p * plane..(p + 1) * plane];
        for (d, px) in dst.iter_mut().zip(image.as_raw().chunks_exact(3)) {
            *d = px[*src] as f32 * scale[p] + shift[p];
        }
    }
}

/// Class ids of `[N, K, H, W]` scores: the first maximum over K at each pixel (what ONNX
/// `ArgMax` and burn's `argmax` return on ties).
pub fn argmax_scores(scores: &[f32], [n, k, h, w]: [usize; 4]) -> Vec<u8> {
    let plane = h * w;
    let mut ids = vec![0u8; n * plane];
    for (image, out) in scores
        .chunks_exact(k * plane)
        .zip(ids.chunks_exact_mut(plane))
    {
        let mut best: Vec<f32> = image[..plane].to_vec();
        for c in 1..k {
            let channel = &image[c * plane..(c + 1) * plane];
            for ((b, o), &v) in best.iter_mut().zip(out.iter_mut()).zip(channel) {
                if v > *b {
                    *b = v;
                    *o = c as u8;
                }
            }
        }
    }
    ids
}

/// The mask of one frame from the network's ids (`nw × nh`): cropped to the content region
/// and, for [`MaskResolution::Input`], resized (nearest) to the frame's `w × h`. Returns the
/// mask and the scales (mask pixel = frame pixel × scale).
pub fn restore_mask(
    ids: &[u8],
    (nw, nh): (u32, u32),
    (cw, ch): (u32, u32),
    (w, h): (u32, u32),
    resolution: MaskResolution,
) -> (GrayImage, f64, f64) {
    let full = GrayImage::from_raw(nw, nh, ids.to_vec()).expect("one plane of ids");
    let content = if (cw, ch) == (nw, nh) {
        full
    } else {
        imageops::crop_imm(&full, 0, 0, cw, ch).to_image()
    };
    match resolution {
        MaskResolution::Network => (content, cw as f64 / w as f64, ch as f64 / h as f64),
        MaskResolution::Input if content.dimensions() == (w, h) => (content, 1.0, 1.0),
        MaskResolution::Input => (resize_nearest(&content, w, h), 1.0, 1.0),
    }
}

/// The palette image of a mask blended over `image` (same size): `α · colour + (1 − α) ·
/// pixel`; ids outside the palette (e.g. 255) are black.
pub fn color_overlay<C: Deref<Target = [u8]>>(
    image: &ImageBuffer<Rgb<u8>, C>,
    mask: &GrayImage,
    palette: &[[u8; 3]],
    alpha: f32,
) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let base = image.get_pixel(x, y);
        let color = palette
            .get(mask.get_pixel(x, y)[0] as usize)
            .copied()
            .unwrap_or([0, 0, 0]);
        Rgb(std::array::from_fn(|c| {
            (alpha * color[c] as f32 + (1.0 - alpha) * base[c] as f32).round() as u8
        }))
    })
}

/// A [`Segmenter`] made of the CPU stage around a [`TensorRunner`].
pub struct CpuSegmenter<R> {
    runner: R,
    card: ModelCard,
    palette: Vec<[u8; 3]>,
    /// Reused between calls: the host input batch.
    input_f32: Vec<f32>,
    input_u8: Vec<u8>,
}

impl<R: TensorRunner> CpuSegmenter<R> {
    pub fn new(runner: R, card: ModelCard) -> Self {
        let palette = card.label_space.palette();
        Self {
            runner,
            card,
            palette,
            input_f32: Vec::new(),
            input_u8: Vec::new(),
        }
    }

    /// Runs frames that share a network size through one or more network calls.
    fn run_group(
        &mut self,
        images: &[(usize, RgbView<'_>)],
        (nh, nw): (u32, u32),
        fit: &Fit,
        decode_ms: f64,
        out: &mut [Option<Segmentation>],
    ) -> Result<(), SegmentError> {
        let started = Instant::now();
        let pad = self.card.input.pad_rgb();
        let fitted: Vec<Fitted> = images
            .iter()
            .map(|(_, v)| fit_to_network(v, nw, nh, fit.policy, pad))
            .collect();
        let n = images.len();
        let (h, w) = (nh as usize, nw as usize);
        let batch = match self.runner.io().input {
            InputLayout::NormalizedNchwF32 => {
                self.input_f32.clear();
                for (f, (_, v)) in fitted.iter().zip(images) {
                    match &f.image {
                        Some(image) => normalize_into(image, &self.card.input, &mut self.input_f32),
                        None => normalize_into(v, &self.card.input, &mut self.input_f32),
                    }
                }
                HostBatch::F32(&self.input_f32, [n, 3, h, w])
            }
            InputLayout::RgbNhwcU8 => {
                self.input_u8.clear();
                for (f, (_, v)) in fitted.iter().zip(images) {
                    match &f.image {
                        Some(image) => self.input_u8.extend_from_slice(image.as_raw()),
                        None => self.input_u8.extend_from_slice(v.as_raw()),
                    }
                }
                HostBatch::U8(&self.input_u8, [n, h, w, 3])
            }
        };
        let pre_ms = decode_ms + started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let ids = self.runner.run(batch)?;
        let network_ms = started.elapsed().as_secs_f64() * 1e3;
        let plane = h * w;
        if ids.len() != n * plane {
            return Err(SegmentError::Backend {
                backend: self.runner.io().backend,
                message: format!("returned {} class ids for {n} masks of {w}×{h}", ids.len()),
            });
        }
        let started = Instant::now();
        let mut done = Vec::with_capacity(n);
        for ((ids, f), (_, view)) in ids.chunks_exact(plane).zip(&fitted).zip(images) {
            let (mask, scale_x, scale_y) =
                restore_mask(ids, (nw, nh), f.content, view.dimensions(), fit.resolution);
            let overlay = fit.overlay_alpha.map(|alpha| {
                if view.dimensions() == mask.dimensions() {
                    color_overlay(view, &mask, &self.palette, alpha)
                } else {
                    let base = resize_rgb(view, mask.width(), mask.height());
                    color_overlay(&base, &mask, &self.palette, alpha)
                }
            });
            done.push((mask, scale_x, scale_y, overlay));
        }
        let timing = Timing {
            pre_ms,
            network_ms,
            post_ms: started.elapsed().as_secs_f64() * 1e3,
        };
        for ((index, _), (mask, scale_x, scale_y, overlay)) in images.iter().zip(done) {
            out[*index] = Some(Segmentation {
                mask,
                scale_x,
                scale_y,
                overlay,
                timing,
            });
        }
        Ok(())
    }
}

impl<R: TensorRunner> Segmenter for CpuSegmenter<R> {
    fn io(&self) -> &ModelIo {
        self.runner.io()
    }

    fn segment(
        &mut self,
        frames: &[FrameRef<'_>],
        fit: &Fit,
    ) -> Result<Vec<Segmentation>, SegmentError> {
        let started = Instant::now();
        // Frames that are not packed rgb8 are decoded; the others are read in place.
        let mut decoded: Vec<Option<RgbImage>> = Vec::with_capacity(frames.len());
        let mut sizes = Vec::with_capacity(frames.len());
        for (index, frame) in frames.iter().enumerate() {
            let bad = |source| SegmentError::Frame { index, source };
            frame.validate().map_err(bad)?;
            decoded.push(match frame.as_packed_rgb() {
                Some(_) => None,
                None => Some(decode_raw(frame).map_err(bad)?),
            });
            let size = fit.size.unwrap_or((frame.height, frame.width));
            self.card.input.check_size(size.0, size.1)?;
            self.runner.io().check_size(size.0, size.1)?;
            sizes.push((size, index));
        }
        let views: Vec<RgbView<'_>> = frames
            .iter()
            .zip(&decoded)
            .map(|(frame, image)| match (image, frame.as_packed_rgb()) {
                (Some(image), _) => view(image),
                (None, Some(data)) => {
                    RgbView::from_raw(frame.width, frame.height, data).expect("validated size")
                }
                (None, None) => unreachable!("decoded unless packed"),
            })
            .collect();
        let decode_ms = started.elapsed().as_secs_f64() * 1e3 / frames.len().max(1) as f64;
        // Frames of one network size share calls of at most the backend's batch.
        sizes.sort_unstable();
        let max_batch = match self.runner.io().batch {
            super::Extent::Fixed(n) => n.max(1),
            super::Extent::Any => usize::MAX,
        };
        let mut out: Vec<Option<Segmentation>> = vec![None; frames.len()];
        for group in sizes.chunk_by(|a, b| a.0 == b.0) {
            let members: Vec<(usize, RgbView<'_>)> =
                group.iter().map(|&(_, i)| (i, views[i].clone())).collect();
            for chunk in members.chunks(max_batch) {
                let share = decode_ms * chunk.len() as f64;
                self.run_group(chunk, group[0].0, fit, share, &mut out)?;
            }
        }
        Ok(out
            .into_iter()
            .map(|s| s.expect("every frame segmented"))
            .collect())
    }
}
