//! The `rtseg` command line: list models, run inference, benchmark, and manage weights.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use burn::prelude::*;
use clap::{Parser, Subcommand};

use rtseg::backend::{BACKENDS, BurnBackend, SegmentationBackend};
use rtseg::datasets::Dataset;
use rtseg::datasets::sources::DatasetSource;
use rtseg::models::profile::{count_macs, trainable_params};
use rtseg::models::segmentor::{Segmentor, SegmentorConfig};
use rtseg::models::{registry, resolve};
use rtseg::ros::args::RosArgs;
use rtseg::train::config::TrainConfig;
use rtseg::{bench, evaluation, infer, train, weights};

#[derive(Parser)]
#[command(
    name = "rtseg",
    version,
    about = "Real-time semantic segmentation: models, training, evaluation, inference, benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which network, with which label space and weights.
#[derive(clap::Args)]
struct ModelArgs {
    /// Registered model name (see `rtseg models`).
    #[arg(long, default_value = "msnet-m")]
    model: String,
    /// Label space; sets the class count and the palette.
    #[arg(long, value_enum, default_value = "camvid")]
    dataset: Dataset,
    /// YAML file with a full model configuration, overriding the registry entry.
    #[arg(long)]
    model_config: Option<PathBuf>,
}

/// Where the weights come from.
#[derive(clap::Args)]
struct WeightArgs {
    /// Weight file (.bpk or .safetensors). Default: the shipped `weights/<model>_<dataset>.bpk`.
    #[arg(long, conflicts_with = "random_init")]
    weights: Option<PathBuf>,
    /// Use freshly initialised (untrained, seeded) weights: exercises the pipeline, the
    /// masks mean nothing.
    #[arg(long)]
    random_init: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List registered models with parameter counts and GMACs (computed from the module tree).
    Models {
        #[arg(long, value_enum, default_value = "camvid")]
        dataset: Dataset,
        /// Input size for the MAC count.
        #[arg(long, default_value = "720x960", value_parser = parse_size)]
        size: (usize, usize),
    },
    /// Segment PNG/JPEG files or folders; writes <name>_mask.png and <name>_color.png.
    Infer {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        weights: WeightArgs,
        /// Images or folders of images.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Run the network at HxW and resize the mask back (default: the image's own size).
        #[arg(long, value_parser = parse_size)]
        size: Option<(usize, usize)>,
        #[arg(long, default_value = "burn")]
        backend: String,
    },
    /// Latency (p50/p90/p99), FPS and peak memory of a backend on a model; with
    /// --train-config, training throughput (images/s) of a training config instead.
    Bench {
        /// Time training steps of this config (its model, crop, batch, loss, optimizer).
        #[arg(long, conflicts_with_all = ["backend", "weights", "random_init"])]
        train_config: Option<PathBuf>,
        /// Overrides for --train-config, e.g. `--set batch_size=4`.
        #[arg(long = "set", value_name = "KEY=VALUE", requires = "train_config")]
        overrides: Vec<String>,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        weights: WeightArgs,
        #[arg(long, default_value = "burn")]
        backend: String,
        #[arg(long, default_value = "360x480", value_parser = parse_size)]
        size: (usize, usize),
        /// Images per network call (e.g. one per camera); throughput counts images.
        #[arg(long, default_value_t = 1, conflicts_with = "train_config")]
        batch: usize,
        #[arg(long, default_value_t = 20)]
        iters: usize,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Weight files: list tensor names, convert between burnpack and safetensors, initialise.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// Train a model from a YAML config (see configs/), or resume a run.
    Train {
        /// Training configuration (every hyperparameter; see configs/*.yaml).
        #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
        config: Option<PathBuf>,
        /// Override a config key, e.g. `--set iterations=20 --set augment.crop=[128,160]`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Continue the run in this directory from its latest checkpoint.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
    },
    /// Run the ROS 2 node: camera topics in, segmentation masks out (see launch/).
    /// Also reads the ROS arguments `ros2 launch`/`ros2 run` append: `--ros-args
    /// -r __node:=NAME --params-file FILE`.
    Node {
        /// ROS 2 parameter file (`<node>: ros__parameters: …`) [default: a `--ros-args
        /// --params-file`, else launch/rtseg.params.yaml].
        #[arg(long)]
        params_file: Option<PathBuf>,
    },
    /// Per-class IoU, mIoU, pixel and mean class accuracy on a dataset split.
    Eval {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        weights: WeightArgs,
        /// Split folder name (e.g. val, train, test).
        #[arg(long, default_value = "val")]
        split: String,
        /// Dataset root (default: $RTSEG_CAMVID / $RTSEG_CITYSCAPES).
        #[arg(long)]
        data_root: Option<PathBuf>,
        /// Run the network at HxW and resize predictions back (default: each image's size).
        #[arg(long, value_parser = parse_size)]
        size: Option<(usize, usize)>,
        /// Write each prediction in the dataset's label space (Cityscapes: labelIds PNGs
        /// that csEvalPixelLevelSemanticLabeling reads).
        #[arg(long)]
        save_predictions: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "burn")]
        backend: String,
    },
}

