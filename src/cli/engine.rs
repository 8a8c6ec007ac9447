//! `rtseg engine`: TensorRT engines — build one from an rtseg ONNX export into the cache, check
//! one against its manifest and this machine, compile the CUDA kernels, report what TensorRT and
//! GPU this machine has. In a build without `--features tensorrt` every subcommand says how to get
//! one.

use std::path::PathBuf;
use std::process::ExitCode;

use rtseg::backend::trt_config::{Flavour, Precision};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Build an engine from an ONNX made by `rtseg export` into the engine cache (takes minutes):
    /// `<dir>/<model>-<onnx sha256>-<gpu>-sm<cc>-<trt version>-<precision>.plan` + `.json`.
    Build {
        /// The ONNX file (an `rtseg export` without --with-preprocess/--with-argmax).
        #[arg(long)]
        onnx: PathBuf,
        /// [default: what the ONNX carries on TensorRT 11 and TensorRT-RTX (Q/DQ → int8, --fp16
        /// export → fp16, else fp32); fp16 on TensorRT ≤ 10]
        #[arg(long, value_enum)]
        precision: Option<Precision>,
        /// Which TensorRT builds it: tensorrt (libnvinfer + libnvonnxparser) or tensorrt-rtx.
        #[arg(long, value_enum, default_value = "tensorrt")]
        flavour: Flavour,
        /// Engine cache folder.
        #[arg(long, default_value = "engines")]
        engine_dir: PathBuf,
        /// Smallest input HxW of the profile (dynamic-size ONNX only).
        #[arg(long, value_parser = super::parse_size)]
        min: Option<(u32, u32)>,
        /// The input HxW TensorRT optimises for (dynamic-size ONNX only).
        #[arg(long, value_parser = super::parse_size)]
        opt: Option<(u32, u32)>,
        /// Largest input HxW of the profile (dynamic-size ONNX only).
        #[arg(long, value_parser = super::parse_size)]
        max: Option<(u32, u32)>,
        /// Largest batch of the profile (dynamic-batch ONNX only).
        #[arg(long, default_value_t = 1)]
        max_batch: u32,
        /// Builder workspace, MiB.
        #[arg(long, default_value_t = 1024)]
        workspace_mib: u64,
        /// INT8 entropy-calibration images (TensorRT ≤ 10; newer versions take a Q/DQ ONNX).
        #[arg(long)]
        calib_images: Option<PathBuf>,
        /// The TensorRT runtime library [default: the system's, then .venv's].
        #[arg(long)]
        library: Option<PathBuf>,
        /// CUDA device ordinal.
        #[arg(long, default_value_t = 0)]
        gpu: usize,
    },
    /// Check an engine against its manifest, its ONNX, this machine's TensorRT and GPU; exit
    /// status 1 if any check fails.
    Check {
        /// The engine (`.plan`, its manifest `.json` beside it).
        engine: PathBuf,
        /// The ONNX the engine should come from.
        #[arg(long)]
        onnx: Option<PathBuf>,
        /// The TensorRT runtime library [default: the system's, then .venv's].
        #[arg(long)]
        library: Option<PathBuf>,
        /// CUDA device ordinal.
        #[arg(long, default_value_t = 0)]
        gpu: usize,
    },
    /// Compile the CUDA pre/post-processing kernels with NVRTC (no GPU needed) and print the PTX
    /// size per architecture.
    Kernels {
        /// GPU architectures, e.g. sm_87 (Orin), sm_72 (Xavier), sm_70 (V100), sm_90 (H100).
        #[arg(long = "arch", required = true)]
        archs: Vec<String>,
        /// Also write each PTX to `<dir>/rtseg_kernels_<arch>.ptx`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Load TensorRT (the version handshake) and look for a CUDA driver and GPU.
    Info {
        /// Which TensorRT to load: tensorrt or tensorrt-rtx.
        #[arg(long, value_enum, default_value = "tensorrt")]
        flavour: Flavour,
        /// The TensorRT runtime library [default: the system's, then .venv's].
        #[arg(long)]
        library: Option<PathBuf>,
    },
}

#[cfg(not(feature = "tensorrt"))]
pub fn run(_: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "this rtseg was built without TensorRT support: rebuild with `cargo build --release \
         --features tensorrt` (TensorRT headers at build time: TENSORRT_INCLUDE_DIR, or `eval \
         \"$(bash scripts/trt_headers.sh)\"`)"
    )
}

#[cfg(feature = "tensorrt")]
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    use rtseg::backend::tensorrt::engine::{self, BuildOptions};
    use rtseg::backend::tensorrt::{Library, version_text};

    match command {
        Command::Build {
            onnx,
            precision,
            flavour,
            engine_dir,
            min,
            opt,
            max,
            max_batch,
            workspace_mib,
            calib_images,
            library,
            gpu,
        } => {
            let (plan, manifest) = engine::build(&BuildOptions {
                onnx: &onnx,
                precision,
                flavour,
                library: library.as_deref(),
                dir: &engine_dir,
                min,
                opt,
                max,
                max_batch,
                workspace_mib,
                calibration: calib_images.as_deref(),
                gpu,
            })?;
            println!(
                "{} ({} {}, {} on {}, {} bytes)",
                plan.display(),
                manifest.flavour.name(),
                manifest.tensorrt_version,
                manifest.precision.name(),
                manifest.gpu,
                manifest.plan_bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            engine: plan,
            onnx,
            library,
            gpu,
        } => {
            let report = engine::check(&plan, onnx.as_deref(), library.as_deref(), gpu)?;
            println!(
                "{}: {} {} for {} ({} sm {}), built with {} {}",
                plan.display(),
                report.manifest.model,
                report.manifest.precision.name(),
                report.manifest.label_space,
                report.manifest.gpu,
                report.manifest.compute_capability,
                report.manifest.flavour.name(),
                report.manifest.tensorrt_version
            );
            for (what, verdict) in &report.checks {
                match verdict {
                    Ok(()) => println!("  ok    {what}"),
                    Err(why) => println!("  FAIL  {what}: {why}"),
                }
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Kernels { archs, out } => {
            for arch in archs {
                let ptx = rtseg::gpu::cuda::compile(&arch)?.to_src();
                match &out {
                    Some(dir) => {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            anyhow::anyhow!("{}: cannot create: {e}", dir.display())
                        })?;
                        let file = dir.join(format!("rtseg_kernels_{arch}.ptx"));
                        rtseg::io::write_atomic(&file, ptx.as_bytes())?;
                        println!("{arch}: {} bytes of PTX -> {}", ptx.len(), file.display());
                    }
                    None => println!("{arch}: {} bytes of PTX", ptx.len()),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { flavour, library } => {
            let lib = Library::load(flavour, library.as_deref())?;
            println!(
                "{} from {} (shim built against {} headers){}",
                lib.describe(),
                lib.path.display(),
                version_text(lib.header_version()),
                match &lib.parser {
                    Some(parser) => format!(", ONNX parser {}", parser.display()),
                    None => ", no ONNX parser (cannot build engines)".into(),
                }
            );
            match rtseg::gpu::cuda::device(0) {
                Ok(gpu) => {
                    let (major, minor) = gpu.compute_capability;
                    println!("GPU 0: {} (sm_{major}{minor})", gpu.name)
                }
                Err(e) => println!("no GPU: {e}"),
            }
            match lib.runtime() {
                Ok(_) => println!("TensorRT runtime: created"),
                Err(e) => println!("TensorRT runtime: not available here: {e}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
