//! ONNX export, by rtseg's own emitter: every block appends its nodes from the same body as
//! its forward pass ([`crate::models::lower`]), BatchNorm folded into the convolutions.
//! `burn-onnx` cannot lower Softmax, Transpose, Clip, HardSwish, GridSample or non-global
//! pooling (design decision 3), which every network here uses.
//!
//! The exported file: opset 17, IR version 8, input `input` (normalised f32 `[N, 3, H, W]`) or,
//! with preprocessing, `image` (8-bit RGB `[N, H, W, 3]`); output `logits` (f32
//! `[N, K, H, W]`) or, with argmax, `mask` (class ids `[N, H, W]`); the model card in
//! `metadata_props` under `rtseg.*` keys.

pub mod graph;
pub mod quantize;

use std::path::Path;

use onnx_protobuf::{Message, ModelProto};
use serde_json::json;

use self::graph::{Dim, ElemType, OnnxGraph};
use crate::models::card::ChannelOrder;
use crate::models::lower::Layer;
use crate::models::segmentors::Segmentor;
use crate::source::{ModelSource, Weights};

/// Metadata keys of an rtseg export.
pub mod meta {
    pub const MODEL: &str = "rtseg.model";
    pub const VERSION: &str = "rtseg.version";
    pub const LABEL_SPACE: &str = "rtseg.label_space";
    pub const NUM_CLASSES: &str = "rtseg.num_classes";
    /// JSON list of class names, in id order.
    pub const CLASSES: &str = "rtseg.classes";
    /// JSON list of `[r, g, b]`, in id order.
    pub const PALETTE: &str = "rtseg.palette";
    /// JSON `[r, g, b]` in `[0, 1]` units.
    pub const MEAN: &str = "rtseg.mean";
    pub const STD: &str = "rtseg.std";
    pub const CHANNEL_ORDER: &str = "rtseg.channel_order";
    pub const WEIGHTS_SHA256: &str = "rtseg.weights_sha256";
    /// Only in an export of untrained weights (`--random-init`): their seed.
    pub const RANDOM_INIT_SEED: &str = "rtseg.random_init_seed";
    /// `normalized_nchw_f32` or `rgb_nhwc_u8`.
    pub const INPUT: &str = "rtseg.input";
    /// `logits_f32`, `class_ids_u8` or `class_ids_i32`.
    pub const OUTPUT: &str = "rtseg.output";
    /// `f32` or `f16` inside the graph.
    pub const PRECISION: &str = "rtseg.precision";
    /// `qdq_int8` for an export with QuantizeLinear/DequantizeLinear pairs.
    pub const QUANTIZATION: &str = "rtseg.quantization";
    /// JSON: the calibration of a Q/DQ export (images, their SHA-256, percentile).
    pub const CALIBRATION: &str = "rtseg.calibration";
    /// YAML: the full model configuration the graph was built from (the `arch:`-tagged form
    /// `--model-config` reads), e.g. the genotype of an `msnet-anas` from another search.
    pub const ARCHITECTURE: &str = "rtseg.architecture";
}

/// The class-id output of an export with argmax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArgmaxOutput {
    U8,
    I32,
}

/// What the exported graph looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// Fixed input `(height, width)`; `None` leaves both dynamic.
    pub size: Option<(u32, u32)>,
    /// Fixed batch; `None` leaves it dynamic.
    pub batch: Option<usize>,
    /// Half-precision weights and arithmetic (inputs and outputs stay f32 / u8).
    pub fp16: bool,
    /// Take 8-bit RGB NHWC and normalise inside the graph.
    pub with_preprocess: bool,
    /// Return class ids instead of scores.
    pub argmax: Option<ArgmaxOutput>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            size: None,
            batch: Some(1),
            fp16: false,
            with_preprocess: false,
            argmax: None,
        }
    }
}

/// The graph input's layout name stored under [`meta::INPUT`].
pub const INPUT_NORMALIZED: &str = "normalized_nchw_f32";
pub const INPUT_RGB_U8: &str = "rgb_nhwc_u8";

