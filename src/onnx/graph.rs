//! A small ONNX graph builder: values with tracked shapes, initializers in the graph's float
//! type, and one method per operator the model zoo uses (opset 17). Blocks call it from their
//! `emit_onnx`, next to their `forward`; nothing here knows about networks.
//!
//! Shapes are tracked so that fixed-size exports get constant resize targets and static
//! value shapes, while dimensions marked dynamic are carried through `Shape` ops at run time.

use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{Dimension, dimension};
use onnx_protobuf::type_proto::{self, Tensor as TensorType};
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
};

/// The default-domain opset rtseg emits: LayerNormalization needs 17, GridSample 16; TensorRT
/// 8.5 (JetPack 5) parses up to 17.
pub const OPSET: i64 = 17;

/// IR version 8 is the one that pairs with opset 17 (ONNX 1.12); ONNX Runtime 1.31 reads up to
/// IR 13.
pub const IR_VERSION: i64 = 8;

/// One dimension of a value: known at export time, or decided by the input at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(usize),
    Dynamic,
}

impl Dim {
    pub fn fixed(self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(n),
            Dim::Dynamic => None,
        }
    }
}

/// A tensor in the graph: its name and its shape as far as export time knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    pub name: String,
    pub shape: Vec<Dim>,
}

/// A size (one dimension's extent) for ops that take sizes: a constant, or an int64 tensor of
/// shape `[1]` computed in the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Size {
    Fixed(usize),
    Dynamic(String),
}

/// Element types at the graph's inputs and outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    F32,
    F16,
    U8,
    I32,
    I64,
}

impl ElemType {
    fn onnx(self) -> DataType {
        match self {
            ElemType::F32 => DataType::FLOAT,
            ElemType::F16 => DataType::FLOAT16,
            ElemType::U8 => DataType::UINT8,
            ElemType::I32 => DataType::INT32,
            ElemType::I64 => DataType::INT64,
        }
    }
}

/// A graph under construction. `float` is the type of every weight and float tensor inside the
/// graph (`F16` for `--fp16` exports); graph inputs are cast to it by the caller.
pub struct OnnxGraph {
    float: ElemType,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    next_id: usize,
    /// Multiply-accumulates of the convolutions and matrix products so far; `None` once one
    /// of them had a dynamic extent.
    macs: Option<u64>,
    /// The module path nodes are named under, each scope with the number of child blocks
    /// entered in it so far; the first entry is the unnamed top level.
    scopes: Vec<(String, usize)>,
}

/// An attribute of a node.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Str(&'static str),
}

fn attribute(name: &str, value: Attr) -> AttributeProto {
    let mut a = AttributeProto {
        name: name.to_string(),
        ..Default::default()
    };
    let kind = match value {
        Attr::Int(i) => {
            a.i = i;
            AttributeType::INT
        }
        Attr::Ints(v) => {
            a.ints = v;
            AttributeType::INTS
        }
        Attr::Float(f) => {
            a.f = f;
            AttributeType::FLOAT
        }
        Attr::Str(s) => {
            a.s = s.as_bytes().to_vec();
            AttributeType::STRING
        }
    };
    a.type_ = kind.into();
    a
}

