//! FSFFNet (Singha et al., ICONIP 2021; architecture brief §4): an MBConv encoder, the feature
//! scaling module on its 1/32 output, the multi-stage feature fusion at 1/8, two upsampling
//! steps that add the 1/4 and 1/2 encoder features, and a separable-conv classifier.
//!
//! Built from the released Keras code with the brief's two [CHOICE]s (§4.3): P6/P7 pooled
//! from the 64-wide P5 input (the code's version cannot be built), and every upsampling
//! resized to the exact size of the feature it joins (nearest, as Keras' `UpSampling2D`), so
//! inputs need not be multiples of 128. Max-pools pad symmetrically (PyTorch style) rather
//! than TensorFlow's parity-dependent 'same' padding. No training code was released: the
//! loss is the configured cross-entropy on the logits, with the code's dropout (0.35) on them.

use burn::module::{Module, ParamId};
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{NetworkConfig, SegmentationModel, Segmentor, param_ids};
use crate::models::backbones::fsffnet::{
    FSFF_WIDTHS, FsffEncoder, FsffEncoderConfig, KERAS_EPSILON,
};
use crate::models::backbones::xception::{SeparableConvBnAct, SeparableConvBnActConfig};
use crate::models::decoders::fsffnet::{
    FeatureScaling, FeatureScalingConfig, MultiStageFusion, MultiStageFusionConfig,
};
use crate::models::heads::pointwise_head;
use crate::models::layers::{Activation, ConvBnAct, ConvBnActConfig, conv_forward};
use crate::models::lower::{Block, Layer, Lower};
use crate::onnx::graph::{OnnxGraph, Value};

/// Width of the fusion and of the 1/4 decoder step.
const FUSED: usize = 64;
/// Width of the 1/2 decoder step and of the classifier's first conv.
const HALF: usize = 48;
/// Width of the classifier's second conv.
const CLASSIFIER: usize = 32;

/// The classifier: two separable 3×3 convs with dilation 2 (BN, swish), a 1×1 conv with bias
/// to class scores, and dropout on the scores while training.
#[derive(Module, Debug)]
pub struct FsffClassifier {
    pub convs: Vec<SeparableConvBnAct>,
    pub cls: Conv2d,
    pub dropout: Dropout,
}

impl Layer for FsffClassifier {
    /// # Shapes
    /// `[N, 48, h, w] → [N, K, h, w]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.convs.iter().fold(x, |x, conv| conv.forward(x));
        self.dropout.forward(conv_forward(&self.cls, x))
    }

    /// In eval mode, where dropout is the identity.
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let x = self
            .convs
            .iter()
            .fold(x.clone(), |x, conv| conv.emit_onnx(g, &x));
        self.cls.emit_onnx(g, &x)
    }
}

#[derive(Module, Debug)]
pub struct FsffNet {
    pub encoder: FsffEncoder,
    pub fsm: FeatureScaling,
    pub fusion: MultiStageFusion,
    /// The 1/4 step: depthwise 3×3 (dilation 2, bias) + BN + swish, then the C2 skip
    /// (1×1 + BN) is added and swish applied.
    pub up4: ConvBnAct,
    pub skip4: ConvBnAct,
    /// The 1/2 step: depthwise 3×3 + BN + swish, a 1×1 to 48 (bias, no BN), the C1 skip.
    pub up2: ConvBnAct,
    pub up2_proj: Conv2d,
    pub skip2: ConvBnAct,
    pub classifier: FsffClassifier,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsffNetConfig {
    pub num_classes: usize,
}

impl NetworkConfig for FsffNetConfig {
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn set_num_classes(&mut self, n: usize) {
        self.num_classes = n;
    }

    fn init(&self, device: &Device) -> Segmentor {
        let [c1, c2, c3, c4, c5] = FSFF_WIDTHS;
        let keras = |c_in, c_out, kernel| {
            ConvBnActConfig::new(c_in, c_out, kernel)
                .with_bias(true)
                .with_epsilon(KERAS_EPSILON)
        };
        let depthwise = |c| {
            keras(c, c, 3)
                .with_groups(c)
                .with_dilation(2)
                .with_act(Activation::Swish)
                .init(device)
        };
        let skip = |c_in, c_out| {
            keras(c_in, c_out, 1)
                .with_act(Activation::None)
                .init(device)
        };
        let separable = |c_in, c_out| {
            SeparableConvBnActConfig::new(c_in, c_out)
                .with_dilation(2)
                .with_act(Activation::Swish)
                .with_bias(true)
                .with_epsilon(KERAS_EPSILON)
                .init(device)
        };
        Segmentor::FsffNet(FsffNet {
            encoder: FsffEncoderConfig::new().init(device),
            fsm: FeatureScalingConfig::new(c5).init(device),
            fusion: MultiStageFusionConfig::new([c3, c4, c5])
                .with_channels(FUSED)
                .init(device),
            up4: depthwise(FUSED),
            skip4: skip(c2, FUSED),
            up2: depthwise(FUSED),
            up2_proj: pointwise_head(FUSED, HALF, device),
            skip2: skip(c1, HALF),
            classifier: FsffClassifier {
                convs: vec![separable(HALF, HALF), separable(HALF, CLASSIFIER)],
                cls: pointwise_head(CLASSIFIER, self.num_classes, device),
                dropout: DropoutConfig::new(0.35).init(),
            },
        })
    }
}

impl Block for FsffNet {
    /// # Shapes
    /// `[N, 3, H, W] → [N, K, H, W]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let (h, w) = (l.size(&x, 2), l.size(&x, 3));
        let [c1, c2, c3, c4, c5] = l.scope("encoder", |l| self.encoder.lower(l, x));
        let fsm = l.apply_as("fsm", &self.fsm, c5);
        let y = l.scope("fusion", |l| self.fusion.lower(l, c3, c4, fsm));

        let y = l.resize_nearest_like(y, &c2);
        let y = l.apply_as("up4", &self.up4, y);
        let skip = l.apply_as("skip4", &self.skip4, c2);
        let y = l.add(y, skip);
        let y = l.act(Activation::Swish, y);

        let y = l.resize_nearest_like(y, &c1);
        let y = l.apply_as("up2", &self.up2, y);
        let y = l.apply_as("up2_proj", &self.up2_proj, y);
        let skip = l.apply_as("skip2", &self.skip2, c1);
        let y = l.add(y, skip);
        let y = l.act(Activation::Swish, y);

        let scores = l.apply_as("classifier", &self.classifier, y);
        l.resize_nearest(scores, &h, &w)
    }
}

impl SegmentationModel for FsffNet {
    fn backbone_params(&self) -> Vec<ParamId> {
        param_ids(&self.encoder)
    }
}
