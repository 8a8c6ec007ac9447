//! The `rtseg` command line: one file per command, each an `Args` struct and a `run` over
//! library entry points; the argument groups several commands share live here.

pub mod bench;
pub mod engine;
pub mod eval;
pub mod export;
pub mod infer;
pub mod models;
pub mod node;
pub mod search;
pub mod train;
pub mod weights;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rtseg::backend::trt_config::{Flavour, Precision, TensorRtOptions};
use rtseg::backend::{BackendConfig, BackendKind, ExecutionProvider, OrtOptions, Tta};
use rtseg::labels::LabelSpace;
use rtseg::models::card::InputSpec;
use rtseg::source::{ModelSource, Weights};

/// Which network, in which label space.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// Registered model name (see `rtseg models`).
    #[arg(long, default_value = "msnet-m")]
    pub model: String,
    /// Label space: sets the class count, the class names and the palette.
    #[arg(long, value_enum, default_value = "camvid")]
    pub dataset: LabelSpace,
    /// YAML file with a full model configuration (the `arch:`-tagged form of `rtseg weights
    /// names`' model), replacing the registry entry; its class count comes from --dataset.
    #[arg(long)]
    pub model_config: Option<PathBuf>,
}

/// Where the weights come from.
#[derive(clap::Args, Clone, Debug)]
pub struct WeightArgs {
    /// Weight file (.bpk or .safetensors) [default: the shipped `<model>_<dataset>.bpk`,
    /// looked for in $RTSEG_WEIGHTS_DIR, the install's share/rtseg/weights, or the source
    /// checkout's weights/].
    #[arg(long, conflicts_with = "random_init")]
    pub weights: Option<PathBuf>,
    /// Use freshly initialised (untrained, seeded) weights: exercises the pipeline, the
    /// masks mean nothing.
    #[arg(long)]
    pub random_init: bool,
}

/// Which model, in which label space, with which weights.
#[derive(clap::Args, Clone, Debug)]
pub struct SourceArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub weights: WeightArgs,
}

impl SourceArgs {
    pub fn source(&self) -> anyhow::Result<ModelSource> {
        self.model.source(&self.weights)
    }
}

impl ModelArgs {
    /// The model with the weights `weights` names.
    pub fn source(&self, weights: &WeightArgs) -> anyhow::Result<ModelSource> {
        let weights = match (&weights.weights, weights.random_init) {
            (Some(path), _) => Weights::File(path.clone()),
            (None, true) => Weights::RandomInit { seed: 0 },
            (None, false) => Weights::Shipped,
        };
        let source = ModelSource::resolve(
            &self.model,
            self.dataset,
            self.model_config.as_deref(),
            weights,
        )?;
        // After resolving, so that an unknown model is the only thing said about it.
        if matches!(source.weights, Weights::RandomInit { .. }) {
            eprintln!(
                "warning: --random-init: {} runs with untrained weights; its masks are \
                 meaningless",
                self.model
            );
        }
        Ok(source)
    }
}

/// Which inference backend, with its settings.
#[derive(clap::Args, Clone, Debug)]
pub struct BackendArgs {
    /// Inference backend: burn (pure Rust, CPU), ort (ONNX Runtime; build with `--features
    /// ort`) or tensorrt (TensorRT engines on an NVIDIA GPU; build with `--features tensorrt`).
    #[arg(long, value_enum, default_value = "burn")]
    pub backend: BackendKind,
    /// ONNX file for --backend ort [default: export the model into the cache on first use].
    #[arg(long)]
    pub onnx: Option<PathBuf>,
    /// ONNX Runtime execution provider, repeatable, in order of preference.
    #[arg(long = "execution-provider", value_enum, default_values_t = [ExecutionProvider::Cpu])]
    pub execution_providers: Vec<ExecutionProvider>,
    /// ONNX Runtime intra-op threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub ort_threads: usize,
    /// libonnxruntime.so [default: $ORT_DYLIB_PATH, else the onnxruntime wheel in .venv].
    #[arg(long)]
    pub ort_library: Option<PathBuf>,
    #[command(flatten)]
    pub trt: TrtArgs,
}

/// Settings of the `tensorrt` backend on the command line.
#[derive(clap::Args, Clone, Debug)]
pub struct TrtArgs {
    /// ONNX to build the TensorRT engine from [default: export the model at --size into the
    /// cache].
    #[arg(long)]
    pub trt_onnx: Option<PathBuf>,
    /// TensorRT engine precision.
    #[arg(long, value_enum, default_value = "fp16")]
    pub trt_precision: Precision,
    /// Which TensorRT to load.
    #[arg(long, value_enum, default_value = "tensorrt")]
    pub trt_flavour: Flavour,
    /// Engine cache folder.
    #[arg(long, default_value = "engines")]
    pub engine_dir: PathBuf,
}

