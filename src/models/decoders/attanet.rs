//! AttaNet's two modules (Song et al., AAAI 2021; architecture brief §3.2): the strip
//! attention module (SAM) and the attention fusion module (AFM).

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use crate::models::decoders::bisenet::{ChannelGate, GateMlp};
use crate::models::layers::{Activation, ConvBnAct, ConvBnActConfig, conv2d_config};
use crate::models::lower::{Block, Layer, Lower};
use crate::models::profile;
use crate::onnx::graph::{OnnxGraph, Value};

/// Strip attention (brief §3.2, as the released code computes it): queries and values are
/// averaged over the height axis into W column strips; every pixel attends over the strips
/// (softmax over the strip axis, no 1/√d scaling) and the result is added to the input.
#[derive(Module, Debug)]
pub struct StripAttention {
    pub query: ConvBnAct,
    pub key: ConvBnAct,
    pub value: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct StripAttentionConfig {
    pub channels: usize,
    /// Width of queries and keys.
    pub key_channels: usize,
}

impl StripAttentionConfig {
    pub fn init(&self, device: &Device) -> StripAttention {
        let cbr = |c_out| ConvBnActConfig::new(self.channels, c_out, 1).init(device);
        StripAttention {
            query: cbr(self.key_channels),
            key: cbr(self.key_channels),
            value: cbr(self.channels),
        }
    }
}

impl Layer for StripAttention {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`; the affinity is `[N, H, W_strips, W]`. MACs:
    /// `N·H·W²·(C_k + C)`, the two matrix products.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let q = self
            .query
            .forward(x.clone())
            .mean_dim(2)
            .permute([0, 2, 3, 1]);
        let k = self.key.forward(x.clone()).permute([0, 2, 1, 3]);
        let d = k.dims()[2];
        let v = self
            .value
            .forward(x.clone())
            .mean_dim(2)
            .permute([0, 2, 1, 3]);
        if profile::is_active() {
            profile::add_macs((n * h * w * w * (d + c)) as u64);
        }
        let affinity = softmax(q.expand([n, h, w, d]).matmul(k), 2);
        let y = v
            .expand([n, h, c, w])
            .matmul(affinity)
            .permute([0, 2, 1, 3]);
        x + y
    }

    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let q = self.query.emit_onnx(g, x);
        let q = g.mean_over_height(&q);
        let q = g.transpose(&q, &[0, 2, 3, 1]);
        let k = self.key.emit_onnx(g, x);
        let k = g.transpose(&k, &[0, 2, 1, 3]);
        let v = self.value.emit_onnx(g, x);
        let v = g.mean_over_height(&v);
        let v = g.transpose(&v, &[0, 2, 1, 3]);
        let affinity = g.matmul(&q, &k);
        let affinity = g.softmax(&affinity, 2);
        let y = g.matmul(&v, &affinity);
        let y = g.transpose(&y, &[0, 2, 1, 3]);
        g.binary("Add", x, &y)
    }
}

/// Where the AFM's fusion weights vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfmAttention {
    /// One weight per channel from the global average (the released code; the brief's
    /// choice): `σ(BN(W·GAP(f)))`.
    Channel,
    /// One weight per pixel and channel, as the paper and poster describe it, with the
    /// poster's 1×1–ReLU–1×1 MLP: `σ(W₂·ReLU(W₁·f))`. [CHOICE] widths C→C→C, no bias.
    Pixel,
}

/// Attention fusion (brief §3.1): `f = CBR(concat(shallow, up(deep)))`, weights `α` from `f`;
/// the caller mixes `shallow·(1 − α) + up(deep')·α`.
#[derive(Module, Debug)]
pub struct AttentionFusion {
    pub conv: ConvBnAct,
    pub gate: ChannelGate,
    #[module(skip)]
    pub attention: AfmAttention,
}

#[derive(Config, Debug)]
pub struct AttentionFusionConfig {
    pub c_in: usize,
    pub channels: usize,
    /// 1 in AttaNet-R18, 3 in AttaNet-light.
    pub kernel: usize,
    #[config(default = "AfmAttention::Channel")]
    pub attention: AfmAttention,
}

impl AttentionFusionConfig {
    pub fn init(&self, device: &Device) -> AttentionFusion {
        let c = self.channels;
        let gate = match self.attention {
            AfmAttention::Channel => ChannelGate::ConvBn(
                ConvBnActConfig::new(c, c, 1)
                    .with_act(Activation::Sigmoid)
                    .init(device),
            ),
            AfmAttention::Pixel => ChannelGate::Mlp(GateMlp {
                reduce: conv2d_config(c, c, 1).init(device),
                expand: conv2d_config(c, c, 1).init(device),
            }),
        };
        AttentionFusion {
            conv: ConvBnActConfig::new(self.c_in, c, self.kernel).init(device),
            gate,
            attention: self.attention,
        }
    }
}

impl Block for AttentionFusion {
    /// The fusion weights of the concatenated features.
    ///
    /// # Shapes
    /// `[N, c_in, h, w]` → `[N, C, 1, 1]` (channel) or `[N, C, h, w]` (pixel), in (0, 1).
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let f = l.apply(&self.conv, x);
        let f = match self.attention {
            AfmAttention::Channel => l.global_avg_pool(f),
            AfmAttention::Pixel => f,
        };
        l.apply(&self.gate, f)
    }
}
