//! Generic DARTS-style cell network for the MsNet-ANAS encoder (architecture brief §1.2 and
//! §1.4): a three-conv stride-8 stem, then normal/reduction cells whose wiring comes from a
//! genotype file. The ANAS genotype is unpublished; rtseg ships DARTS-V2 as a labelled
//! stand-in (`configs/genotypes/darts_v2.yaml`).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Identity, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::models::layers::{
    Activation, ConvBnAct, ConvBnActConfig, batchnorm_affine, batchnorm_trains, conv_bn_forward,
    conv_forward, conv_spec, conv2d_config, conv2d_dilated_config, emit_conv, fold_affine,
};
use crate::models::lower::{Block, Eager, Layer, Lower};
use crate::onnx::graph::{OnnxGraph, Value};

/// The candidate operations of the DARTS search space that a genotype may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    #[serde(rename = "sep_conv_3x3")]
    SepConv3x3,
    #[serde(rename = "sep_conv_5x5")]
    SepConv5x5,
    #[serde(rename = "dil_conv_3x3")]
    DilConv3x3,
    #[serde(rename = "dil_conv_5x5")]
    DilConv5x5,
    #[serde(rename = "max_pool_3x3")]
    MaxPool3x3,
    #[serde(rename = "avg_pool_3x3")]
    AvgPool3x3,
    SkipConnect,
}

/// A searched cell wiring: for each of the four nodes, two `(op, input)` edges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Genotype {
    pub name: String,
    pub normal: Vec<(OpKind, usize)>,
    pub normal_concat: Vec<usize>,
    pub reduce: Vec<(OpKind, usize)>,
    pub reduce_concat: Vec<usize>,
}

impl Genotype {
    /// Reads a genotype file (`configs/genotypes/` format) and checks its wiring.
    ///
    /// # Errors
    /// An unreadable file, an unknown operation, or wiring [`Genotype::validate`] refuses,
    /// each naming the file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let genotype: Self =
            serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        genotype
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(genotype)
    }

    /// The genotype `rtseg search --config configs/search/anas_camvid.yaml` found on CamVid
    /// train, which `msnet-anas` builds (docs/search.md).
    pub fn anas_camvid() -> Self {
        serde_yaml::from_str(include_str!("../../../configs/genotypes/anas_camvid.yaml"))
            .expect("the shipped genotype parses")
    }

    /// The published DARTS-V2 genotype, which `msnet-darts-v2` builds (rtseg's stand-in for
    /// the unpublished ANAS genotype before its own search).
    pub fn darts_v2() -> Self {
        serde_yaml::from_str(include_str!("../../../configs/genotypes/darts_v2.yaml"))
            .expect("the shipped genotype parses")
    }

    /// Checks the wiring before any module is built, so a bad genotype file is an error
    /// naming the problem instead of a panic deep inside a forward pass.
    pub fn validate(&self) -> Result<(), String> {
        for (kind, edges, concat) in [
            ("normal", &self.normal, &self.normal_concat),
            ("reduce", &self.reduce, &self.reduce_concat),
        ] {
            if edges.is_empty() || edges.len() % 2 != 0 {
                return Err(format!(
                    "genotype {:?}: {kind} cell needs an even, non-zero number of edges, got {}",
                    self.name,
                    edges.len()
                ));
            }
            for (i, (_, input)) in edges.iter().enumerate() {
                let node = i / 2;
                if *input >= node + 2 {
                    return Err(format!(
                        "genotype {:?}: {kind} edge {i} of node {node} reads state {input}, \
                         but only states 0..{} exist there",
                        self.name,
                        node + 1
                    ));
                }
            }
            let states = edges.len() / 2 + 2;
            if concat.is_empty() || concat.iter().any(|&c| c >= states) {
                return Err(format!(
                    "genotype {:?}: {kind}_concat {concat:?} must name states below {states}",
                    self.name
                ));
            }
        }
        Ok(())
    }
}

/// ReLU → depthwise k×k (dilated) → pointwise 1×1 → BN: one half of DARTS' `SepConv`, and
/// the whole of its `DilConv`.
#[derive(Module, Debug)]
pub struct ReluDwPwBn {
    pub depthwise: Conv2d,
    pub pointwise: Conv2d,
    pub bn: BatchNorm,
}

#[derive(Config, Debug)]
pub struct ReluDwPwBnConfig {
    pub channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
}

impl ReluDwPwBnConfig {
    pub fn init(&self, device: &Device) -> ReluDwPwBn {
        let c = self.channels;
        ReluDwPwBn {
            depthwise: conv2d_dilated_config(c, c, self.kernel, self.dilation)
                .with_stride([self.stride, self.stride])
                .with_groups(c)
                .init(device),
            pointwise: conv2d_config(c, c, 1).init(device),
            bn: BatchNormConfig::new(c).init(device),
        }
    }
}

