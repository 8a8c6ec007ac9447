//! AttaNet (Song et al., AAAI 2021; architecture brief §3): a backbone, the attention fusion
//! module mixing a shallow and a deep feature, the strip attention module, a head, and two
//! auxiliary heads for training. Built as the released code builds it (brief §3.1 and §3.3):
//!
//! * `attanet-r18`: torchvision ResNet-18; the AFM fuses the 1/16 head with the raw 1/32
//!   feature through a 1×1 CBR; SAM at 1/16, then nearest upsampling to 1/8. The 1/8 feature
//!   feeds only an auxiliary head.
//! * `attanet-light`: the plain CBR backbone of `light.py`; everything at 1/8, width 64, the
//!   AFM with a 3×3 CBR and a refining CBR on each of its two inputs.
//!
//! The AFM weights are channel-wise as in the code; `afm_attention: pixel` gives the paper's
//! per-pixel form. Not reproduced: the out head's Dropout2d(0.1) (R18), a training-only
//! regulariser.

use burn::module::{Module, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{LossResult, NetworkConfig, SegmentationModel, Segmentor, param_ids};
use crate::models::backbones::light::{LIGHT_WIDTHS, LightBackbone, LightBackboneConfig};
use crate::models::backbones::resnet::{RESNET18_WIDTHS, ResNet, ResNetConfig};
use crate::models::decoders::attanet::{
    AfmAttention, AttentionFusion, AttentionFusionConfig, StripAttention, StripAttentionConfig,
};
use crate::models::heads::{ConvHead, ConvHeadConfig};
use crate::models::layers::{ConvBnAct, ConvBnActConfig};
use crate::models::losses::{Labels, LossConfig, deep_supervision_loss};
use crate::models::lower::{Block, Eager, Lower};

/// The backbone of an AttaNet.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AttaNetBackbone {
    ResNet18(ResNet),
    Light(LightBackbone),
}

/// Which backbone (and with it which head layout) an AttaNet uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttaNetBackboneKind {
    Resnet18,
    Light,
}

#[derive(Module, Debug)]
pub struct AttaNet {
    pub backbone: AttaNetBackbone,
    /// R18: CBR 3×3 on the 1/16 feature; light: on the 1/8 feature.
    pub shallow: ConvBnAct,
    /// Light only: CBR 3×3 on the 1/16 feature (R18 fuses the raw 1/32 feature).
    pub deep: Option<ConvBnAct>,
    pub afm: AttentionFusion,
    /// Light only: the refining CBR of the shallow input before mixing.
    pub shallow_refine: Option<ConvBnAct>,
    /// The refining CBR of the deep input before mixing (R18's `head32`).
    pub deep_refine: ConvBnAct,
    pub head1: ConvBnAct,
    pub sam: StripAttention,
    pub head2: ConvBnAct,
    pub head: ConvHead,
    /// Training only: on the gated deep branch and on a backbone feature (R18 1/8, light 1/16).
    pub aux_heads: Vec<ConvHead>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttaNetConfig {
    pub num_classes: usize,
    pub backbone: AttaNetBackboneKind,
    #[serde(default = "channel_attention")]
    pub afm_attention: AfmAttention,
}

fn channel_attention() -> AfmAttention {
    AfmAttention::Channel
}

impl NetworkConfig for AttaNetConfig {
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn set_num_classes(&mut self, n: usize) {
        self.num_classes = n;
    }

