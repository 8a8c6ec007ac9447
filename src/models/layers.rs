//! Building blocks shared by every network: the conv–BN–activation unit ("CBR" in the
//! architecture brief), explicit-size resizing, and the convolution hook that the MAC
//! profiler reads.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{hard_sigmoid, hard_swish, relu, sigmoid};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use super::profile;

/// Activation applied after a normalisation layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    None,
    Relu,
    HardSwish,
    HardSigmoid,
    Sigmoid,
}

impl Activation {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::None => x,
            Activation::Relu => relu(x),
            Activation::HardSwish => hard_swish(x),
            // PyTorch's hardsigmoid: relu6(x + 3) / 6.
            Activation::HardSigmoid => hard_sigmoid(x, 1.0 / 6.0, 0.5),
            Activation::Sigmoid => sigmoid(x),
        }
    }
}

/// Runs a convolution and reports its multiply-accumulates to the profiler when one is
/// active. Every convolution in the model zoo goes through here, so `rtseg models` counts
/// MACs from the module tree instead of from a hand-written table.
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let y = conv.forward(x);
    if profile::is_active() {
        let [_, c_in_per_group, kh, kw] = conv.weight.dims();
        let [n, c_out, h, w] = y.dims();
        profile::add_macs((n * c_out * h * w * c_in_per_group * kh * kw) as u64);
    }
    y
}

/// A `k×k` convolution with "same"-style symmetric padding `(k−1)/2·dilation`, which gives
/// `ceil(H/stride)` output rows for odd kernels (the convention of every seed network).
pub fn conv2d_config(c_in: usize, c_out: usize, kernel: usize) -> Conv2dConfig {
    conv2d_dilated_config(c_in, c_out, kernel, 1)
}

pub fn conv2d_dilated_config(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    dilation: usize,
) -> Conv2dConfig {
    let pad = (kernel - 1) / 2 * dilation;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_dilation([dilation, dilation])
        .with_bias(false)
}

/// Conv → BatchNorm → activation: the "CBR(k, cin→cout, s)" unit of the brief.
#[derive(Module, Debug)]
pub struct ConvBnAct {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    #[module(skip)]
    pub act: Activation,
}

/// Configuration of [`ConvBnAct`]: no conv bias, PyTorch BatchNorm epsilon 1e-5.
#[derive(Config, Debug)]
pub struct ConvBnActConfig {
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    #[config(default = 1)]
    pub stride: usize,
    #[config(default = 1)]
    pub dilation: usize,
    #[config(default = 1)]
    pub groups: usize,
    #[config(default = "Activation::Relu")]
    pub act: Activation,
}

impl ConvBnActConfig {
    pub fn init(&self, device: &Device) -> ConvBnAct {
        let conv = conv2d_dilated_config(self.c_in, self.c_out, self.kernel, self.dilation)
            .with_stride([self.stride, self.stride])
            .with_groups(self.groups)
            .init(device);
        ConvBnAct {
            conv,
            bn: BatchNormConfig::new(self.c_out).init(device),
            act: self.act,
        }
    }
}

impl ConvBnAct {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.act.apply(self.bn.forward(conv_forward(&self.conv, x)))
    }
}

/// Bilinear resize to an explicit `[h, w]`. Every upsample in rtseg names its target size,
/// because inputs such as 720×960 are not divisible by 32 and fixed ×2 factors would drift.
pub fn resize(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_output_size(size)
            .with_align_corners(align_corners),
    )
}

/// Spatial size `[h, w]` of an N×C×H×W tensor.
pub fn spatial(x: &Tensor<4>) -> [usize; 2] {
    let [_, _, h, w] = x.dims();
    [h, w]
}

/// Global average pooling to N×C×1×1.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<4> {
    x.mean_dim(3).mean_dim(2)
}
