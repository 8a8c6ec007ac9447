//! FSFFNet's decoder parts (architecture brief §4.2–4.3): the feature scaling module (FSM) on
//! the 1/32 feature and the multi-stage feature fusion over five levels (1/8 … 1/128), a
//! BiFPN-style top-down, bottom-up, top-down arrangement with plain sums.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;

use crate::models::backbones::fsffnet::KERAS_EPSILON;
use crate::models::backbones::xception::{SeparableConvBnAct, SeparableConvBnActConfig};
use crate::models::layers::{Activation, ConvBnAct, ConvBnActConfig};
use crate::models::lower::{Block, Lower};

/// The epsilon of the fusion's separable conv blocks (Keras BatchNorm with ε 1e-4).
const FUSION_EPSILON: f64 = 1e-4;

/// Feature scaling module: three separable 3×3 convs with dilation 6, 12 and 18 and a global
/// pooling branch (1×1 CBR, broadcast back), each to a quarter of the width, concatenated.
#[derive(Module, Debug)]
pub struct FeatureScaling {
    pub branches: Vec<SeparableConvBnAct>,
    pub pool: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct FeatureScalingConfig {
    pub channels: usize,
    #[config(default = "[6, 12, 18]")]
    pub dilations: [usize; 3],
}

impl FeatureScalingConfig {
    pub fn init(&self, device: &Device) -> FeatureScaling {
        let c = self.channels;
        let branch = c / 4;
        FeatureScaling {
            branches: self
                .dilations
                .iter()
                .map(|&d| {
                    SeparableConvBnActConfig::new(c, branch)
                        .with_dilation(d)
                        .with_bias(true)
                        .with_epsilon(KERAS_EPSILON)
                        .init(device)
                })
                .collect(),
            pool: ConvBnActConfig::new(c, c - 3 * branch, 1)
                .with_epsilon(KERAS_EPSILON)
                .init(device),
        }
    }
}

impl Block for FeatureScaling {
    /// # Shapes
    /// `[N, C, h, w] → [N, C, h, w]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let mut outs: Vec<L::V> = self
            .branches
            .iter()
            .map(|branch| l.apply(branch, x.clone()))
            .collect();
        let pooled = l.global_avg_pool(x.clone());
        let pooled = l.apply(&self.pool, pooled);
        outs.push(l.resize_nearest_like(pooled, &x));
        l.cat(outs)
    }
}

/// Multi-stage feature fusion. Every node is `SCB(swish(Σ inputs))`, SCB a separable 3×3
/// conv with dilation 2, a pointwise bias and BatchNorm, no activation. Resampling: max-pool
/// 3×3 s2 down, nearest up to the exact size of the level it joins ([CHOICE] brief §4.3.2,
/// so any input ≥ 64 works). [CHOICE] §4.3.1: P6 and P7 are pooled from the 64-wide P5 input
/// (the released code pools the 160-wide FSM output and then adds it to 64-wide tensors).
#[derive(Module, Debug)]
pub struct MultiStageFusion {
    pub p3_in: ConvBnAct,
    pub p4_in: ConvBnAct,
    pub p5_in: ConvBnAct,
    pub maxpool: MaxPool2d,
    /// P6_td, P5_td, P4_td, P3_out.
    pub top_down: Vec<SeparableConvBnAct>,
    /// P4_out, P5_out, P6_out, P7_out.
    pub bottom_up: Vec<SeparableConvBnAct>,
    /// P6_U, P5_U, P4_U, P3_U.
    pub refine: Vec<SeparableConvBnAct>,
}

#[derive(Config, Debug)]
pub struct MultiStageFusionConfig {
    /// Widths of C3, C4 and the FSM output; C3's must equal `channels`, because the raw C3
    /// joins the last sum.
    pub c_in: [usize; 3],
    #[config(default = 64)]
    pub channels: usize,
}

