//! MFARANet (arXiv 2402.02286; architecture brief §2): ResNet-18 deep stem → MFAM → RAM →
//! per-scale score heads fused by ASFM. Boundary heads exist for the training loss only.

use burn::module::{Module, ParamId};
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    ConfigError, LossError, LossResult, NetworkConfig, SegmentationModel, Segmentor, param_ids,
};
use crate::models::backbones::resnet::{RESNET18_WIDTHS, ResNet, ResNetConfig};
use crate::models::decoders::mfaranet::{Mfam, MfamConfig, Ram, RamConfig};
use crate::models::heads::{AsfmAttention, AsfmAttentionConfig, pointwise_head};
use crate::models::losses::{
    Labels, LossConfig, LossParts, MultiScaleOutput, mfaranet_joint_loss, scalar,
};
use crate::models::lower::{Block, Eager, Lower};

#[derive(Module, Debug)]
pub struct MfaraNet {
    pub backbone: ResNet,
    pub mfam: Mfam,
    pub ram: Ram,
    pub score_heads: Vec<Conv2d>,
    pub attention_heads: Vec<AsfmAttention>,
    pub boundary_heads: Vec<Conv2d>,
    /// Scales evaluated at inference (1 = 1/4 … 4 = 1/32), ascending.
    #[module(skip)]
    pub scales: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MfaraNetConfig {
    pub num_classes: usize,
    /// Scales evaluated at inference. All four is the full model; `[2]` is the README's
    /// "pruned" model (score of scale 2 alone, no ASFM).
    #[serde(default = "all_scales")]
    pub scales: Vec<usize>,
    #[serde(default = "default_fam_channels")]
    pub channels: usize,
}

fn all_scales() -> Vec<usize> {
    vec![1, 2, 3, 4]
}

fn default_fam_channels() -> usize {
    128
}

impl NetworkConfig for MfaraNetConfig {
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn set_num_classes(&mut self, n: usize) {
        self.num_classes = n;
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut sorted = self.scales.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.is_empty()
            || sorted.len() != self.scales.len()
            || sorted.iter().any(|s| !(1..=4).contains(s))
        {
            return Err(ConfigError(format!(
                "scales {:?} must be distinct values from 1 (1/4) to 4 (1/32)",
                self.scales
            )));
        }
        if self.channels < 2 || !self.channels.is_multiple_of(2) {
            return Err(ConfigError(format!(
                "channels {} must be even and >= 2",
                self.channels
            )));
        }
        Ok(())
    }

    fn init(&self, device: &Device) -> Segmentor {
        let c = self.channels;
        let k = self.num_classes;
        let mut scales = self.scales.clone();
        scales.sort_unstable();
        Segmentor::MfaraNet(MfaraNet {
            backbone: ResNetConfig::new().init(device),
            mfam: MfamConfig::new(RESNET18_WIDTHS)
                .with_channels(c)
                .init(device),
            ram: RamConfig::new().with_channels(c).init(device),
            score_heads: (0..4).map(|_| pointwise_head(c, k, device)).collect(),
            attention_heads: (0..4)
                .map(|_| AsfmAttentionConfig::new(c, k).init(device))
                .collect(),
            boundary_heads: (0..4).map(|_| pointwise_head(c, 1, device)).collect(),
            scales,
        })
    }
}

impl MfaraNet {
    /// The aligned features of the inference scales, each `[N, C, H/4, W/4]`.
    fn aligned<L: Lower>(&self, l: &mut L, x: L::V) -> Vec<L::V> {
        let depth = *self.scales.last().expect("validated: at least one scale");
        let features = l.scope("backbone", |l| self.backbone.lower(l, x));
        let fused = l.scope("mfam", |l| self.mfam.lower(l, features, depth));
        l.scope("ram", |l| self.ram.lower(l, &fused, &self.scales))
    }

    /// Per-scale scores Sᵢ, `[N, K, H/4, W/4]`, in the order of `scales`.
    fn scores<L: Lower>(&self, l: &mut L, aligned: &[L::V]) -> Vec<L::V> {
        self.scales
            .iter()
            .zip(aligned)
            .map(|(&s, f)| {
                let name = format!("score_heads.{}", s - 1);
                l.apply_as(&name, &self.score_heads[s - 1], f.clone())
            })
            .collect()
    }

    /// ASFM: `Σ Sᵢ ⊙ Aᵢ` (a single scale is used as it is).
    fn fuse<L: Lower>(&self, l: &mut L, aligned: &[L::V], scores: &[L::V]) -> L::V {
        if let [only] = scores {
            return only.clone();
        }
        let weighted: Vec<L::V> = self
            .scales
            .iter()
            .zip(aligned.iter().zip(scores))
            .map(|(&s, (f, score))| {
                let name = format!("attention_heads.{}", s - 1);
                let attention = l.apply_as(&name, &self.attention_heads[s - 1], f.clone());
                l.mul(score.clone(), attention)
            })
            .collect();
        let mut weighted = weighted.into_iter();
        let first = weighted.next().expect("validated: at least one scale");
        weighted.fold(first, |sum, w| l.add(sum, w))
    }

    /// Everything the multi-scale joint supervision needs.
    pub fn forward_train(&self, x: Tensor<4>) -> MultiScaleOutput {
        let l = &mut Eager;
        let [_, _, h, w] = x.dims();
        let aligned = self.aligned(l, x);
        let scale_scores = self.scores(l, &aligned);
        let boundaries = self
            .scales
            .iter()
            .zip(&aligned)
            .map(|(&s, f)| l.apply(&self.boundary_heads[s - 1], f.clone()))
            .collect();
        let fused = self.fuse(l, &aligned, &scale_scores);
        MultiScaleOutput {
            fused: l.resize(fused, &h, &w, true),
            scale_scores,
            boundaries,
        }
    }
}

impl SegmentationModel for MfaraNet {
    fn losses(&self, images: Tensor<4>, labels: &Labels, config: &LossConfig) -> LossResult {
        let joint = config.joint.as_ref().ok_or_else(|| {
            LossError("MFARANet needs `loss.joint` (its multi-scale joint supervision)".into())
        })?;
        let parts = mfaranet_joint_loss(self.forward_train(images), labels, &config.ce, joint);
        let value = scalar(&parts.total);
        Ok(LossParts {
            total: parts.total,
            parts: vec![
                ("loss", value),
                ("main", parts.main),
                ("scales", parts.scales),
                ("boundary", parts.boundary),
                ("regularizer", parts.regularizer),
            ],
        })
    }

    fn backbone_params(&self) -> Vec<ParamId> {
        param_ids(&self.backbone)
    }
}

impl Block for MfaraNet {
    /// # Shapes
    /// `[N, 3, H, W] → [N, K, H, W]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let (h, w) = (l.size(&x, 2), l.size(&x, 3));
        let aligned = self.aligned(l, x);
        let scores = self.scores(l, &aligned);
        let fused = self.fuse(l, &aligned, &scores);
        l.resize(fused, &h, &w, true)
    }
}
