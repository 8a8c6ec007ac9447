//! Engine files: TensorRT engines built from rtseg's ONNX exports, cached as
//! `<dir>/<model>-<onnx sha256 prefix>-<gpu>-sm<cc>-<flavour><version>-<precision>.plan` with a
//! JSON manifest beside each (what it was built from, for which GPU and TensorRT, with which
//! profile, precision and normalisation), and the checks that refuse a plan built for anything
//! else — TensorRT itself only rejects a mismatched plan when deserializing it, if at all.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{BuildRequest, Library, TensorInfo, version_text};
pub use crate::backend::trt_config::{Flavour, Precision};
use crate::io::{sha256_bytes, write_atomic};
use crate::onnx::{self, INPUT_NORMALIZED, OnnxInfo, meta};

/// The input optimisation profile: `[batch, 3, height, width]` at min, opt and max.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub input: String,
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
}

/// What a plan was built from and for; written beside the plan as `<plan>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub rtseg_version: String,
    pub model: String,
    pub label_space: String,
    pub num_classes: usize,
    pub classes: Vec<String>,
    pub palette: Vec<[u8; 3]>,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub channel_order: String,
    pub onnx_file: String,
    pub onnx_sha256: String,
    pub plan_bytes: u64,
    pub plan_sha256: String,
    pub precision: Precision,
    pub flavour: Flavour,
    /// The library that built the plan (TensorRT runs a plan only on the same version).
    pub tensorrt_version: String,
    /// The headers rtseg's shim was compiled against.
    pub header_version: String,
    /// `any` for TensorRT-RTX plans built without a GPU (specialised on the GPU at load).
    pub gpu: String,
    pub compute_capability: String,
    pub profile: Profile,
    pub outputs: Vec<String>,
    /// SHA-256 of the INT8 calibration set (file names and bytes), when calibrated.
    pub calibration_set: Option<String>,
    pub build_seconds: f64,
}

/// The GPU an engine is for: name and compute capability, or `any` (TensorRT-RTX without a
/// GPU at build time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub gpu: String,
    pub compute_capability: String,
}

impl Target {
    /// The local GPU `ordinal`, if the CUDA driver sees one.
    ///
    /// # Errors
    /// No CUDA driver or no such GPU.
    pub fn local(ordinal: usize) -> Result<Self, crate::gpu::GpuError> {
        let gpu = crate::gpu::cuda::device(ordinal)?;
        let (name, (major, minor)) = (gpu.name, gpu.compute_capability);
        Ok(Target {
            gpu: name,
            compute_capability: format!("{major}.{minor}"),
        })
    }

    fn any() -> Self {
        Target {
            gpu: "any".into(),
            compute_capability: "any".into(),
        }
    }

    fn slug(&self) -> String {
        if self.compute_capability == "any" {
            return "any-gpu".into();
        }
        let gpu: String = self
            .gpu
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let gpu = gpu
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        format!("{gpu}-sm{}", self.compute_capability.replace('.', ""))
    }
}

/// The cache file of an engine: `<dir>/<model>-<onnx sha256[..12]>-<gpu>-sm<cc>-<flavour><version>-<precision>.plan`.
pub fn plan_path(
    dir: &Path,
    model: &str,
    onnx_sha256: &str,
    target: &Target,
    library: &Library,
    precision: Precision,
) -> PathBuf {
    let flavour = match library.flavour {
        Flavour::Tensorrt => "trt",
        Flavour::TensorrtRtx => "trtrtx",
    };
    dir.join(format!(
        "{model}-{}-{}-{flavour}{}-{}.plan",
        &onnx_sha256[..12.min(onnx_sha256.len())],
        target.slug(),
        version_text(library.version),
        precision.name()
    ))
}

/// The manifest path of a plan.
pub fn manifest_path(plan: &Path) -> PathBuf {
    plan.with_extension("json")
}

