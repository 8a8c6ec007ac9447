//! The parts of BiSeNet v1 (Yu et al., ECCV 2018, §3; architecture brief §5.1) and of the
//! AAFF network built on it (seed 004; brief §5.2–5.3): the spatial path in its plain and
//! depthwise-separable forms, the attention refinement module (ARM), the feature fusion
//! module (FFM), the context path, and the asymmetric attention feature fusion (AAFF) block.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::models::backbones::resnet::{RESNET18_WIDTHS, ResNet, ResNetConfig};
use crate::models::backbones::xception::{
    SeparableConvBnAct, SeparableConvBnActConfig, XCEPTION39_WIDTHS, Xception39, Xception39Config,
};
use crate::models::layers::{Activation, ConvBnAct, ConvBnActConfig, conv2d_config};
use crate::models::lower::{Block, Lower};

/// Spatial path: stride-2 layers to 1/8, then a 1×1 CBR to the output width. The paper's
/// (§3.1) has three 3×3 CBRs; TorchSeg's and CoinCheung's (what the brief counts) make the
/// first a 7×7 and add the 1×1. The depthwise form is seed 004's middle branch: a 3×3 CBR
/// (to 1/2), two depthwise-separable stride-2 steps (to 1/8), the 1×1 CBR.
#[derive(Module, Debug)]
pub struct SpatialPath {
    pub stem: ConvBnAct,
    pub down: Vec<ConvBnAct>,
    pub separable: Vec<SeparableConvBnAct>,
    pub proj: ConvBnAct,
}

/// Which spatial path a BiSeNet uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpatialPathKind {
    /// CBR 7×7 s2 3→64, CBR 3×3 s2 64→64 twice, CBR 1×1 64→128.
    Standard,
    /// CBR 3×3 s2 3→64, [dw 3×3 s2, pw 1×1 + BN + ReLU] twice, CBR 1×1 64→128.
    Depthwise,
}

#[derive(Config, Debug)]
pub struct SpatialPathConfig {
    pub kind: SpatialPathKind,
    #[config(default = 64)]
    pub channels: usize,
    #[config(default = 128)]
    pub c_out: usize,
}

impl SpatialPathConfig {
    pub fn init(&self, device: &Device) -> SpatialPath {
        let c = self.channels;
        let cbr = |c_in, kernel, stride| {
            ConvBnActConfig::new(c_in, c, kernel)
                .with_stride(stride)
                .init(device)
        };
        let (stem, down, separable) = match self.kind {
            SpatialPathKind::Standard => (cbr(3, 7, 2), vec![cbr(c, 3, 2), cbr(c, 3, 2)], vec![]),
            SpatialPathKind::Depthwise => (
                cbr(3, 3, 2),
                vec![],
                (0..2)
                    .map(|_| {
                        SeparableConvBnActConfig::new(c, c)
                            .with_stride(2)
                            .init(device)
                    })
                    .collect(),
            ),
        };
        SpatialPath {
            stem,
            down,
            separable,
            proj: ConvBnActConfig::new(c, self.c_out, 1).init(device),
        }
    }
}

impl Block for SpatialPath {
    /// # Shapes
    /// `[N, 3, H, W] → [N, c_out, ⌈H/8⌉, ⌈W/8⌉]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let x = l.apply(&self.stem, x);
        let x = self.down.iter().fold(x, |x, conv| l.apply(conv, x));
        let x = self.separable.iter().fold(x, |x, sep| l.apply(sep, x));
        l.apply(&self.proj, x)
    }
}

/// Attention refinement module (BiSeNet §3.2): `f = CBR3×3(x)`, `f ⊙ σ(BN(W·GAP(f)))` with
/// W a bias-free 1×1 conv. With stride 2 it is the attention loop of seed 004's AAFF block.
#[derive(Module, Debug)]
pub struct AttentionRefinement {
    pub conv: ConvBnAct,
    pub attention: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct AttentionRefinementConfig {
    pub c_in: usize,
    pub c_out: usize,
    #[config(default = 1)]
    pub stride: usize,
}

impl AttentionRefinementConfig {
    pub fn init(&self, device: &Device) -> AttentionRefinement {
        AttentionRefinement {
            conv: ConvBnActConfig::new(self.c_in, self.c_out, 3)
                .with_stride(self.stride)
                .init(device),
            attention: ConvBnActConfig::new(self.c_out, self.c_out, 1)
                .with_act(Activation::Sigmoid)
                .init(device),
        }
    }
}

impl Block for AttentionRefinement {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, c_out, ⌈H/stride⌉, ⌈W/stride⌉]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let f = l.apply(&self.conv, x);
        let pooled = l.global_avg_pool(f.clone());
        let weights = l.apply(&self.attention, pooled);
        l.mul(f, weights)
    }
}

