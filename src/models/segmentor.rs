//! Segmentors: an encoder and a decoder composed into a network that maps a normalised
//! N×3×H×W image to N×K×H×W class scores at exactly the input size.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::models::backbones::darts::{DartsNetwork, DartsNetworkConfig};
use crate::models::backbones::mobilenet_v3::{
    MOBILENET_V3_LARGE_TAPS, MobileNetV3, MobileNetV3Config,
};
use crate::models::backbones::resnet::{RESNET18_WIDTHS, ResNetDeepStem, ResNetDeepStemConfig};
use crate::models::decoders::mfaranet::{Mfam, MfamConfig, Ram, RamConfig};
use crate::models::decoders::mfma::{MasgFusion, MfmaDecoder, MfmaDecoderConfig};
use crate::models::heads::{AsfmAttention, AsfmAttentionConfig, pointwise_head};
use crate::models::layers::{conv_forward, resize, spatial};

/// The encoder of an MsNet.
// A model is built once per process, so the variant size does not matter, and burn's
// Module derive needs the variants unboxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum MsNetEncoder {
    MobileNetV3(MobileNetV3),
    Darts(DartsNetwork),
}

/// Which encoder an MsNet uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MsNetEncoderConfig {
    /// MsNet-M: MobileNetV3-Large, taps after bneck 6, bneck 12 and the last 1×1 conv.
    MobileNetV3Large,
    /// MsNet-ANAS: a DARTS-style cell network driven by a genotype.
    Darts {
        channels: usize,
        layout: String,
        genotype: crate::models::backbones::darts::Genotype,
    },
}

