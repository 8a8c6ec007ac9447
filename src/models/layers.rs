//! Building blocks shared by every network: the conv–BN–activation unit ("CBR" in the
//! architecture brief), explicit-size resizing, and the convolution hook that the MAC
//! profiler reads — each with its ONNX emission beside its forward.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{hard_sigmoid, hard_swish, relu, sigmoid, silu};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use super::lower::Layer;
use super::profile;
use crate::onnx::graph::{ConvSpec, OnnxGraph, Value};

/// A float tensor's values in row-major order (weights read for ONNX emission).
pub fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.clone()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensors convert to f32")
}

/// Activation applied after a normalisation layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    None,
    Relu,
    HardSwish,
    HardSigmoid,
    Sigmoid,
    /// `x·σ(x)` (swish / SiLU; FSFFNet's Keras blocks).
    Swish,
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
            Activation::Swish => silu(x),
        }
    }

    /// The ONNX operator of [`Activation::apply`].
    pub fn emit_onnx(self, g: &mut OnnxGraph, x: &Value) -> Value {
        match self {
            Activation::None => x.clone(),
            Activation::Relu => g.unary("Relu", x),
            Activation::HardSwish => g.unary("HardSwish", x),
            Activation::HardSigmoid => g.hard_sigmoid(x, 1.0 / 6.0, 0.5),
            Activation::Sigmoid => g.unary("Sigmoid", x),
            // Opset 17 has no Swish operator.
            Activation::Swish => {
                let gate = g.unary("Sigmoid", x);
                g.binary("Mul", x, &gate)
            }
        }
    }
}

/// Runs a convolution and reports its multiply-accumulates to the profiler when one is
/// active. Every convolution in the model zoo goes through here, so `rtseg models` counts
/// MACs from the module tree instead of from a hand-written table.
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let y = conv.forward(x);
    count_conv_macs(conv, &y);
    y
}

fn count_conv_macs(conv: &Conv2d, y: &Tensor<4>) {
    if profile::is_active() {
        let [_, c_in_per_group, kh, kw] = conv.weight.dims();
        let [n, c_out, h, w] = y.dims();
        profile::add_macs((n * c_out * h * w * c_in_per_group * kh * kw) as u64);
    }
}

/// Whether `bn` normalises with batch statistics (training on an autodiff device) rather than
/// its running ones — burn's own rule in `BatchNorm::forward`.
pub fn batchnorm_trains(bn: &BatchNorm, x: &Tensor<4>) -> bool {
    x.device().is_autodiff() && bn.training.is_enabled()
}

/// `conv` followed by eval-mode `bn`, computed as one convolution whose weights have the
/// BatchNorm folded in (`w' = w · s`, `b' = b · s + t` with `s = γ/√(σ²+ε)`, `t = β − μ·s`),
/// restricted to BatchNorm channels `channels`. Folding costs one pass over the weights per
/// call instead of a pass over the activation, which is much larger.
pub fn conv_bn_forward(
    conv: &Conv2d,
    bn: &BatchNorm,
    channels: std::ops::Range<usize>,
    x: Tensor<4>,
) -> Tensor<4> {
    let range = channels.start..channels.end;
    let gamma = bn.gamma.val().slice(range.clone());
    let var = bn.running_var.value().slice(range.clone());
    let scale = gamma / (var + bn.epsilon).sqrt();
    let mean = bn.running_mean.value().slice(range.clone());
    let shift = bn.beta.val().slice(range) - mean * scale.clone();
    let c = scale.dims()[0];
    let weight = conv.weight.val() * scale.clone().reshape([c, 1, 1, 1]);
    let bias = match &conv.bias {
        Some(b) => b.val() * scale + shift,
        None => shift,
    };
    let [t, l, b, r] = conv_spec_pads(conv);
    let options =
        ConvOptions::new_with_padding(conv.stride, [(t, b), (l, r)], conv.dilation, conv.groups);
    let y = burn::tensor::module::conv2d(x, weight, Some(bias), options);
    count_conv_macs(conv, &y);
    y
}

/// `[top, left, bottom, right]` padding of a convolution.
fn conv_spec_pads(conv: &Conv2d) -> [usize; 4] {
    let [kh, kw] = conv.kernel_size;
    match conv.padding {
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r],
        PaddingConfig2d::Valid => [0; 4],
        // Not used by the zoo; odd kernels pad symmetrically.
        PaddingConfig2d::Same => {
            let (ph, pw) = (
                (kh - 1) * conv.dilation[0] / 2,
                (kw - 1) * conv.dilation[1] / 2,
            );
            [ph, pw, ph, pw]
        }
    }
}

