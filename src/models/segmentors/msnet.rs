//! MsNet (seed 000; architecture brief §1): an encoder — MobileNetV3-Large for MsNet-M, a
//! DARTS-style cell network for MsNet-ANAS — under the MFMA decoder, a 1×1 classifier at 1/8
//! and a bilinear upsampling to the input size.

use burn::module::{Module, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{ConfigError, NetworkConfig, SegmentationModel, Segmentor, param_ids};
use crate::models::backbones::darts::{DartsNetwork, DartsNetworkConfig, Genotype};
use crate::models::backbones::mobilenet_v3::{
    MOBILENET_V3_LARGE_TAPS, MobileNetV3, MobileNetV3Config,
};
use crate::models::decoders::mfma::{MasgFusion, MfmaDecoder, MfmaDecoderConfig};
use crate::models::lower::{Block, Lower};

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
        genotype: Genotype,
    },
}

/// MsNet: encoder + MFMA decoder.
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
}

impl NetworkConfig for MsNetConfig {
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn set_num_classes(&mut self, n: usize) {
        self.num_classes = n;
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match self.darts() {
            Some(darts) => darts.validate().map_err(ConfigError),
            None => Ok(()),
        }
    }

    fn init(&self, device: &Device) -> Segmentor {
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
        Segmentor::MsNet(MsNet {
            encoder,
            decoder: MfmaDecoderConfig::new(taps, self.num_classes)
                .with_masg_fusion(self.masg_fusion)
                .init(device),
        })
    }
}

impl Block for MsNet {
    /// # Shapes
    /// `[N, 3, H, W] → [N, K, H, W]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let (h, w) = (l.size(&x, 2), l.size(&x, 3));
        let taps = l.scope("encoder", |l| match &self.encoder {
            MsNetEncoder::MobileNetV3(encoder) => encoder.lower(l, x.clone()),
            MsNetEncoder::Darts(encoder) => encoder.lower(l, x.clone()),
        });
        let scores = l.scope("decoder", |l| self.decoder.lower(l, x, taps));
        l.resize(scores, &h, &w, false)
    }
}

impl SegmentationModel for MsNet {
    fn backbone_params(&self) -> Vec<ParamId> {
        param_ids(&self.encoder)
    }
}
