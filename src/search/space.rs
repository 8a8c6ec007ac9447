//! The search space of a cell: the candidate operations on each edge, their pruning between
//! stages, and the genotype a set of architecture weights α derives (DARTS §2.4).
//!
//! A cell has two inputs (states 0 and 1) and four intermediate nodes; node `k` (state
//! `k + 2`) has an edge from every earlier state, so the cell has 2 + 3 + 4 + 5 = 14 edges,
//! numbered node by node and, within a node, by input state.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::models::backbones::darts::{Genotype, OpKind};

/// Intermediate nodes per cell.
pub const NODES: usize = 4;

/// Number of edges of a cell with [`NODES`] nodes.
pub const EDGES: usize = NODES * (NODES + 3) / 2;

/// A candidate operation: one of the genotype's operations or `none` (the zero operation,
/// which lets the search switch an edge off; a derived genotype never contains it). Written
/// with DARTS' names (`none`, `sep_conv_3x3`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Candidate {
    None,
    Op(OpKind),
}

impl Candidate {
    /// The DARTS candidate set, in DARTS' order.
    pub fn darts() -> Vec<Candidate> {
        let mut all = vec![Candidate::None];
        all.extend(DARTS_OPS.map(Candidate::Op));
        all
    }

    pub fn op(self) -> Option<OpKind> {
        match self {
            Candidate::None => None,
            Candidate::Op(kind) => Some(kind),
        }
    }
}

/// DARTS' seven operations, in its order.
const DARTS_OPS: [OpKind; 7] = [
    OpKind::MaxPool3x3,
    OpKind::AvgPool3x3,
    OpKind::SkipConnect,
    OpKind::SepConv3x3,
    OpKind::SepConv5x5,
    OpKind::DilConv3x3,
    OpKind::DilConv5x5,
];

fn op_name(op: OpKind) -> String {
    serde_yaml::to_string(&op)
        .expect("operation names serialise")
        .trim()
        .to_string()
}

impl TryFrom<String> for Candidate {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        if name == "none" {
            return Ok(Candidate::None);
        }
        DARTS_OPS
            .into_iter()
            .find(|&op| op_name(op) == name)
            .map(Candidate::Op)
            .ok_or_else(|| {
                let known: Vec<String> = Candidate::darts().iter().map(|c| c.to_string()).collect();
                format!(
                    "unknown operation {name:?}; the candidates are {}",
                    known.join(", ")
                )
            })
    }
}

impl From<Candidate> for String {
    fn from(c: Candidate) -> String {
        c.to_string()
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Candidate::None => f.write_str("none"),
            Candidate::Op(op) => f.write_str(&op_name(*op)),
        }
    }
}

/// The input state and node of edge `e`.
pub fn edge_endpoints(e: usize) -> (usize, usize) {
    let mut first = 0;
    for node in 0..NODES {
        let inputs = node + 2;
        if e < first + inputs {
            return (e - first, node);
        }
        first += inputs;
    }
    panic!("edge {e} out of range 0..{EDGES}")
}

/// The candidates on every edge of the normal and of the reduction cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    pub normal: Vec<Vec<Candidate>>,
    pub reduce: Vec<Vec<Candidate>>,
}

/// One cell type's architecture weights: one α per candidate per edge.
pub type Alphas = [Vec<f32>];

impl SearchSpace {
    /// Every edge of both cells offers `candidates`.
    ///
    /// # Errors
    /// A list without a non-zero candidate, or with one listed twice.
    pub fn uniform(candidates: &[Candidate]) -> Result<Self, String> {
        if candidates.iter().all(|c| c.op().is_none()) {
            return Err("the candidate operations name no operation besides none".into());
        }
        for (i, c) in candidates.iter().enumerate() {
            if candidates[..i].contains(c) {
                return Err(format!("candidate {c} is listed twice"));
            }
        }
        let edges = vec![candidates.to_vec(); EDGES];
        Ok(Self {
            normal: edges.clone(),
            reduce: edges,
        })
    }

    /// Keeps the `keep` strongest operations of every edge (largest α; ties keep the earlier
    /// candidate), in their original order — the search-space approximation between stages.
    /// [CHOICE] `none` is not counted and stays wherever it was: it is what lets the search
    /// switch an edge off, which the genotype's edge selection reads.
    ///
    /// # Errors
    /// `keep` is zero or exceeds an edge's operations, or `alphas` does not match the space.
    pub fn prune(&self, normal: &Alphas, reduce: &Alphas, keep: usize) -> Result<Self, String> {
        Ok(Self {
            normal: prune_cell("normal", &self.normal, normal, keep)?,
            reduce: prune_cell("reduce", &self.reduce, reduce, keep)?,
        })
    }

    /// The genotype of `alphas` (DARTS §2.4): for each node the two incoming edges whose
    /// strongest non-zero candidate has the largest softmax weight, each with that candidate;
    /// every node concatenated.
    ///
    /// # Errors
    /// `alphas` does not match the space, or a node has fewer than two edges with a non-zero
    /// candidate.
    pub fn derive(&self, name: &str, normal: &Alphas, reduce: &Alphas) -> Result<Genotype, String> {
        Ok(all_nodes(
            name,
            derive_cell("normal", &self.normal, normal)?,
            derive_cell("reduce", &self.reduce, reduce)?,
        ))
    }