/// What `rtseg engine build` asks for.
pub struct BuildOptions<'a> {
    pub onnx: &'a Path,
    /// `None`: what the ONNX carries (Q/DQ → int8, f16 weights → fp16, else fp32) on TensorRT
    /// 11 and TensorRT-RTX, which take precision from the network; fp16 on TensorRT ≤ 10.
    pub precision: Option<Precision>,
    pub flavour: Flavour,
    pub library: Option<&'a Path>,
    pub dir: &'a Path,
    /// `(height, width)` of the profile when the ONNX has dynamic height and width.
    pub min: Option<(u32, u32)>,
    pub opt: Option<(u32, u32)>,
    pub max: Option<(u32, u32)>,
    /// Largest batch of the profile when the ONNX has a dynamic batch.
    pub max_batch: u32,
    pub workspace_mib: u64,
    /// INT8 calibration images (TensorRT ≤ 10).
    pub calibration: Option<&'a Path>,
    pub gpu: usize,
}

/// An rtseg export, checked for what the TensorRT backend needs.
struct Export {
    bytes: Vec<u8>,
    sha256: String,
    info: OnnxInfo,
}

fn read_export(path: &Path) -> anyhow::Result<Export> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let info = onnx::inspect(path)?;
    let field = |key: &str| info.metadata.get(key).cloned();
    if field(meta::MODEL).is_none() {
        anyhow::bail!(
            "{}: not an rtseg export (no {} metadata)",
            path.display(),
            meta::MODEL
        );
    }
    if field(meta::INPUT).as_deref() != Some(INPUT_NORMALIZED)
        || field(meta::OUTPUT).as_deref() != Some("logits_f32")
    {
        anyhow::bail!(
            "{}: the TensorRT backend normalises frames and takes the argmax on the GPU itself; \
             export without --with-preprocess and --with-argmax",
            path.display()
        );
    }
    let [input] = info.inputs.as_slice() else {
        anyhow::bail!("{}: expected one graph input", path.display());
    };
    if input.dims.len() != 4 || input.dims[1] != Some(3) {
        anyhow::bail!(
            "{}: input {} is not [N, 3, H, W]",
            path.display(),
            input.name
        );
    }
    Ok(Export {
        sha256: sha256_bytes(&bytes),
        bytes,
        info,
    })
}

fn dim(fixed: Option<i64>, wanted: Option<u32>, what: &str) -> anyhow::Result<i64> {
    match (fixed, wanted) {
        (Some(n), Some(w)) if n != w as i64 => {
            anyhow::bail!("the ONNX has a fixed {what} of {n}, not {w}; export it at that size")
        }
        (Some(n), _) => Ok(n),
        (None, Some(w)) => Ok(w as i64),
        (None, None) => anyhow::bail!(
            "the ONNX has a dynamic {what}: give the profile's sizes (--min/--opt/--max HxW)"
        ),
    }
}

/// The optimisation profile from the ONNX's input dims and the requested sizes.
fn profile(export: &Export, options: &BuildOptions<'_>) -> anyhow::Result<Profile> {
    let input = &export.info.inputs[0];
    let at = |size: Option<(u32, u32)>, batch: u32| -> anyhow::Result<Vec<i64>> {
        Ok(vec![
            dim(input.dims[0], Some(batch), "batch")
                .or_else(|_| dim(input.dims[0], None, "batch"))?,
            3,
            dim(input.dims[2], size.map(|s| s.0), "height")?,
            dim(input.dims[3], size.map(|s| s.1), "width")?,
        ])
    };
    let opt = options.opt.or(options.max).or(options.min);
    Ok(Profile {
        input: input.name.clone(),
        min: at(options.min.or(opt), 1)?,
        opt: at(opt, 1)?,
        max: at(options.max.or(opt), options.max_batch.max(1))?,
    })
}