impl Layer for ReluDwPwBn {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, ⌈H/stride⌉, ⌈W/stride⌉]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv_forward(&self.depthwise, relu(x));
        if batchnorm_trains(&self.bn, &x) {
            self.bn.forward(conv_forward(&self.pointwise, x))
        } else {
            let channels = 0..self.pointwise.weight.dims()[0];
            conv_bn_forward(&self.pointwise, &self.bn, channels, x)
        }
    }

    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let x = g.unary("Relu", x);
        let x = emit_conv(g, &self.depthwise, None, &x);
        emit_conv(g, &self.pointwise, Some(&self.bn), &x)
    }
}

/// DARTS' `FactorizedReduce`: two 1×1 stride-2 convs, the second on the input shifted by one
/// pixel, concatenated. [CHOICE] The shifted input is zero-padded back to the input size at the
/// bottom/right, so both halves have `ceil(H/2)` rows for odd sizes too (the reference code
/// fails on odd sizes, and inputs such as 350×470 reach odd sizes inside the encoder).
#[derive(Module, Debug)]
pub struct FactorizedReduce {
    pub conv_a: Conv2d,
    pub conv_b: Conv2d,
    pub bn: BatchNorm,
}

#[derive(Config, Debug)]
pub struct FactorizedReduceConfig {
    pub c_in: usize,
    pub c_out: usize,
}

impl FactorizedReduceConfig {
    pub fn init(&self, device: &Device) -> FactorizedReduce {
        let half = |d| {
            conv2d_config(self.c_in, self.c_out / 2, 1)
                .with_stride([2, 2])
                .init(d)
        };
        FactorizedReduce {
            conv_a: half(device),
            conv_b: half(device),
            bn: BatchNormConfig::new(self.c_out).init(device),
        }
    }
}

impl Layer for FactorizedReduce {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, c_out, ⌈H/2⌉, ⌈W/2⌉]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(x);
        let shifted = Eager.shift_up_left(x.clone());
        if batchnorm_trains(&self.bn, &x) {
            let halves = vec![
                conv_forward(&self.conv_a, x),
                conv_forward(&self.conv_b, shifted),
            ];
            return self.bn.forward(Tensor::cat(halves, 1));
        }
        // The BatchNorm over the concatenation is each half's own, folded into its conv.
        let half = self.conv_a.weight.dims()[0];
        let halves = vec![
            conv_bn_forward(&self.conv_a, &self.bn, 0..half, x),
            conv_bn_forward(&self.conv_b, &self.bn, half..2 * half, shifted),
        ];
        Tensor::cat(halves, 1)
    }

    /// The BatchNorm over the concatenation is folded into each half's convolution.
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let x = g.unary("Relu", x);
        let shifted = g.shift_up_left(x.clone());
        let (scale, shift) = batchnorm_affine(&self.bn);
        let half = scale.len() / 2;
        let a = fold_affine(conv_spec(&self.conv_a), &scale[..half], &shift[..half]);
        let b = fold_affine(conv_spec(&self.conv_b), &scale[half..], &shift[half..]);
        let a = g.conv(&x, a);
        let b = g.conv(&shifted, b);
        g.concat(&[&a, &b], 1)
    }
}

/// One edge operation of a cell.
#[derive(Module, Debug)]
pub enum CellOp {
    /// `sep_conv_k×k`: the ReLU-dw-pw-BN unit applied twice (the first carries the stride).
    SepConv(Vec<ReluDwPwBn>),
    /// `dil_conv_k×k`: one ReLU-dw-pw-BN unit with dilation 2.
    DilConv(ReluDwPwBn),
    MaxPool(MaxPool2d),
    AvgPool(AvgPool2d),
    Identity(Identity),
    Reduce(FactorizedReduce),
}

impl CellOp {
    /// The operation `kind` on `channels` channels with `stride` (2 in a reduction cell's
    /// edges from its inputs).
    pub fn new(kind: OpKind, channels: usize, stride: usize, device: &Device) -> Self {
        let unit = |kernel, stride, dilation| {
            ReluDwPwBnConfig::new(channels, kernel, stride, dilation).init(device)
        };
        let pool_padding = PaddingConfig2d::Explicit(1, 1, 1, 1);
        match kind {
            OpKind::SepConv3x3 => CellOp::SepConv(vec![unit(3, stride, 1), unit(3, 1, 1)]),
            OpKind::SepConv5x5 => CellOp::SepConv(vec![unit(5, stride, 1), unit(5, 1, 1)]),
            OpKind::DilConv3x3 => CellOp::DilConv(unit(3, stride, 2)),
            OpKind::DilConv5x5 => CellOp::DilConv(unit(5, stride, 2)),
            OpKind::MaxPool3x3 => CellOp::MaxPool(
                MaxPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pool_padding)
                    .init(),
            ),
            OpKind::AvgPool3x3 => CellOp::AvgPool(
                AvgPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pool_padding)
                    .with_count_include_pad(false)
                    .init(),
            ),
            OpKind::SkipConnect if stride == 1 => CellOp::Identity(Identity::new()),
            OpKind::SkipConnect => {
                CellOp::Reduce(FactorizedReduceConfig::new(channels, channels).init(device))
            }
        }
    }
}

