//! AttaNet-light's backbone (architecture brief §3.3, the released `light.py`): a plain stack
//! of conv–BN–ReLU layers, 3→32 (7×7, 1/2) →64 (1/4) →64 ×3 (1/8) →128 ×3 (1/16).

use burn::module::Module;
use burn::prelude::*;

use crate::models::layers::{ConvBnAct, ConvBnActConfig};
use crate::models::lower::Lower;

#[derive(Module, Debug)]
pub struct LightBackbone {
    /// Down to 1/4.
    pub stage1: Vec<ConvBnAct>,
    /// Down to 1/8.
    pub stage2: Vec<ConvBnAct>,
    /// Down to 1/16; its second layer also feeds an auxiliary head.
    pub stage3: Vec<ConvBnAct>,
}

/// Widths of the 1/8 and 1/16 features.
pub const LIGHT_WIDTHS: [usize; 2] = [64, 128];

#[derive(Config, Debug)]
pub struct LightBackboneConfig {}

impl LightBackboneConfig {
    pub fn init(&self, device: &Device) -> LightBackbone {
        let layers = |specs: &[(usize, usize, usize, usize)]| {
            specs
                .iter()
                .map(|&(c_in, c_out, kernel, stride)| {
                    ConvBnActConfig::new(c_in, c_out, kernel)
                        .with_stride(stride)
                        .init(device)
                })
                .collect()
        };
        LightBackbone {
            stage1: layers(&[(3, 32, 7, 2), (32, 64, 3, 2)]),
            stage2: layers(&[(64, 64, 3, 2), (64, 64, 3, 1), (64, 64, 3, 1)]),
            stage3: layers(&[(64, 128, 3, 2), (128, 128, 3, 1), (128, 128, 3, 1)]),
        }
    }
}

impl LightBackbone {
    /// The 1/8 feature, the 1/16 feature after stage 3's second layer (auxiliary input) and
    /// the 1/16 output.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → `[N, 64, H/8, W/8]`, `[N, 128, H/16, W/16]` twice (rounded up).
    pub fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> [L::V; 3] {
        let x = self.stage1.iter().fold(x, |x, conv| l.apply(conv, x));
        let feat8 = self.stage2.iter().fold(x, |x, conv| l.apply(conv, x));
        let (last, first) = self.stage3.split_last().expect("three layers");
        let aux = first.iter().fold(feat8.clone(), |x, conv| l.apply(conv, x));
        let feat16 = l.apply(last, aux.clone());
        [feat8, aux, feat16]
    }
}
