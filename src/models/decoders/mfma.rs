//! The MFMA decoder of MsNet (architecture brief §1.2–§1.4, layer table §1.6): matching
//! attention blocks MALC (low level) and MASG (high level), low fusions, the addition (MFA)
//! and concatenation (MFC) high fusions, and three image branches on resized copies of the
//! input.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use serde::{Deserialize, Serialize};

use crate::models::layers::{
    Activation, ConvBnAct, ConvBnActConfig, conv_forward, conv2d_config, emit_conv, values,
};
use crate::models::lower::{Block, Eager, Layer, Lower};
use crate::models::profile;
use crate::onnx::graph::{OnnxGraph, Value};

/// LayerNorm epsilon of MASG's transform (PyTorch's default, which GCNet uses).
const LAYER_NORM_EPSILON: f64 = 1e-5;

/// MALC, "matching attention with low calculation" (§1.3 [CHOICE]): an SE-style channel gate
/// without bottleneck, `out = x + x ⊙ σ(W·GAP(x) + b)`.
#[derive(Module, Debug)]
pub struct Malc {
    pub gate: Conv2d,
}

#[derive(Config, Debug)]
pub struct MalcConfig {
    pub channels: usize,
}

impl MalcConfig {
    pub fn init(&self, device: &Device) -> Malc {
        Malc {
            gate: conv2d_config(self.channels, self.channels, 1)
                .with_bias(true)
                .init(device),
        }
    }
}

impl Block for Malc {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let w = l.global_avg_pool(x.clone());
        let w = l.apply(&self.gate, w);
        let w = l.act(Activation::Sigmoid, w);
        let gated = l.mul(x.clone(), w);
        l.add(x, gated)
    }
}

/// How MASG merges its global-context transform into the features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MasgFusion {
    /// `x + x ⊙ σ(t)`: the sigmoid gate with residual of the author's AMMF `high_fusion`
    /// (the brief's [CHOICE]).
    SigmoidGate,
    /// `x + t`: GCNet's original additive fusion (the alternative the brief names).
    Add,
}

/// MASG, "matching attention with strong global-context modelling" (§1.3 [CHOICE]): a
/// GCNet-style block. Softmax attention pooling over all H·W positions, then a
/// 1×1 → LayerNorm → ReLU → 1×1 bottleneck transform with reduction `r`.
#[derive(Module, Debug)]
pub struct Masg {
    pub key: Conv2d,
    pub reduce: Conv2d,
    pub norm: LayerNorm,
    pub expand: Conv2d,
    #[module(skip)]
    pub fusion: MasgFusion,
}

#[derive(Config, Debug)]
pub struct MasgConfig {
    pub channels: usize,
    #[config(default = 4)]
    pub reduction: usize,
    #[config(default = "MasgFusion::SigmoidGate")]
    pub fusion: MasgFusion,
}

impl MasgConfig {
    pub fn init(&self, device: &Device) -> Masg {
        let c = self.channels;
        let m = (c / self.reduction).max(1);
        Masg {
            key: conv2d_config(c, 1, 1).with_bias(true).init(device),
            reduce: conv2d_config(c, m, 1).with_bias(true).init(device),
            norm: LayerNormConfig::new(m)
                .with_epsilon(LAYER_NORM_EPSILON)
                .init(device),
            expand: conv2d_config(m, c, 1).with_bias(true).init(device),
            fusion: self.fusion,
        }
    }
}

impl Masg {
    /// Merges the transform `t` (`[N, C, 1, 1]`) into `x` (`[N, C, H, W]`).
    fn fuse<L: Lower>(&self, l: &mut L, x: L::V, t: L::V) -> L::V {
        match self.fusion {
            MasgFusion::SigmoidGate => {
                let gate = l.act(Activation::Sigmoid, t);
                let gated = l.mul(x.clone(), gate);
                l.add(x, gated)
            }
            MasgFusion::Add => l.add(x, t),
        }
    }
}

impl Layer for Masg {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`; the context is `[N, C, 1, 1]`, the bottleneck
    /// `[N, C/r]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let key = conv_forward(&self.key, x.clone()).reshape([n, h * w, 1]);
        let attention = softmax(key, 1); // [N, HW, 1]
        let context = x.clone().reshape([n, c, h * w]).matmul(attention); // [N, C, 1]
        if profile::is_active() {
            profile::add_macs((n * c * h * w) as u64);
        }
        let t = conv_forward(&self.reduce, context.reshape([n, c, 1, 1]));
        let m = t.dims()[1];
        let t = relu(self.norm.forward(t.reshape([n, m]))).reshape([n, m, 1, 1]);
        let t = conv_forward(&self.expand, t);
        self.fuse(&mut Eager, x, t)
    }

    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let key = emit_conv(g, &self.key, None, x);
        let key = g.reshape(&key, &[0, -1, 1]);
        let attention = g.softmax(&key, 1);
        let flat = g.reshape(x, &[0, 0, -1]);
        let context = g.matmul(&flat, &attention);
        let context = g.reshape(&context, &[0, 0, 1, 1]);
        let t = emit_conv(g, &self.reduce, None, &context);
        let t = g.reshape(&t, &[0, -1]);
        let beta = self.norm.beta.as_ref().map(|b| values(&b.val()));
        let gamma = values(&self.norm.gamma.val());
        let beta = beta.unwrap_or_else(|| vec![0.0; gamma.len()]);
        let t = g.layer_norm(&t, &gamma, &beta, LAYER_NORM_EPSILON);
        let t = g.unary("Relu", &t);
        let t = g.reshape(&t, &[0, 0, 1, 1]);
        let t = emit_conv(g, &self.expand, None, &t);
        self.fuse(g, x.clone(), t)
    }
}