impl Block for CellOp {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, ⌈H/stride⌉, ⌈W/stride⌉]`.
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        match self {
            CellOp::SepConv(units) => units.iter().fold(x, |x, unit| l.apply(unit, x)),
            CellOp::DilConv(unit) => l.apply(unit, x),
            CellOp::MaxPool(pool) => l.apply(pool, x),
            CellOp::AvgPool(pool) => l.apply(pool, x),
            CellOp::Identity(_) => x,
            CellOp::Reduce(reduce) => l.apply(reduce, x),
        }
    }
}

fn pads(padding: &PaddingConfig2d) -> [usize; 4] {
    match padding {
        PaddingConfig2d::Explicit(t, l, b, r) => [*t, *l, *b, *r],
        _ => [0; 4],
    }
}

impl Layer for MaxPool2d {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        MaxPool2d::forward(self, x)
    }
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let p = pads(&self.padding);
        g.pool("MaxPool", x, self.kernel_size, self.stride, p, None)
    }
}

impl Layer for AvgPool2d {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        AvgPool2d::forward(self, x)
    }
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        let p = pads(&self.padding);
        let include = Some(self.count_include_pad);
        g.pool("AveragePool", x, self.kernel_size, self.stride, p, include)
    }
}

/// Preprocessing of a cell input: `FactorizedReduce` when the previous cell reduced,
/// otherwise ReLU-Conv1×1-BN.
// A model is built once per process, so the variant size does not matter, and burn's
// Module derive needs the variants unboxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum CellInput {
    Reduce(FactorizedReduce),
    ReluConvBn(ReluConvBn),
}

/// ReLU → 1×1 conv → BN.
#[derive(Module, Debug)]
pub struct ReluConvBn {
    pub inner: ConvBnAct,
}

impl CellInput {
    /// `FactorizedReduce` when `reduce` (the previous cell halved the resolution), else
    /// ReLU-Conv1×1-BN.
    pub fn new(c_in: usize, c_out: usize, reduce: bool, device: &Device) -> Self {
        if reduce {
            CellInput::Reduce(FactorizedReduceConfig::new(c_in, c_out).init(device))
        } else {
            CellInput::ReluConvBn(ReluConvBn {
                inner: ConvBnActConfig::new(c_in, c_out, 1)
                    .with_act(Activation::None)
                    .init(device),
            })
        }
    }
}

impl Block for CellInput {
    /// # Shapes
    /// `[N, c_in, H, W] → [N, c_out, H', W']` (halved by `Reduce`).
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V {
        match self {
            CellInput::Reduce(reduce) => l.apply(reduce, x),
            CellInput::ReluConvBn(unit) => {
                let x = l.relu(x);
                l.apply(&unit.inner, x)
            }
        }
    }
}

/// A DARTS cell: two preprocessed inputs, nodes that each sum two edge ops, and the
/// concatenation of the chosen states.
#[derive(Module, Debug)]
pub struct Cell {
    pub pre0: CellInput,
    pub pre1: CellInput,
    pub ops: Vec<CellOp>,
    #[module(skip)]
    pub inputs: Vec<usize>,
    #[module(skip)]
    pub concat: Vec<usize>,
}

impl Cell {
    /// # Shapes
    /// `s0`, `s1` (the two previous cells' outputs) → `[N, C · concat.len(), H', W']`.
    fn lower<L: Lower>(&self, l: &mut L, s0: L::V, s1: L::V) -> L::V {
        let mut states = vec![l.apply(&self.pre0, s0), l.apply(&self.pre1, s1)];
        for (pair, inputs) in self.ops.chunks(2).zip(self.inputs.chunks(2)) {
            let a = l.apply(&pair[0], states[inputs[0]].clone());
            let b = l.apply(&pair[1], states[inputs[1]].clone());
            states.push(l.add(a, b));
        }
        let chosen: Vec<L::V> = self.concat.iter().map(|&i| states[i].clone()).collect();
        l.cat(chosen)
    }
}

/// MsNet-ANAS's stride-8 stem, the DARTS ImageNet stem: conv-BN-ReLU-conv-BN (1/4), then
/// ReLU-conv-BN (1/8), all 3×3 stride 2, to `c` channels. The ReLU of the last conv is
/// applied by the first cell's preprocessing.
pub fn stem(c: usize, device: &Device) -> Vec<ConvBnAct> {
    let cbr = |c_in, c_out, act| {
        ConvBnActConfig::new(c_in, c_out, 3)
            .with_stride(2)
            .with_act(act)
            .init(device)
    };
    vec![
        cbr(3, c / 2, Activation::Relu),
        cbr(c / 2, c, Activation::Relu),
        cbr(c, c, Activation::None),
    ]
}

/// Configuration of the cell encoder: stem width `c` and layout (`N`ormal/`R`eduction).
#[derive(Config, Debug)]
pub struct DartsNetworkConfig {
    #[config(default = 16)]
    pub channels: usize,
    /// MsNet-ANAS layout: N R N N R N N N R, with the taps after each `R`.
    #[config(default = "\"NRNNRNNNR\".to_string()")]
    pub layout: String,
    #[config(default = "Genotype::anas_camvid()")]
    pub genotype: Genotype,
}

/// The cell encoder; returns the outputs of the last three reduction cells (1/16, 1/32, 1/64).
#[derive(Module, Debug)]
pub struct DartsNetwork {
    pub stem: Vec<ConvBnAct>,
    pub cells: Vec<Cell>,
    #[module(skip)]
    pub taps: Vec<usize>,
}

impl DartsNetworkConfig {
    /// Output widths of the three taps.
    pub fn tap_channels(&self) -> [usize; 3] {
        let mut c = self.channels;
        let mut widths = Vec::new();
        for kind in self.layout.chars() {
            if kind == 'R' {
                c *= 2;
                widths.push(c * self.genotype.reduce_concat.len());
            }
        }
        let n = widths.len();
        [widths[n - 3], widths[n - 2], widths[n - 1]]
    }

    pub fn validate(&self) -> Result<(), String> {
        self.genotype.validate()?;
        if self.layout.chars().any(|c| c != 'N' && c != 'R') {
            return Err(format!("layout {:?} may contain only N and R", self.layout));
        }
        if self.layout.chars().filter(|&c| c == 'R').count() < 3 {
            return Err(format!(
                "layout {:?} needs at least three reduction cells for the MFMA taps",
                self.layout
            ));
        }
        if self.channels < 2 || !self.channels.is_multiple_of(2) {
            return Err(format!("channels {} must be even and >= 2", self.channels));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> DartsNetwork {
        let c = self.channels;
        let stem = stem(c, device);
        let (mut c_pp, mut c_p, mut c_cur) = (c, c, c);
        let mut reduction_prev = true; // the stem's last conv reduced s1 relative to s0
        let mut cells = Vec::new();
        let mut taps = Vec::new();
        for (i, kind) in self.layout.chars().enumerate() {
            let reduction = kind == 'R';
            if reduction {
                c_cur *= 2;
                taps.push(i);
            }
            let (edges, concat) = if reduction {
                (&self.genotype.reduce, &self.genotype.reduce_concat)
            } else {
                (&self.genotype.normal, &self.genotype.normal_concat)
            };
            let ops = edges
                .iter()
                .map(|&(op, input)| {
                    let stride = if reduction && input < 2 { 2 } else { 1 };
                    CellOp::new(op, c_cur, stride, device)
                })
                .collect();
            cells.push(Cell {
                pre0: CellInput::new(c_pp, c_cur, reduction_prev, device),
                pre1: CellInput::new(c_p, c_cur, false, device),
                ops,
                inputs: edges.iter().map(|&(_, input)| input).collect(),
                concat: concat.clone(),
            });
            reduction_prev = reduction;
            c_pp = c_p;
            c_p = c_cur * concat.len();
        }
        let n = taps.len();
        DartsNetwork {
            stem,
            cells,
            taps: taps[n - 3..].to_vec(),
        }
    }
}

impl DartsNetwork {
    /// Returns the taps after the last three reduction cells.
    ///
    /// # Shapes
    /// `[N, 3, H, W]` → three `[N, Cᵢ, H/sᵢ, W/sᵢ]` with strides 16, 32, 64 for the MsNet
    /// layout (each division rounded up).
    pub fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> [L::V; 3] {
        let x = l.apply(&self.stem[0], x);
        let mut s0 = l.apply(&self.stem[1], x);
        let mut s1 = l.apply(&self.stem[2], s0.clone());
        let mut taps = Vec::with_capacity(3);
        for (i, cell) in self.cells.iter().enumerate() {
            let out = cell.lower(l, s0, s1.clone());
            if self.taps.contains(&i) {
                taps.push(out.clone());
            }
            s0 = s1;
            s1 = out;
        }
        let Ok(taps) = <[L::V; 3]>::try_from(taps) else {
            unreachable!("validated layouts have three taps")
        };
        taps
    }
}
