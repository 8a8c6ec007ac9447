//! Xception39, the fast-downsampling context backbone of BiSeNet v1 (Yu et al., ECCV 2018,
//! §3.2) and of the AAFF network (seed 004), as the architecture brief §5.1 describes the
//! official TorchSeg release: a 3×3 stride-2 stem and a max-pool (1/4), then three stages of
//! 4 / 8 / 4 Xception blocks with mid widths 16 / 32 / 64 and outputs ×4 (64 @ 1/8,
//! 128 @ 1/16, 256 @ 1/32).

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;

use crate::models::layers::{
    Activation, ConvBnAct, ConvBnActConfig, conv_forward, conv2d_dilated_config, emit_conv,
};
use crate::models::lower::{Block, Layer, Lower};
use crate::onnx::graph::{OnnxGraph, Value};

/// A depthwise-separable convolution: a k×k depthwise conv (stride, dilation; no bias, no
/// normalisation) followed by a 1×1 pointwise conv + BatchNorm + activation (TorchSeg's
/// `SeparableConvBnRelu`; also the down-sampling step of the AAFF network's spatial branch).
#[derive(Module, Debug)]
pub struct SeparableConvBnAct {
    pub depthwise: Conv2d,
    pub pointwise: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct SeparableConvBnActConfig {
    pub c_in: usize,
    pub c_out: usize,
    #[config(default = 3)]
    pub kernel: usize,
    #[config(default = 1)]
    pub stride: usize,
    #[config(default = 1)]
    pub dilation: usize,
    #[config(default = "Activation::Relu")]
    pub act: Activation,
    /// A bias on the pointwise conv (Keras `SeparableConv2D` puts its only bias there).
    #[config(default = false)]
    pub bias: bool,
    #[config(default = 1e-5)]
    pub epsilon: f64,
}

impl SeparableConvBnActConfig {
    pub fn init(&self, device: &Device) -> SeparableConvBnAct {
        SeparableConvBnAct {
            depthwise: conv2d_dilated_config(self.c_in, self.c_in, self.kernel, self.dilation)
                .with_stride([self.stride, self.stride])
                .with_groups(self.c_in)
                .init(device),
            pointwise: ConvBnActConfig::new(self.c_in, self.c_out, 1)
                .with_act(self.act)
                .with_bias(self.bias)
                .with_epsilon(self.epsilon)
                .init(device),
        }
    }
}

impl Layer for SeparableConvBnAct {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, c_out, ⌈H/stride⌉, ⌈W/stride⌉]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pointwise.forward(conv_forward(&self.depthwise, x))
    }

    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let x = emit_conv(g, &self.depthwise, None, x);
        self.pointwise.emit_onnx(g, &x)
    }
}

/// An Xception block: three separable convs (the first strided, the last without ReLU) plus
/// a shortcut — a strided separable conv + BN on the first block of a stage, the identity
/// otherwise — and a ReLU after the sum.
#[derive(Module, Debug)]
pub struct XceptionBlock {
    pub residual: Vec<SeparableConvBnAct>,
    pub shortcut: Option<SeparableConvBnAct>,
}

#[derive(Config, Debug)]
pub struct XceptionBlockConfig {
    pub c_in: usize,
    /// Width of the first two separable convs; the block outputs `4 · mid`.
    pub mid: usize,
    pub stride: usize,
}

/// Output width of an Xception block relative to its mid width.
const EXPANSION: usize = 4;

impl XceptionBlockConfig {
    pub fn init(&self, device: &Device) -> XceptionBlock {
        let c_out = self.mid * EXPANSION;
        let sep = |c_in, c_out, stride, act| {
            SeparableConvBnActConfig::new(c_in, c_out)
                .with_stride(stride)
                .with_act(act)
                .init(device)
        };
        XceptionBlock {
            residual: vec![
                sep(self.c_in, self.mid, self.stride, Activation::Relu),
                sep(self.mid, self.mid, 1, Activation::Relu),
                sep(self.mid, c_out, 1, Activation::None),
            ],
            shortcut: (self.stride > 1 || self.c_in != c_out)
                .then(|| sep(self.c_in, c_out, self.stride, Activation::None)),
        }
    }
}

impl Block for XceptionBlock {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, 4·mid, ⌈H/stride⌉, ⌈W/stride⌉]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let shortcut = match &self.shortcut {
            Some(proj) => l.apply(proj, x.clone()),
            None => x.clone(),
        };
        let y = self.residual.iter().fold(x, |y, sep| l.apply(sep, y));
        let y = l.add(y, shortcut);
        l.relu(y)
    }
}

/// Xception39.
#[derive(Module, Debug)]
pub struct Xception39 {
    pub stem: ConvBnAct,
    pub maxpool: MaxPool2d,
    pub stages: Vec<Vec<XceptionBlock>>,
}

/// Output widths of the three stages (1/8, 1/16, 1/32).
pub const XCEPTION39_WIDTHS: [usize; 3] = [64, 128, 256];

#[derive(Config, Debug)]
pub struct Xception39Config {
    #[config(default = 8)]
    pub stem_channels: usize,
    #[config(default = "[4, 8, 4]")]
    pub depths: [usize; 3],
    #[config(default = "[16, 32, 64]")]
    pub mid_widths: [usize; 3],
}

impl Xception39Config {
    pub fn init(&self, device: &Device) -> Xception39 {
        let mut c_in = self.stem_channels;
        let stages = self
            .depths
            .iter()
            .zip(self.mid_widths)
            .map(|(&depth, mid)| {
                (0..depth)
                    .map(|i| {
                        let stride = if i == 0 { 2 } else { 1 };
                        let block = XceptionBlockConfig::new(c_in, mid, stride).init(device);
                        c_in = mid * EXPANSION;
                        block
                    })
                    .collect()
            })
            .collect();
        Xception39 {
            stem: ConvBnActConfig::new(3, self.stem_channels, 3)
                .with_stride(2)
                .init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            stages,
        }
    }
}

impl Xception39 {
    /// The outputs of the three stages.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → `[N, 64, H/8, W/8]`, `[N, 128, H/16, W/16]`, `[N, 256, H/32, W/32]`
    /// (each division rounded up, widths for the default configuration).
    pub fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> [L::V; 3] {
        let x = l.apply(&self.stem, x);
        let mut x = l.apply(&self.maxpool, x);
        let mut outs = Vec::with_capacity(3);
        for stage in &self.stages {
            x = stage.iter().fold(x, |x, block| l.apply(block, x));
            outs.push(x.clone());
        }
        outs.try_into()
            .unwrap_or_else(|_| unreachable!("three stages by construction"))
    }
}
