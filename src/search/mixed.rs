//! The mixed operation and the supernet cell (DARTS §2.2): every edge computes the softmax(α)
//! weighted sum of its candidates, and every node sums all its incoming edges.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::space::{Candidate, EDGES, NODES};
use crate::models::backbones::darts::{CellInput, CellOp};
use crate::models::lower::Layer;

/// One edge of a supernet cell: its candidates' operations (the zero candidate has none).
#[derive(Module, Debug)]
pub struct MixedOp {
    /// One per non-zero candidate, in candidate order.
    pub ops: Vec<CellOp>,
    #[module(skip)]
    pub candidates: Vec<Candidate>,
}

impl MixedOp {
    /// The candidates on `channels` channels; `stride` 2 on a reduction cell's edges from its
    /// inputs.
    pub fn new(candidates: &[Candidate], channels: usize, stride: usize, device: &Device) -> Self {
        Self {
            ops: candidates
                .iter()
                .filter_map(|c| c.op())
                .map(|kind| CellOp::new(kind, channels, stride, device))
                .collect(),
            candidates: candidates.to_vec(),
        }
    }

    /// `Σᵢ wᵢ · opᵢ(x)` with `w = softmax(alpha)`; the zero candidate contributes nothing but
    /// its share of the softmax.
    ///
    /// # Shapes
    /// `x [N, C, H, W]`, `alpha [K]` (one per candidate) → `[N, C, ⌈H/s⌉, ⌈W/s⌉]`.
    pub fn forward(&self, x: Tensor<4>, alpha: Tensor<1>) -> Tensor<4> {
        let weights = softmax(alpha, 0);
        let mut ops = self.ops.iter();
        let mut sum: Option<Tensor<4>> = None;
        for (i, candidate) in self.candidates.iter().enumerate() {
            if candidate.op().is_none() {
                continue;
            }
            let op = ops.next().expect("one op per non-zero candidate");
            let w = weights.clone().slice(i..i + 1).reshape([1, 1, 1, 1]);
            let y = op.forward(x.clone()) * w;
            sum = Some(match sum {
                Some(s) => s + y,
                None => y,
            });
        }
        sum.expect("a search space keeps a non-zero candidate on every edge")
    }
}

/// A supernet cell: preprocessed inputs, every node the sum of a [`MixedOp`] from each earlier
/// state, the four nodes concatenated.
#[derive(Module, Debug)]
pub struct SearchCell {
    pub pre0: CellInput,
    pub pre1: CellInput,
    /// [`EDGES`] mixed operations, node by node.
    pub edges: Vec<MixedOp>,
}

impl SearchCell {
    /// A cell on `channels` channels with the candidates of `edges`; `reduction` halves the
    /// resolution, `reduction_prev` says whether `s0` is at twice `s1`'s resolution.
    pub fn new(
        edges: &[Vec<Candidate>],
        (c_pp, c_p, channels): (usize, usize, usize),
        reduction: bool,
        reduction_prev: bool,
        device: &Device,
    ) -> Self {
        let edges = edges
            .iter()
            .enumerate()
            .map(|(e, candidates)| {
                let (input, _) = super::space::edge_endpoints(e);
                let stride = if reduction && input < 2 { 2 } else { 1 };
                MixedOp::new(candidates, channels, stride, device)
            })
            .collect();
        Self {
            pre0: CellInput::new(c_pp, channels, reduction_prev, device),
            pre1: CellInput::new(c_p, channels, false, device),
            edges,
        }
    }

    /// # Shapes
    /// `s0`, `s1` → `[N, 4·C, H', W']`; `alphas` holds one `[Kₑ]` tensor per edge.
    pub fn forward(&self, s0: Tensor<4>, s1: Tensor<4>, alphas: &[Tensor<1>]) -> Tensor<4> {
        debug_assert_eq!(alphas.len(), EDGES);
        let mut states = vec![self.pre0.forward(s0), self.pre1.forward(s1)];
        let mut e = 0;
        for _ in 0..NODES {
            let inputs = states.len();
            let mut node = self.edges[e].forward(states[0].clone(), alphas[e].clone());
            for (i, state) in states.iter().enumerate().take(inputs).skip(1) {
                let y = self.edges[e + i].forward(state.clone(), alphas[e + i].clone());
                node = node + y;
            }
            e += inputs;
            states.push(node);
        }
        Tensor::cat(states.split_off(2), 1)
    }
}
