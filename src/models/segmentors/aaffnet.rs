//! The AAFF network of seed 004, **as the architecture brief reconstructs it** (§5.3; every
//! width there is a [CHOICE], the seed publishes no code and no sizes): Xception39 context
//! backbone, two asymmetric attention feature fusion blocks on its deeper stages, their
//! outputs resized to 1/8 and concatenated, seed 004's depthwise-separable spatial branch,
//! BiSeNet's FFM over the three branches, a head, and bilinear upsampling to the input size.
//!
//! `aaffnet2` is seed 004's "AAFF2", which the seed names but does not describe. [CHOICE] It
//! is the brief's alternative (a): the two blocks chained, the second taking the first's
//! output instead of Xception39's 1/16 stage — a sequential dependency, consistent with the
//! seed's report that AAFF2 is slower.

use burn::module::{Module, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{NetworkConfig, SegmentationModel, Segmentor, param_ids};
use crate::models::backbones::xception::{XCEPTION39_WIDTHS, Xception39, Xception39Config};
use crate::models::decoders::bisenet::{
    AaffBlock, AaffBlockConfig, FeatureFusion, FeatureFusionConfig, GateKind, SpatialPath,
    SpatialPathConfig, SpatialPathKind,
};
use crate::models::heads::{ConvHead, ConvHeadConfig};
use crate::models::lower::{Block, Lower};

#[derive(Module, Debug)]
pub struct AaffNet {
    pub backbone: Xception39,
    pub spatial_path: SpatialPath,
    /// On Xception39's 1/8 and 1/16 stages, output at 1/16.
    pub aaff_left: AaffBlock,
    /// On the 1/16 feature (the stage, or AAFF-L when chained) and the 1/32 stage.
    pub aaff_right: AaffBlock,
    pub ffm: FeatureFusion,
    pub head: ConvHead,
    #[module(skip)]
    pub chained: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AaffNetConfig {
    pub num_classes: usize,
    /// AAFF-R reads AAFF-L's output rather than the backbone's 1/16 stage (`aaffnet2`).
    #[serde(default)]
    pub chained: bool,
}

/// Width of each AAFF block and of the spatial branch.
const CHANNELS: usize = 128;
/// Width of the FFM and of the head's input.
const FUSED: usize = 256;
/// Hidden width of the head.
const HEAD: usize = 64;
/// The FFM gate's MLP narrows 256 → 64.
const FFM_REDUCTION: usize = 4;

impl NetworkConfig for AaffNetConfig {
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn set_num_classes(&mut self, n: usize) {
        self.num_classes = n;
    }

    fn init(&self, device: &Device) -> Segmentor {
        let [c8, c16, c32] = XCEPTION39_WIDTHS;
        Segmentor::AaffNet(AaffNet {
            backbone: Xception39Config::new().init(device),
            spatial_path: SpatialPathConfig::new(SpatialPathKind::Depthwise).init(device),
            aaff_left: AaffBlockConfig::new(c8, c16, CHANNELS).init(device),
            // Chained, input 1 is AAFF-L's output, which has the 1/16 stage's width too.
            aaff_right: AaffBlockConfig::new(c16, c32, CHANNELS).init(device),
            ffm: FeatureFusionConfig::new(3 * CHANNELS, FUSED)
                .with_gate(GateKind::Mlp)
                .with_reduction(FFM_REDUCTION)
                .init(device),
            head: ConvHeadConfig::new(FUSED, HEAD, self.num_classes).init(device),
            chained: self.chained,
        })
    }
}

impl AaffNet {
    /// Scores at 1/8.
    fn scores<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let spatial = l.apply_as("spatial_path", &self.spatial_path, x.clone());
        let [c8, c16, c32] = l.scope("backbone", |l| self.backbone.lower(l, x));
        let left = l.scope("aaff_left", |l| {
            self.aaff_left.lower(l, c8.clone(), c16.clone())
        });
        let right_input = if self.chained { left.clone() } else { c16 };
        let right = l.scope("aaff_right", |l| self.aaff_right.lower(l, right_input, c32));
        let left = l.resize_like(left, &c8, false);
        let right = l.resize_like(right, &c8, false);
        let fused = l.scope("ffm", |l| self.ffm.lower(l, vec![spatial, left, right]));
        l.apply_as("head", &self.head, fused)
    }
}

impl Block for AaffNet {
    /// # Shapes
    /// `[N, 3, H, W] → [N, K, H, W]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let (h, w) = (l.size(&x, 2), l.size(&x, 3));
        let scores = self.scores(l, x);
        l.resize(scores, &h, &w, false)
    }
}

impl SegmentationModel for AaffNet {
    // The default loss: cross-entropy on the output (no auxiliary heads).
    fn backbone_params(&self) -> Vec<ParamId> {
        param_ids(&self.backbone)
    }
}