/// The channel attention of a feature fusion module, computed from `GAP(f)`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ChannelGate {
    /// TorchSeg (and the paper, Fig. 2c): `σ(W₂·ReLU(W₁·g))`, bias-free 1×1 convs.
    Mlp(GateMlp),
    /// CoinCheung's BiSeNet v1 (kept for TensorRT fp16 there): `σ(BN(W·g))`.
    ConvBn(ConvBnAct),
}

/// The two-layer 1×1 MLP of [`ChannelGate::Mlp`].
#[derive(Module, Debug)]
pub struct GateMlp {
    pub reduce: Conv2d,
    pub expand: Conv2d,
}

/// Which channel attention an FFM uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    Mlp,
    ConvBn,
}

impl Block for ChannelGate {
    /// # Shapes
    /// `[N, C, 1, 1] → [N, C, 1, 1]`, values in (0, 1).
    fn lower<L: Lower>(&self, l: &mut L, g: L::V) -> L::V {
        match self {
            ChannelGate::Mlp(mlp) => {
                let h = l.apply(&mlp.reduce, g);
                let h = l.relu(h);
                let w = l.apply(&mlp.expand, h);
                l.act(Activation::Sigmoid, w)
            }
            ChannelGate::ConvBn(conv) => l.apply(conv, g),
        }
    }
}

/// Feature fusion module (BiSeNet §3.3): `f = CBR1×1(concat(xs))`, `out = f + f ⊙ gate(GAP(f))`.
#[derive(Module, Debug)]
pub struct FeatureFusion {
    pub conv: ConvBnAct,
    pub gate: ChannelGate,
}

#[derive(Config, Debug)]
pub struct FeatureFusionConfig {
    pub c_in: usize,
    pub c_out: usize,
    #[config(default = "GateKind::Mlp")]
    pub gate: GateKind,
    /// Hidden width of the MLP gate is `c_out / reduction`.
    #[config(default = 1)]
    pub reduction: usize,
}

impl FeatureFusionConfig {
    pub fn init(&self, device: &Device) -> FeatureFusion {
        let c = self.c_out;
        let gate = match self.gate {
            GateKind::Mlp => ChannelGate::Mlp(GateMlp {
                reduce: conv2d_config(c, c / self.reduction, 1).init(device),
                expand: conv2d_config(c / self.reduction, c, 1).init(device),
            }),
            GateKind::ConvBn => ChannelGate::ConvBn(
                ConvBnActConfig::new(c, c, 1)
                    .with_act(Activation::Sigmoid)
                    .init(device),
            ),
        };
        FeatureFusion {
            conv: ConvBnActConfig::new(self.c_in, c, 1).init(device),
            gate,
        }
    }
}

impl FeatureFusion {
    /// # Shapes
    /// Inputs `[N, Cᵢ, h, w]` with `Σ Cᵢ = c_in` → `[N, c_out, h, w]`.
    pub fn lower<L: Lower>(&self, l: &mut L, xs: Vec<L::V>) -> L::V {
        let x = l.cat(xs);
        let f = l.apply(&self.conv, x);
        let pooled = l.global_avg_pool(f.clone());
        let weights = l.apply(&self.gate, pooled);
        let attended = l.mul(f.clone(), weights);
        l.add(f, attended)
    }
}

/// The backbone of a context path.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ContextBackbone {
    ResNet18(ResNet),
    Xception39(Xception39),
}

/// Which backbone a context path uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextBackboneKind {
    /// torchvision's ResNet-18 (BiSeNet's "ResNet-18" rows; CoinCheung's release).
    Resnet18,
    /// Xception39 (BiSeNet's fastest rows; TorchSeg's release; seed 004's "Xception").
    Xception39,
}

impl ContextBackboneKind {
    /// Widths of the 1/16 and 1/32 features.
    fn widths(self) -> [usize; 2] {
        match self {
            ContextBackboneKind::Resnet18 => [RESNET18_WIDTHS[2], RESNET18_WIDTHS[3]],
            ContextBackboneKind::Xception39 => [XCEPTION39_WIDTHS[1], XCEPTION39_WIDTHS[2]],
        }
    }
}

/// How the context path upsamples its refined features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upsample {
    /// CoinCheung's choice.
    Nearest,
    /// TorchSeg's (align_corners=True).
    Bilinear,
}

