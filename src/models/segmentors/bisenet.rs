//! BiSeNet v1 (Yu et al., ECCV 2018; architecture brief §5.1): a spatial path and a context
//! path fused by the FFM at 1/8, a segmentation head, and two auxiliary heads on the refined
//! context (1/8 and 1/16) for training. The registry holds CoinCheung's ResNet-18 form
//! (`bisenet-r18`), TorchSeg's Xception39 form (`bisenet-x39`) and seed 004's "depthwise
//! BiSeNet" (`bisenet-dw`: Xception39 with the depthwise-separable spatial path).

use burn::module::{Module, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{ConfigError, LossResult, NetworkConfig, SegmentationModel, Segmentor, param_ids};
use crate::models::decoders::bisenet::{
    ContextBackboneKind, ContextPath, ContextPathConfig, FeatureFusion, FeatureFusionConfig,
    GateKind, SpatialPath, SpatialPathConfig, SpatialPathKind, Upsample,
};
use crate::models::heads::{ConvHead, ConvHeadConfig};
use crate::models::losses::{Labels, LossConfig, deep_supervision_loss};
use crate::models::lower::{Block, Eager, Lower};

#[derive(Module, Debug)]
pub struct BiSeNet {
    pub spatial_path: SpatialPath,
    pub context_path: ContextPath,
    pub ffm: FeatureFusion,
    pub head: ConvHead,
    /// Training-only heads on the refined context at 1/8 and 1/16.
    pub aux_heads: Vec<ConvHead>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BiSeNetConfig {
    pub num_classes: usize,
    pub backbone: ContextBackboneKind,
    pub spatial_path: SpatialPathKind,
    /// FFM channel attention: TorchSeg's two-layer MLP or CoinCheung's conv + BN.
    pub ffm_gate: GateKind,
    /// How the context path upsamples (CoinCheung nearest, TorchSeg bilinear).
    pub context_upsample: Upsample,
    /// Width of the main head's 3×3 conv (CoinCheung 256, TorchSeg 64).
    pub head_channels: usize,
    /// Width of the auxiliary heads' 3×3 convs (CoinCheung 64, TorchSeg 256).
    pub aux_channels: usize,
}

/// Width of the spatial path, of the context path and (doubled) of the FFM.
const CHANNELS: usize = 128;

impl NetworkConfig for BiSeNetConfig {
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn set_num_classes(&mut self, n: usize) {
        self.num_classes = n;
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("head_channels", self.head_channels),
            ("aux_channels", self.aux_channels),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{key} must be positive")));
            }
        }
        Ok(())
    }

    fn init(&self, device: &Device) -> Segmentor {
        let k = self.num_classes;
        let fused = 2 * CHANNELS;
        Segmentor::Bisenet(BiSeNet {
            spatial_path: SpatialPathConfig::new(self.spatial_path).init(device),
            context_path: ContextPathConfig::new(self.backbone)
                .with_upsample(self.context_upsample)
                .init(device),
            ffm: FeatureFusionConfig::new(fused, fused)
                .with_gate(self.ffm_gate)
                .init(device),
            head: ConvHeadConfig::new(fused, self.head_channels, k).init(device),
            aux_heads: (0..2)
                .map(|_| ConvHeadConfig::new(CHANNELS, self.aux_channels, k).init(device))
                .collect(),
        })
    }
}

impl BiSeNet {
    /// Scores at 1/8 and the refined context at 1/8 and 1/16.
    fn scores<L: Lower>(&self, l: &mut L, x: L::V) -> (L::V, [L::V; 2]) {
        let spatial = l.apply_as("spatial_path", &self.spatial_path, x.clone());
        let context = l.scope("context_path", |l| self.context_path.lower(l, x));
        let fused = l.scope("ffm", |l| {
            self.ffm.lower(l, vec![spatial, context[0].clone()])
        });
        (l.apply_as("head", &self.head, fused), context)
    }
}

impl Block for BiSeNet {
    /// # Shapes
    /// `[N, 3, H, W] → [N, K, H, W]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let (h, w) = (l.size(&x, 2), l.size(&x, 3));
        let (scores, _) = self.scores(l, x);
        l.resize(scores, &h, &w, false)
    }
}

impl SegmentationModel for BiSeNet {
    fn losses(&self, images: Tensor<4>, labels: &Labels, config: &LossConfig) -> LossResult {
        let l = &mut Eager;
        let [_, _, h, w] = images.dims();
        let (scores, context) = self.scores(l, images);
        let aux = self
            .aux_heads
            .iter()
            .zip(context)
            .map(|(head, c)| l.apply(head, c))
            .collect();
        let main = l.resize(scores, &h, &w, false);
        Ok(deep_supervision_loss(main, aux, labels, config))
    }

    fn backbone_params(&self) -> Vec<ParamId> {
        param_ids(&self.context_path.backbone)
    }
}
