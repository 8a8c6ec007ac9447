//! The `ort` backend: an ONNX export of the model run by ONNX Runtime (the `ort` crate with
//! `load-dynamic`, so the library is found at run time — `$ORT_DYLIB_PATH`, or the
//! `libonnxruntime.so` that the `onnxruntime` wheel ships — and nothing is linked or
//! downloaded at build time). Execution providers CPU, CUDA, TensorRT and TensorRT-RTX are
//! selectable; one that the loaded library lacks is an error naming what it has.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::ep::{self, ExecutionProvider as _, ExecutionProviderDispatch};
use ort::session::{Session, SessionInputValue};
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::{ExecutionProvider, OrtOptions};
use crate::onnx::{ExportOptions, INPUT_NORMALIZED, INPUT_RGB_U8, meta};
use crate::pipeline::cpu::{HostBatch, TensorRunner, argmax_scores};
use crate::pipeline::{Extent, InputLayout, ModelIo, SegmentError};
use crate::source::ModelSource;

/// The one ONNX Runtime environment of the process (the library can be loaded only once).
static ENVIRONMENT: OnceLock<Result<(ort::environment::Environment, PathBuf), String>> =
    OnceLock::new();

/// Where `libonnxruntime.so` is looked for when no path is given: `$ORT_DYLIB_PATH`, else
/// `.venv/lib/python3.*/site-packages/onnxruntime/capi/libonnxruntime.so*` under the working
/// directory and the binary's ancestors (the test environment `scripts/test.sh` makes).
pub fn find_library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let mut roots: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    roots.iter().find_map(|root| {
        let lib = root.join(".venv/lib");
        std::fs::read_dir(lib).ok()?.flatten().find_map(|python| {
            let capi = python.path().join("site-packages/onnxruntime/capi");
            let mut found: Vec<PathBuf> = std::fs::read_dir(capi)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so"))
                })
                .collect();
            found.sort();
            found.pop()
        })
    })
}

/// The process's ONNX Runtime environment, loading the library on first use (`library`, else
/// [`find_library`]).
///
/// # Errors
/// No library found, not an ONNX Runtime library or older than 1.31, or a second library asked
/// for after the first was loaded.
pub fn environment(
    library: Option<&Path>,
) -> anyhow::Result<&'static ort::environment::Environment> {
    let loaded =
        ENVIRONMENT.get_or_init(|| {
            let path = library.map(Path::to_path_buf).or_else(find_library).ok_or_else(|| {
            "cannot find libonnxruntime.so: set ORT_DYLIB_PATH (or the ort library option) to \
             the library of an ONNX Runtime 1.31 installation — `pip install \
             onnxruntime==1.31.1` ships it in site-packages/onnxruntime/capi/"
                .to_string()
        })?;
            let builder = ort::init_from(&path).map_err(|e| {
                format!("{}: not a usable ONNX Runtime library: {e}", path.display())
            })?;
            let env = builder
                .with_name("rtseg")
                .build()
                .map_err(|e| format!("{}: cannot start ONNX Runtime: {e}", path.display()))?;
            Ok((env, path))
        });
    match loaded {
        Ok((env, path)) => {
            if let Some(asked) = library
                && asked != path
            {
                anyhow::bail!(
                    "ONNX Runtime is already loaded from {} in this process; cannot also load {}",
                    path.display(),
                    asked.display()
                );
            }
            Ok(env)
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// The provider objects for `providers`, each failing loudly instead of falling back.
fn dispatch(providers: &[ExecutionProvider]) -> anyhow::Result<Vec<ExecutionProviderDispatch>> {
    let available = || {
        let known = [
            ("cpu", Ok(true)),
            ("cuda", ep::CUDA::is_available()),
            ("tensorrt", ep::TensorRT::is_available()),
            ("nv_tensorrt_rtx", ep::NVRTX::is_available()),
        ];
        let names: Vec<&str> = known
            .into_iter()
            .filter(|(_, ok)| matches!(ok, Ok(true)))
            .map(|(name, _)| name)
            .collect();
        names.join(", ")
    };
    providers
        .iter()
        .map(|p| {
            let (name, compiled_in, dispatch) = match p {
                ExecutionProvider::Cpu => ("cpu", Ok(true), ep::CPU::default().build()),
                ExecutionProvider::Cuda => (
                    "cuda",
                    ep::CUDA::is_available(),
                    ep::CUDA::default().build(),
                ),
                ExecutionProvider::Tensorrt => (
                    "tensorrt",
                    ep::TensorRT::is_available(),
                    ep::TensorRT::default().build(),
                ),
                ExecutionProvider::NvTensorrtRtx => (
                    "nv_tensorrt_rtx",
                    ep::NVRTX::is_available(),
                    ep::NVRTX::default().build(),
                ),
            };
            match compiled_in {
                Ok(true) => Ok(dispatch.error_on_failure()),
                Ok(false) => anyhow::bail!(
                    "execution provider {name} is not in this ONNX Runtime library (it has: {}); \
                     install the build that carries it (onnxruntime-gpu for cuda/tensorrt, \
                     onnxruntime-ep-nv-tensorrt-rtx for nv_tensorrt_rtx) and point \
                     ORT_DYLIB_PATH at its libonnxruntime.so",
                    available()
                ),
                Err(e) => anyhow::bail!("cannot ask ONNX Runtime for its providers: {e}"),
            }
        })
        .collect()
}

/// The ONNX file to run: the one given, or an export of the model in the cache.
fn onnx_file(options: &OrtOptions, source: &ModelSource) -> anyhow::Result<PathBuf> {
    if let Some(path) = &options.onnx {
        if !path.is_file() {
            anyhow::bail!("{}: no such ONNX file", path.display());
        }
        return Ok(path.clone());
    }
    let identity = source.cache_identity()?;
    let dir = super::cache_dir().join("onnx");
    let path = dir.join(format!(
        "{}_{}_{identity}_dynamic_rtseg{}.onnx",
        source.model,
        source.label_space.name(),
        env!("CARGO_PKG_VERSION")
    ));
    if !path.is_file() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("{}: cannot create the cache: {e}", dir.display()))?;
        eprintln!("exporting {} to {}", source.model, path.display());
        // Only to export: the CPU serves every build.
        let device = burn::prelude::Device::flex();
        let model = source.build(&device)?;
        let options = ExportOptions {
            batch: None,
            ..ExportOptions::default()
        };
        let proto = crate::onnx::export(&model, source, &options)?;
        crate::onnx::save(&proto, &path)?;
    }
    Ok(path)
}