/// Context path (BiSeNet §3.2): a backbone, global context `g = CBR1×1(GAP(C32))`,
/// `r32 = refine32(up(ARM32(C32) + g))` at 1/16, `r16 = refine16(up(ARM16(C16) + r32))` at 1/8.
#[derive(Module, Debug)]
pub struct ContextPath {
    pub backbone: ContextBackbone,
    pub arm16: AttentionRefinement,
    pub arm32: AttentionRefinement,
    pub global: ConvBnAct,
    pub refine32: ConvBnAct,
    pub refine16: ConvBnAct,
    #[module(skip)]
    pub upsample: Upsample,
}

#[derive(Config, Debug)]
pub struct ContextPathConfig {
    pub backbone: ContextBackboneKind,
    #[config(default = 128)]
    pub channels: usize,
    #[config(default = "Upsample::Nearest")]
    pub upsample: Upsample,
}

impl ContextPathConfig {
    pub fn init(&self, device: &Device) -> ContextPath {
        let c = self.channels;
        let [c16, c32] = self.backbone.widths();
        let backbone = match self.backbone {
            ContextBackboneKind::Resnet18 => {
                ContextBackbone::ResNet18(ResNetConfig::torchvision().init(device))
            }
            ContextBackboneKind::Xception39 => {
                ContextBackbone::Xception39(Xception39Config::new().init(device))
            }
        };
        ContextPath {
            backbone,
            arm16: AttentionRefinementConfig::new(c16, c).init(device),
            arm32: AttentionRefinementConfig::new(c32, c).init(device),
            global: ConvBnActConfig::new(c32, c, 1).init(device),
            refine32: ConvBnActConfig::new(c, c, 3).init(device),
            refine16: ConvBnActConfig::new(c, c, 3).init(device),
            upsample: self.upsample,
        }
    }
}

impl ContextPath {
    fn up<L: Lower>(&self, l: &mut L, x: L::V, like: &L::V) -> L::V {
        match self.upsample {
            Upsample::Nearest => l.resize_nearest_like(x, like),
            Upsample::Bilinear => l.resize_like(x, like, true),
        }
    }

    /// The refined context at 1/8 and at 1/16 (the second feeds an auxiliary head only).
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → `[N, C, ⌈H/8⌉, ⌈W/8⌉]`, `[N, C, ⌈H/16⌉, ⌈W/16⌉]`.
    pub fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> [L::V; 2] {
        let [c8, c16, c32] = l.scope("backbone", |l| match &self.backbone {
            ContextBackbone::ResNet18(net) => {
                let [_, c8, c16, c32] = net.lower(l, x);
                [c8, c16, c32]
            }
            ContextBackbone::Xception39(net) => net.lower(l, x),
        });
        let pooled = l.global_avg_pool(c32.clone());
        // 1×1 and broadcast by the add: what resizing a 1×1 map to C32's size computes.
        let global = l.apply(&self.global, pooled);
        let r32 = l.apply(&self.arm32, c32);
        let r32 = l.add(r32, global);
        let r32 = self.up(l, r32, &c16);
        let r32 = l.apply(&self.refine32, r32);
        let r16 = l.apply(&self.arm16, c16);
        let r16 = l.add(r16, r32.clone());
        let r16 = self.up(l, r16, &c8);
        let r16 = l.apply(&self.refine16, r16);
        [r16, r32]
    }
}

/// Asymmetric attention feature fusion (seed 004, Fig. 3), as the brief reconstructs it
/// (§5.3, [CHOICE] widths): `a = ARM_stride2(x1)` (a strided 3×3 CBR, then channel
/// attention), `out = CBR1×1(concat(a, x2))`, where `x2` is at half `x1`'s resolution.
#[derive(Module, Debug)]
pub struct AaffBlock {
    pub attention: AttentionRefinement,
    pub fuse: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct AaffBlockConfig {
    pub c1: usize,
    pub c2: usize,
    pub c_out: usize,
}

impl AaffBlockConfig {
    pub fn init(&self, device: &Device) -> AaffBlock {
        AaffBlock {
            attention: AttentionRefinementConfig::new(self.c1, self.c_out)
                .with_stride(2)
                .init(device),
            fuse: ConvBnActConfig::new(self.c_out + self.c2, self.c_out, 1).init(device),
        }
    }
}

impl AaffBlock {
    /// # Shapes
    /// `[N, c1, h, w]`, `[N, c2, ⌈h/2⌉, ⌈w/2⌉]` → `[N, c_out, ⌈h/2⌉, ⌈w/2⌉]`.
    pub fn lower<L: Lower>(&self, l: &mut L, x1: L::V, x2: L::V) -> L::V {
        let a = l.apply(&self.attention, x1);
        let x = l.cat(vec![a, x2]);
        l.apply(&self.fuse, x)
    }
}
