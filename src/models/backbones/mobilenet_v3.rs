//! MobileNetV3-Large encoder for MsNet-M (architecture brief §1.4; Howard et al. 2019,
//! Table 1). Layer layout follows torchvision's `mobilenet_v3_large().features`, so the
//! parameter count (2,971,952) and tensor shapes match its checkpoints.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::models::layers::{Activation, ConvBnAct, ConvBnActConfig, conv2d_config};
use crate::models::lower::{Block, Lower};

/// One row of the MobileNetV3 table: (kernel, expanded width, output width, SE, activation,
/// stride).
#[derive(Clone, Copy, Debug)]
struct Bneck {
    kernel: usize,
    expand: usize,
    out: usize,
    se: bool,
    act: Activation,
    stride: usize,
}

const fn bneck(
    kernel: usize,
    expand: usize,
    out: usize,
    se: bool,
    hard_swish: bool,
    stride: usize,
) -> Bneck {
    Bneck {
        kernel,
        expand,
        out,
        se,
        act: if hard_swish {
            Activation::HardSwish
        } else {
            Activation::Relu
        },
        stride,
    }
}

/// MobileNetV3-Large bottlenecks 1..15 (Table 1 of the paper).
const LARGE: [Bneck; 15] = [
    bneck(3, 16, 16, false, false, 1),
    bneck(3, 64, 24, false, false, 2),
    bneck(3, 72, 24, false, false, 1),
    bneck(5, 72, 40, true, false, 2),
    bneck(5, 120, 40, true, false, 1),
    bneck(5, 120, 40, true, false, 1), // tap ①: 40 ch at 1/8
    bneck(3, 240, 80, false, true, 2),
    bneck(3, 200, 80, false, true, 1),
    bneck(3, 184, 80, false, true, 1),
    bneck(3, 184, 80, false, true, 1),
    bneck(3, 480, 112, true, true, 1),
    bneck(3, 672, 112, true, true, 1), // tap ②: 112 ch at 1/16
    bneck(5, 672, 160, true, true, 2),
    bneck(5, 960, 160, true, true, 1),
    bneck(5, 960, 160, true, true, 1),
];

/// Indices (0-based) of the bottlenecks whose outputs the MFMA decoder taps.
const TAP_1_8: usize = 5;
const TAP_1_16: usize = 11;

/// Channel widths of the three taps: ① 1/8, ② 1/16, ③ 1/32.
pub const MOBILENET_V3_LARGE_TAPS: [usize; 3] = [40, 112, 960];

/// Rounds a channel count to a multiple of 8 without losing more than 10 % (the
/// `_make_divisible` rule of the MobileNet papers).
fn make_divisible(v: usize) -> usize {
    let d = 8;
    let mut n = ((v + d / 2) / d * d).max(d);
    if (n as f64) < 0.9 * v as f64 {
        n += d;
    }
    n
}

/// Squeeze-and-excitation with a hard-sigmoid gate (MobileNetV3 §5.3).
#[derive(Module, Debug)]
pub struct SqueezeExcite {
    pub fc1: Conv2d,
    pub fc2: Conv2d,
}

#[derive(Config, Debug)]
pub struct SqueezeExciteConfig {
    pub channels: usize,
    pub squeeze: usize,
}

impl SqueezeExciteConfig {
    pub fn init(&self, device: &Device) -> SqueezeExcite {
        SqueezeExcite {
            fc1: conv2d_config(self.channels, self.squeeze, 1)
                .with_bias(true)
                .init(device),
            fc2: conv2d_config(self.squeeze, self.channels, 1)
                .with_bias(true)
                .init(device),
        }
    }
}

impl Block for SqueezeExcite {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`, gated by a per-channel weight `[N, C, 1, 1]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let s = l.global_avg_pool(x.clone());
        let s = l.apply(&self.fc1, s);
        let s = l.relu(s);
        let w = l.apply(&self.fc2, s);
        let w = l.act(Activation::HardSigmoid, w);
        l.mul(x, w)
    }
}

/// Inverted residual bottleneck: 1×1 expand → k×k depthwise → SE → 1×1 project
/// (MobileNetV3 §5, Figure 4).
#[derive(Module, Debug)]
pub struct InvertedResidual {
    pub expand: Option<ConvBnAct>,
    pub depthwise: ConvBnAct,
    pub se: Option<SqueezeExcite>,
    pub project: ConvBnAct,
    pub use_residual: bool,
}