/// What the graph returns.
enum Output {
    Logits,
    ClassIds,
}

/// An ONNX Runtime session of an rtseg export.
pub struct OrtRunner {
    session: Session,
    input_name: String,
    output: Output,
    io: ModelIo,
}

impl OrtRunner {
    /// Loads ONNX Runtime (once per process), the ONNX file and its providers, and checks the
    /// file against `source`: model name and class count from its metadata, one input of a
    /// layout rtseg writes.
    ///
    /// # Errors
    /// Each cause named with the file: library, provider, unreadable ONNX, other model.
    pub fn open(options: &OrtOptions, source: &ModelSource) -> anyhow::Result<Self> {
        let env = environment(options.library.as_deref())?;
        let path = onnx_file(options, source)?;
        let providers = dispatch(&options.execution_providers)?;
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            anyhow::anyhow!("{}: {what}: {e}", path.display())
        };
        let mut builder = Session::builder(env).map_err(|e| fail("ONNX Runtime", &e))?;
        if options.intra_op_threads > 0 {
            builder = builder
                .with_intra_threads(options.intra_op_threads)
                .map_err(|e| fail("intra-op threads", &e))?;
        }
        let session = builder
            .with_execution_providers(&providers)
            .map_err(|e| fail("execution providers", &e))?
            .commit_from_file(&path)
            .map_err(|e| fail("not a model ONNX Runtime can load", &e))?;
        let fields = {
            let metadata = session
                .metadata()
                .map_err(|e| fail("cannot read metadata", &e))?;
            [
                meta::MODEL,
                meta::NUM_CLASSES,
                meta::PRECISION,
                meta::INPUT,
                meta::OUTPUT,
                meta::RANDOM_INIT_SEED,
            ]
            .map(|key| metadata.custom(key))
        };
        let [
            model,
            classes,
            precision,
            input_layout,
            output_kind,
            untrained,
        ] = fields;
        let (Some(model), Some(classes)) = (model, classes) else {
            anyhow::bail!(
                "{}: not an rtseg export (no {} / {} metadata); export it with `rtseg export`",
                path.display(),
                meta::MODEL,
                meta::NUM_CLASSES
            );
        };
        let want = source.label_space.num_classes();
        if model != source.model || classes != want.to_string() {
            anyhow::bail!(
                "{} holds {model} with {classes} classes, but {} with {want} classes ({}) was \
                 asked for; run it with `--model {model}` and the dataset it was exported for, \
                 or export the model you mean (`rtseg export --model {} --dataset {}`)",
                path.display(),
                source.model,
                source.label_space.name(),
                source.model,
                source.label_space.name()
            );
        }
        crate::onnx::warn_if_untrained(&path, untrained.as_deref(), source);
        let precision = match precision.as_deref() {
            Some("f16") => "f16",
            _ => "f32",
        };
        let [input] = session.inputs() else {
            anyhow::bail!("{}: expected one graph input", path.display());
        };
        let input_name = input.name().to_string();
        let ValueType::Tensor { ty, shape, .. } = input.dtype().clone() else {
            anyhow::bail!("{}: the graph input is not a tensor", path.display());
        };
        let layout = match (input_layout.as_deref(), ty) {
            (Some(INPUT_NORMALIZED), TensorElementType::Float32) => InputLayout::NormalizedNchwF32,
            (Some(INPUT_RGB_U8), TensorElementType::Uint8) => InputLayout::RgbNhwcU8,
            (layout, ty) => anyhow::bail!(
                "{}: input layout {layout:?} of element type {ty:?} is not one rtseg writes",
                path.display()
            ),
        };
        let extent = |d: i64| {
            if d > 0 {
                Extent::Fixed(d as usize)
            } else {
                Extent::Any
            }
        };
        let (batch, height, width) = match (layout, &shape[..]) {
            (InputLayout::NormalizedNchwF32, [n, 3, h, w]) => (*n, *h, *w),
            (InputLayout::RgbNhwcU8, [n, h, w, 3]) => (*n, *h, *w),
            (_, dims) => anyhow::bail!(
                "{}: input shape {dims:?} is not an image batch",
                path.display()
            ),
        };
        let output = match output_kind.as_deref() {
            Some("logits_f32") => Output::Logits,
            Some("class_ids_u8" | "class_ids_i32") => Output::ClassIds,
            other => anyhow::bail!(
                "{}: output kind {other:?} is not one rtseg writes",
                path.display()
            ),
        };
        let device = options
            .execution_providers
            .iter()
            .map(|p| format!("{p:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join("+");
        Ok(Self {
            input_name,
            session,
            output,
            io: ModelIo {
                backend: "ort",
                device,
                model,
                num_classes: want,
                height: extent(height),
                width: extent(width),
                batch: extent(batch),
                precision,
                input: layout,
            },
        })
    }
}

fn backend_error(e: impl std::fmt::Display) -> SegmentError {
    SegmentError::Backend {
        backend: "ort",
        message: e.to_string(),
    }
}

impl TensorRunner for OrtRunner {
    fn io(&self) -> &ModelIo {
        &self.io
    }