fn value_info(name: &str, elem: ElemType, shape: &[Dim], params: &[&str]) -> ValueInfoProto {
    let dims = shape
        .iter()
        .zip(params.iter().chain(std::iter::repeat(&"?")))
        .map(|(d, p)| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
                Dim::Dynamic => dimension::Value::DimParam(p.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        type_: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(TensorType {
                elem_type: elem.onnx() as i32,
                shape: Some(TensorShapeProto {
                    dim: dims,
                    ..Default::default()
                })
                .into(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

/// Numpy broadcasting of two known-rank shapes.
fn broadcast(a: &[Dim], b: &[Dim]) -> Vec<Dim> {
    let rank = a.len().max(b.len());
    let at = |s: &[Dim], i: usize| {
        (i + s.len())
            .checked_sub(rank)
            .map_or(Dim::Fixed(1), |j| s[j])
    };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => d,
            (Dim::Fixed(n), _) | (_, Dim::Fixed(n)) => Dim::Fixed(n),
            _ => Dim::Dynamic,
        })
        .collect()
}

/// The output extent of a convolution or pooling window along one axis.
fn window_out(input: Dim, kernel: usize, stride: usize, pad: usize, dilation: usize) -> Dim {
    match input {
        Dim::Fixed(n) => Dim::Fixed((n + pad - dilation * (kernel - 1) - 1) / stride + 1),
        Dim::Dynamic => Dim::Dynamic,
    }
}

/// The parameters of a 2-D convolution (weights already folded with any BatchNorm).
pub struct ConvSpec {
    /// `[out, in / groups, kh, kw]`, row-major.
    pub weight: Vec<f32>,
    pub dims: [usize; 4],
    pub bias: Option<Vec<f32>>,
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl OnnxGraph {
    pub fn new(float: ElemType) -> Self {
        assert!(matches!(float, ElemType::F32 | ElemType::F16));
        Self {
            float,
            nodes: Vec::new(),
            initializers: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            next_id: 0,
            macs: Some(0),
            scopes: vec![(String::new(), 0)],
        }
    }

    /// Names the nodes appended until the matching [`Self::exit_scope`] under `name`, inside
    /// the current scope: node names become module paths such as
    /// `backbone/XceptionBlock_3/SeparableConvBnAct_1/conv_45` (the layer names TensorRT
    /// profiles and Netron show). Tensor names are unchanged, so INT8 calibration caches keyed
    /// by tensor name stay valid.
    pub fn enter_scope(&mut self, name: &str) {
        self.scopes.push((name.to_string(), 0));
    }

    /// Leaves the scope of the last [`Self::enter_scope`].
    pub fn exit_scope(&mut self) {
        if self.scopes.len() > 1 {
            self.scopes.pop();
        }
    }

    /// Enters the scope of the next child block of type `type_name` (a path such as
    /// `rtseg::models::layers::ConvBnAct`), named `ConvBnAct_<k>` with `k` its index among
    /// the blocks entered in the current scope.
    pub fn enter_child_scope(&mut self, type_name: &str) {
        let short = type_name.split('<').next().unwrap_or(type_name);
        let short = short.rsplit("::").next().unwrap_or(short);
        let (_, children) = self.scopes.last_mut().expect("the top level is never left");
        let name = format!("{short}_{children}");
        *children += 1;
        self.enter_scope(&name);
    }

    /// The nodes appended so far, in order.
    pub fn nodes(&self) -> &[NodeProto] {
        &self.nodes
    }

    /// Multiply-accumulates of the graph's convolutions and matrix products (the fvcore/mmcv
    /// convention: element-wise ops, resizes and sampling are not counted), or `None` when a
    /// size is dynamic.
    pub fn macs(&self) -> Option<u64> {
        self.macs
    }

    /// Adds `per_output` MACs for every element of an output of `shape`.
    fn count_macs(&mut self, shape: &[Dim], per_output: usize) {
        let outputs: Option<usize> = shape.iter().map(|d| d.fixed()).product();
        self.macs = self
            .macs
            .zip(outputs)
            .map(|(m, n)| m + (n * per_output) as u64);
    }

    /// The float type of tensors inside the graph.
    pub fn float_type(&self) -> ElemType {
        self.float
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next_id += 1;
        format!("{hint}_{}", self.next_id)
    }

    /// Appends a node; returns the names of its outputs.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<(&str, Attr)>,
    ) -> Vec<String> {
        let hint = op.to_ascii_lowercase();
        let names: Vec<String> = (0..outputs).map(|_| self.fresh(&hint)).collect();
        let name = self.scopes[1..]
            .iter()
            .map(|(scope, _)| format!("{scope}/"))
            .chain([names[0].clone()])
            .collect();
        self.nodes.push(NodeProto {
            op_type: op.to_string(),
            name,
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: names.clone(),
            attribute: attrs.into_iter().map(|(n, v)| attribute(n, v)).collect(),
            ..Default::default()
        });
        names
    }

    fn one(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        self.node(op, inputs, 1, attrs).remove(0)
    }

    /// Declares a graph input.
    pub fn input(&mut self, name: &str, elem: ElemType, shape: &[Dim], params: &[&str]) -> Value {
        self.inputs.push(value_info(name, elem, shape, params));
        Value {
            name: name.to_string(),
            shape: shape.to_vec(),
        }
    }

    /// Declares `value` as a graph output named `name` (through an Identity node).
    pub fn output(&mut self, value: &Value, name: &str, elem: ElemType, params: &[&str]) {
        self.nodes.push(NodeProto {
            op_type: "Identity".into(),
            name: name.to_string(),
            input: vec![value.name.clone()],
            output: vec![name.to_string()],
            ..Default::default()
        });
        self.outputs
            .push(value_info(name, elem, &value.shape, params));
    }

    /// A float initializer in the graph's float type.
    pub fn floats(&mut self, hint: &str, data: &[f32], dims: &[usize]) -> String {
        self.floats_of(self.float, hint, data, dims)
    }

    /// A float initializer of element type `elem` (`F32` or `F16`).
    pub fn floats_of(
        &mut self,
        elem: ElemType,
        hint: &str,
        data: &[f32],
        dims: &[usize],
    ) -> String {
        assert_eq!(
            data.len(),
            dims.iter().product::<usize>(),
            "{hint}: data/dims"
        );
        let name = self.fresh(hint);
        let raw_data = match elem {
            ElemType::F16 => data
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_bits().to_le_bytes())
                .collect(),
            _ => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: elem.onnx() as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// A float scalar (shape `[]`) in the graph's float type.
    pub fn scalar(&mut self, hint: &str, v: f32) -> String {
        self.floats(hint, &[v], &[])
    }

    /// An int64 initializer of shape `[len]`.
    pub fn ints(&mut self, hint: &str, data: &[i64]) -> String {
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: DataType::INT64 as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name
    }

    /// An int64 scalar (shape `[]`) initializer.
    pub fn int_scalar(&mut self, hint: &str, v: i64) -> String {
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            name: name.clone(),
            data_type: DataType::INT64 as i32,
            raw_data: v.to_le_bytes().to_vec(),
            ..Default::default()
        });
        name
    }

    // ---- sizes -------------------------------------------------------------------------

    /// The extent of `x` along `axis`.
    pub fn size_of(&mut self, x: &Value, axis: usize) -> Size {
        match x.shape[axis] {
            Dim::Fixed(n) => Size::Fixed(n),
            Dim::Dynamic => {
                let shape = self.one("Shape", &[&x.name], vec![]);
                let (s, e) = (axis as i64, axis as i64 + 1);
                let starts = self.ints("start", &[s]);
                let ends = self.ints("end", &[e]);
                Size::Dynamic(self.one("Slice", &[&shape, &starts, &ends], vec![]))
            }
        }
    }

    /// `ceil(size / d)`.
    pub fn size_div_ceil(&mut self, size: &Size, d: usize) -> Size {
        match size {
            Size::Fixed(n) => Size::Fixed(n.div_ceil(d)),
            Size::Dynamic(t) => {
                let plus = self.ints("plus", &[d as i64 - 1]);
                let div = self.ints("div", &[d as i64]);
                let num = self.one("Add", &[t, &plus], vec![]);
                Size::Dynamic(self.one("Div", &[&num, &div], vec![]))
            }
        }
    }

    /// A size as a float tensor of shape `[1]` in the graph's float type.
    pub fn size_as_float(&mut self, size: &Size) -> String {
        match size {
            Size::Fixed(n) => self.floats("size", &[*n as f32], &[1]),
            Size::Dynamic(t) => {
                let to = self.float.onnx() as i64;
                self.one("Cast", &[t], vec![("to", Attr::Int(to))])
            }
        }
    }

    /// An int64 shape tensor from sizes (a constant when all are fixed).
    fn size_tensor(&mut self, sizes: &[Size]) -> String {
        let fixed: Option<Vec<i64>> = sizes
            .iter()
            .map(|s| match s {
                Size::Fixed(n) => Some(*n as i64),
                Size::Dynamic(_) => None,
            })
            .collect();
        if let Some(values) = fixed {
            return self.ints("sizes", &values);
        }
        let parts: Vec<String> = sizes
            .iter()
            .map(|s| match s {
                Size::Fixed(n) => self.ints("size", &[*n as i64]),
                Size::Dynamic(t) => t.clone(),
            })
            .collect();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.one("Concat", &refs, vec![("axis", Attr::Int(0))])
    }

    // ---- operators ---------------------------------------------------------------------

    /// 2-D convolution (`Conv`).
    pub fn conv(&mut self, x: &Value, spec: ConvSpec) -> Value {
        let [co, _, kh, kw] = spec.dims;
        let weight = self.floats("weight", &spec.weight, &spec.dims);
        let bias = spec.bias.map(|b| self.floats("bias", &b, &[co]));
        let mut inputs = vec![x.name.as_str(), weight.as_str()];
        if let Some(b) = &bias {
            inputs.push(b);
        }
        let [t, l, b, r] = spec.pads;
        let name = self.one(
            "Conv",
            &inputs,
            vec![
                ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
                (
                    "strides",
                    Attr::Ints(spec.stride.map(|s| s as i64).to_vec()),
                ),
                ("pads", Attr::Ints([t, l, b, r].map(|p| p as i64).to_vec())),
                (
                    "dilations",
                    Attr::Ints(spec.dilation.map(|d| d as i64).to_vec()),
                ),
                ("group", Attr::Int(spec.groups as i64)),
            ],
        );
        let shape = vec![
            x.shape[0],
            Dim::Fixed(co),
            window_out(x.shape[2], kh, spec.stride[0], t + b, spec.dilation[0]),
            window_out(x.shape[3], kw, spec.stride[1], l + r, spec.dilation[1]),
        ];
        self.count_macs(&shape, spec.dims[1] * kh * kw);
        Value { name, shape }
    }

    /// An element-wise operator of one input (`Relu`, `Sigmoid`, `HardSwish`, `Identity`).
    pub fn unary(&mut self, op: &str, x: &Value) -> Value {
        Value {
            name: self.one(op, &[&x.name], vec![]),
            shape: x.shape.clone(),
        }
    }

    /// `HardSigmoid`: `max(0, min(1, αx + β))`.
    pub fn hard_sigmoid(&mut self, x: &Value, alpha: f32, beta: f32) -> Value {
        let attrs = vec![("alpha", Attr::Float(alpha)), ("beta", Attr::Float(beta))];
        Value {
            name: self.one("HardSigmoid", &[&x.name], attrs),
            shape: x.shape.clone(),
        }
    }

    /// A broadcasting binary operator (`Add`, `Sub`, `Mul`, `Div`).
    pub fn binary(&mut self, op: &str, a: &Value, b: &Value) -> Value {
        Value {
            name: self.one(op, &[&a.name, &b.name], vec![]),
            shape: broadcast(&a.shape, &b.shape),
        }
    }

    /// `op(a, constant)` for a float tensor initializer named `b` of shape `b_shape`.
    pub fn binary_const(&mut self, op: &str, a: &Value, b: &str, b_shape: &[usize]) -> Value {
        let b = Value {
            name: b.to_string(),
            shape: b_shape.iter().map(|&n| Dim::Fixed(n)).collect(),
        };
        self.binary(op, a, &b)
    }

    pub fn concat(&mut self, xs: &[&Value], axis: usize) -> Value {
        let names: Vec<&str> = xs.iter().map(|x| x.name.as_str()).collect();
        let mut shape = xs[0].shape.clone();
        shape[axis] = xs
            .iter()
            .map(|x| x.shape[axis].fixed())
            .sum::<Option<usize>>()
            .map_or(Dim::Dynamic, Dim::Fixed);
        Value {
            name: self.one("Concat", &names, vec![("axis", Attr::Int(axis as i64))]),
            shape,
        }
    }

    /// Mean over H and W, keeping them as 1 (`GlobalAveragePool`).
    pub fn global_average_pool(&mut self, x: &Value) -> Value {
        Value {
            name: self.one("GlobalAveragePool", &[&x.name], vec![]),
            shape: vec![x.shape[0], x.shape[1], Dim::Fixed(1), Dim::Fixed(1)],
        }
    }

    /// Mean over the height axis of an N×C×H×W tensor, keeping it as 1 (`ReduceMean`; the
    /// strip pooling of AttaNet's SAM).
    pub fn mean_over_height(&mut self, x: &Value) -> Value {
        let attrs = vec![("axes", Attr::Ints(vec![2])), ("keepdims", Attr::Int(1))];
        Value {
            name: self.one("ReduceMean", &[&x.name], attrs),
            shape: vec![x.shape[0], x.shape[1], Dim::Fixed(1), x.shape[3]],
        }
    }

    /// `MaxPool` or `AveragePool` (`count_include_pad` only for the latter).
    pub fn pool(
        &mut self,
        op: &str,
        x: &Value,
        kernel: [usize; 2],
        stride: [usize; 2],
        pads: [usize; 4],
        count_include_pad: Option<bool>,
    ) -> Value {
        let mut attrs = vec![
            (
                "kernel_shape",
                Attr::Ints(kernel.map(|k| k as i64).to_vec()),
            ),
            ("strides", Attr::Ints(stride.map(|s| s as i64).to_vec())),
            ("pads", Attr::Ints(pads.map(|p| p as i64).to_vec())),
        ];
        if let Some(include) = count_include_pad {
            attrs.push(("count_include_pad", Attr::Int(include as i64)));
        }
        let [t, l, b, r] = pads;
        let shape = vec![
            x.shape[0],
            x.shape[1],
            window_out(x.shape[2], kernel[0], stride[0], t + b, 1),
            window_out(x.shape[3], kernel[1], stride[1], l + r, 1),
        ];
        Value {
            name: self.one(op, &[&x.name], attrs),
            shape,
        }
    }

    /// `Reshape` to `target` (ONNX rules: 0 copies the input dimension, −1 is inferred).
    pub fn reshape(&mut self, x: &Value, target: &[i64]) -> Value {
        let shape_name = self.ints("shape", target);
        let mut shape: Vec<Dim> = target
            .iter()
            .enumerate()
            .map(|(i, &t)| match t {
                0 => x.shape[i],
                -1 => Dim::Dynamic,
                n => Dim::Fixed(n as usize),
            })
            .collect();
        if let Some(infer) = target.iter().position(|&t| t == -1) {
            let total: Option<usize> = x.shape.iter().map(|d| d.fixed()).product();
            let known: Option<usize> = shape
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != infer)
                .map(|(_, d)| d.fixed())
                .product();
            if let (Some(total), Some(known)) = (total, known) {
                shape[infer] = Dim::Fixed(total / known.max(1));
            }
        }
        Value {
            name: self.one("Reshape", &[&x.name, &shape_name], vec![]),
            shape,
        }
    }

    pub fn softmax(&mut self, x: &Value, axis: usize) -> Value {
        Value {
            name: self.one(
                "Softmax",
                &[&x.name],
                vec![("axis", Attr::Int(axis as i64))],
            ),
            shape: x.shape.clone(),
        }
    }

    /// Batched matrix product of `[…, m, k] × […, k, n]`.
    pub fn matmul(&mut self, a: &Value, b: &Value) -> Value {
        let r = a.shape.len();
        let mut shape = broadcast(&a.shape[..r - 2], &b.shape[..b.shape.len() - 2]);
        shape.push(a.shape[r - 2]);
        shape.push(b.shape[b.shape.len() - 1]);
        match a.shape[r - 1].fixed() {
            Some(k) => self.count_macs(&shape, k),
            None => self.macs = None,
        }
        Value {
            name: self.one("MatMul", &[&a.name, &b.name], vec![]),
            shape,
        }
    }

    /// `LayerNormalization` over the last axis.
    pub fn layer_norm(&mut self, x: &Value, gamma: &[f32], beta: &[f32], epsilon: f64) -> Value {
        let g = self.floats("gamma", gamma, &[gamma.len()]);
        let b = self.floats("beta", beta, &[beta.len()]);
        let attrs = vec![
            ("axis", Attr::Int(-1)),
            ("epsilon", Attr::Float(epsilon as f32)),
        ];
        Value {
            name: self.one("LayerNormalization", &[&x.name, &g, &b], attrs),
            shape: x.shape.clone(),
        }
    }

    /// `x[…, starts[i]:, …]` along `axes` (to the end).
    pub fn slice_from(&mut self, x: &Value, starts: &[usize], axes: &[usize]) -> Value {
        let s = self.ints(
            "starts",
            &starts.iter().map(|&v| v as i64).collect::<Vec<_>>(),
        );
        let e = self.ints("ends", &vec![i64::MAX; starts.len()]);
        let a = self.ints("axes", &axes.iter().map(|&v| v as i64).collect::<Vec<_>>());
        let mut shape = x.shape.clone();
        for (&start, &axis) in starts.iter().zip(axes) {
            shape[axis] = match shape[axis] {
                Dim::Fixed(n) => Dim::Fixed(n.saturating_sub(start)),
                Dim::Dynamic => Dim::Dynamic,
            };
        }
        Value {
            name: self.one("Slice", &[&x.name, &s, &e, &a], vec![]),
            shape,
        }
    }

    /// `x[:, start:start + len]` along one axis.
    pub fn slice_axis(&mut self, x: &Value, axis: usize, start: usize, len: usize) -> Value {
        let s = self.ints("starts", &[start as i64]);
        let e = self.ints("ends", &[(start + len) as i64]);
        let a = self.ints("axes", &[axis as i64]);
        let mut shape = x.shape.clone();
        shape[axis] = Dim::Fixed(len);
        Value {
            name: self.one("Slice", &[&x.name, &s, &e, &a], vec![]),
            shape,
        }
    }

    /// Zero padding of a 4-D tensor by `[top, left, bottom, right]`.
    pub fn pad_zeros(&mut self, x: &Value, [t, l, b, r]: [usize; 4]) -> Value {
        let pads = self.ints(
            "pads",
            &[0, 0, t as i64, l as i64, 0, 0, b as i64, r as i64],
        );
        let grow = |d: Dim, by: usize| match d {
            Dim::Fixed(n) => Dim::Fixed(n + by),
            Dim::Dynamic => Dim::Dynamic,
        };
        Value {
            name: self.one(
                "Pad",
                &[&x.name, &pads],
                vec![("mode", Attr::Str("constant"))],
            ),
            shape: vec![
                x.shape[0],
                x.shape[1],
                grow(x.shape[2], t + b),
                grow(x.shape[3], l + r),
            ],
        }
    }

    pub fn transpose(&mut self, x: &Value, perm: &[usize]) -> Value {
        let attrs = vec![("perm", Attr::Ints(perm.iter().map(|&p| p as i64).collect()))];
        Value {
            name: self.one("Transpose", &[&x.name], attrs),
            shape: perm.iter().map(|&p| x.shape[p]).collect(),
        }
    }

    /// Bilinear resize of an N×C×H×W tensor to `height × width` (`Resize`, linear mode):
    /// `align_corners` maps corner pixel centres onto each other; otherwise half-pixel centres
    /// (PyTorch's `align_corners=False`, which is what burn computes).
    pub fn resize(&mut self, x: &Value, height: &Size, width: &Size, align_corners: bool) -> Value {
        let transform = if align_corners {
            "align_corners"
        } else {
            "pytorch_half_pixel"
        };
        let attrs = vec![
            ("mode", Attr::Str("linear")),
            ("coordinate_transformation_mode", Attr::Str(transform)),
        ];
        self.resize_with(x, height, width, attrs)
    }

    /// Nearest-neighbour resize to `height × width` (`Resize`, nearest mode, asymmetric
    /// coordinates, floor): output pixel `o` reads input `⌊o · in / out⌋`, as PyTorch's
    /// `nearest` and burn do.
    pub fn resize_nearest(&mut self, x: &Value, height: &Size, width: &Size) -> Value {
        let attrs = vec![
            ("mode", Attr::Str("nearest")),
            ("coordinate_transformation_mode", Attr::Str("asymmetric")),
            ("nearest_mode", Attr::Str("floor")),
        ];
        self.resize_with(x, height, width, attrs)
    }

    fn resize_with(
        &mut self,
        x: &Value,
        height: &Size,
        width: &Size,
        attrs: Vec<(&str, Attr)>,
    ) -> Value {
        let (n, c) = (self.size_of(x, 0), self.size_of(x, 1));
        let sizes = self.size_tensor(&[n, c, height.clone(), width.clone()]);
        let dim = |s: &Size| match s {
            Size::Fixed(n) => Dim::Fixed(*n),
            Size::Dynamic(_) => Dim::Dynamic,
        };
        Value {
            name: self.one("Resize", &[&x.name, "", "", &sizes], attrs),
            shape: vec![x.shape[0], x.shape[1], dim(height), dim(width)],
        }
    }

    /// `GridSample` (bilinear, zero padding) of `x` at `grid` (N×h×w×2, x first, in [−1, 1]).
    pub fn grid_sample(&mut self, x: &Value, grid: &Value, align_corners: bool) -> Value {
        let attrs = vec![
            ("mode", Attr::Str("bilinear")),
            ("padding_mode", Attr::Str("zeros")),
            ("align_corners", Attr::Int(align_corners as i64)),
        ];
        Value {
            name: self.one("GridSample", &[&x.name, &grid.name], attrs),
            shape: vec![x.shape[0], x.shape[1], grid.shape[1], grid.shape[2]],
        }
    }

    /// `[0, 1, …, len − 1]` as a float tensor of shape `[len]`.
    pub fn arange(&mut self, len: &Size) -> Value {
        match len {
            Size::Fixed(n) => {
                let data: Vec<f32> = (0..*n).map(|i| i as f32).collect();
                Value {
                    name: self.floats("arange", &data, &[*n]),
                    shape: vec![Dim::Fixed(*n)],
                }
            }
            Size::Dynamic(t) => {
                // Range takes scalars; the size is a one-element vector.
                let axes = self.ints("axes", &[0]);
                let limit = self.one("Squeeze", &[t, &axes], vec![]);
                let zero = self.int_scalar("zero", 0);
                let one = self.int_scalar("one", 1);
                let range = self.one("Range", &[&zero, &limit, &one], vec![]);
                let to = self.float.onnx() as i64;
                Value {
                    name: self.one("Cast", &[&range], vec![("to", Attr::Int(to))]),
                    shape: vec![Dim::Dynamic],
                }
            }
        }
    }

    /// `len` points evenly spaced from −1 to 1 (shape `[len]`), with step `2 / (max(len, 2) − 1)`
    /// as the flow grid computes it.
    pub fn linspace(&mut self, len: &Size) -> Value {
        if let Size::Fixed(n) = len {
            let step = 2.0 / ((*n).max(2) - 1) as f64;
            let data: Vec<f32> = (0..*n).map(|i| (i as f64 * step - 1.0) as f32).collect();
            return Value {
                name: self.floats("linspace", &data, &[*n]),
                shape: vec![Dim::Fixed(*n)],
            };
        }
        let index = self.arange(len);
        let extent = self.size_as_float(len);
        let two = self.scalar("two", 2.0);
        let one = self.scalar("one", 1.0);
        let denominator = self.one("Max", &[&extent, &two], vec![]);
        let denominator = self.one("Sub", &[&denominator, &one], vec![]);
        let step = self.one("Div", &[&two, &denominator], vec![]);
        let scaled = self.one("Mul", &[&index.name, &step], vec![]);
        Value {
            name: self.one("Sub", &[&scaled, &one], vec![]),
            shape: index.shape,
        }
    }

    /// `ArgMax` over `axis` (int64, the axis dropped).
    pub fn argmax(&mut self, x: &Value, axis: usize) -> Value {
        let attrs = vec![("axis", Attr::Int(axis as i64)), ("keepdims", Attr::Int(0))];
        let mut shape = x.shape.clone();
        shape.remove(axis);
        Value {
            name: self.one("ArgMax", &[&x.name], attrs),
            shape,
        }
    }

    pub fn cast(&mut self, x: &Value, to: ElemType) -> Value {
        Value {
            name: self.one(
                "Cast",
                &[&x.name],
                vec![("to", Attr::Int(to.onnx() as i64))],
            ),
            shape: x.shape.clone(),
        }
    }

    /// The model: opset [`OPSET`], IR [`IR_VERSION`], `metadata` as `metadata_props`.
    pub fn finish(self, name: &str, doc: &str, metadata: &[(String, String)]) -> ModelProto {
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
                ..Default::default()
            }],
            producer_name: "rtseg".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: doc.into(),
            graph: Some(GraphProto {
                name: name.into(),
                node: self.nodes,
                initializer: self.initializers,
                input: self.inputs,
                output: self.outputs,
                ..Default::default()
            })
            .into(),
            metadata_props: metadata
                .iter()
                .map(|(k, v)| StringStringEntryProto {
                    key: k.clone(),
                    value: v.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}