    fn init(&self, device: &Device) -> Segmentor {
        let k = self.num_classes;
        let cbr = |c_in, c_out| ConvBnActConfig::new(c_in, c_out, 3).init(device);
        let head = |c_in, c| {
            ConvHeadConfig::new(c_in, c, k)
                .with_bias(false)
                .init(device)
        };
        let net = match self.backbone {
            AttaNetBackboneKind::Resnet18 => {
                let [_, c8, c16, c32] = RESNET18_WIDTHS;
                let c = 128;
                AttaNet {
                    backbone: AttaNetBackbone::ResNet18(ResNetConfig::torchvision().init(device)),
                    shallow: cbr(c16, c),
                    deep: None,
                    afm: AttentionFusionConfig::new(c + c32, c, 1)
                        .with_attention(self.afm_attention)
                        .init(device),
                    shallow_refine: None,
                    deep_refine: cbr(c32, c),
                    head1: cbr(c, c),
                    sam: StripAttentionConfig::new(c, c / 2).init(device),
                    head2: cbr(c, c),
                    head: head(c, c),
                    aux_heads: vec![head(c, 64), head(c8, 64)],
                }
            }
            AttaNetBackboneKind::Light => {
                let [c8, c16] = LIGHT_WIDTHS;
                let c = 64;
                AttaNet {
                    backbone: AttaNetBackbone::Light(LightBackboneConfig::new().init(device)),
                    shallow: cbr(c8, c),
                    deep: Some(cbr(c16, c)),
                    afm: AttentionFusionConfig::new(2 * c, c, 3)
                        .with_attention(self.afm_attention)
                        .init(device),
                    shallow_refine: Some(cbr(c, c)),
                    deep_refine: cbr(c, c),
                    head1: cbr(c, c),
                    sam: StripAttentionConfig::new(c, c).init(device),
                    head2: cbr(c, c),
                    head: head(c, c),
                    aux_heads: vec![head(c, c), head(c16, c)],
                }
            }
        };
        Segmentor::AttaNet(net)
    }
}

/// What the training losses read besides the scores.
struct AttaNetOutput<V> {
    /// Scores at 1/8.
    scores: V,
    /// The gated deep branch, `up(deep')·α`.
    gated_deep: V,
    /// The backbone feature of the second auxiliary head.
    aux_feature: V,
}

impl AttaNet {
    fn run<L: Lower>(&self, l: &mut L, x: L::V) -> AttaNetOutput<L::V> {
        // (1/8 feature, shallow input, deep input, second auxiliary input)
        let (feat8, shallow, deep, aux_feature) = match &self.backbone {
            AttaNetBackbone::ResNet18(net) => {
                let [_, f8, f16, f32] = l.scope("backbone", |l| net.lower(l, x));
                (f8.clone(), f16, f32, f8)
            }
            AttaNetBackbone::Light(net) => {
                let [f8, aux, f16] = l.scope("backbone", |l| net.lower(l, x));
                (f8.clone(), f8, f16, aux)
            }
        };
        let shallow = l.apply_as("shallow", &self.shallow, shallow);
        let deep = match &self.deep {
            Some(conv) => l.apply_as("deep", conv, deep),
            None => deep,
        };
        let deep_up = l.resize_nearest_like(deep.clone(), &shallow);
        let fused = l.cat(vec![shallow.clone(), deep_up]);
        let alpha = l.apply_as("afm", &self.afm, fused);
        let shallow = match &self.shallow_refine {
            Some(conv) => l.apply_as("shallow_refine", conv, shallow),
            None => shallow,
        };
        let deep = l.apply_as("deep_refine", &self.deep_refine, deep);
        // Nearest upsampling commutes with a per-channel weight, so up(deep')·α equals the
        // code's up(deep'·α); written this way it also serves the per-pixel weights.
        let deep = l.resize_nearest_like(deep, &shallow);
        let gated_deep = l.mul(deep, alpha.clone());
        let gated_shallow = l.mul(shallow.clone(), alpha);
        let kept = l.sub(shallow, gated_shallow);
        let mixed = l.add(kept, gated_deep.clone());
        let y = l.apply_as("head1", &self.head1, mixed);
        let y = l.apply_as("sam", &self.sam, y);
        let y = l.resize_nearest_like(y, &feat8);
        let y = l.apply_as("head2", &self.head2, y);
        AttaNetOutput {
            scores: l.apply_as("head", &self.head, y),
            gated_deep,
            aux_feature,
        }
    }
}

impl Block for AttaNet {
    /// # Shapes
    /// `[N, 3, H, W] → [N, K, H, W]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let (h, w) = (l.size(&x, 2), l.size(&x, 3));
        let out = self.run(l, x);
        l.resize(out.scores, &h, &w, true)
    }
}

impl SegmentationModel for AttaNet {
    /// Main and both auxiliary heads, equal weights in the released `train.py` (OHEM on each).
    fn losses(&self, images: Tensor<4>, labels: &Labels, config: &LossConfig) -> LossResult {
        let l = &mut Eager;
        let [_, _, h, w] = images.dims();
        let out = self.run(l, images);
        let aux = vec![
            l.apply(&self.aux_heads[0], out.gated_deep),
            l.apply(&self.aux_heads[1], out.aux_feature),
        ];
        let main = l.resize(out.scores, &h, &w, true);
        Ok(deep_supervision_loss(main, aux, labels, config))
    }

    fn backbone_params(&self) -> Vec<ParamId> {
        param_ids(&self.backbone)
    }
}