/// Builds the engine of `options.onnx` into the cache (plan, manifest, timing cache, written
/// atomically) and returns the plan's path and manifest. Prints a warning first: a build takes
/// minutes.
///
/// # Errors
/// A file that is not an rtseg export, a precision the ONNX or TensorRT version cannot give, no
/// GPU where TensorRT needs one, a missing library or builder, or TensorRT's own errors.
pub fn build(options: &BuildOptions<'_>) -> anyhow::Result<(PathBuf, Manifest)> {
    let export = read_export(options.onnx)?;
    let library = Library::load(options.flavour, options.library)?;
    if library.parser.is_none() {
        anyhow::bail!(
            "{} from {} is a runtime without the ONNX parser: it runs engines but cannot build \
             them; install the full TensorRT (libnvinfer and libnvonnxparser) or build with \
             --flavour tensorrt-rtx",
            library.describe(),
            library.path.display()
        );
    }
    let modern = library.flavour == Flavour::TensorrtRtx || library.version >= 110_000;
    let onnx_precision = export
        .info
        .metadata
        .get(meta::PRECISION)
        .map(String::as_str);
    let quantized = export
        .info
        .metadata
        .get(meta::QUANTIZATION)
        .map(String::as_str)
        == Some("qdq_int8");
    let precision = options.precision.unwrap_or(if quantized {
        Precision::Int8
    } else if !modern || onnx_precision == Some("f16") {
        Precision::Fp16
    } else {
        Precision::Fp32
    });
    match precision {
        Precision::Fp32 | Precision::Fp16 if modern && quantized => anyhow::bail!(
            "{} runs a Q/DQ ONNX in INT8; build it with --precision int8",
            library.describe()
        ),
        Precision::Fp16 if modern && onnx_precision != Some("f16") => anyhow::bail!(
            "{} takes precision from the ONNX: export the model with --fp16 for an fp16 engine",
            library.describe()
        ),
        Precision::Int8 if modern && !quantized => anyhow::bail!(
            "{} has no INT8 calibrator: export a Q/DQ model (rtseg export --int8-qdq \
             --calib-images DIR) and build that",
            library.describe()
        ),
        Precision::Int8 if !modern && !quantized && options.calibration.is_none() => {
            anyhow::bail!("INT8 without Q/DQ nodes needs calibration images (--calib-images DIR)")
        }
        _ => {}
    }
    let target = match Target::local(options.gpu) {
        Ok(target) => target,
        Err(_) if library.flavour == Flavour::TensorrtRtx => Target::any(),
        Err(e) => anyhow::bail!(
            "building a {} engine needs the GPU it will run on: {e}",
            library.describe()
        ),
    };
    let profile = profile(&export, options)?;
    let input_name = profile.input.clone();
    let model = export.info.metadata[meta::MODEL].clone();
    std::fs::create_dir_all(options.dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", options.dir.display()))?;
    let plan_file = plan_path(
        options.dir,
        &model,
        &export.sha256,
        &target,
        library,
        precision,
    );
    let timing_file = options.dir.join(format!(
        "timing-{}-{}{}.cache",
        target.slug(),
        library.flavour.name(),
        version_text(library.version)
    ));
    let timing = std::fs::read(&timing_file).unwrap_or_default();
    let calibration = match (options.calibration, precision) {
        (Some(dir), Precision::Int8) if !modern => {
            Some(crate::onnx::quantize::calibration_set(dir)?)
        }
        _ => None,
    };
    eprintln!(
        "building {} with {} for {} ({}) — this takes minutes",
        plan_file.display(),
        library.describe(),
        target.gpu,
        precision.name()
    );
    let progress = Progress::start();
    let started = Instant::now();
    let request = BuildRequest {
        onnx: &export.bytes,
        fp16: precision == Precision::Fp16,
        int8: precision == Precision::Int8,
        workspace_bytes: options.workspace_mib << 20,
        input_name: &input_name,
        min: profile.min.clone(),
        opt: profile.opt.clone(),
        max: profile.max.clone(),
        timing_cache: &timing,
        calibrator: None,
    };
    let built = match &calibration {
        Some(set) => super::segmenter::build_calibrated(library, request, set, options)?,
        None => library
            .build(&request)
            .map_err(|e| name_nodes(e.to_string(), &export.bytes))?,
    };
    drop(progress);
    let build_seconds = started.elapsed().as_secs_f64();
    let field = |key: &str| export.info.metadata.get(key).cloned().unwrap_or_default();
    let manifest = Manifest {
        rtseg_version: env!("CARGO_PKG_VERSION").into(),
        num_classes: field(meta::NUM_CLASSES).parse().unwrap_or(0),
        classes: serde_json::from_str(&field(meta::CLASSES)).unwrap_or_default(),
        palette: serde_json::from_str(&field(meta::PALETTE)).unwrap_or_default(),
        mean: serde_json::from_str(&field(meta::MEAN)).unwrap_or_default(),
        std: serde_json::from_str(&field(meta::STD)).unwrap_or_default(),
        channel_order: field(meta::CHANNEL_ORDER),
        label_space: field(meta::LABEL_SPACE),
        model,
        onnx_file: options
            .onnx
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        onnx_sha256: export.sha256.clone(),
        plan_bytes: built.plan.len() as u64,
        plan_sha256: sha256_bytes(&built.plan),
        precision,
        flavour: library.flavour,
        tensorrt_version: version_text(library.version),
        header_version: version_text(library.header_version()),
        gpu: target.gpu.clone(),
        compute_capability: target.compute_capability.clone(),
        profile,
        outputs: export.info.outputs.iter().map(|o| o.name.clone()).collect(),
        calibration_set: calibration.as_ref().map(|c| c.sha256.clone()),
        build_seconds,
    };
    write_atomic(&plan_file, &built.plan)?;
    write_atomic(
        &manifest_path(&plan_file),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    if !built.timing_cache.is_empty() {
        write_atomic(&timing_file, &built.timing_cache)?;
    }
    eprintln!("built in {build_seconds:.0} s");
    Ok((plan_file, manifest))
}

/// TensorRT's parser errors with each `[node N]` followed by that node's operator and name.
fn name_nodes(message: String, onnx: &[u8]) -> anyhow::Error {
    use onnx_protobuf::Message;
    let Ok(model) = onnx_protobuf::ModelProto::parse_from_bytes(onnx) else {
        return anyhow::anyhow!(message);
    };
    let nodes = model
        .graph
        .as_ref()
        .map(|g| g.node.as_slice())
        .unwrap_or_default();
    let mut named = String::new();
    let mut rest = message.as_str();
    while let Some(at) = rest.find("[node ") {
        let (before, tail) = rest.split_at(at);
        named.push_str(before);
        let end = tail.find(']').unwrap_or(tail.len());
        let label = &tail[..end];
        named.push_str(label);
        if let Some(node) = label["[node ".len()..]
            .parse::<usize>()
            .ok()
            .and_then(|i| nodes.get(i))
        {
            named.push_str(&format!(": {} '{}'", node.op_type, node.name));
        }
        rest = &tail[end..];
    }
    named.push_str(rest);
    if named.contains("[node ") {
        named.push_str(
            " (rtseg exports use standard opset-17 operators only: export the model again with \
             `rtseg export` rather than editing the graph)",
        );
    }
    anyhow::anyhow!(named)
}

/// A spinner with the elapsed time on a terminal; a line every 30 s otherwise.
struct Progress {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start() -> Self {
        use std::io::IsTerminal;
        use std::sync::atomic::Ordering;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.set_message("TensorRT is building the engine");
                bar
            });
            let mut last_line = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                match &bar {
                    Some(bar) => bar.tick(),
                    None if last_line.elapsed().as_secs() >= 30 => {
                        eprintln!("still building ({:.0} s)", started.elapsed().as_secs_f64());
                        last_line = Instant::now();
                    }
                    None => {}
                }
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        });
        Progress {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a plan's manifest.
///
/// # Errors
/// No manifest beside the plan, one that does not parse, or one whose SHA-256 fields are not
/// SHA-256 digests (a hand-edited or damaged file).
pub fn read_manifest(plan: &Path) -> anyhow::Result<Manifest> {
    let path = manifest_path(plan);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{}: no manifest beside the plan ({e}); rebuild the engine with `rtseg engine build`",
            path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not an rtseg engine manifest: {e}", path.display()))?;
    let digest = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    for (field, value) in [
        ("onnx_sha256", &manifest.onnx_sha256),
        ("plan_sha256", &manifest.plan_sha256),
    ] {
        anyhow::ensure!(
            digest(value),
            "{}: not an rtseg engine manifest: {field} {value:?} is not a SHA-256 (64 hex digits)",
            path.display()
        );
    }
    Ok(manifest)
}

/// What `rtseg engine check` found.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub plan: PathBuf,
    pub manifest: Manifest,
    /// The checks that ran, each with its verdict.
    pub checks: Vec<(String, Result<(), String>)>,
    /// The engine's tensors, when it could be deserialized here.
    pub tensors: Option<Vec<TensorInfo>>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|(_, r)| r.is_ok())
    }
}