/// Concatenation fusion, used for the low fusions LF-1..3 and for MFC, the high fusion by
/// concatenation (§1.3 [CHOICE]): resize `a` to `b`'s size, concatenate, 3×3 CBR.
#[derive(Module, Debug)]
pub struct ConcatFusion {
    pub conv: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct ConcatFusionConfig {
    pub c_in: usize,
    pub c_out: usize,
}

impl ConcatFusionConfig {
    pub fn init(&self, device: &Device) -> ConcatFusion {
        ConcatFusion {
            conv: ConvBnActConfig::new(self.c_in, self.c_out, 3).init(device),
        }
    }
}

impl ConcatFusion {
    /// # Shapes
    /// `a: [N, Ca, h, w]`, `b: [N, Cb, H, W]` → `[N, c_out, H, W]`.
    pub fn lower<L: Lower>(&self, l: &mut L, a: L::V, b: L::V) -> L::V {
        let a = l.resize_like(a, &b, false);
        let ab = l.cat(vec![a, b]);
        l.apply(&self.conv, ab)
    }
}

/// MFA, high fusion by addition (§1.3): resize `a` to `b`'s size, 1×1 CBR to `b`'s width,
/// add.
#[derive(Module, Debug)]
pub struct Mfa {
    pub proj: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct MfaConfig {
    pub c_in: usize,
    pub c_out: usize,
}

impl MfaConfig {
    pub fn init(&self, device: &Device) -> Mfa {
        Mfa {
            proj: ConvBnActConfig::new(self.c_in, self.c_out, 1).init(device),
        }
    }
}

impl Mfa {
    /// # Shapes
    /// `a: [N, Ca, h, w]`, `b: [N, c_out, H, W]` → `[N, c_out, H, W]`.
    pub fn lower<L: Lower>(&self, l: &mut L, a: L::V, b: L::V) -> L::V {
        let a = l.resize_like(a, &b, false);
        let a = l.apply(&self.proj, a);
        l.add(a, b)
    }
}

/// An image branch (④, ⑤, ⑥ in the MsNet figure): stride-2 CBRs on a resized copy of the
/// input image, ending at 1/8 of the full resolution, followed by MALC.
#[derive(Module, Debug)]
pub struct ImageBranch {
    pub convs: Vec<ConvBnAct>,
    pub malc: Malc,
}

#[derive(Config, Debug)]
pub struct ImageBranchConfig {
    /// `(kernel, output width)` of each stride-2 CBR.
    pub convs: Vec<(usize, usize)>,
}

impl ImageBranchConfig {
    pub fn init(&self, device: &Device) -> ImageBranch {
        let mut c_in = 3;
        let convs = self
            .convs
            .iter()
            .map(|&(kernel, c_out)| {
                let conv = ConvBnActConfig::new(c_in, c_out, kernel)
                    .with_stride(2)
                    .init(device);
                c_in = c_out;
                conv
            })
            .collect();
        ImageBranch {
            convs,
            malc: MalcConfig::new(c_in).init(device),
        }
    }
}

impl Block for ImageBranch {
    /// # Shapes
    /// `[N, 3, H, W] → [N, C, H/2ᵏ, W/2ᵏ]` for `k` convs (rounded up).
    fn lower<L: Lower>(&self, l: &mut L, image: L::V) -> L::V {
        let x = self.convs.iter().fold(image, |x, conv| l.apply(conv, x));
        l.apply(&self.malc, x)
    }
}

/// A 1×1 CBR that matches an encoder tap to the decoder width.
fn projection(c_in: usize, c_out: usize, device: &Device) -> ConvBnAct {
    ConvBnActConfig::new(c_in, c_out, 1).init(device)
}

/// The whole MFMA decoder; produces class scores at 1/8 resolution.
#[derive(Module, Debug)]
pub struct MfmaDecoder {
    pub p3_proj: ConvBnAct,
    pub p3_attn: Masg,
    pub p2_proj: ConvBnAct,
    pub p2_attn: Masg,
    pub lf1: ConcatFusion,
    pub p1_proj: ConvBnAct,
    pub p1_attn: Malc,
    pub lf2: ConcatFusion,
    pub branch_full: ImageBranch,
    pub mfa: Mfa,
    pub mfa_attn: Masg,
    pub branch_half: ImageBranch,
    pub branch_quarter: ImageBranch,
    pub lf3: ConcatFusion,
    pub lf3_attn: Masg,
    pub mfc: ConcatFusion,
    pub classifier: Conv2d,
}

#[derive(Config, Debug)]
pub struct MfmaDecoderConfig {
    /// Widths of the encoder taps ①, ②, ③ (shallow to deep).
    pub tap_channels: [usize; 3],
    pub num_classes: usize,
    /// Width of the two deep low fusions (§1.4: 128).
    #[config(default = 128)]
    pub low_channels: usize,
    /// Width at 1/8 (§1.4: 64).
    #[config(default = 64)]
    pub high_channels: usize,
    #[config(default = 4)]
    pub masg_reduction: usize,
    #[config(default = "MasgFusion::SigmoidGate")]
    pub masg_fusion: MasgFusion,
}

impl MfmaDecoderConfig {
    pub fn init(&self, device: &Device) -> MfmaDecoder {
        let (lo, hi) = (self.low_channels, self.high_channels);
        let masg = |c| {
            MasgConfig::new(c)
                .with_reduction(self.masg_reduction)
                .with_fusion(self.masg_fusion)
                .init(device)
        };
        let [c1, c2, c3] = self.tap_channels;
        MfmaDecoder {
            p3_proj: projection(c3, lo, device),
            p3_attn: masg(lo),
            p2_proj: projection(c2, lo, device),
            p2_attn: masg(lo),
            lf1: ConcatFusionConfig::new(2 * lo, lo).init(device),
            p1_proj: projection(c1, lo, device),
            p1_attn: MalcConfig::new(lo).init(device),
            lf2: ConcatFusionConfig::new(2 * lo, lo).init(device),
            branch_full: ImageBranchConfig::new(vec![(5, 32), (3, 64), (3, hi)]).init(device),
            mfa: MfaConfig::new(lo, hi).init(device),
            mfa_attn: masg(hi),
            branch_half: ImageBranchConfig::new(vec![(3, 32), (3, hi)]).init(device),
            branch_quarter: ImageBranchConfig::new(vec![(3, hi)]).init(device),
            lf3: ConcatFusionConfig::new(2 * hi, hi).init(device),
            lf3_attn: masg(hi),
            mfc: ConcatFusionConfig::new(2 * hi, hi).init(device),
            classifier: conv2d_config(hi, self.num_classes, 1)
                .with_bias(true)
                .init(device),
        }
    }
}

impl MfmaDecoder {
    /// `image` is the normalised network input; `taps` are the encoder outputs ① ② ③.
    ///
    /// # Shapes
    /// `image: [N, 3, H, W]`, taps `[N, Cᵢ, hᵢ, wᵢ]` (shallow to deep) →
    /// class scores `[N, K, ⌈H/8⌉, ⌈W/8⌉]`.
    pub fn lower<L: Lower>(&self, l: &mut L, image: L::V, taps: [L::V; 3]) -> L::V {
        let [t1, t2, t3] = taps;
        let (h, w) = (l.size(&image, 2), l.size(&image, 3));
        let p3 = l.apply(&self.p3_proj, t3);
        let p3 = l.apply(&self.p3_attn, p3);
        let p2 = l.apply(&self.p2_proj, t2);
        let p2 = l.apply(&self.p2_attn, p2);
        let deep = self.lf1.lower(l, p3, p2);
        let p1 = l.apply(&self.p1_proj, t1);
        let p1 = l.apply(&self.p1_attn, p1);
        let deep = self.lf2.lower(l, deep, p1);

        let full = l.apply(&self.branch_full, image.clone());
        let deep = self.mfa.lower(l, deep, full);
        let deep = l.apply(&self.mfa_attn, deep);

        let (h2, w2) = (l.div_ceil(&h, 2), l.div_ceil(&w, 2));
        let (h4, w4) = (l.div_ceil(&h, 4), l.div_ceil(&w, 4));
        let half = l.resize(image.clone(), &h2, &w2, false);
        let quarter = l.resize(image, &h4, &w4, false);
        let half = l.apply(&self.branch_half, half);
        let quarter = l.apply(&self.branch_quarter, quarter);
        let shallow = self.lf3.lower(l, half, quarter);
        let shallow = l.apply(&self.lf3_attn, shallow);

        // MFC at the size of the deep path; channel order [shallow, deep] is a convention.
        let fused = self.mfc.lower(l, shallow, deep);
        l.apply(&self.classifier, fused)
    }
}
