//! Prediction heads (the mmsegmentation "decode/aux heads" layer).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use crate::models::layers::{ConvBnAct, ConvBnActConfig, conv_forward, conv2d_config, emit_conv};
use crate::models::lower::Layer;
use crate::onnx::graph::{OnnxGraph, Value};

/// A 1×1 convolution with bias from features to class scores (or to one boundary logit).
pub fn pointwise_head(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    conv2d_config(c_in, c_out, 1).with_bias(true).init(device)
}

/// A segmentation head (mmsegmentation's `FCNHead` with one conv, BiSeNet's
/// `BiSeNetOutput`): CBR 3×3 `c_in → channels`, then a 1×1 conv to class scores.
#[derive(Module, Debug)]
pub struct ConvHead {
    pub conv: ConvBnAct,
    pub cls: Conv2d,
}

#[derive(Config, Debug)]
pub struct ConvHeadConfig {
    pub c_in: usize,
    pub channels: usize,
    pub num_classes: usize,
    /// Whether the classifier has a bias (BiSeNet's has, AttaNet's has not).
    #[config(default = true)]
    pub bias: bool,
}

impl ConvHeadConfig {
    pub fn init(&self, device: &Device) -> ConvHead {
        ConvHead {
            conv: ConvBnActConfig::new(self.c_in, self.channels, 3).init(device),
            cls: conv2d_config(self.channels, self.num_classes, 1)
                .with_bias(self.bias)
                .init(device),
        }
    }
}

impl Layer for ConvHead {
    /// # Shapes
    /// `[N, c_in, h, w] → [N, num_classes, h, w]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_forward(&self.cls, self.conv.forward(x))
    }

    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let x = self.conv.emit_onnx(g, x);
        emit_conv(g, &self.cls, None, &x)
    }
}

/// ASFM per-scale attention (MFARANet §2.2): 3×3 CBR → Dropout(0.5) → 1×1 conv to one weight
/// per class → sigmoid. Scales are summed as `Σ Si ⊙ Ai`, not normalised against each other.
#[derive(Module, Debug)]
pub struct AsfmAttention {
    pub conv: ConvBnAct,
    pub dropout: Dropout,
    pub proj: Conv2d,
}

#[derive(Config, Debug)]
pub struct AsfmAttentionConfig {
    pub c_in: usize,
    pub num_classes: usize,
    #[config(default = 64)]
    pub hidden: usize,
    #[config(default = 0.5)]
    pub dropout: f64,
}

impl AsfmAttentionConfig {
    pub fn init(&self, device: &Device) -> AsfmAttention {
        AsfmAttention {
            conv: ConvBnActConfig::new(self.c_in, self.hidden, 3).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            proj: conv2d_config(self.hidden, self.num_classes, 1).init(device),
        }
    }
}

impl Layer for AsfmAttention {
    /// # Shapes
    /// `[N, c_in, h, w] → [N, num_classes, h, w]`, values in (0, 1).
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.dropout.forward(self.conv.forward(x));
        sigmoid(conv_forward(&self.proj, x))
    }

    /// In eval mode, where dropout is the identity.
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let x = self.conv.emit_onnx(g, x);
        let x = emit_conv(g, &self.proj, None, &x);
        g.unary("Sigmoid", &x)
    }
}
