//! INT8 post-training quantization of an rtseg export into explicit Q/DQ form — the only INT8
//! path of TensorRT 11 and TensorRT-RTX, which dropped implicit calibration (TensorRT developer
//! guide, "Explicit quantization"). Every convolution gets a QuantizeLinear → DequantizeLinear
//! pair on its input activation (symmetric, per tensor, scale from calibration) and int8
//! weights with a per-output-channel DequantizeLinear (symmetric, scale from the weights' own
//! range); biases stay f32. TensorRT fuses each pattern into an INT8 convolution; ONNX Runtime
//! runs the same graph on the CPU, which is how its accuracy is measured.
//!
//! Activation ranges come from a histogram of |x| per tensor over the calibration images (the
//! caller runs the network; [`RangeObserver`] keeps the statistics): the range is the given
//! percentile of that histogram, which ignores rare outliers that would waste the 8 bits.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{
    AttributeProto, ModelProto, NodeProto, StringStringEntryProto, TensorProto, TypeProto,
    ValueInfoProto, attribute_proto, type_proto,
};

use super::meta;

/// A calibration set: its image files in sorted order and their SHA-256 (names and bytes).
pub struct CalibrationSet {
    pub files: Vec<PathBuf>,
    pub sha256: String,
}

/// Lists, decodes and hashes the images of a calibration folder.
///
/// # Errors
/// A folder that cannot be read, holds no PNG/JPEG files, or holds files that do not decode
/// (all of them named).
pub fn calibration_set(dir: &Path) -> anyhow::Result<CalibrationSet> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!("{}: cannot read the calibration folder: {e}", dir.display())
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "{}: no PNG/JPEG calibration images",
        dir.display()
    );
    let mut hashed = Vec::new();
    let mut bad = Vec::new();
    for file in &files {
        match std::fs::read(file) {
            Ok(bytes) if image::load_from_memory(&bytes).is_ok() => {
                hashed.extend(
                    file.file_name()
                        .map_or(Vec::new(), |n| n.as_encoded_bytes().to_vec()),
                );
                hashed.extend(crate::io::sha256_bytes(&bytes).into_bytes());
            }
            Ok(_) => bad.push(format!("{} (not a decodable image)", file.display())),
            Err(e) => bad.push(format!("{} ({e})", file.display())),
        }
    }
    anyhow::ensure!(
        bad.is_empty(),
        "unreadable calibration images: {}",
        bad.join(", ")
    );
    Ok(CalibrationSet {
        sha256: crate::io::sha256_bytes(&hashed),
        files,
    })
}

