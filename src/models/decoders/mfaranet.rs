//! MFARANet's decoder (architecture brief §2.2–§2.3, arXiv 2402.02286): MFAM multi-level
//! aggregation (top-down and bottom-up paths at 128 channels) and RAM recursive alignment by
//! predicted flow and `grid_sample`.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::models::layers::{ConvBnAct, ConvBnActConfig, conv2d_config};
use crate::models::lower::Lower;

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
    ///
    /// # Shapes
    /// Backbone features `[N, Cᵢ, H/2^(i+1), W/2^(i+1)]` for i = 1..4 → `depth` tensors
    /// `[N, C, H/2^(i+1), W/2^(i+1)]`.
    pub fn lower<L: Lower>(&self, l: &mut L, features: [L::V; 4], depth: usize) -> Vec<L::V> {
        let lat: Vec<L::V> = features
            .into_iter()
            .zip(&self.laterals)
            .map(|(x, lateral)| l.apply(lateral, x))
            .collect();
        // Top-down: T4 = L4, Ti = CBR(up(T_{i+1}) + Li); td[i] is T_{i+1} (0-based scale i).
        let mut td = vec![lat[3].clone()];
        for (i, conv) in (0..3).rev().zip(&self.top_down) {
            let up = l.resize_like(td[0].clone(), &lat[i], true);
            let sum = l.add(up, lat[i].clone());
            td.insert(0, l.apply(conv, sum));
        }
        // Bottom-up: D1 = L1, Di = CBR(down(D_{i−1}) + Li).
        let mut bu = vec![lat[0].clone()];
        for (i, conv) in (1..depth).zip(&self.bottom_up) {
            let down = l.resize_like(bu[i - 1].clone(), &lat[i], true);
            let sum = l.add(down, lat[i].clone());
            bu.push(l.apply(conv, sum));
        }
        (0..depth)
            .map(|i| match i {
                0 => td[0].clone(),
                3 => bu[3].clone(),
                _ => {
                    let sum = l.add(td[i].clone(), bu[i].clone());
                    l.apply(&self.fuse[i - 1], sum)
                }
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
    /// Offset grid `G` at the high-resolution size: the identity grid plus the predicted flow
    /// divided by (w, h), exactly as the reference code does (the paper's Eq. 2 would add a
    /// factor 2; the released weights expect the code's form).
    ///
    /// # Shapes
    /// `high: [N, C, h, w]`, `low: [N, C, h', w']` → grid `[N, h, w, 2]` (x first).
    pub fn lower<L: Lower>(&self, l: &mut L, high: L::V, low: L::V) -> L::V {
        let low = l.apply(&self.down_low, low);
        let low = l.resize_like(low, &high, true);
        let high = l.apply(&self.down_high, high);
        let both = l.cat(vec![high, low]);
        let flow = l.apply(&self.flow, both);
        l.flow_grid(flow)
    }
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
    /// the resolution of F1 by warping with `G_{i−2}, …, G_0` (bilinear, zero padding,
    /// align_corners), one scale step at a time. All grids are computed first from the
    /// unaligned features, as in the reference; `fused` holds F1..Fm with m = the largest
    /// requested scale.
    ///
    /// # Shapes
    /// `fused[i]: [N, C, H/2^(i+2), W/2^(i+2)]` → one `[N, C, H/4, W/4]` per scale.
    pub fn lower<L: Lower>(&self, l: &mut L, fused: &[L::V], scales: &[usize]) -> Vec<L::V> {
        let grids: Vec<L::V> = fused
            .windows(2)
            .zip(self.aligns.iter().enumerate())
            .map(|(pair, (i, align))| {
                l.scope(&format!("aligns.{i}"), |l| {
                    align.lower(l, pair[0].clone(), pair[1].clone())
                })
            })
            .collect();
        scales
            .iter()
            .map(|&scale| {
                grids[..scale - 1]
                    .iter()
                    .rev()
                    .fold(fused[scale - 1].clone(), |x, g| {
                        l.grid_sample(x, g.clone(), true)
                    })
            })
            .collect()
    }
}