/// Builds the ONNX model of `model` (eval mode, built from `source`) with `source`'s model
/// card, architecture and weights hash in its metadata.
///
/// # Errors
/// A fixed size the model card refuses; weights that cannot be read to hash.
pub fn export(
    model: &Segmentor,
    source: &ModelSource,
    options: &ExportOptions,
) -> anyhow::Result<ModelProto> {
    let card = source.card();
    if let Some((h, w)) = options.size {
        card.input.check_size(h, w)?;
    }
    let float = if options.fp16 {
        ElemType::F16
    } else {
        ElemType::F32
    };
    let batch = options.batch.map_or(Dim::Dynamic, Dim::Fixed);
    let (height, width) = match options.size {
        Some((h, w)) => (Dim::Fixed(h as usize), Dim::Fixed(w as usize)),
        None => (Dim::Dynamic, Dim::Dynamic),
    };
    let mut g = OnnxGraph::new(float);
    let x = if options.with_preprocess {
        let image = g.input(
            "image",
            ElemType::U8,
            &[batch, height, width, Dim::Fixed(3)],
            &["batch", "height", "width", "channels"],
        );
        let x = g.cast(&image, ElemType::F32);
        let x = g.transpose(&x, &[0, 3, 1, 2]);
        let x = match card.input.channel_order {
            ChannelOrder::Rgb => x,
            ChannelOrder::Bgr => {
                let planes: Vec<_> = [2, 1, 0]
                    .iter()
                    .map(|&c| g.slice_axis(&x, 1, c, 1))
                    .collect();
                g.concat(&planes.iter().collect::<Vec<_>>(), 1)
            }
        };
        let (scale, shift) = card.input.affine();
        let scale = g.floats_of(ElemType::F32, "scale", &scale, &[1, 3, 1, 1]);
        let shift = g.floats_of(ElemType::F32, "shift", &shift, &[1, 3, 1, 1]);
        let x = g.binary_const("Mul", &x, &scale, &[1, 3, 1, 1]);
        g.binary_const("Add", &x, &shift, &[1, 3, 1, 1])
    } else {
        g.input(
            "input",
            ElemType::F32,
            &[batch, Dim::Fixed(3), height, width],
            &["batch", "channels", "height", "width"],
        )
    };
    let x = if options.fp16 {
        g.cast(&x, ElemType::F16)
    } else {
        x
    };
    let scores = model.emit_onnx(&mut g, &x);
    // Scores leave the graph as f32; ArgMax runs on f32 too (ONNX Runtime's CPU ArgMax has
    // no f16 kernel).
    let scores = if options.fp16 {
        g.cast(&scores, ElemType::F32)
    } else {
        scores
    };
    let output_kind = match options.argmax {
        None => {
            g.output(
                &scores,
                "logits",
                ElemType::F32,
                &["batch", "classes", "height", "width"],
            );
            "logits_f32"
        }
        Some(kind) => {
            let ids = g.argmax(&scores, 1);
            let (elem, name) = match kind {
                ArgmaxOutput::U8 => (ElemType::U8, "class_ids_u8"),
                ArgmaxOutput::I32 => (ElemType::I32, "class_ids_i32"),
            };
            let ids = g.cast(&ids, elem);
            g.output(&ids, "mask", elem, &["batch", "height", "width"]);
            name
        }
    };
    let space = card.label_space;
    let mut metadata = vec![
        (meta::MODEL, card.model.clone()),
        (meta::VERSION, env!("CARGO_PKG_VERSION").to_string()),
        (meta::LABEL_SPACE, space.name().to_string()),
        (meta::NUM_CLASSES, space.num_classes().to_string()),
        (meta::CLASSES, json!(space.class_names()).to_string()),
        (meta::PALETTE, json!(space.palette()).to_string()),
        (meta::MEAN, json!(card.input.mean).to_string()),
        (meta::STD, json!(card.input.std).to_string()),
        (
            meta::CHANNEL_ORDER,
            json!(card.input.channel_order)
                .as_str()
                .unwrap_or("rgb")
                .to_string(),
        ),
        (
            meta::INPUT,
            if options.with_preprocess {
                INPUT_RGB_U8
            } else {
                INPUT_NORMALIZED
            }
            .to_string(),
        ),
        (meta::OUTPUT, output_kind.to_string()),
        (
            meta::PRECISION,
            if options.fp16 { "f16" } else { "f32" }.to_string(),
        ),
    ];
    let untrained = match source.weights {
        Weights::RandomInit { seed } => {
            metadata.push((meta::RANDOM_INIT_SEED, seed.to_string()));
            format!(", untrained (random init, seed {seed})")
        }
        _ => {
            if let Some(sha) = source.weights_sha256()? {
                metadata.push((meta::WEIGHTS_SHA256, sha));
            }
            String::new()
        }
    };
    metadata.push((meta::ARCHITECTURE, serde_yaml::to_string(&source.config)?));
    let metadata: Vec<(String, String)> = metadata
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let doc = format!(
        "{} for {} ({} classes){untrained}, exported by rtseg {}",
        card.model,
        space.name(),
        space.num_classes(),
        env!("CARGO_PKG_VERSION")
    );
    Ok(g.finish(&card.model, &doc, &metadata))
}

