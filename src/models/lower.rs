//! One body per block for both the burn forward pass and ONNX emission.
//!
//! Leaf layers (a convolution with its BatchNorm, an attention block) implement [`Layer`]:
//! a burn `forward` and an `emit_onnx` of a few lines each, tested against each other through
//! ONNX Runtime. Blocks that wire leaves together write that wiring once, generically over
//! [`Lower`], which [`Eager`] runs on burn tensors and [`OnnxGraph`] records as ONNX nodes —
//! so the exported graph has the structure of the forward pass by construction.

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};

use super::layers::{Activation, global_avg_pool, resize, resize_nearest};
use crate::onnx::graph::{Dim, OnnxGraph, Size, Value};

/// A single-input leaf layer with its two lowerings.
pub trait Layer {
    /// # Shapes
    /// N×C×H×W in, N×C'×H'×W' out (each layer documents its own).
    fn forward(&self, x: Tensor<4>) -> Tensor<4>;
    /// Appends the ONNX nodes of `forward` (eval mode, BatchNorm folded) to `g`.
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value;
}

/// A single-input block whose body is written once, over [`Lower`]; it is a [`Layer`] by
/// that alone.
pub trait Block {
    fn lower<L: Lower>(&self, l: &mut L, x: L::V) -> L::V;
}

impl<T: Block> Layer for T {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.lower(&mut Eager, x)
    }
    fn emit_onnx(&self, g: &mut OnnxGraph, x: &Value) -> Value {
        self.lower(g, x.clone())
    }
}

/// The operations block bodies are written against: burn tensors ([`Eager`]) or ONNX values
/// ([`OnnxGraph`]). Values are N×C×H×W and moved in, as burn code moves tensors, so that
/// burn can reuse a buffer in place when nothing else holds it; a body clones what it uses
/// twice.
pub trait Lower {
    /// A 4-D tensor.
    type V: Clone;
    /// The extent of one axis: `usize` for burn, [`Size`] (constant or computed) for ONNX.
    type S: Clone;