    fn run(&mut self, batch: HostBatch<'_>) -> Result<Vec<u8>, SegmentError> {
        let (input, [n, h, w]): (SessionInputValue<'_>, _) = match batch {
            HostBatch::F32(data, shape) => (
                TensorRef::from_array_view((shape, data))
                    .map_err(backend_error)?
                    .into(),
                [shape[0], shape[2], shape[3]],
            ),
            HostBatch::U8(data, shape) => (
                TensorRef::from_array_view((shape, data))
                    .map_err(backend_error)?
                    .into(),
                [shape[0], shape[1], shape[2]],
            ),
        };
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(backend_error)?;
        let value = &outputs[0];
        match self.output {
            Output::Logits => {
                let (_, scores) = value.try_extract_tensor::<f32>().map_err(backend_error)?;
                let k = self.io.num_classes;
                if scores.len() != n * k * h * w {
                    return Err(backend_error(format!(
                        "returned {} scores for {n}×{k}×{h}×{w}",
                        scores.len()
                    )));
                }
                Ok(argmax_scores(scores, [n, k, h, w]))
            }
            Output::ClassIds => {
                if let Ok((_, ids)) = value.try_extract_tensor::<u8>() {
                    return Ok(ids.to_vec());
                }
                let (_, ids) = value.try_extract_tensor::<i32>().map_err(backend_error)?;
                Ok(ids.iter().map(|&id| id.clamp(0, 255) as u8).collect())
            }
        }
    }
}

/// Runs `model` through ONNX Runtime on the CPU for each normalised `[N, 3, H, W]` batch and
/// hands every output named in `names` to `observe`: the activation statistics of INT8 Q/DQ
/// calibration ([`crate::onnx::quantize`]). Returns the number of batches run.
///
/// # Errors
/// No ONNX Runtime, a model it cannot load, a batch that fails to load or run.
pub fn observe_activations(
    model: &onnx_protobuf::ModelProto,
    names: &[String],
    batches: impl IntoIterator<Item = anyhow::Result<(Vec<f32>, [usize; 4])>>,
    library: Option<&Path>,
    mut observe: impl FnMut(&str, &[f32]),
) -> anyhow::Result<usize> {
    use onnx_protobuf::Message;
    let env = environment(library)?;
    let bytes = model.write_to_bytes()?;
    let input = model
        .graph
        .as_ref()
        .and_then(|g| g.input.first())
        .map(|i| i.name.clone())
        .ok_or_else(|| anyhow::anyhow!("the model has no graph input"))?;
    let mut session = Session::builder(env)
        .and_then(|mut b| b.commit_from_memory(&bytes))
        .map_err(|e| anyhow::anyhow!("ONNX Runtime cannot load the calibration graph: {e}"))?;
    let mut count = 0;
    for batch in batches {
        let (data, shape) = batch?;
        let tensor = TensorRef::from_array_view((shape, data.as_slice()))?;
        let outputs = session
            .run(ort::inputs![input.as_str() => tensor])
            .map_err(|e| anyhow::anyhow!("calibration batch {count}: {e}"))?;
        for name in names {
            let (_, values) = outputs[name.as_str()].try_extract_tensor::<f32>()?;
            observe(name, values);
        }
        count += 1;
    }
    Ok(count)
}
