//! ResNet-18 (He et al. 2016) in the two forms the zoo uses: torchvision's (a 7×7 stride-2
//! stem; the context path of BiSeNet and AttaNet, architecture brief §3.1 and §5.1) and the
//! 128-channel "deep stem" form of MFARANet (brief §2.1: three 3×3 convs instead of the 7×7,
//! and layer3/layer4 with dilated second convs while keeping their strides, output stride 32,
//! exactly as the MFARANet code does).

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

/// ResNet-18: a stem, a 3×3 stride-2 max-pool and four layers of two BasicBlocks each.
#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: Vec<ConvBnAct>,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<BasicBlock>,
    pub layer2: Vec<BasicBlock>,
    pub layer3: Vec<BasicBlock>,
    pub layer4: Vec<BasicBlock>,
}

/// Output widths of layer1..layer4.
pub const RESNET18_WIDTHS: [usize; 4] = [64, 128, 256, 512];

/// The defaults are MFARANet's; [`ResNetConfig::torchvision`] is the plain ResNet-18.
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Three 3×3 convs (3→64 s2, 64→64, 64→128) instead of one 7×7 3→64 s2.
    #[config(default = true)]
    pub deep_stem: bool,
    /// Dilation 2 and 4 in the second convs of layer3 and layer4 (MFARANet ships every config
    /// with `use_dilation: True`).
    #[config(default = true)]
    pub dilation: bool,
}

impl ResNetConfig {
    /// torchvision's `resnet18` without its classifier.
    pub fn torchvision() -> Self {
        Self::new().with_deep_stem(false).with_dilation(false)
    }

    pub fn init(&self, device: &Device) -> ResNet {
        let stem: &[(usize, usize, usize, usize)] = if self.deep_stem {
            &[(3, 64, 3, 2), (64, 64, 3, 1), (64, 128, 3, 1)]
        } else {
            &[(3, 64, 7, 2)]
        };
        let stem_width = stem[stem.len() - 1].1;
        let stem = stem
            .iter()
            .map(|&(c_in, c_out, kernel, stride)| {
                ConvBnActConfig::new(c_in, c_out, kernel)
                    .with_stride(stride)
                    .init(device)
            })
            .collect();
        let [d3, d4] = if self.dilation { [2, 4] } else { [1, 1] };
        let layer = |c_in, c_out, stride, dilation| {
            vec![
                BasicBlockConfig::new(c_in, c_out, stride, dilation).init(device),
                BasicBlockConfig::new(c_out, c_out, 1, dilation).init(device),
            ]
        };
        ResNet {
            stem,
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: layer(stem_width, 64, 1, 1),
            layer2: layer(64, 128, 2, 1),
            layer3: layer(128, 256, 2, d3),
            layer4: layer(256, 512, 2, d4),
        }
    }
}

impl ResNet {
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