#[derive(Subcommand)]
enum WeightsCommand {
    /// Print every tensor name and shape of a model, in module order.
    Names {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Convert a weight file (format from each extension: .bpk or .safetensors).
    Convert {
        #[command(flatten)]
        model: ModelArgs,
        input: PathBuf,
        output: PathBuf,
    },
    /// Write freshly initialised weights (seeded), e.g. as a starting point or test fixture.
    Init {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        output: PathBuf,
    },
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("size {s:?} must look like HxW, e.g. 720x960"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("size {s:?}: {v:?} is not a number"))
    };
    let (h, w) = (parse(h)?, parse(w)?);
    let in_range = |v: usize| u32::try_from(v).is_ok_and(infer::side_in_range);
    if !in_range(h) || !in_range(w) {
        return Err(format!(
            "size {s:?}: each side must be between {} and {}",
            infer::MIN_SIDE,
            infer::MAX_SIDE
        ));
    }
    Ok((h, w))
}

fn model_config(args: &ModelArgs) -> anyhow::Result<SegmentorConfig> {
    let explicit = match &args.model_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read model config", path.display()))?;
            Some(
                serde_yaml::from_str::<SegmentorConfig>(&text)
                    .with_context(|| format!("{}: not a valid model config", path.display()))?,
            )
        }
        None => None,
    };
    resolve(&args.model, args.dataset.num_classes(), explicit).map_err(anyhow::Error::msg)
}

