//! `rtseg export`: the model with its weights as an ONNX file (opset 17, BatchNorm folded, the
//! model card in its metadata), written atomically.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::prelude::*;
use rtseg::onnx::{self, ArgmaxOutput, ExportOptions};

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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let source = args.model.source()?;
    let model = source.build(&Device::default())?;
    let options = ExportOptions {
        size: args.size,
        batch: (!args.dynamic_batch).then_some(args.batch),
        fp16: args.fp16,
        with_preprocess: args.with_preprocess,
        argmax: args.with_argmax,
    };
    let sha = source.weights_sha256()?;
    let proto = onnx::export(&model, &source.card(), sha.as_deref(), &options)?;
    onnx::save(&proto, &args.out)?;
    let size = args
        .size
        .map_or("dynamic H×W".to_string(), |(h, w)| format!("{h}×{w}"));
    println!(
        "{} ({}, {size}, {}) -> {}",
        source.model,
        source.label_space.name(),
        if args.fp16 { "fp16" } else { "fp32" },
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
