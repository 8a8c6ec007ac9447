//! `rtseg export`: the model with its weights as an ONNX file (opset 17, BatchNorm folded, the
//! model card in its metadata), written atomically.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::prelude::*;
use rtseg::onnx::{self, ArgmaxOutput, ExportOptions, quantize};

use super::SourceArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: SourceArgs,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Fixed input size HxW [default: dynamic height and width].
    #[arg(long, value_parser = super::parse_size, conflicts_with = "dynamic_hw")]
    size: Option<(u32, u32)>,
    /// Dynamic input height and width (the default when --size is not given).
    #[arg(long)]
    dynamic_hw: bool,
    /// Fixed batch size.
    #[arg(long, default_value_t = 1, conflicts_with = "dynamic_batch")]
    batch: usize,
    /// Dynamic batch size.
    #[arg(long)]
    dynamic_batch: bool,
    /// Half-precision weights and arithmetic (input and output stay f32 / u8).
    #[arg(long)]
    fp16: bool,
    /// Take 8-bit RGB images `[N, H, W, 3]` (input `image`) and normalise inside the graph.
    #[arg(long)]
    with_preprocess: bool,
    /// Return class ids `[N, H, W]` (output `mask`) of this type instead of scores.
    #[arg(long, value_enum)]
    with_argmax: Option<ArgmaxOutput>,
    /// INT8 with explicit QuantizeLinear/DequantizeLinear pairs (TensorRT 11, TensorRT-RTX):
    /// calibrated on --calib-images through ONNX Runtime (build with `--features ort`).
    #[arg(long, requires = "calib_images", conflicts_with_all = ["fp16", "with_preprocess", "with_argmax"])]
    int8_qdq: bool,
    /// Calibration images (PNG/JPEG, e.g. a few dozen training frames), fitted to --size or
    /// taken at their own size.
    #[arg(long)]
    calib_images: Option<PathBuf>,
    /// How many of the calibration images to use, evenly spaced in name order.
    #[arg(long, default_value_t = 32)]
    calib_count: usize,
    /// The percentile of |activation| that int8 saturates at (100 = the maximum). The default
    /// was chosen on CamVid train, never on the val split the README reports: of 99.5–100 it
    /// cost MsNet-M the least mIoU there (README, "INT8 (Q/DQ)").
    #[arg(long, default_value_t = 99.9)]
    calib_percentile: f64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let source = args.model.source()?;
    // Exporting reads the weights out again: the CPU serves every build.
    let model = source.build(&Device::flex())?;
    let options = ExportOptions {
        size: args.size,
        batch: (!args.dynamic_batch).then_some(args.batch),
        fp16: args.fp16,
        with_preprocess: args.with_preprocess,
        argmax: args.with_argmax,
    };
    let mut proto = onnx::export(&model, &source, &options)?;
    let mut precision = if args.fp16 { "fp16" } else { "fp32" }.to_string();
    if args.int8_qdq {
        let summary = quantize_qdq(&mut proto, &args, &source.card().input)?;
        precision = format!(
            "int8 Q/DQ: {} convolutions, {} activation ranges",
            summary.convolutions, summary.activations
        );
    }
    onnx::save(&proto, &args.out)?;
    let size = args
        .size
        .map_or("dynamic H×W".to_string(), |(h, w)| format!("{h}×{w}"));
    println!(
        "{} ({}, {size}, {}) -> {}",
        source.model,
        source.label_space.name(),
        precision,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Calibrates `proto`'s convolution inputs on the calibration images and rewrites it into
/// Q/DQ form ([`onnx::quantize`]).
#[cfg(feature = "ort")]
fn quantize_qdq(
    proto: &mut onnx_protobuf::ModelProto,
    args: &Args,
    spec: &rtseg::models::card::InputSpec,
) -> anyhow::Result<quantize::QdqSummary> {
    use rtseg::pipeline::ResizePolicy;
    use rtseg::pipeline::cpu::{fit_to_network, normalize_into};

    anyhow::ensure!(
        (0.0..=100.0).contains(&args.calib_percentile) && args.calib_percentile > 0.0,
        "--calib-percentile must be in (0, 100]"
    );
    let dir = args.calib_images.as_deref().expect("clap requires it");
    let set = quantize::calibration_set(dir)?;
    let stride = set.files.len().div_ceil(args.calib_count.max(1));
    let files: Vec<_> = set.files.iter().step_by(stride.max(1)).collect();
    let names = quantize::conv_inputs(proto);
    let batches = files.iter().map(|file| {
        let image = rtseg::io::load_rgb(file)?;
        let (h, w) = args.size.unwrap_or((image.height(), image.width()));
        spec.check_size(h, w)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let fitted = fit_to_network(&image, w, h, ResizePolicy::Stretch, spec.pad_rgb());
        let mut data = Vec::with_capacity(3 * (h * w) as usize);
        normalize_into(fitted.image.as_ref().unwrap_or(&image), spec, &mut data);
        Ok((data, [1, 3, h as usize, w as usize]))
    });
    let mut observer = quantize::RangeObserver::new();
    let graph = quantize::with_outputs(proto, &names);
    rtseg::backend::ort::observe_activations(&graph, &names, batches, None, |name, values| {
        observer.observe(name, values)
    })?;
    let calibration = serde_json::json!({
        "images": files.len(),
        "folder_sha256": set.sha256,
        "percentile": args.calib_percentile,
    });
    quantize::quantize(
        proto,
        &observer.ranges(args.calib_percentile),
        &calibration.to_string(),
    )
}

#[cfg(not(feature = "ort"))]
fn quantize_qdq(
    _: &mut onnx_protobuf::ModelProto,
    _: &Args,
    _: &rtseg::models::card::InputSpec,
) -> anyhow::Result<quantize::QdqSummary> {
    anyhow::bail!(
        "INT8 Q/DQ calibration runs the network through ONNX Runtime: rebuild with `--features ort`"
    )
}