/// MsNet (seed 000; brief §1): encoder + MFMA decoder, 1×1 classifier at 1/8, bilinear
/// upsampling to the input size.
#[derive(Module, Debug)]
pub struct MsNet {
    pub encoder: MsNetEncoder,
    pub decoder: MfmaDecoder,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MsNetConfig {
    pub encoder: MsNetEncoderConfig,
    pub num_classes: usize,
    #[serde(default = "default_masg_fusion")]
    pub masg_fusion: MasgFusion,
}

fn default_masg_fusion() -> MasgFusion {
    MasgFusion::SigmoidGate
}

impl MsNetConfig {
    fn darts(&self) -> Option<DartsNetworkConfig> {
        match &self.encoder {
            MsNetEncoderConfig::Darts {
                channels,
                layout,
                genotype,
            } => Some(
                DartsNetworkConfig::new()
                    .with_channels(*channels)
                    .with_layout(layout.clone())
                    .with_genotype(genotype.clone()),
            ),
            MsNetEncoderConfig::MobileNetV3Large => None,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        self.darts().map(|d| d.validate()).unwrap_or(Ok(()))
    }

    pub fn init(&self, device: &Device) -> MsNet {
        let (encoder, taps) = match self.darts() {
            Some(darts) => (
                MsNetEncoder::Darts(darts.init(device)),
                darts.tap_channels(),
            ),
            None => (
                MsNetEncoder::MobileNetV3(MobileNetV3Config::new().init(device)),
                MOBILENET_V3_LARGE_TAPS,
            ),
        };
        MsNet {
            encoder,
            decoder: MfmaDecoderConfig::new(taps, self.num_classes)
                .with_masg_fusion(self.masg_fusion)
                .init(device),
        }
    }
}

impl MsNet {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let size = spatial(&x);
        let taps = match &self.encoder {
            MsNetEncoder::MobileNetV3(encoder) => encoder.forward(x.clone()),
            MsNetEncoder::Darts(encoder) => encoder.forward(x.clone()),
        };
        resize(self.decoder.forward(x, taps), size, false)
    }
}

/// MFARANet (arXiv 2402.02286; brief §2): ResNet-18 deep stem → MFAM → RAM → per-scale
/// score heads fused by ASFM. Boundary heads exist for the training loss only.
#[derive(Module, Debug)]
pub struct MfaraNet {
    pub backbone: ResNetDeepStem,
    pub mfam: Mfam,
    pub ram: Ram,
    pub score_heads: Vec<Conv2d>,
    pub attention_heads: Vec<AsfmAttention>,
    pub boundary_heads: Vec<Conv2d>,
    /// Scales evaluated at inference (1 = 1/4 … 4 = 1/32).
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

impl MfaraNetConfig {
    pub fn validate(&self) -> Result<(), String> {
        let mut sorted = self.scales.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.is_empty()
            || sorted.len() != self.scales.len()
            || sorted.iter().any(|s| !(1..=4).contains(s))
        {
            return Err(format!(
                "scales {:?} must be distinct values from 1 (1/4) to 4 (1/32)",
                self.scales
            ));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> MfaraNet {
        let c = self.channels;
        let k = self.num_classes;
        let mut scales = self.scales.clone();
        scales.sort_unstable();
        MfaraNet {
            backbone: ResNetDeepStemConfig::new().init(device),
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
        }
    }
}

/// Everything MFARANet's multi-scale joint supervision needs, at 1/4 resolution.
pub struct MfaraNetTrainOutput {
    /// Fused scores upsampled to the input size.
    pub fused: Tensor<4>,
    /// Per-scale scores S_i (1/4 resolution), in the order of `scales`.
    pub scale_scores: Vec<Tensor<4>>,
    /// Per-scale boundary logits E_i (1/4 resolution).
    pub boundaries: Vec<Tensor<4>>,
}

impl MfaraNet {
    fn aligned(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let depth = *self.scales.last().expect("validated: at least one scale");
        let fused = self.mfam.forward(self.backbone.forward(x), depth);
        self.ram.forward(&fused, &self.scales)
    }

    fn fuse(&self, aligned: &[Tensor<4>], scores: &[Tensor<4>]) -> Tensor<4> {
        if let [only] = scores {
            return only.clone();
        }
        self.scales
            .iter()
            .zip(aligned.iter().zip(scores))
            .map(|(&s, (f, score))| score.clone() * self.attention_heads[s - 1].forward(f.clone()))
            .reduce(|a, b| a + b)
            .expect("validated: at least one scale")
    }

    fn scores(&self, aligned: &[Tensor<4>]) -> Vec<Tensor<4>> {
        self.scales
            .iter()
            .zip(aligned)
            .map(|(&s, f)| conv_forward(&self.score_heads[s - 1], f.clone()))
            .collect()
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let size = spatial(&x);
        let aligned = self.aligned(x);
        let scores = self.scores(&aligned);
        resize(self.fuse(&aligned, &scores), size, true)
    }

    pub fn forward_train(&self, x: Tensor<4>) -> MfaraNetTrainOutput {
        let size = spatial(&x);
        let aligned = self.aligned(x);
        let scale_scores = self.scores(&aligned);
        let boundaries = self
            .scales
            .iter()
            .zip(&aligned)
            .map(|(&s, f)| conv_forward(&self.boundary_heads[s - 1], f.clone()))
            .collect();
        MfaraNetTrainOutput {
            fused: resize(self.fuse(&aligned, &scale_scores), size, true),
            scale_scores,
            boundaries,
        }
    }
}

/// Any network of the zoo.
// A model is built once per process, so the variant size does not matter, and burn's
// Module derive needs the variants unboxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Segmentor {
    MsNet(MsNet),
    MfaraNet(MfaraNet),
}

/// Serde configuration of any network of the zoo (what the registry maps a name to, and
/// what `--model-config FILE` reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "snake_case")]
pub enum SegmentorConfig {
    MsNet(MsNetConfig),
    MfaraNet(MfaraNetConfig),
}

impl SegmentorConfig {
    pub fn num_classes(&self) -> usize {
        match self {
            SegmentorConfig::MsNet(c) => c.num_classes,
            SegmentorConfig::MfaraNet(c) => c.num_classes,
        }
    }

    pub fn with_num_classes(mut self, n: usize) -> Self {
        match &mut self {
            SegmentorConfig::MsNet(c) => c.num_classes = n,
            SegmentorConfig::MfaraNet(c) => c.num_classes = n,
        }
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.num_classes() == 0 || self.num_classes() > 255 {
            return Err(format!(
                "num_classes {} must be 1..=255 (masks are 8-bit, 255 = unlabelled)",
                self.num_classes()
            ));
        }
        match self {
            SegmentorConfig::MsNet(c) => c.validate(),
            SegmentorConfig::MfaraNet(c) => c.validate(),
        }
    }

    /// Builds the network with fresh (random) weights.
    pub fn init(&self, device: &Device) -> Segmentor {
        match self {
            SegmentorConfig::MsNet(c) => Segmentor::MsNet(c.init(device)),
            SegmentorConfig::MfaraNet(c) => Segmentor::MfaraNet(c.init(device)),
        }
    }
}

impl Segmentor {
    /// Class scores N×K×H×W for a normalised N×3×H×W batch.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Segmentor::MsNet(m) => m.forward(x),
            Segmentor::MfaraNet(m) => m.forward(x),
        }
    }
}
