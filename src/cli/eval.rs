//! `rtseg eval`: per-class IoU, mIoU, pixel accuracy and mean class accuracy on a dataset
//! split, with the field's protocol ([`rtseg::evaluation`]).

use std::path::PathBuf;
use std::process::ExitCode;

use rtseg::backend::{self, Tta};
use rtseg::datasets::sources::{DatasetSource, LabelColors};
use rtseg::evaluation;
use rtseg::train::plots::confusion_image;

use super::{BackendArgs, SourceArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: SourceArgs,
    #[command(flatten)]
    backend: BackendArgs,
    /// Split folder name (e.g. val, train, test), optionally narrowed by file-name prefix:
    /// train:only=0006R0, train:except=0006R0 (a CamVid sequence, a Cityscapes city).
    #[arg(long, default_value = "val")]
    split: String,
    /// Dataset root (default: $RTSEG_CAMVID / $RTSEG_CITYSCAPES).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// CamVid labels as the original 32-colour RGB files (grouped into SegNet's 11 classes)
    /// instead of SegNet's id PNGs.
    #[arg(long)]
    camvid32_colors: bool,
    /// Run the network at HxW and resize predictions back (default: each image's size).
    #[arg(long, value_parser = super::parse_size)]
    size: Option<(u32, u32)>,
    /// Write each prediction in the dataset's label space (Cityscapes: labelIds PNGs that
    /// csEvalPixelLevelSemanticLabeling reads).
    #[arg(long)]
    save_predictions: Option<PathBuf>,
    /// Test-time augmentation: also run each image mirrored and average the class
    /// probabilities (burn backend; reported apart from single-scale figures).
    #[arg(long)]
    flip: bool,
    /// Test-time augmentation: run the network at these ratios of its input size and average
    /// the class probabilities, e.g. 0.75,1.0,1.25 (burn backend).
    #[arg(long, value_delimiter = ',')]
    scales: Vec<f64>,
    /// Also draw the confusion matrix (rows: ground truth, normalised per row) into this PNG.
    #[arg(long)]
    confusion: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = args.model.source()?;
    let scales = if args.scales.is_empty() {
        vec![1.0]
    } else {
        args.scales.clone()
    };
    let tta = Tta::new(scales, args.flip).map_err(|e| anyhow::anyhow!("--scales: {e}"))?;
    let mut config = args.backend.config(args.size);
    config.tta = tta.clone();
    let mut segmenter = backend::open(&config, &source)?;
    let mut dataset = DatasetSource::for_dataset(source.label_space, args.data_root.clone());
    if args.camvid32_colors {
        let DatasetSource::Camvid { label_colors, .. } = &mut dataset else {
            anyhow::bail!(
                "--camvid32-colors is for CamVid models; this one is {:?}",
                source.label_space
            );
        };
        *label_colors = Some(LabelColors::Camvid32);
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let matrix = evaluation::evaluate(
        segmenter.as_mut(),
        &dataset,
        &args.split,
        args.size,
        args.save_predictions.as_deref(),
        |i, n| {
            // A terminal gets one line that counts up; a log gets a line per tenth.
            if tty {
                eprint!("\revaluating {i}/{n}");
            } else if i == n || i % (n / 10).max(1) == 0 {
                eprintln!("evaluating {i}/{n}");
            }
        },
    )?;
    if tty {
        eprintln!();
    }
    let metrics = matrix.metrics();
    let space = source.label_space;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"model": source.model, "dataset": space,
                "backend": segmenter.io().backend, "split": args.split,
                "tta": {"scales": tta.scales(), "flip": tta.flip()},
                "classes": space.class_names(), "metrics": metrics, "confusion": matrix.counts})
        );
    } else {
        if !tta.is_identity() {
            // TTA figures are not comparable with single-scale ones; the table says which.
            println!(
                "test-time augmentation: scales {:?}{}",
                tta.scales(),
                if tta.flip() { " + horizontal flip" } else { "" }
            );
        }
        print!(
            "{}",
            evaluation::format_table(&metrics, &space.class_names())
        );
    }
    // After the figures are out, so a bad path costs the picture and not the evaluation.
    if let Some(path) = &args.confusion {
        rtseg::io::save_png(&confusion_image(&matrix.counts, space), path)?;
    }
    Ok(ExitCode::SUCCESS)
}
