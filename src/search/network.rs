//! The supernet searched for segmentation: MsNet-ANAS's encoder with [`SearchCell`]s in
//! place of genotype cells, under the MFMA decoder (issue 16's "supernet encoder under the
//! MFMA decoder"), and its architecture weights α as parameters of their own so that the
//! weight and α steps of the bilevel search update disjoint sets.

use burn::module::{Module, Param, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::mixed::SearchCell;
use super::space::SearchSpace;
use crate::models::decoders::mfma::{MfmaDecoder, MfmaDecoderConfig};
use crate::models::layers::ConvBnAct;
use crate::models::lower::{Eager, Layer};
use crate::models::segmentors::param_ids;

/// α of both cell types, one `[Kₑ]` tensor per edge. DARTS initialises them as 1e-3·N(0, 1).
#[derive(Module, Debug)]
pub struct Architecture {
    pub normal: Vec<Param<Tensor<1>>>,
    pub reduce: Vec<Param<Tensor<1>>>,
}

fn alphas_of(space: &[Vec<super::space::Candidate>], device: &Device) -> Vec<Param<Tensor<1>>> {
    space
        .iter()
        .map(|candidates| {
            let a = Tensor::random(
                [candidates.len()],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                device,
            ) * 1e-3;
            Param::from_tensor(a)
        })
        .collect()
}

/// The values of one cell type's α.
pub fn alpha_values(alphas: &[Param<Tensor<1>>]) -> Vec<Vec<f32>> {
    alphas
        .iter()
        .map(|a| {
            a.val()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("float tensors convert to f32")
        })
        .collect()
}

/// A supernet: stem, search cells in `layout`, MFMA decoder, α.
#[derive(Module, Debug)]
pub struct SearchNet {
    pub stem: Vec<ConvBnAct>,
    pub cells: Vec<SearchCell>,
    pub decoder: MfmaDecoder,
    pub arch: Architecture,
    #[module(skip)]
    pub reductions: Vec<bool>,
    /// Indices of the cells whose outputs the decoder taps (the last three reductions).
    #[module(skip)]
    pub taps: Vec<usize>,
}

/// The supernet of one search stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchNetConfig {
    /// Stem width; each reduction cell doubles the cell width.
    pub channels: usize,
    /// `N`ormal / `R`eduction cells, at least three `R` (the decoder's taps).
    pub layout: String,
    pub space: SearchSpace,
    pub num_classes: usize,
}

impl SearchNetConfig {
    /// # Errors
    /// A message naming the key: a layout with other letters or fewer than three reductions,
    /// odd or tiny channels, a space without 14 edges per cell.
    pub fn validate(&self) -> Result<(), String> {
        if self.layout.chars().any(|c| c != 'N' && c != 'R') {
            return Err(format!("layout {:?} may contain only N and R", self.layout));
        }
        if self.layout.chars().filter(|&c| c == 'R').count() < 3 {
            return Err(format!(
                "layout {:?} needs at least three reduction cells for the decoder's taps",
                self.layout
            ));
        }
        if self.channels < 2 || !self.channels.is_multiple_of(2) {
            return Err(format!("channels {} must be even and >= 2", self.channels));
        }
        for (cell, edges) in [
            ("normal", &self.space.normal),
            ("reduce", &self.space.reduce),
        ] {
            if edges.len() != super::space::EDGES {
                return Err(format!(
                    "{cell} cell has {} edges; a four-node cell has {}",
                    edges.len(),
                    super::space::EDGES
                ));
            }
        }
        Ok(())
    }

    /// Builds the supernet with fresh weights and α; call [`Self::validate`] first.
    pub fn init(&self, device: &Device) -> SearchNet {
        let c = self.channels;
        let stem = crate::models::backbones::darts::stem(c, device);
        let (mut c_pp, mut c_p, mut c_cur) = (c, c, c);
        let mut reduction_prev = true;
        let (mut cells, mut reductions, mut widths) = (Vec::new(), Vec::new(), Vec::new());
        for kind in self.layout.chars() {
            let reduction = kind == 'R';
            if reduction {
                c_cur *= 2;
            }
            let edges = if reduction {
                &self.space.reduce
            } else {
                &self.space.normal
            };
            cells.push(SearchCell::new(
                edges,
                (c_pp, c_p, c_cur),
                reduction,
                reduction_prev,
                device,
            ));
            reductions.push(reduction);
            reduction_prev = reduction;
            c_pp = c_p;
            c_p = c_cur * super::space::NODES;
            widths.push(c_p);
        }
        let taps: Vec<usize> = (0..reductions.len()).filter(|&i| reductions[i]).collect();
        let taps = taps[taps.len() - 3..].to_vec();
        let tap_channels = [widths[taps[0]], widths[taps[1]], widths[taps[2]]];
        SearchNet {
            stem,
            cells,
            decoder: MfmaDecoderConfig::new(tap_channels, self.num_classes).init(device),
            arch: Architecture {
                normal: alphas_of(&self.space.normal, device),
                reduce: alphas_of(&self.space.reduce, device),
            },
            reductions,
            taps,
        }
    }
}

impl SearchNet {
    /// Class scores at the input size.
    ///
    /// # Shapes
    /// `[N, 3, H, W] → [N, K, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let normal: Vec<Tensor<1>> = self.arch.normal.iter().map(|a| a.val()).collect();
        let reduce: Vec<Tensor<1>> = self.arch.reduce.iter().map(|a| a.val()).collect();
        let y = self.stem[0].forward(x.clone());
        let mut s0 = self.stem[1].forward(y);
        let mut s1 = self.stem[2].forward(s0.clone());
        let mut taps = Vec::with_capacity(3);
        for (i, (cell, &reduction)) in self.cells.iter().zip(&self.reductions).enumerate() {
            let alphas = if reduction { &reduce } else { &normal };
            let out = cell.forward(s0, s1.clone(), alphas);
            if self.taps.contains(&i) {
                taps.push(out.clone());
            }
            s0 = s1;
            s1 = out;
        }
        let Ok(taps) = <[Tensor<4>; 3]>::try_from(taps) else {
            unreachable!("validated layouts have three taps")
        };
        let scores = self.decoder.lower(&mut Eager, x, taps);
        crate::models::layers::resize(scores, [h, w], false)
    }

    /// The ids of α (what the architecture step updates).
    pub fn arch_params(&self) -> Vec<ParamId> {
        param_ids(&self.arch)
    }

    /// The ids of every network weight but α (what the weight step updates).
    pub fn weight_params(&self) -> Vec<ParamId> {
        let arch = self.arch_params();
        param_ids(self)
            .into_iter()
            .filter(|id| !arch.contains(id))
            .collect()
    }

    /// α of the normal and of the reduction cell.
    pub fn alphas(&self) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        (
            alpha_values(&self.arch.normal),
            alpha_values(&self.arch.reduce),
        )
    }
}
