//! MFARANet's decoder (architecture brief §2.2–§2.3, arXiv 2402.02286): MFAM multi-level
//! aggregation (top-down and bottom-up paths at 128 channels) and RAM recursive alignment by
//! predicted flow and `grid_sample`.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};

use crate::models::layers::{
    ConvBnAct, ConvBnActConfig, conv_forward, conv2d_config, resize, spatial,
};

/// MFAM (§2.2): 1×1 laterals to `C` channels, a top-down and a bottom-up path of 3×3 CBRs
/// with bilinear (align_corners) resizing in both directions, and "stage fuse" convs on
/// scales 2 and 3.
#[derive(Module, Debug)]
pub struct Mfam {
    pub laterals: Vec<ConvBnAct>,
    /// T3, T2, T1.
    pub top_down: Vec<ConvBnAct>,
    /// D2, D3, D4.
    pub bottom_up: Vec<ConvBnAct>,
    /// F2, F3.
    pub fuse: Vec<ConvBnAct>,
}

#[derive(Config, Debug)]
pub struct MfamConfig {
    pub in_channels: [usize; 4],
    #[config(default = 128)]
    pub channels: usize,
}

impl MfamConfig {
    pub fn init(&self, device: &Device) -> Mfam {
        let c = self.channels;
        let cbr3 = |_| ConvBnActConfig::new(c, c, 3).init(device);
        Mfam {
            laterals: self
                .in_channels
                .iter()
                .map(|&c_in| ConvBnActConfig::new(c_in, c, 1).init(device))
                .collect(),
            top_down: (0..3).map(cbr3).collect(),
            bottom_up: (0..3).map(cbr3).collect(),
            fuse: (0..2).map(cbr3).collect(),
        }
    }
}

impl Mfam {
    /// Returns the fused features F1..F_depth (1/4 … 1/32); `depth` < 4 skips the bottom-up
    /// steps that scale pruning does not need.
    pub fn forward(&self, features: [Tensor<4>; 4], depth: usize) -> Vec<Tensor<4>> {
        let l: Vec<Tensor<4>> = features
            .into_iter()
            .zip(&self.laterals)
            .map(|(x, lateral)| lateral.forward(x))
            .collect();
        // Top-down: T4 = L4, Ti = CBR(up(T_{i+1}) + Li); td[i] is T_{i+1} (0-based scale i).
        let mut td = vec![l[3].clone()];
        for (i, conv) in (0..3).rev().zip(&self.top_down) {
            let up = resize(td[0].clone(), spatial(&l[i]), true);
            td.insert(0, conv.forward(up + l[i].clone()));
        }
        // Bottom-up: D1 = L1, Di = CBR(down(D_{i−1}) + Li).
        let mut bu = vec![l[0].clone()];
        for (i, conv) in (1..depth).zip(&self.bottom_up) {
            let down = resize(bu[i - 1].clone(), spatial(&l[i]), true);
            bu.push(conv.forward(down + l[i].clone()));
        }
        (0..depth)
            .map(|i| match i {
                0 => td[0].clone(),
                3 => bu[3].clone(),
                _ => self.fuse[i - 1].forward(td[i].clone() + bu[i].clone()),
            })
            .collect()
    }
}

/// One RAM flow predictor (§2.3): aligns a low-resolution feature to a high-resolution one.
#[derive(Module, Debug)]
pub struct FlowAlign {
    pub down_high: Conv2d,
    pub down_low: Conv2d,
    pub flow: Conv2d,
}

#[derive(Config, Debug)]
pub struct FlowAlignConfig {
    #[config(default = 128)]
    pub channels: usize,
}

impl FlowAlignConfig {
    pub fn init(&self, device: &Device) -> FlowAlign {
        let c = self.channels;
        FlowAlign {
            down_high: conv2d_config(c, c / 2, 1).init(device),
            down_low: conv2d_config(c, c / 2, 1).init(device),
            flow: conv2d_config(c, 2, 3).init(device),
        }
    }
}

impl FlowAlign {
    /// Offset grid `G` (N×h×w×2, x first) at the high-resolution size: the identity grid
    /// plus the predicted flow divided by (w, h), exactly as the reference code does (the
    /// paper's Eq. 2 would add a factor 2; the released weights expect the code's form).
    pub fn grid(&self, high: Tensor<4>, low: Tensor<4>) -> Tensor<4> {
        let [n, _, h, w] = high.dims();
        let device = high.device();
        let low = resize(conv_forward(&self.down_low, low), [h, w], true);
        let high = conv_forward(&self.down_high, high);
        let flow = conv_forward(&self.flow, Tensor::cat(vec![high, low], 1));
        let linspace = |len: usize| {
            let step = 2.0 / (len.max(2) - 1) as f64;
            Tensor::<1, Int>::arange(0..len as i64, &device).float() * step - 1.0
        };
        let base_x = linspace(w).reshape([1, 1, w]);
        let base_y = linspace(h).reshape([1, h, 1]);
        let gx = flow.clone().narrow(1, 0, 1).reshape([n, h, w]) / w as f64 + base_x;
        let gy = flow.narrow(1, 1, 1).reshape([n, h, w]) / h as f64 + base_y;
        Tensor::stack(vec![gx, gy], 3)
    }
}

/// Warps `x` with a RAM grid: bilinear, zero padding, align_corners=True. The grid may be
/// larger than `x`, so one call both upsamples and aligns.
pub fn warp(x: Tensor<4>, grid: Tensor<4>) -> Tensor<4> {
    x.grid_sample_2d(
        grid,
        GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Zeros)
            .with_align_corners(true),
    )
}

/// RAM (§2.3): three flow predictors; scale `i` is aligned by warping with
/// `G_{i−2}, …, G_0`, one scale step at a time, up to 1/4 resolution.
#[derive(Module, Debug)]
pub struct Ram {
    pub aligns: Vec<FlowAlign>,
}

#[derive(Config, Debug)]
pub struct RamConfig {
    #[config(default = 128)]
    pub channels: usize,
}

impl RamConfig {
    pub fn init(&self, device: &Device) -> Ram {
        Ram {
            aligns: (0..3)
                .map(|_| {
                    FlowAlignConfig::new()
                        .with_channels(self.channels)
                        .init(device)
                })
                .collect(),
        }
    }
}

impl Ram {
    /// Aligns the fused features of the requested `scales` (1-based: 1 = 1/4 … 4 = 1/32) to
    /// the resolution of F1. All grids are computed first from the unaligned features, as in
    /// the reference; `fused` holds F1..Fm with m = the largest requested scale.
    pub fn forward(&self, fused: &[Tensor<4>], scales: &[usize]) -> Vec<Tensor<4>> {
        let grids: Vec<Tensor<4>> = fused
            .windows(2)
            .zip(&self.aligns)
            .map(|(pair, align)| align.grid(pair[0].clone(), pair[1].clone()))
            .collect();
        scales
            .iter()
            .map(|&scale| {
                grids[..scale - 1]
                    .iter()
                    .rev()
                    .fold(fused[scale - 1].clone(), |x, g| warp(x, g.clone()))
            })
            .collect()
    }
}