/// Warns (stderr) when the ONNX file at `path` holds untrained weights — its metadata has
/// [`meta::RANDOM_INIT_SEED`], value `seed` — and `source` did not ask for them: an export
/// made with `--random-init` runs like a trained one, but its masks mean nothing.
pub fn warn_if_untrained(path: &Path, seed: Option<&str>, source: &ModelSource) {
    if let (Some(seed), false) = (seed, matches!(source.weights, Weights::RandomInit { .. })) {
        eprintln!(
            "warning: {} holds untrained weights (exported with --random-init, seed {seed}); \
             its masks are meaningless",
            path.display()
        );
    }
}

/// Multiply-accumulates of `model` on one `height × width` image, counted on its ONNX graph
/// (convolutions and matrix products, BatchNorm folded): instant, no forward pass.
pub fn count_macs(model: &Segmentor, (height, width): (usize, usize)) -> u64 {
    let mut g = OnnxGraph::new(ElemType::F32);
    let x = g.input(
        "input",
        ElemType::F32,
        &[
            Dim::Fixed(1),
            Dim::Fixed(3),
            Dim::Fixed(height),
            Dim::Fixed(width),
        ],
        &[],
    );
    model.emit_onnx(&mut g, &x);
    g.macs()
        .expect("every extent is fixed at a fixed input size")
}

/// Serialises `model` to `path` atomically (nothing is left under `path` on failure).
pub fn save(model: &ModelProto, path: &Path) -> anyhow::Result<()> {
    let bytes = model
        .write_to_bytes()
        .map_err(|e| anyhow::anyhow!("{}: cannot serialise the ONNX model: {e}", path.display()))?;
    crate::io::write_atomic(path, &bytes)
}

/// The parts of an ONNX file rtseg checks before handing it to a runtime.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxInfo {
    /// `metadata_props` as written.
    pub metadata: std::collections::BTreeMap<String, String>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub opset: i64,
}

/// A graph input or output: name, ONNX element type and dims (`None` where symbolic).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub elem_type: i32,
    pub dims: Vec<Option<i64>>,
}

impl OnnxInfo {
    /// The input preparation an rtseg export records (mean, std, channel order); the size
    /// rules are the seed networks' defaults.
    ///
    /// # Errors
    /// Missing or malformed `rtseg.mean` / `rtseg.std` / `rtseg.channel_order` metadata.
    pub fn input_spec(&self) -> anyhow::Result<crate::models::card::InputSpec> {
        let field = |key: &str| -> anyhow::Result<&String> {
            self.metadata
                .get(key)
                .ok_or_else(|| anyhow::anyhow!("no {key} metadata: not an rtseg export"))
        };
        let parse = |key: &str| -> anyhow::Result<[f32; 3]> {
            serde_json::from_str(field(key)?).map_err(|e| anyhow::anyhow!("{key}: {e}"))
        };
        Ok(crate::models::card::InputSpec {
            mean: parse(meta::MEAN)?,
            std: parse(meta::STD)?,
            channel_order: serde_json::from_value(json!(field(meta::CHANNEL_ORDER)?))
                .map_err(|e| anyhow::anyhow!("{}: {e}", meta::CHANNEL_ORDER))?,
            ..crate::models::card::InputSpec::IMAGENET_RGB
        })
    }
}

/// Reads an ONNX file's metadata and graph inputs/outputs.
///
/// # Errors
/// An unreadable file or bytes that are not an ONNX model, naming the file.
pub fn inspect(path: &Path) -> anyhow::Result<OnnxInfo> {
    use onnx_protobuf::tensor_shape_proto::dimension;
    use onnx_protobuf::type_proto;
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let model = ModelProto::parse_from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not an ONNX model: {e}", path.display()))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("{}: ONNX model without a graph", path.display()))?;
    let spec = |v: &onnx_protobuf::ValueInfoProto| {
        let (elem_type, dims) = match v.type_.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => (
                t.elem_type,
                t.shape
                    .as_ref()
                    .map(|s| {
                        s.dim
                            .iter()
                            .map(|d| match d.value {
                                Some(dimension::Value::DimValue(n)) => Some(n),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => (0, Vec::new()),
        };
        TensorSpec {
            name: v.name.clone(),
            elem_type,
            dims,
        }
    };
    Ok(OnnxInfo {
        metadata: model
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect(),
        inputs: graph.input.iter().map(spec).collect(),
        outputs: graph.output.iter().map(spec).collect(),
        opset: model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty())
            .map_or(0, |o| o.version),
    })
}