impl TrtArgs {
    /// The backend's options for network calls of up to `max_batch` frames.
    pub fn options(&self, max_batch: u32) -> TensorRtOptions {
        TensorRtOptions {
            onnx: self.trt_onnx.clone(),
            precision: self.trt_precision,
            flavour: self.trt_flavour,
            engine_dir: self.engine_dir.clone(),
            max_batch,
            ..TensorRtOptions::default()
        }
    }
}

impl BackendArgs {
    /// The backend for network calls at `size`.
    pub fn config(&self, size: Option<(u32, u32)>) -> BackendConfig {
        BackendConfig {
            kind: self.backend,
            ort: OrtOptions {
                onnx: self.onnx.clone(),
                execution_providers: self.execution_providers.clone(),
                intra_op_threads: self.ort_threads,
                library: self.ort_library.clone(),
            },
            tensorrt: self.trt.options(1),
            network_size: size,
            tta: Tta::default(),
        }
    }
}

/// `HxW`, each side within the limits every network takes.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("size {s:?} must look like HxW, e.g. 720x960"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("size {s:?}: {v:?} is not a number"))
    };
    let (h, w) = (parse(h)?, parse(w)?);
    InputSpec::IMAGENET_RGB
        .check_size(h, w)
        .map_err(|e| format!("size {s:?}: {e}"))?;
    Ok((h, w))
}

/// Set by Ctrl-C (SIGINT), SIGTERM or SIGHUP: training checkpoints and stops at the end of
/// the current step; the node stops its workers and leaves the graph.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How a resumable job (`train`, `search`) is started or continued.
#[derive(clap::Args)]
pub struct JobArgs {
    /// Configuration file holding every hyperparameter (see configs/).
    #[arg(long, conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Override a config key, e.g. `--set iterations=20` (train), `--set
    /// augment.crop=[128,160]`; a number indexes a list (`--set stages.0.steps=20`, search).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
}

/// A resumable job (`train`, `search`): started from a config file with `--set` overrides, or
/// continued from its directory; Ctrl-C checkpoints and stops it with status 130.
pub fn run_resumable(
    JobArgs {
        config,
        overrides,
        resume,
    }: JobArgs,
    start: impl FnOnce(
        &std::path::Path,
        &[String],
        rtseg::train::StopRequest,
    ) -> anyhow::Result<rtseg::train::Outcome>,
    continue_in: impl FnOnce(
        &std::path::Path,
        rtseg::train::StopRequest,
    ) -> anyhow::Result<rtseg::train::Outcome>,
) -> anyhow::Result<std::process::ExitCode> {
    catch_ctrl_c();
    let stop = &|_step: u64| interrupted();
    let outcome = match (config, resume) {
        (_, Some(dir)) => {
            if !overrides.is_empty() {
                anyhow::bail!(
                    "--set cannot change a run being resumed (its config.yaml is the schedule)"
                );
            }
            continue_in(&dir, stop)?
        }
        (Some(path), None) => start(&path, &overrides, stop)?,
        (None, None) => anyhow::bail!("pass --config FILE or --resume DIR"),
    };
    Ok(match outcome {
        rtseg::train::Outcome::Finished => std::process::ExitCode::SUCCESS,
        // The conventional exit status of a process stopped by SIGINT.
        rtseg::train::Outcome::Interrupted { .. } => std::process::ExitCode::from(130),
    })
}

pub fn catch_ctrl_c() {
    if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
        eprintln!("warning: cannot catch SIGINT/SIGTERM ({e}); they will kill the process at once");
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Parses a ground grid `RESOLUTION,X_MIN,X_MAX,Y_MIN,Y_MAX` (metres).
pub(crate) fn parse_grid(text: &str) -> Result<rtseg::geometry::ground::GridSpec, String> {
    let v: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{text:?}: {e}"))?;
    let [resolution, x0, x1, y0, y1] = v[..] else {
        return Err(format!("{text:?}: RESOLUTION,X_MIN,X_MAX,Y_MIN,Y_MAX"));
    };
    let grid = rtseg::geometry::ground::GridSpec {
        resolution,
        x_range: [x0, x1],
        y_range: [y0, y1],
    };
    grid.validate()?;
    Ok(grid)
}
