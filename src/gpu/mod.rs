//! The GPU pre/post-processing stage: an 8-bit camera frame goes to the GPU once and becomes
//! the network input there (decode, fit by stretch or letterbox, normalise by the model card,
//! f32 or f16), and the class scores become the mask there (argmax and nearest resize fused,
//! one byte per output pixel) with the palette overlay beside it. Each kernel in `kernels.cu`
//! is the twin of a CPU function the `burn` and `ort` backends use
//! (`pipeline::frame::decode_raw`, `pipeline::resize::resize_rgb`, `pipeline::cpu::*`).
//!
//! This module holds what every build shares: the kernels' source and the exact parameters and
//! launch geometry the Rust side gives them. `kernels.cu` also compiles as host C++
//! (`crates/gpu-host`), so the tests run every kernel against its twin on machines without a
//! GPU. [`cuda`] (feature `tensorrt`) compiles them with NVRTC and runs them through cudarc.

#[cfg(feature = "tensorrt")]
pub mod cuda;

use crate::models::card::{ChannelOrder, InputSpec};
use crate::pipeline::frame::FrameRef;
use crate::pipeline::resize::area_weights;

/// The kernels' source (CUDA C, no headers).
pub const KERNELS: &str = include_str!("kernels.cu");

/// Kernel entry points.
pub const FIT: &str = "rtseg_fit";
pub const ARGMAX_NEAREST: &str = "rtseg_argmax_nearest";
pub const OVERLAY: &str = "rtseg_overlay";

/// Why the GPU stage failed.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("NVRTC could not compile the kernels for {arch}: {message}")]
    Compile { arch: String, message: String },
    #[error("CUDA: {0}")]
    Driver(String),
    #[error("{0}")]
    Unsupported(String),
}

/// Frame encodings the fit kernel reads; the others (16-bit, NV12/NV21, Bayer) are decoded
/// by `decode_raw` on the CPU and uploaded as `rgb8`.
pub fn encoding_code(encoding: &str) -> Option<i32> {
    use crate::pipeline::frame::{ChannelOrder, Encoding};
    Some(match Encoding::parse(encoding)? {
        Encoding::Interleaved { order, bytes: 1 } => match order {
            ChannelOrder::Rgb => 0,
            ChannelOrder::Bgr => 1,
            ChannelOrder::Rgba => 2,
            ChannelOrder::Bgra => 3,
            ChannelOrder::Mono => 4,
        },
        Encoding::Yuyv => 5,
        Encoding::Uyvy => 6,
        _ => return None,
    })
}

/// What the fit kernel writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitOutput {
    /// Normalised planes, f32.
    PlanesF32,
    /// Normalised planes, f16.
    PlanesF16,
    /// The fitted frame as interleaved RGB8 (for the overlay).
    Rgb8,
}

/// `FitParams` in `kernels.cu`: one frame's fit into the network input.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FitParams {
    step: i32,
    encoding: i32,
    w: i32,
    h: i32,
    nw: i32,
    nh: i32,
    cw: i32,
    ch: i32,
    mode: i32,
    pad: [i32; 3],
    out_kind: i32,
    plane_src: [i32; 3],
    scale: [f32; 3],
    shift: [f32; 3],
}

impl FitParams {
    /// The fit of `frame` into the content region `(cw, ch)` of an `(nw, nh)` network input
    /// (the rest padded with the card's pad colour), as `fit_to_network` and `normalize_into`
    /// do it: copied when sizes match, area-averaged when shrinking, bilinear when enlarging.
    ///
    /// # Errors
    /// [`GpuError::Unsupported`] for an encoding the kernel does not read.
    pub fn new(
        frame: &FrameRef<'_>,
        (nw, nh): (u32, u32),
        (cw, ch): (u32, u32),
        spec: &InputSpec,
        output: FitOutput,
    ) -> Result<Self, GpuError> {
        let encoding = encoding_code(frame.encoding).ok_or_else(|| {
            GpuError::Unsupported(format!(
                "the GPU stage does not read {:?} frames",
                frame.encoding
            ))
        })?;
        let (w, h) = (frame.width, frame.height);
        let mode = if (cw, ch) == (w, h) {
            0
        } else if cw > w || ch > h {
            2
        } else {
            1
        };
        let (scale, shift) = spec.affine();
        Ok(FitParams {
            step: frame.step as i32,
            encoding,
            w: w as i32,
            h: h as i32,
            nw: nw as i32,
            nh: nh as i32,
            cw: cw as i32,
            ch: ch as i32,
            mode,
            pad: spec.pad_rgb().map(i32::from),
            out_kind: match output {
                FitOutput::PlanesF32 => 0,
                FitOutput::PlanesF16 => 1,
                FitOutput::Rgb8 => 2,
            },
            plane_src: match spec.channel_order {
                ChannelOrder::Rgb => [0, 1, 2],
                ChannelOrder::Bgr => [2, 1, 0],
            },
            scale,
            shift,
        })
    }
}

/// Area-resampling tables of one axis, flattened for the kernel.
#[derive(Debug, PartialEq)]
pub struct AxisTable {
    pub first: Vec<i32>,
    pub count: Vec<i32>,
    pub offset: Vec<i32>,
    pub weights: Vec<f32>,
}

impl AxisTable {
    /// The taps of `area_weights(len_in, len_out)`.
    pub fn area(len_in: u32, len_out: u32) -> Self {
        let mut table = AxisTable {
            first: Vec::new(),
            count: Vec::new(),
            offset: Vec::new(),
            weights: Vec::new(),
        };
        for (first, weights) in area_weights(len_in, len_out) {
            table.first.push(first as i32);
            table.count.push(weights.len() as i32);
            table.offset.push(table.weights.len() as i32);
            table.weights.extend(weights);
        }
        table
    }
}

/// Threads per block side of every kernel launch (16 × 16 threads, one per output pixel).
pub const BLOCK: u32 = 16;

/// `(grid, block)` of a launch over `width × height` output pixels.
pub fn grid_2d(width: u32, height: u32) -> ((u32, u32), (u32, u32)) {
    (
        (width.div_ceil(BLOCK), height.div_ceil(BLOCK)),
        (BLOCK, BLOCK),
    )
}
