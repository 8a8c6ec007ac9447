//! FSFFNet's encoder (Singha et al., ICONIP 2021; architecture brief §4.1–4.2, the released
//! Keras `FSFFNet.py`): a stride-2 conv block and MBConv groups without squeeze-excitation,
//! all with conv biases, Keras BatchNorm (ε 1e-3) and swish.

use burn::module::Module;
use burn::prelude::*;

use crate::models::backbones::mobilenet_v3::{InvertedResidual, InvertedResidualConfig};
use crate::models::layers::{Activation, ConvBnAct, ConvBnActConfig};
use crate::models::lower::Lower;

/// Keras' BatchNorm epsilon.
pub const KERAS_EPSILON: f64 = 1e-3;

/// One MBConv group: expansion t, output width, repeats, stride of the first block.
struct Group {
    t: usize,
    c: usize,
    n: usize,
    s: usize,
}

const fn group(t: usize, c: usize, n: usize, s: usize) -> Group {
    Group { t, c, n, s }
}

/// Groups of stages 2–5; a stage ends after the group whose output the decoder taps.
const STAGES: [&[Group]; 4] = [
    &[group(1, 24, 1, 2), group(6, 32, 2, 1)],
    &[group(6, 48, 3, 2), group(6, 64, 2, 1)],
    &[group(6, 96, 3, 2), group(6, 128, 2, 1)],
    &[group(6, 160, 1, 2)],
];

/// Widths of C1..C5 (1/2 … 1/32).
pub const FSFF_WIDTHS: [usize; 5] = [32, 32, 64, 128, 160];

#[derive(Module, Debug)]
pub struct FsffEncoder {
    pub stem: ConvBnAct,
    pub stages: Vec<Vec<InvertedResidual>>,
}

#[derive(Config, Debug)]
pub struct FsffEncoderConfig {}

impl FsffEncoderConfig {
    pub fn init(&self, device: &Device) -> FsffEncoder {
        let mut c_in = FSFF_WIDTHS[0];
        let stages = STAGES
            .iter()
            .map(|groups| {
                let mut blocks = Vec::new();
                for g in groups.iter() {
                    for i in 0..g.n {
                        let stride = if i == 0 { g.s } else { 1 };
                        // The Keras code adds the shortcut on every block but a group's first,
                        // even where the first could take one.
                        let block = InvertedResidualConfig::new(
                            c_in,
                            3,
                            g.t * c_in,
                            g.c,
                            false,
                            Activation::Swish,
                            stride,
                        )
                        .with_expand_always(true)
                        .with_residual(Some(i > 0))
                        .with_bias(true)
                        .with_epsilon(KERAS_EPSILON)
                        .init(device);
                        blocks.push(block);
                        c_in = g.c;
                    }
                }
                blocks
            })
            .collect();
        FsffEncoder {
            stem: ConvBnActConfig::new(3, FSFF_WIDTHS[0], 3)
                .with_stride(2)
                .with_act(Activation::Swish)
                .with_bias(true)
                .with_epsilon(KERAS_EPSILON)
                .init(device),
            stages,
        }
    }
}

impl FsffEncoder {
    /// C1..C5.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → `[N, 32, H/2, W/2]`, `[N, 32, H/4, W/4]`, `[N, 64, H/8, W/8]`,
    /// `[N, 128, H/16, W/16]`, `[N, 160, H/32, W/32]` (each division rounded up).
    pub fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> [L::V; 5] {
        let mut x = l.apply(&self.stem, x);
        let mut outs = vec![x.clone()];
        for stage in &self.stages {
            x = stage.iter().fold(x, |x, block| l.apply(block, x));
            outs.push(x.clone());
        }
        outs.try_into()
            .unwrap_or_else(|_| unreachable!("five stages by construction"))
    }
}