/// How to rebuild the engine a manifest describes (every failed check says it).
fn rebuild_hint(manifest: &Manifest) -> String {
    format!(
        "rebuild with `rtseg engine build --onnx {} --precision {}`",
        manifest.onnx_file,
        manifest.precision.name()
    )
}

/// The checks of a plan against its manifest that need neither TensorRT nor a GPU: the plan's
/// size and SHA-256 (`plan` is its bytes) and, given the ONNX file, the ONNX's SHA-256.
///
/// # Errors
/// An unreadable ONNX file; every mismatch is a failed check.
pub fn check_files(
    plan: &[u8],
    manifest: &Manifest,
    onnx_file: Option<&Path>,
) -> anyhow::Result<Vec<(String, Result<(), String>)>> {
    let rebuild = rebuild_hint(manifest);
    let mut checks: Vec<(String, Result<(), String>)> = Vec::new();
    let whole =
        plan.len() as u64 == manifest.plan_bytes && sha256_bytes(plan) == manifest.plan_sha256;
    checks.push((
        "plan file is the one the manifest describes (size, SHA-256)".into(),
        if whole {
            Ok(())
        } else {
            Err(format!(
                "{} bytes, SHA-256 differs from the manifest's {} bytes: truncated or replaced; {rebuild}",
                plan.len(),
                manifest.plan_bytes
            ))
        },
    ));
    if let Some(onnx_file) = onnx_file {
        let sha = crate::io::sha256_file(onnx_file)?;
        // `get`: a manifest made by hand may hold anything here.
        let short = manifest
            .onnx_sha256
            .get(..12)
            .unwrap_or(&manifest.onnx_sha256);
        checks.push((
            format!("built from {}", onnx_file.display()),
            if sha == manifest.onnx_sha256 {
                Ok(())
            } else {
                Err(format!(
                    "the plan was built from another ONNX ({short}…); {rebuild}"
                ))
            },
        ));
    }
    Ok(checks)
}