impl MultiStageFusionConfig {
    pub fn init(&self, device: &Device) -> MultiStageFusion {
        let c = self.channels;
        let project = |c_in| {
            ConvBnActConfig::new(c_in, c, 1)
                .with_act(Activation::None)
                .with_bias(true)
                .with_epsilon(KERAS_EPSILON)
                .init(device)
        };
        let nodes = || {
            (0..4)
                .map(|_| {
                    SeparableConvBnActConfig::new(c, c)
                        .with_dilation(2)
                        .with_act(Activation::None)
                        .with_bias(true)
                        .with_epsilon(FUSION_EPSILON)
                        .init(device)
                })
                .collect()
        };
        let [c3, c4, c5] = self.c_in;
        MultiStageFusion {
            p3_in: project(c3),
            p4_in: project(c4),
            p5_in: project(c5),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            top_down: nodes(),
            bottom_up: nodes(),
            refine: nodes(),
        }
    }
}

impl MultiStageFusion {
    /// `node(Σ inputs)`, with swish before the node unless `swish` is false.
    fn node<L: Lower>(
        &self,
        l: &mut L,
        node: &SeparableConvBnAct,
        inputs: Vec<L::V>,
        swish: bool,
    ) -> L::V {
        let mut inputs = inputs.into_iter();
        let first = inputs.next().expect("a node has inputs");
        let sum = inputs.fold(first, |sum, x| l.add(sum, x));
        let sum = if swish {
            l.act(Activation::Swish, sum)
        } else {
            sum
        };
        l.apply(node, sum)
    }

    /// # Shapes
    /// `c3 [N, C3, h, w]`, `c4 [N, C4, ⌈h/2⌉, ⌈w/2⌉]`, `fsm [N, C5, ⌈h/4⌉, ⌈w/4⌉]` →
    /// `[N, channels, h, w]` (P3_U).
    pub fn lower<L: Lower>(&self, l: &mut L, c3: L::V, c4: L::V, fsm: L::V) -> L::V {
        let (td, bu, rf) = (&self.top_down, &self.bottom_up, &self.refine);
        let p3 = l.apply(&self.p3_in, c3.clone());
        let p4 = l.apply(&self.p4_in, c4);
        let p5 = l.apply(&self.p5_in, fsm);
        let p6 = l.apply(&self.maxpool, p5.clone());
        let p7 = l.apply(&self.maxpool, p6.clone());

        let up = l.resize_nearest_like(p7.clone(), &p6);
        let p6_td = self.node(l, &td[0], vec![p6.clone(), up], true);
        let up = l.resize_nearest_like(p6_td.clone(), &p5);
        let p5_td = self.node(l, &td[1], vec![p5.clone(), up], true);
        let up = l.resize_nearest_like(p5_td.clone(), &p4);
        let p4_td = self.node(l, &td[2], vec![p4.clone(), up], true);
        let up = l.resize_nearest_like(p4_td.clone(), &p3);
        let p3_out = self.node(l, &td[3], vec![p3, up], true);

        let down = l.apply(&self.maxpool, p3_out.clone());
        let p4_out = self.node(l, &bu[0], vec![p4_td, down], true);
        let down = l.apply(&self.maxpool, p4_out.clone());
        let p5_out = self.node(l, &bu[1], vec![p5_td, down], true);
        let down = l.apply(&self.maxpool, p5_out.clone());
        let p6_out = self.node(l, &bu[2], vec![p6_td, down], true);
        let down = l.apply(&self.maxpool, p6_out.clone());
        let p7_out = self.node(l, &bu[3], vec![p7, down], true);

        let up = l.resize_nearest_like(p7_out, &p6);
        let p6_u = self.node(l, &rf[0], vec![p6, up, p6_out], true);
        let p6_u = l.resize_nearest_like(p6_u, &p5);
        let p5_u = self.node(l, &rf[1], vec![p5, p5_out, p6_u], true);
        let p5_u = l.resize_nearest_like(p5_u, &p4);
        // No swish before this node in the released code (brief §4.3.4).
        let p4_u = self.node(l, &rf[2], vec![p4, p4_out, p5_u], false);
        let p4_u = l.resize_nearest_like(p4_u, &p3_out);
        // The raw C3 joins here, not its projection.
        self.node(l, &rf[3], vec![c3, p3_out, p4_u], true)
    }
}
