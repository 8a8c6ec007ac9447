//! `rtseg bench`: inference latency of one or more backends on one model at one size; with
//! several (`--backend burn,ort`) each runs in its own process (so peak memory is its own),
//! with the same model, weights, size and threads, and the table ends with the ratio to the
//! first. `--train-config` times training steps instead, `--search-config` architecture-search
//! steps.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use rtseg::backend::{self, BackendConfig, BackendKind, ExecutionProvider, OrtOptions, Tta};
use rtseg::bench::{self, BenchReport};
use rtseg::search::run::{SearchConfig, bench_stage};
use rtseg::train::config::TrainConfig;

use super::SourceArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Time training steps of this config (its model, crop, batch, loss, optimizer).
    #[arg(long, group = "job_config", conflicts_with_all = ["weights", "random_init", "onnx"])]
    train_config: Option<PathBuf>,
    /// Time search steps (an α step and a weight step) of this `rtseg search` config, per
    /// stage, at its crop and batch size.
    #[arg(long, group = "job_config", conflicts_with_all = ["weights", "random_init", "onnx"])]
    search_config: Option<PathBuf>,
    /// The stage of --search-config to time (1-based) [default: every stage].
    #[arg(long, requires = "search_config")]
    stage: Option<usize>,
    /// Time the node's ground projection (drivable grid, class grid, free-space scan) of a
    /// mask of `--size` seen by this calibration file's camera, instead of a network.
    #[arg(long, value_name = "CALIBRATION", conflicts_with_all = ["job_config", "onnx"])]
    ground: Option<PathBuf>,
    /// The grid for --ground: RESOLUTION,X_MIN,X_MAX,Y_MIN,Y_MAX in metres.
    #[arg(long, value_parser = super::parse_grid, default_value = "0.15,0,30,-15,15")]
    grid: rtseg::geometry::ground::GridSpec,
    /// Overrides for --train-config or --search-config, e.g. `--set batch_size=4`.
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "job_config")]
    overrides: Vec<String>,
    #[command(flatten)]
    model: SourceArgs,
    /// Backends to compare, comma-separated (e.g. `burn,ort`); ratios are to the first.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "burn")]
    backend: Vec<BackendKind>,
    /// ONNX file for the ort backend [default: export the model into the cache].
    #[arg(long)]
    onnx: Option<PathBuf>,
    /// ONNX Runtime execution provider, repeatable, in order of preference.
    #[arg(long = "execution-provider", value_enum, default_values_t = [ExecutionProvider::Cpu])]
    execution_providers: Vec<ExecutionProvider>,
    /// libonnxruntime.so [default: $ORT_DYLIB_PATH, else the onnxruntime wheel in .venv].
    #[arg(long)]
    ort_library: Option<PathBuf>,
    #[command(flatten)]
    trt: super::TrtArgs,
    /// Threads every backend uses (burn: its rayon pool; ort: intra-op threads); 0 = one per
    /// core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Network input HxW (the synthetic frames have this size, so no resize is timed).
    #[arg(long, default_value = "360x480", value_parser = super::parse_size)]
    size: (u32, u32),
    /// Images per network call (e.g. one per camera); throughput counts images.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Timed runs (latency percentiles are over these).
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Untimed runs first (allocations, caches, engine autotuning).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Print JSON (one object per backend, one per line) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.train_config {
        let config = TrainConfig::load(path, &args.overrides)?;
        let report = bench::train_throughput(&config, args.warmup, args.iters)?;
        print_steps("training", &report, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.search_config {
        let config = SearchConfig::load(path, &args.overrides)?;
        let stages = match args.stage {
            Some(stage) => vec![
                stage
                    .checked_sub(1)
                    .ok_or_else(|| anyhow::anyhow!("--stage counts from 1"))?,
            ],
            None => (0..config.stages.len()).collect(),
        };
        for stage in stages {
            let report = bench_stage(&config, stage, args.warmup, args.iters)?;
            print_steps("timing", &report, args.json)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.ground {
        return ground(path, &args);
    }
    let reports = match args.backend.as_slice() {
        [one] => vec![run_here(*one, &args)?],
        several => several
            .iter()
            .map(|kind| run_in_child(*kind))
            .collect::<anyhow::Result<_>>()?,
    };
    if args.json {
        for r in &reports {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        print_table(&reports);
    }
    Ok(ExitCode::SUCCESS)
}

/// One backend in this process.
fn run_here(kind: BackendKind, args: &Args) -> anyhow::Result<BenchReport> {
    if args.threads > 0 {
        // burn's flex backend and gemm run on rayon's global pool.
        rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build_global()
            .map_err(|e| anyhow::anyhow!("cannot size the thread pool: {e}"))?;
    }
    let config = BackendConfig {
        kind,
        ort: OrtOptions {
            onnx: args.onnx.clone(),
            execution_providers: args.execution_providers.clone(),
            intra_op_threads: args.threads,
            library: args.ort_library.clone(),
        },
        tensorrt: args.trt.options(args.batch as u32),
        network_size: Some(args.size),
        tta: Tta::default(),
    };
    let source = args.model.source()?;
    let mut segmenter = backend::open(&config, &source)?;
    let (h, w) = args.size;
    bench::run(
        segmenter.as_mut(),
        [args.batch, h as usize, w as usize],
        args.warmup,
        args.iters,
        args.threads,
    )
}

/// One backend in a child `rtseg bench` with the same arguments, reading its JSON report. The
/// child writes to this process's stderr, so its warnings (e.g. untrained weights) and errors
/// reach the user as they happen.
fn run_in_child(kind: BackendKind) -> anyhow::Result<BenchReport> {
    let mut child_args: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1).peekable();
    while let Some(arg) = args.next() {
        if arg == "--backend" {
            args.next();
        } else if !arg.starts_with("--backend=") && arg != "--json" {
            child_args.push(arg);
        }
    }
    child_args.extend(["--backend".into(), kind.name().into(), "--json".into()]);
    let exe = std::env::current_exe()?;
    eprintln!("benchmarking {} …", kind.name());
    let out = Command::new(exe)
        .args(&child_args)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "the {} benchmark failed ({}); its error is above",
            kind.name(),
            out.status
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn print_table(reports: &[BenchReport]) {
    let Some(first) = reports.first() else {
        return;
    };
    println!(
        "{} batch {} at {}x{} ({} iters after {} warm-up, threads {}, {})",
        first.model,
        first.batch,
        first.height,
        first.width,
        first.iters,
        first.warmup,
        if first.threads == 0 {
            "all".to_string()
        } else {
            first.threads.to_string()
        },
        first.machine
    );
    println!(
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>10} {:>8}",
        "backend",
        "mean ms",
        "p50",
        "p90",
        "p99",
        "pre ms",
        "post ms",
        "images/s",
        "peak RSS",
        "ratio"
    );
    for r in reports {
        let rss = r
            .peak_rss_mib
            .map_or("n/a".to_string(), |m| format!("{m:.0} MiB"));
        println!(
            "{:<8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>8.1} {:>9.2} {:>10} {:>7.2}×",
            r.backend,
            r.mean_ms,
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.pre_mean_ms,
            r.post_mean_ms,
            r.fps,
            rss,
            r.mean_ms / first.mean_ms
        );
    }
}

/// One line of JSON, or a two-line summary after `what` (training, timing).
fn print_steps(what: &str, r: &bench::TrainBenchReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    println!(
        "{what} {} batch {} at {}x{} ({} steps after {} warm-up, {})",
        r.model, r.batch_size, r.height, r.width, r.iters, r.warmup, r.machine
    );
    let rss = r
        .peak_rss_mib
        .map_or("n/a".into(), |m| format!("{m:.0} MiB"));
    println!(
        "step ms: mean {:.0}  p50 {:.0}   throughput: {:.2} images/s   peak RSS: {rss}",
        r.mean_step_ms, r.p50_step_ms, r.images_per_s
    );
    Ok(())
}

fn ground(path: &std::path::Path, args: &Args) -> anyhow::Result<ExitCode> {
    let calibration = rtseg::geometry::calibration::Calibration::load(path)?;
    let missing = |what: &str| anyhow::anyhow!("{}: no {what}", path.display());
    let camera = calibration
        .camera
        .ok_or_else(|| missing("intrinsics (`camera_matrix`)"))?;
    let extrinsics = calibration
        .extrinsics
        .ok_or_else(|| missing("`extrinsics` block"))?;
    let r = bench::ground(
        &camera,
        extrinsics,
        args.grid,
        args.size,
        args.warmup,
        args.iters,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "ground projection of a {}x{} mask onto {}x{} cells and {} rays ({} iters, {})",
            r.height, r.width, r.grid.0, r.grid.1, r.rays, r.iters, r.machine
        );
        println!(
            "table (once per camera_info) {:.2} ms; per mask mean {:.3} ms, p50 {:.3}, p99 {:.3}",
            r.table_ms, r.frame_mean_ms, r.frame_p50_ms, r.frame_p99_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}
