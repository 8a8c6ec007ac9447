//! ResNet-18 with the 128-channel "deep stem" used by MFARANet (architecture brief §2.1):
//! three 3×3 convs instead of the 7×7, and layer3/layer4 with dilated second convs while
//! keeping their strides (output stride 32), exactly as the MFARANet code does.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;

use crate::models::layers::{Activation, ConvBnAct, ConvBnActConfig};
use crate::models::lower::{Block, Lower};

/// ResNet BasicBlock: conv3×3-BN-ReLU → conv3×3(dilated)-BN, plus a 1×1 projection when the
/// shape changes (He et al. 2016, §3.3).
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: ConvBnAct,
    pub conv2: ConvBnAct,
    pub downsample: Option<ConvBnAct>,
}

#[derive(Config, Debug)]
pub struct BasicBlockConfig {
    pub c_in: usize,
    pub c_out: usize,
    pub stride: usize,
    /// Dilation of the second conv only (MFARANet's `use_dilation`).
    pub dilation: usize,
}

impl BasicBlockConfig {
    pub fn init(&self, device: &Device) -> BasicBlock {
        BasicBlock {
            conv1: ConvBnActConfig::new(self.c_in, self.c_out, 3)
                .with_stride(self.stride)
                .init(device),
            conv2: ConvBnActConfig::new(self.c_out, self.c_out, 3)
                .with_dilation(self.dilation)
                .with_act(Activation::None)
                .init(device),
            downsample: (self.stride != 1 || self.c_in != self.c_out).then(|| {
                ConvBnActConfig::new(self.c_in, self.c_out, 1)
                    .with_stride(self.stride)
                    .with_act(Activation::None)
                    .init(device)
            }),
        }
    }
}

impl Block for BasicBlock {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, c_out, ⌈H/stride⌉, ⌈W/stride⌉]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        let identity = match &self.downsample {
            Some(down) => l.apply(down, x.clone()),
            None => x.clone(),
        };
        let y = l.apply(&self.conv1, x);
        let y = l.apply(&self.conv2, y);
        let y = l.add(y, identity);
        l.relu(y)
    }
}

/// ResNet-18, deep stem, dilated-but-strided layer3 (d=2) and layer4 (d=4).
#[derive(Module, Debug)]
pub struct ResNetDeepStem {
    pub stem: Vec<ConvBnAct>,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<BasicBlock>,
    pub layer2: Vec<BasicBlock>,
    pub layer3: Vec<BasicBlock>,
    pub layer4: Vec<BasicBlock>,
}

/// Output widths of layer1..layer4.
pub const RESNET18_WIDTHS: [usize; 4] = [64, 128, 256, 512];

#[derive(Config, Debug)]
pub struct ResNetDeepStemConfig {
    /// MFARANet ships every config with `use_dilation: True`.
    #[config(default = true)]
    pub dilation: bool,
}

impl ResNetDeepStemConfig {
    pub fn init(&self, device: &Device) -> ResNetDeepStem {
        let stem = [(3, 64, 2), (64, 64, 1), (64, 128, 1)]
            .map(|(c_in, c_out, stride)| {
                ConvBnActConfig::new(c_in, c_out, 3)
                    .with_stride(stride)
                    .init(device)
            })
            .to_vec();
        let [d3, d4] = if self.dilation { [2, 4] } else { [1, 1] };
        let layer = |c_in, c_out, stride, dilation| {
            vec![
                BasicBlockConfig::new(c_in, c_out, stride, dilation).init(device),
                BasicBlockConfig::new(c_out, c_out, 1, dilation).init(device),
            ]
        };
        ResNetDeepStem {
            stem,
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: layer(128, 64, 1, 1),
            layer2: layer(64, 128, 2, 1),
            layer3: layer(128, 256, 2, d3),
            layer4: layer(256, 512, 2, d4),
        }
    }
}

impl ResNetDeepStem {
    /// Returns the outputs of layer1..layer4.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → `[N, 64, H/4, W/4]`, `[N, 128, H/8, W/8]`, `[N, 256, H/16, W/16]`,
    /// `[N, 512, H/32, W/32]` (each division rounded up).
    pub fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> [L::V; 4] {
        let x = self.stem.iter().fold(x, |x, conv| l.apply(conv, x));
        let x = l.apply(&self.maxpool, x);
        let mut run =
            |layer: &[BasicBlock], x: L::V| layer.iter().fold(x, |x, block| l.apply(block, x));
        let b1 = run(&self.layer1, x);
        let b2 = run(&self.layer2, b1.clone());
        let b3 = run(&self.layer3, b2.clone());
        let b4 = run(&self.layer4, b3.clone());
        [b1, b2, b3, b4]
    }
}