/// Validates a plan against its manifest, the ONNX it claims to come from, the local TensorRT
/// and the local GPU, then deserializes it where a GPU exists.
///
/// # Errors
/// Only for an unreadable plan or manifest; every mismatch is a failed check in the report.
pub fn check(
    plan: &Path,
    onnx_file: Option<&Path>,
    library: Option<&Path>,
    gpu: usize,
) -> anyhow::Result<CheckReport> {
    let manifest = read_manifest(plan)?;
    let bytes =
        std::fs::read(plan).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", plan.display()))?;
    let rebuild = rebuild_hint(&manifest);
    let mut checks = check_files(&bytes, &manifest, onnx_file)?;
    let loaded = Library::load(manifest.flavour, library);
    checks.push((
        format!(
            "{} {} is loaded here",
            manifest.flavour.name(),
            manifest.tensorrt_version
        ),
        match &loaded {
            Ok(lib) if version_text(lib.version) == manifest.tensorrt_version => Ok(()),
            Ok(lib) => Err(format!("this machine has {}; {rebuild}", lib.describe())),
            Err(e) => Err(e.to_string()),
        },
    ));
    let target = Target::local(gpu);
    checks.push((
        format!("GPU {} (sm {})", manifest.gpu, manifest.compute_capability),
        match &target {
            Ok(t)
                if manifest.gpu == "any"
                    || (t.gpu == manifest.gpu
                        && t.compute_capability == manifest.compute_capability) =>
            {
                Ok(())
            }
            Ok(t) => Err(format!(
                "this GPU is {} (sm {}); {rebuild}",
                t.gpu, t.compute_capability
            )),
            Err(e) => Err(e.to_string()),
        },
    ));
    let mut tensors = None;
    if let (Ok(lib), Ok(_)) = (&loaded, &target) {
        let deserialized = lib.runtime().and_then(|rt| rt.deserialize(&bytes));
        checks.push((
            "TensorRT deserializes the plan".into(),
            match deserialized {
                Ok(engine) => {
                    let found = engine.tensors();
                    let input_ok = found
                        .iter()
                        .any(|t| t.input && t.name == manifest.profile.input);
                    let outputs_ok = manifest
                        .outputs
                        .iter()
                        .all(|o| found.iter().any(|t| !t.input && &t.name == o));
                    tensors = Some(found);
                    if input_ok && outputs_ok {
                        Ok(())
                    } else {
                        Err(format!("its tensors are not the manifest's; {rebuild}"))
                    }
                }
                Err(e) => Err(format!("{e}; {rebuild}")),
            },
        ));
    }
    Ok(CheckReport {
        plan: plan.to_path_buf(),
        manifest,
        checks,
        tensors,
    })
}