/// A burn convolution as an ONNX `Conv` specification (weights, bias, stride, padding).
pub fn conv_spec(conv: &Conv2d) -> ConvSpec {
    ConvSpec {
        weight: values(&conv.weight.val()),
        dims: conv.weight.dims(),
        bias: conv.bias.as_ref().map(|b| values(&b.val())),
        stride: conv.stride,
        pads: conv_spec_pads(conv),
        dilation: conv.dilation,
        groups: conv.groups,
    }
}

/// Eval-mode BatchNorm as a per-channel affine map `y = x · scale + shift`, with
/// `scale = γ / √(σ² + ε)` and `shift = β − μ · scale`.
pub fn batchnorm_affine(bn: &BatchNorm) -> (Vec<f32>, Vec<f32>) {
    let gamma = values(&bn.gamma.val());
    let beta = values(&bn.beta.val());
    let mean = values(&bn.running_mean.value());
    let var = values(&bn.running_var.value());
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| (*g as f64 / (*v as f64 + bn.epsilon).sqrt()) as f32)
        .collect();
    let shift = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    (scale, shift)
}

/// Folds a per-output-channel affine map (a BatchNorm after the convolution) into its
/// weights and bias: `w' = w · scale`, `b' = b · scale + shift` (BatchNorm folding).
pub fn fold_affine(mut spec: ConvSpec, scale: &[f32], shift: &[f32]) -> ConvSpec {
    let per_out = spec.weight.len() / spec.dims[0];
    for (chunk, s) in spec.weight.chunks_exact_mut(per_out).zip(scale) {
        chunk.iter_mut().for_each(|w| *w *= s);
    }
    let bias = spec.bias.take().unwrap_or_else(|| vec![0.0; spec.dims[0]]);
    spec.bias = Some(
        bias.iter()
            .zip(scale.iter().zip(shift))
            .map(|(b, (s, t))| b * s + t)
            .collect(),
    );
    spec
}

/// Emits `conv` followed by `bn` (folded into the convolution).
pub fn emit_conv(g: &mut OnnxGraph, conv: &Conv2d, bn: Option<&BatchNorm>, x: &Value) -> Value {
    let spec = conv_spec(conv);
    let spec = match bn {
        Some(bn) => {
            let (scale, shift) = batchnorm_affine(bn);
            fold_affine(spec, &scale, &shift)
        }
        None => spec,
    };
    g.conv(x, spec)
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

/// Configuration of [`ConvBnAct`]: by default no conv bias and PyTorch's BatchNorm epsilon
/// 1e-5 (Keras models set `bias` and epsilon 1e-3).
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
    #[config(default = false)]
    pub bias: bool,
    #[config(default = 1e-5)]
    pub epsilon: f64,
}

impl ConvBnActConfig {
    pub fn init(&self, device: &Device) -> ConvBnAct {
        let conv = conv2d_dilated_config(self.c_in, self.c_out, self.kernel, self.dilation)
            .with_stride([self.stride, self.stride])
            .with_groups(self.groups)
            .with_bias(self.bias)
            .init(device);
        ConvBnAct {
            conv,
            bn: BatchNormConfig::new(self.c_out)
                .with_epsilon(self.epsilon)
                .init(device),
            act: self.act,
        }
    }
}

impl Layer for ConvBnAct {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, c_out, ⌈H/stride⌉, ⌈W/stride⌉]` (odd kernels).
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if batchnorm_trains(&self.bn, &x) {
            let x = conv_forward(&self.conv, x);
            self.bn.forward(x)
        } else {
            let channels = 0..self.conv.weight.dims()[0];
            conv_bn_forward(&self.conv, &self.bn, channels, x)
        };
        self.act.apply(x)
    }

    /// One `Conv` with the BatchNorm folded in, then the activation.
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let y = emit_conv(g, &self.conv, Some(&self.bn), x);
        self.act.emit_onnx(g, &y)
    }
}

/// A bare convolution (with its bias, no normalisation) as a layer.
impl Layer for Conv2d {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_forward(self, x)
    }

    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        emit_conv(g, self, None, x)
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

/// Nearest-neighbour resize to an explicit `[h, w]`: output pixel `o` reads input pixel
/// `⌊o · in / out⌋` (PyTorch's `mode="nearest"`, which AttaNet and BiSeNet use inside their
/// context paths).
pub fn resize_nearest(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    if spatial(&x) == size {
        return x;
    }
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_output_size(size),
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