    /// A genotype drawn uniformly from the space, the random-architecture control of NAS
    /// comparisons (DARTS §3.3 draws its random baseline the same way): for each node two
    /// distinct input states, each edge with one of its non-`none` candidates.
    ///
    /// # Errors
    /// An edge the draw picks offers no operation besides `none`.
    pub fn sample(&self, name: &str, rng: &mut impl rand::Rng) -> Result<Genotype, String> {
        Ok(all_nodes(
            name,
            sample_cell("normal", &self.normal, rng)?,
            sample_cell("reduce", &self.reduce, rng)?,
        ))
    }
}

/// A genotype whose cells concatenate all four nodes (DARTS' and P-DARTS' rule).
fn all_nodes(name: &str, normal: Vec<(OpKind, usize)>, reduce: Vec<(OpKind, usize)>) -> Genotype {
    Genotype {
        name: name.to_string(),
        normal,
        normal_concat: (2..NODES + 2).collect(),
        reduce,
        reduce_concat: (2..NODES + 2).collect(),
    }
}

fn sample_cell(
    cell: &str,
    edges: &[Vec<Candidate>],
    rng: &mut impl rand::Rng,
) -> Result<Vec<(OpKind, usize)>, String> {
    use rand::seq::IndexedRandom;
    if edges.len() != EDGES {
        return Err(format!("{cell} cell: {} edges, not {EDGES}", edges.len()));
    }
    let mut genes = Vec::with_capacity(2 * NODES);
    let mut first = 0;
    for node in 0..NODES {
        let mut inputs = rand::seq::index::sample(rng, node + 2, 2).into_vec();
        inputs.sort_unstable();
        for input in inputs {
            let ops: Vec<OpKind> = edges[first + input].iter().filter_map(|c| c.op()).collect();
            let op = ops.choose(rng).ok_or_else(|| {
                format!("{cell} edge {}: no operation besides none", first + input)
            })?;
            genes.push((*op, input));
        }
        first += node + 2;
    }
    Ok(genes)
}

fn check_shape(cell: &str, edges: &[Vec<Candidate>], alphas: &Alphas) -> Result<(), String> {
    if edges.len() != alphas.len() {
        return Err(format!(
            "{cell} cell: {} edges of candidates but α for {}",
            edges.len(),
            alphas.len()
        ));
    }
    for (e, (c, a)) in edges.iter().zip(alphas).enumerate() {
        if c.len() != a.len() {
            return Err(format!(
                "{cell} edge {e}: {} candidates but {} α values",
                c.len(),
                a.len()
            ));
        }
    }
    Ok(())
}

/// Indices of `alphas` from the largest down; ties keep the earlier index first.
fn ranked(alphas: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..alphas.len()).collect();
    order.sort_by(|&a, &b| alphas[b].total_cmp(&alphas[a]).then(a.cmp(&b)));
    order
}

fn prune_cell(
    cell: &str,
    edges: &[Vec<Candidate>],
    alphas: &Alphas,
    keep: usize,
) -> Result<Vec<Vec<Candidate>>, String> {
    check_shape(cell, edges, alphas)?;
    edges
        .iter()
        .zip(alphas)
        .enumerate()
        .map(|(e, (candidates, a))| {
            let ops = candidates.iter().filter(|c| c.op().is_some()).count();
            if keep == 0 || keep > ops {
                return Err(format!(
                    "{cell} edge {e}: cannot keep {keep} of its {ops} operations"
                ));
            }
            let mut kept: Vec<usize> = ranked(a)
                .into_iter()
                .filter(|&i| candidates[i].op().is_some())
                .take(keep)
                .chain((0..candidates.len()).filter(|&i| candidates[i].op().is_none()))
                .collect();
            kept.sort_unstable();
            Ok(kept.into_iter().map(|i| candidates[i]).collect())
        })
        .collect()
}

/// softmax over one edge's α.
pub(crate) fn softmax(a: &[f32]) -> Vec<f32> {
    let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = a.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|x| x / sum).collect()
}

fn derive_cell(
    cell: &str,
    edges: &[Vec<Candidate>],
    alphas: &Alphas,
) -> Result<Vec<(OpKind, usize)>, String> {
    check_shape(cell, edges, alphas)?;
    // The strongest non-zero candidate of each edge and its softmax weight.
    let best: Vec<Option<(OpKind, f32)>> = edges
        .iter()
        .zip(alphas)
        .map(|(candidates, a)| {
            let weights = softmax(a);
            ranked(&weights)
                .into_iter()
                .find_map(|i| candidates[i].op().map(|op| (op, weights[i])))
        })
        .collect();
    let mut genes = Vec::with_capacity(2 * NODES);
    let mut first = 0;
    for node in 0..NODES {
        let inputs = node + 2;
        let mut strengths: Vec<(usize, OpKind, f32)> = (0..inputs)
            .filter_map(|input| best[first + input].map(|(op, w)| (input, op, w)))
            .collect();
        if strengths.len() < 2 {
            return Err(format!(
                "{cell} node {node}: fewer than two incoming edges have a non-zero candidate"
            ));
        }
        strengths.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        let mut chosen = [strengths[0], strengths[1]];
        chosen.sort_by_key(|&(input, _, _)| input);
        genes.extend(chosen.map(|(input, op, _)| (op, input)));
        first += inputs;
    }
    Ok(genes)
}