/// Where `rtseg` looks for shipped weights: `$RTSEG_WEIGHTS_DIR`, else the repository's
/// `weights/` folder.
fn shipped_weights(args: &ModelArgs) -> PathBuf {
    let dir = std::env::var_os("RTSEG_WEIGHTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("weights"));
    let dataset = format!("{:?}", args.dataset).to_lowercase();
    dir.join(format!("{}_{dataset}.bpk", args.model))
}

fn build_model(
    args: &ModelArgs,
    source: &WeightArgs,
    device: &Device,
) -> anyhow::Result<Segmentor> {
    let config = model_config(args)?;
    if source.random_init {
        eprintln!(
            "warning: --random-init: {} runs with untrained weights; its masks are meaningless",
            args.model
        );
        device.seed(0);
        return Ok(config.init(device));
    }
    let path = match &source.weights {
        Some(path) => path.clone(),
        None => {
            let path = shipped_weights(args);
            if !path.is_file() {
                bail!(
                    "no shipped weights for {} on {:?} ({} does not exist); pass --weights FILE, \
                     or --random-init to exercise the pipeline with untrained weights",
                    args.model,
                    args.dataset,
                    path.display()
                );
            }
            path
        }
    };
    Ok(weights::load(config.init(device), &args.model, &path)?)
}

fn make_backend(
    name: &str,
    args: &ModelArgs,
    source: &WeightArgs,
) -> anyhow::Result<Box<dyn SegmentationBackend>> {
    match name {
        "burn" => {
            let device = Device::default();
            let model = build_model(args, source, &device)?;
            Ok(Box::new(BurnBackend::new(
                model,
                args.dataset.num_classes(),
                device,
            )))
        }
        other => bail!(
            "unknown backend {other:?}; available: {}",
            BACKENDS.join(", ")
        ),
    }
}

fn run(cli: Cli, ros_args: &[String]) -> anyhow::Result<ExitCode> {
    if !ros_args.is_empty() && !matches!(cli.command, Command::Node { .. }) {
        anyhow::bail!("--ros-args is only read by `rtseg node`");
    }
    match cli.command {
        Command::Models { dataset, size } => {
            let device = Device::default();
            println!(
                "{:<16} {:>12} {:>10}  description",
                "model",
                "params",
                format!("GMACs@{}x{}", size.0, size.1),
            );
            for spec in registry(dataset.num_classes()) {
                let model = spec.config.init(&device).valid();
                let input = Tensor::<4>::zeros([1, 3, size.0, size.1], &device);
                let (_, macs) = count_macs(|| model.forward(input).into_data());
                println!(
                    "{:<16} {:>12} {:>10.2}  {}",
                    spec.name,
                    format_count(trainable_params(&model)),
                    macs as f64 / 1e9,
                    spec.summary
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Infer {
            model,
            weights,
            inputs,
            out,
            size,
            backend,
        } => {
            let backend = make_backend(&backend, &model, &weights)?;
            let size = size.map(|(h, w)| (h as u32, w as u32));
            let outcomes = infer::run(backend.as_ref(), &inputs, &out, model.dataset, size)?;
            let mut failed = 0;
            for outcome in &outcomes {
                match &outcome.result {
                    Ok((mask, color)) => {
                        println!(
                            "{} -> {} {}",
                            outcome.input,
                            mask.display(),
                            color.display()
                        )
                    }
                    Err(message) => {
                        failed += 1;
                        eprintln!("error: {message}");
                    }
                }
            }
            println!("{} segmented, {failed} failed", outcomes.len() - failed);
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Bench {
            train_config: Some(path),
            overrides,
            iters,
            warmup,
            json,
            ..
        } => {
            let config = TrainConfig::load(&path, &overrides)?;
            let r = bench::train_throughput(&config, warmup, iters)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "training {} batch {} at {}x{} ({} steps after {} warm-up, {})",
                    r.model, r.batch_size, r.height, r.width, r.iters, r.warmup, r.machine
                );
                let rss = r
                    .peak_rss_mib
                    .map_or("n/a".into(), |m| format!("{m:.0} MiB"));
                println!(
                    "step ms: mean {:.0}  p50 {:.0}   throughput: {:.2} images/s   peak RSS: {rss}",
                    r.mean_step_ms, r.p50_step_ms, r.images_per_s
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            model,
            weights,
            backend,
            size,
            batch,
            iters,
            warmup,
            json,
            ..
        } => {
            let backend = make_backend(&backend, &model, &weights)?;
            let report = bench::run(
                backend.as_ref(),
                &model.model,
                [batch, size.0, size.1],
                warmup,
                iters,
            )?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{} on {}, batch {} at {}x{} ({} iters after {} warm-up, {})",
                    report.model,
                    report.backend,
                    report.batch,
                    report.height,
                    report.width,
                    report.iters,
                    report.warmup,
                    report.machine
                );
                println!(
                    "latency ms: mean {:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  min {:.1}  max {:.1}",
                    report.mean_ms,
                    report.p50_ms,
                    report.p90_ms,
                    report.p99_ms,
                    report.min_ms,
                    report.max_ms
                );
                let rss = report
                    .peak_rss_mib
                    .map_or("n/a".to_string(), |m| format!("{m:.0} MiB"));
                println!("throughput: {:.2} images/s   peak RSS: {rss}", report.fps);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Train {
            config,
            overrides,
            resume,
        } => train_command(config, &overrides, resume),
        Command::Node { params_file } => node_command(params_file, ros_args),
        Command::Eval {
            model,
            weights,
            split,
            data_root,
            size,
            save_predictions,
            json,
            backend,
        } => {
            let backend = make_backend(&backend, &model, &weights)?;
            let source = DatasetSource::for_dataset(model.dataset, data_root);
            let size = size.map(|(h, w)| (h as u32, w as u32));
            let matrix = evaluation::evaluate(
                backend.as_ref(),
                &source,
                &split,
                size,
                save_predictions.as_deref(),
                |i, n| eprint!("\revaluating {i}/{n}"),
            )?;
            eprintln!();
            let metrics = matrix.metrics();
            if json {
                println!(
                    "{}",
                    serde_json::json!({"model": model.model, "dataset": model.dataset,
                        "split": split, "classes": model.dataset.class_names(),
                        "metrics": metrics, "confusion": matrix.counts})
                );
            } else {
                print!(
                    "{}",
                    evaluation::format_table(&metrics, &model.dataset.class_names())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Weights(command) => {
            let device = Device::default();
            match command {
                WeightsCommand::Names { model } => {
                    let net = model_config(&model)?.init(&device);
                    for t in weights::tensors(&net) {
                        println!("{}\t{:?}", t.name, t.shape.as_slice());
                    }
                }
                WeightsCommand::Convert {
                    model,
                    input,
                    output,
                } => {
                    let net =
                        weights::load(model_config(&model)?.init(&device), &model.model, &input)?;
                    weights::save(&net, &model.model, &output)?;
                    println!("{} -> {}", input.display(), output.display());
                }
                WeightsCommand::Init {
                    model,
                    seed,
                    output,
                } => {
                    device.seed(seed);
                    let net = model_config(&model)?.init(&device);
                    weights::save(&net, &model.model, &output)?;
                    println!(
                        "wrote untrained {} weights to {}",
                        model.model,
                        output.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Set by Ctrl-C: training checkpoints and stops at the end of the current step; the node
/// stops its workers and leaves the graph.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn catch_ctrl_c() {
    if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
        eprintln!("warning: cannot catch Ctrl-C ({e}); it will kill the process at once");
    }
}

fn train_command(
    config: Option<PathBuf>,
    overrides: &[String],
    resume: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    catch_ctrl_c();
    let stop = &|_step: u64| INTERRUPTED.load(Ordering::SeqCst);
    let outcome = match (config, resume) {
        (_, Some(dir)) => {
            if !overrides.is_empty() {
                bail!("--set cannot change a run being resumed (its config.yaml is the schedule)");
            }
            train::resume(&dir, stop)?
        }
        (Some(path), None) => train::train(TrainConfig::load(&path, overrides)?, stop)?,
        (None, None) => bail!("pass --config FILE or --resume RUN_DIR"),
    };
    Ok(match outcome {
        train::Outcome::Finished => ExitCode::SUCCESS,
        // The conventional exit status of a process stopped by SIGINT.
        train::Outcome::Interrupted { .. } => ExitCode::from(130),
    })
}

fn node_command(params_file: Option<PathBuf>, ros_args: &[String]) -> anyhow::Result<ExitCode> {
    let ros = RosArgs::parse(ros_args).map_err(anyhow::Error::msg)?;
    let params_file = params_file
        .or(ros.params_file)
        .unwrap_or_else(|| PathBuf::from("launch/rtseg.params.yaml"));
    let mut file = rtseg::ros::params::load(&params_file)?;
    if let Some(name) = ros.node_name {
        file.node_name = name;
    }
    let discovery = rtseg::ros::node::Discovery::from_env()?;
    let p = &file.params;
    let model = ModelArgs {
        model: p.model.clone(),
        dataset: p.dataset,
        model_config: None,
    };
    let weights = WeightArgs {
        weights: p.weights_path(),
        random_init: false,
    };
    let backend = p.backend.clone();
    // Fail on a bad model, backend or weight file before joining the ROS graph.
    make_backend(&backend, &model, &weights)?;
    catch_ctrl_c();
    eprintln!(
        "rtseg node {} on ROS domain {}{}: {} camera(s)",
        file.node_name,
        discovery.domain_id,
        if discovery.localhost_only {
            " (localhost only)"
        } else {
            ""
        },
        p.cameras.len()
    );
    let factory = || make_backend(&backend, &model, &weights);
    rtseg::ros::node::run(file, discovery, &factory, &INTERRUPTED)?;
    Ok(ExitCode::SUCCESS)
}

fn format_count(n: usize) -> String {
    format!("{:.3}M", n as f64 / 1e6)
}

fn main() -> ExitCode {
    let (args, ros_args) = rtseg::ros::args::split(std::env::args());
    match run(Cli::parse_from(args), &ros_args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