#[derive(Config, Debug)]
pub struct InvertedResidualConfig {
    pub c_in: usize,
    pub kernel: usize,
    pub expand: usize,
    pub c_out: usize,
    pub se: bool,
    pub act: Activation,
    pub stride: usize,
    /// Keep the 1×1 expansion when it does not widen (Keras MBConv with t = 1).
    #[config(default = false)]
    pub expand_always: bool,
    /// The residual connection; `None` = whenever the stride is 1 and the widths match.
    #[config(default = "None")]
    pub residual: Option<bool>,
    /// Conv biases and BatchNorm epsilon (Keras: biases, 1e-3).
    #[config(default = false)]
    pub bias: bool,
    #[config(default = 1e-5)]
    pub epsilon: f64,
}

impl InvertedResidualConfig {
    pub fn init(&self, device: &Device) -> InvertedResidual {
        let cbr = |c_in, c_out, kernel| {
            ConvBnActConfig::new(c_in, c_out, kernel)
                .with_bias(self.bias)
                .with_epsilon(self.epsilon)
        };
        let expand = (self.expand_always || self.expand != self.c_in).then(|| {
            cbr(self.c_in, self.expand, 1)
                .with_act(self.act)
                .init(device)
        });
        InvertedResidual {
            expand,
            depthwise: cbr(self.expand, self.expand, self.kernel)
                .with_stride(self.stride)
                .with_groups(self.expand)
                .with_act(self.act)
                .init(device),
            se: self.se.then(|| {
                SqueezeExciteConfig::new(self.expand, make_divisible(self.expand / 4)).init(device)
            }),
            project: cbr(self.expand, self.c_out, 1)
                .with_act(Activation::None)
                .init(device),
            use_residual: self
                .residual
                .unwrap_or(self.stride == 1 && self.c_in == self.c_out),
        }
    }
}

impl Block for InvertedResidual {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, c_out, ⌈H/stride⌉, ⌈W/stride⌉]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let identity = self.use_residual.then(|| x.clone());
        let mut y = match &self.expand {
            Some(expand) => l.apply(expand, x),
            None => x,
        };
        y = l.apply(&self.depthwise, y);
        if let Some(se) = &self.se {
            y = l.apply(se, y);
        }
        y = l.apply(&self.project, y);
        match identity {
            Some(x) => l.add(x, y),
            None => y,
        }
    }
}

/// MobileNetV3-Large feature extractor returning the three MFMA taps.
#[derive(Module, Debug)]
pub struct MobileNetV3 {
    pub stem: ConvBnAct,
    pub blocks: Vec<InvertedResidual>,
    pub last: ConvBnAct,
}

#[derive(Config, Debug)]
pub struct MobileNetV3Config {}

impl MobileNetV3Config {
    pub fn init(&self, device: &Device) -> MobileNetV3 {
        let mut c_in = 16;
        let blocks = LARGE
            .iter()
            .map(|b| {
                let block = InvertedResidualConfig::new(
                    c_in, b.kernel, b.expand, b.out, b.se, b.act, b.stride,
                )
                .init(device);
                c_in = b.out;
                block
            })
            .collect();
        MobileNetV3 {
            stem: ConvBnActConfig::new(3, 16, 3)
                .with_stride(2)
                .with_act(Activation::HardSwish)
                .init(device),
            blocks,
            last: ConvBnActConfig::new(c_in, 6 * c_in, 1)
                .with_act(Activation::HardSwish)
                .init(device),
        }
    }
}

impl MobileNetV3 {
    /// Returns the taps ① (1/8), ② (1/16) and ③ (1/32).
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → `[N, 40, H/8, W/8]`, `[N, 112, H/16, W/16]`, `[N, 960, H/32, W/32]`,
    /// each division rounded up.
    pub fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> [L::V; 3] {
        let mut x = l.apply(&self.stem, x);
        let (mut tap8, mut tap16) = (None, None);
        for (i, block) in self.blocks.iter().enumerate() {
            x = l.apply(block, x);
            match i {
                TAP_1_8 => tap8 = Some(x.clone()),
                TAP_1_16 => tap16 = Some(x.clone()),
                _ => {}
            }
        }
        let tap32 = l.apply(&self.last, x);
        [
            tap8.expect("LARGE has a 1/8 tap"),
            tap16.expect("LARGE has a 1/16 tap"),
            tap32,
        ]
    }
}