/// The activations that feed a convolution (input 0 of every `Conv`), in graph order.
pub fn conv_inputs(model: &ModelProto) -> Vec<String> {
    let mut seen = HashSet::new();
    model
        .graph
        .iter()
        .flat_map(|g| &g.node)
        .filter(|n| n.op_type == "Conv")
        .filter_map(|n| n.input.first().cloned())
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

/// A copy of `model` that also returns `names` (f32 tensors of any shape): what calibration
/// runs to see the activations.
pub fn with_outputs(model: &ModelProto, names: &[String]) -> ModelProto {
    let mut model = model.clone();
    if let Some(graph) = model.graph.as_mut() {
        for name in names {
            graph.output.push(ValueInfoProto {
                name: name.clone(),
                type_: Some(TypeProto {
                    value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                        elem_type: DataType::FLOAT as i32,
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .into(),
                ..Default::default()
            });
        }
    }
    model
}

/// Bins of each activation's |x| histogram.
const BINS: usize = 2048;

/// |x| histograms of named tensors, observed batch by batch in one pass: the histogram covers
/// `[0, top)` and doubles its top (merging bin pairs) whenever a larger value arrives.
pub struct RangeObserver {
    histograms: BTreeMap<String, (f32, Vec<u64>)>,
}

impl Default for RangeObserver {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeObserver {
    pub fn new() -> Self {
        Self {
            histograms: BTreeMap::new(),
        }
    }

    /// Adds the values of one observation of tensor `name`.
    pub fn observe(&mut self, name: &str, values: &[f32]) {
        let max = values
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f32, |m, v| m.max(v.abs()));
        let (top, bins) = self
            .histograms
            .entry(name.to_string())
            .or_insert_with(|| (0.0, vec![0; BINS]));
        if *top == 0.0 {
            *top = if max > 0.0 {
                max.log2().floor().exp2() * 2.0
            } else {
                1.0
            };
        }
        while max >= *top {
            for i in 0..BINS / 2 {
                bins[i] = bins[2 * i] + bins[2 * i + 1];
            }
            bins[BINS / 2..].fill(0);
            *top *= 2.0;
        }
        let per_bin = BINS as f32 / *top;
        for v in values.iter().filter(|v| v.is_finite()) {
            bins[((v.abs() * per_bin) as usize).min(BINS - 1)] += 1;
        }
    }

    /// The `percentile` (0–100] of |x| per observed tensor: the upper edge of the bin where
    /// the cumulative count reaches it (100 gives the largest value's bin).
    pub fn ranges(&self, percentile: f64) -> HashMap<String, f32> {
        self.histograms
            .iter()
            .map(|(name, (top, bins))| {
                let total: u64 = bins.iter().sum();
                let wanted = (total as f64 * percentile / 100.0).ceil() as u64;
                let mut cumulative = 0;
                let bin = bins
                    .iter()
                    .position(|&count| {
                        cumulative += count;
                        cumulative >= wanted.max(1)
                    })
                    .unwrap_or(BINS - 1);
                (name.clone(), (bin + 1) as f32 * top / BINS as f32)
            })
            .collect()
    }
}

fn scalar_f32(name: String, v: f32) -> TensorProto {
    TensorProto {
        name,
        data_type: DataType::FLOAT as i32,
        raw_data: v.to_le_bytes().to_vec(),
        ..Default::default()
    }
}

fn int8(name: String, dims: Vec<i64>, values: &[i8]) -> TensorProto {
    TensorProto {
        name,
        dims,
        data_type: DataType::INT8 as i32,
        raw_data: values.iter().map(|&v| v as u8).collect(),
        ..Default::default()
    }
}

fn node(
    op: &str,
    name: String,
    inputs: Vec<String>,
    output: String,
    axis: Option<i64>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name,
        input: inputs,
        output: vec![output],
        attribute: axis
            .map(|axis| AttributeProto {
                name: "axis".into(),
                type_: attribute_proto::AttributeType::INT.into(),
                i: axis,
                ..Default::default()
            })
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

/// The symmetric int8 value of `v` at `scale`: round half to even, as QuantizeLinear does,
/// clamped to ±127 (TensorRT uses the symmetric range).
fn quantize_value(v: f32, scale: f32) -> i8 {
    (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8
}

/// What [`quantize`] changed.
#[derive(Debug, PartialEq, Eq)]
pub struct QdqSummary {
    pub convolutions: usize,
    pub activations: usize,
}

/// Rewrites `model` (an f32 rtseg export) into Q/DQ form with the activation ranges `ranges`
/// (|x| at which int8 saturates, per tensor name), and records the calibration in its metadata
/// (`rtseg.quantization = qdq_int8`, `rtseg.calibration`).
///
/// # Errors
/// An f16 export, a convolution whose weights are not an f32 initializer, or an activation
/// without a range.
pub fn quantize(
    model: &mut ModelProto,
    ranges: &HashMap<String, f32>,
    calibration: &str,
) -> anyhow::Result<QdqSummary> {
    let precision = model
        .metadata_props
        .iter()
        .find(|e| e.key == meta::PRECISION)
        .map(|e| e.value.clone());
    anyhow::ensure!(
        precision.as_deref() == Some("f32"),
        "INT8 Q/DQ quantizes an f32 export (this one is {}); export without --fp16",
        precision.as_deref().unwrap_or("not an rtseg export")
    );
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| anyhow::anyhow!("an ONNX model without a graph"))?;
    let mut initializers: HashMap<String, TensorProto> = graph
        .initializer
        .drain(..)
        .map(|t| (t.name.clone(), t))
        .collect();
    let mut nodes = Vec::with_capacity(graph.node.len() * 2);
    let mut quantized_activations: HashMap<String, String> = HashMap::new();
    let mut convolutions = 0;
    for mut conv in std::mem::take(&mut graph.node) {
        if conv.op_type != "Conv" {
            nodes.push(conv);
            continue;
        }
        let x = conv.input[0].clone();
        if let Some(dq) = quantized_activations.get(&x) {
            conv.input[0] = dq.clone();
        } else {
            let amax = *ranges
                .get(&x)
                .ok_or_else(|| anyhow::anyhow!("no calibration range for {x}"))?;
            let scale = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            let (s, z) = (format!("{x}_scale"), format!("{x}_zero_point"));
            initializers.insert(s.clone(), scalar_f32(s.clone(), scale));
            initializers.insert(z.clone(), int8(z.clone(), vec![], &[0]));
            let (q, dq) = (format!("{x}_quantized"), format!("{x}_dequantized"));
            nodes.push(node(
                "QuantizeLinear",
                q.clone(),
                vec![x.clone(), s.clone(), z.clone()],
                q.clone(),
                None,
            ));
            nodes.push(node(
                "DequantizeLinear",
                dq.clone(),
                vec![q, s, z],
                dq.clone(),
                None,
            ));
            quantized_activations.insert(x, dq.clone());
            conv.input[0] = dq;
        }
        let w = conv.input[1].clone();
        let weights = initializers
            .remove(&w)
            .filter(|t| t.data_type == DataType::FLOAT as i32 && t.dims.len() == 4)
            .ok_or_else(|| {
                anyhow::anyhow!("{}: weights {w} are not a 4-D f32 initializer", conv.name)
            })?;
        let values: Vec<f32> = weights
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let outputs = weights.dims[0] as usize;
        let per_channel = values.len() / outputs;
        let scales: Vec<f32> = values
            .chunks(per_channel)
            .map(|c| {
                let amax = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                if amax > 0.0 { amax / 127.0 } else { 1.0 }
            })
            .collect();
        let q: Vec<i8> = values
            .chunks(per_channel)
            .zip(&scales)
            .flat_map(|(c, &s)| c.iter().map(move |&v| quantize_value(v, s)))
            .collect();
        let (wq, ws, wz, wdq) = (
            format!("{w}_quantized"),
            format!("{w}_scale"),
            format!("{w}_zero_point"),
            format!("{w}_dequantized"),
        );
        initializers.insert(wq.clone(), int8(wq.clone(), weights.dims.clone(), &q));
        initializers.insert(
            ws.clone(),
            TensorProto {
                name: ws.clone(),
                dims: vec![outputs as i64],
                data_type: DataType::FLOAT as i32,
                raw_data: scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
                ..Default::default()
            },
        );
        initializers.insert(
            wz.clone(),
            int8(wz.clone(), vec![outputs as i64], &vec![0; outputs]),
        );
        nodes.push(node(
            "DequantizeLinear",
            wdq.clone(),
            vec![wq, ws, wz],
            wdq.clone(),
            Some(0),
        ));
        conv.input[1] = wdq;
        nodes.push(conv);
        convolutions += 1;
    }
    graph.node = nodes;
    let mut initializers: Vec<TensorProto> = initializers.into_values().collect();
    initializers.sort_by(|a, b| a.name.cmp(&b.name));
    graph.initializer = initializers;
    for (key, value) in [
        (meta::QUANTIZATION, "qdq_int8"),
        (meta::CALIBRATION, calibration),
    ] {
        model.metadata_props.retain(|e| e.key != key);
        model.metadata_props.push(StringStringEntryProto {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        });
    }
    Ok(QdqSummary {
        convolutions,
        activations: quantized_activations.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_grows_and_finds_percentiles() {
        let mut observer = RangeObserver::new();
        let small: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        observer.observe("x", &small);
        // A later, larger batch with one outlier: the top doubles until it fits.
        let mut large: Vec<f32> = (0..999).map(|i| -(i as f32) / 500.0).collect();
        large.push(100.0);
        observer.observe("x", &large);
        let ranges = observer.ranges(100.0);
        assert!(
            (100.0..=100.0 * (1.0 + 2.0 / BINS as f32) + 0.1).contains(&ranges["x"]),
            "{ranges:?}"
        );
        // 99.9 % of 2000 values lie below ≈ 2: the outlier no longer sets the range.
        let ranges = observer.ranges(99.9);
        assert!((1.9..2.2).contains(&ranges["x"]), "{ranges:?}");
    }

    #[test]
    fn weights_round_to_nearest_even_within_the_symmetric_range() {
        assert_eq!(quantize_value(2.5, 1.0), 2);
        assert_eq!(quantize_value(3.5, 1.0), 4);
        assert_eq!(quantize_value(-1000.0, 1.0), -127);
        assert_eq!(quantize_value(0.26, 0.1), 3);
    }
}