    fn apply<M: Layer>(&mut self, layer: &M, x: Self::V) -> Self::V;
    fn act(&mut self, act: Activation, x: Self::V) -> Self::V;
    fn add(&mut self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(&mut self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(&mut self, a: Self::V, b: Self::V) -> Self::V;
    /// Concatenation along channels.
    fn cat(&mut self, xs: Vec<Self::V>) -> Self::V;
    fn global_avg_pool(&mut self, x: Self::V) -> Self::V;
    /// `x[:, :, 1:, 1:]` zero-padded back to H×W at the bottom and right.
    fn shift_up_left(&mut self, x: Self::V) -> Self::V;
    /// `x[:, start:start + len]`.
    fn channels(&mut self, x: Self::V, start: usize, len: usize) -> Self::V;
    fn size(&mut self, x: &Self::V, axis: usize) -> Self::S;
    fn div_ceil(&mut self, s: &Self::S, d: usize) -> Self::S;
    /// Bilinear resize to `h × w` (see [`resize`]).
    fn resize(&mut self, x: Self::V, h: &Self::S, w: &Self::S, align_corners: bool) -> Self::V;
    /// Nearest-neighbour resize to `h × w` (see [`resize_nearest`]).
    fn resize_nearest(&mut self, x: Self::V, h: &Self::S, w: &Self::S) -> Self::V;
    /// Bilinear, zero-padded sampling of `x` at `grid` (N×h×w×2, x first, in [−1, 1]).
    fn grid_sample(&mut self, x: Self::V, grid: Self::V, align_corners: bool) -> Self::V;
    /// The sampling grid of a flow field: the identity grid plus the flow divided by the
    /// field's width and height (SFNet/MFARANet flow alignment).
    ///
    /// # Shapes
    /// `[N, 2, h, w]` (x, y offsets in pixels) → `[N, h, w, 2]` in [−1, 1] units, x first.
    fn flow_grid(&mut self, flow: Self::V) -> Self::V;

    /// Bilinear resize of `x` to the spatial size of `like`.
    fn resize_like(&mut self, x: Self::V, like: &Self::V, align_corners: bool) -> Self::V {
        let (h, w) = (self.size(like, 2), self.size(like, 3));
        self.resize(x, &h, &w, align_corners)
    }

    /// Nearest-neighbour resize of `x` to the spatial size of `like`.
    fn resize_nearest_like(&mut self, x: Self::V, like: &Self::V) -> Self::V {
        let (h, w) = (self.size(like, 2), self.size(like, 3));
        self.resize_nearest(x, &h, &w)
    }

    /// `relu(x)`.
    fn relu(&mut self, x: Self::V) -> Self::V {
        self.act(Activation::Relu, x)
    }

    /// Runs `f` with the ONNX nodes it records named under `name` (a module field such as
    /// `backbone`; see [`OnnxGraph::enter_scope`]); on burn tensors it is `f` alone.
    fn scope<T>(&mut self, _name: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        f(self)
    }

    /// [`Self::apply`] inside [`Self::scope`]`(name)`: a segmentor's top-level block.
    fn apply_as<M: Layer>(&mut self, name: &str, layer: &M, x: Self::V) -> Self::V {
        self.scope(name, |l| l.apply(layer, x))
    }
}

/// Lowering to burn tensors: running the network.
pub struct Eager;

impl Lower for Eager {
    type V = Tensor<4>;
    type S = usize;

    fn apply<M: Layer>(&mut self, layer: &M, x: Tensor<4>) -> Tensor<4> {
        layer.forward(x)
    }
    fn act(&mut self, act: Activation, x: Tensor<4>) -> Tensor<4> {
        match act {
            Activation::Relu => relu(x),
            Activation::Sigmoid => sigmoid(x),
            other => other.apply(x),
        }
    }
    fn add(&mut self, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
        a + b
    }
    fn sub(&mut self, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
        a - b
    }
    fn mul(&mut self, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
        a * b
    }
    fn cat(&mut self, xs: Vec<Tensor<4>>) -> Tensor<4> {
        Tensor::cat(xs, 1)
    }
    fn global_avg_pool(&mut self, x: Tensor<4>) -> Tensor<4> {
        global_avg_pool(x)
    }
    fn shift_up_left(&mut self, x: Tensor<4>) -> Tensor<4> {
        x.slice(s![.., .., 1.., 1..]).pad(
            [(0, 0), (0, 0), (0, 1), (0, 1)],
            burn::tensor::ops::PadMode::Constant(0.0),
        )
    }
    fn channels(&mut self, x: Tensor<4>, start: usize, len: usize) -> Tensor<4> {
        x.narrow(1, start, len)
    }
    fn size(&mut self, x: &Tensor<4>, axis: usize) -> usize {
        x.dims()[axis]
    }
    fn div_ceil(&mut self, s: &usize, d: usize) -> usize {
        s.div_ceil(d)
    }
    fn resize(&mut self, x: Tensor<4>, h: &usize, w: &usize, align_corners: bool) -> Tensor<4> {
        resize(x, [*h, *w], align_corners)
    }
    fn resize_nearest(&mut self, x: Tensor<4>, h: &usize, w: &usize) -> Tensor<4> {
        resize_nearest(x, [*h, *w])
    }
    fn grid_sample(&mut self, x: Tensor<4>, grid: Tensor<4>, align_corners: bool) -> Tensor<4> {
        x.grid_sample_2d(
            grid,
            GridSampleOptions::new(InterpolateMode::Bilinear)
                .with_padding_mode(GridSamplePaddingMode::Zeros)
                .with_align_corners(align_corners),
        )
    }
    fn flow_grid(&mut self, flow: Tensor<4>) -> Tensor<4> {
        let [n, _, h, w] = flow.dims();
        let device = flow.device();
        let linspace = |len: usize| {
            let step = 2.0 / (len.max(2) - 1) as f64;
            Tensor::<1, Int>::arange(0..len as i64, &device).float() * step - 1.0
        };
        let base_x = linspace(w).reshape([1, 1, w]);
        let base_y = linspace(h).reshape([1, h, 1]);
        let gx = flow.clone().narrow(1, 0, 1).reshape([n, h, w]) / w as f64 + base_x;
        let gy = flow.narrow(1, 1, 1).reshape([n, h, w]) / h as f64 + base_y;
        Tensor::stack(vec![gx, gy], 3)
    }
}

/// Whether `x` is known to be `h × w` already: burn returns such an input unchanged from a
/// resize, and so does the graph.
fn same_size(x: &Value, h: &Size, w: &Size) -> bool {
    let same = |axis: usize, s: &Size| matches!((x.shape[axis], s), (Dim::Fixed(a), Size::Fixed(b)) if a == *b);
    same(2, h) && same(3, w)
}

/// Lowering to ONNX: recording the network.
impl Lower for OnnxGraph {
    type V = Value;
    type S = Size;

    fn apply<M: Layer>(&mut self, layer: &M, x: Value) -> Value {
        // Each applied block names its nodes by its type and index, so every layer of a
        // profile traces back to the block that emitted it.
        self.enter_child_scope(std::any::type_name::<M>());
        let y = layer.emit_onnx(self, &x);
        self.exit_scope();
        y
    }
    fn scope<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.enter_scope(name);
        let y = f(self);
        self.exit_scope();
        y
    }
    fn act(&mut self, act: Activation, x: Value) -> Value {
        act.emit_onnx(self, &x)
    }
    fn add(&mut self, a: Value, b: Value) -> Value {
        self.binary("Add", &a, &b)
    }
    fn sub(&mut self, a: Value, b: Value) -> Value {
        self.binary("Sub", &a, &b)
    }
    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.binary("Mul", &a, &b)
    }
    fn cat(&mut self, xs: Vec<Value>) -> Value {
        let refs: Vec<&Value> = xs.iter().collect();
        self.concat(&refs, 1)
    }
    fn global_avg_pool(&mut self, x: Value) -> Value {
        self.global_average_pool(&x)
    }
    fn shift_up_left(&mut self, x: Value) -> Value {
        let cut = self.slice_from(&x, &[1, 1], &[2, 3]);
        self.pad_zeros(&cut, [0, 0, 1, 1])
    }
    fn channels(&mut self, x: Value, start: usize, len: usize) -> Value {
        self.slice_axis(&x, 1, start, len)
    }
    fn size(&mut self, x: &Value, axis: usize) -> Size {
        self.size_of(x, axis)
    }
    fn div_ceil(&mut self, s: &Size, d: usize) -> Size {
        self.size_div_ceil(s, d)
    }
    fn resize(&mut self, x: Value, h: &Size, w: &Size, align_corners: bool) -> Value {
        if same_size(&x, h, w) {
            return x;
        }
        OnnxGraph::resize(self, &x, h, w, align_corners)
    }
    fn resize_nearest(&mut self, x: Value, h: &Size, w: &Size) -> Value {
        if same_size(&x, h, w) {
            return x;
        }
        OnnxGraph::resize_nearest(self, &x, h, w)
    }
    fn grid_sample(&mut self, x: Value, grid: Value, align_corners: bool) -> Value {
        OnnxGraph::grid_sample(self, &x, &grid, align_corners)
    }
    fn flow_grid(&mut self, flow: Value) -> Value {
        let (h, w) = (self.size_of(&flow, 2), self.size_of(&flow, 3));
        let axis = |g: &mut OnnxGraph, channel: usize, len: &Size, base_shape: [i64; 4]| {
            let offset = g.slice_axis(&flow, 1, channel, 1);
            let extent = g.size_as_float(len);
            let offset = g.binary_const("Div", &offset, &extent, &[1]);
            let base = g.linspace(len);
            let base = g.reshape(&base, &base_shape);
            g.binary("Add", &offset, &base)
        };
        let gx = axis(self, 0, &w, [1, 1, 1, -1]);
        let gy = axis(self, 1, &h, [1, 1, -1, 1]);
        let grid = self.concat(&[&gx, &gy], 1);
        self.transpose(&grid, &[0, 2, 3, 1])
    }
}
