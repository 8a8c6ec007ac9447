//! Inference backends, opened by name from one configuration type: `burn` (the default; pure
//! Rust, runs anywhere) and `ort` (ONNX Runtime through the `ort` crate, cargo feature
//! `ort`). Both run under the CPU pre/post stage ([`crate::pipeline::cpu`]) and are used
//! through the frame-level [`Segmenter`] boundary.

pub mod burn;
#[cfg(feature = "ort")]
pub mod ort;
#[cfg(feature = "tensorrt")]
pub mod tensorrt;
pub mod trt_config;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use self::burn::BurnRunner;
use crate::pipeline::Segmenter;
use crate::pipeline::cpu::CpuSegmenter;
use crate::source::ModelSource;

/// A backend by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// ONNX Runtime when this binary has it and the library loads (the faster CPU backend),
    /// else burn; the node's default.
    Auto,
    /// burn's CPU `flex` backend (or a GPU backend compiled in with `vulkan`/`cuda`).
    #[default]
    Burn,
    /// ONNX Runtime (build with `--features ort`).
    Ort,
    /// TensorRT engines with CUDA pre/post-processing (build with `--features tensorrt`).
    Tensorrt,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Auto => "auto",
            BackendKind::Burn => "burn",
            BackendKind::Ort => "ort",
            BackendKind::Tensorrt => "tensorrt",
        }
    }
}

/// ONNX Runtime execution providers rtseg can ask for, in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionProvider {
    /// The default CPU provider (always present).
    Cpu,
    /// NVIDIA CUDA (`onnxruntime-gpu`).
    Cuda,
    /// NVIDIA TensorRT (`onnxruntime-gpu` with TensorRT libraries).
    Tensorrt,
    /// NVIDIA TensorRT-RTX (`onnxruntime-ep-nv-tensorrt-rtx`).
    NvTensorrtRtx,
}

/// Settings of the `ort` backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrtOptions {
    /// The ONNX file to run; `None` exports the model on first use into the cache
    /// (`$RTSEG_CACHE_DIR`, else `~/.cache/rtseg`), keyed by model, label space and weights.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub onnx: Option<PathBuf>,
    /// Providers in order of preference; ONNX Runtime places each node on the first that
    /// takes it. Default: `[cpu]`.
    #[serde(default = "cpu_only")]
    pub execution_providers: Vec<ExecutionProvider>,
    /// Intra-op threads; 0 = ONNX Runtime's default (one per core).
    #[serde(default)]
    pub intra_op_threads: usize,
    /// `libonnxruntime.so`; `None`: `$ORT_DYLIB_PATH`, else the `onnxruntime` wheel of a
    /// `.venv` beside the working directory or the binary.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub library: Option<PathBuf>,
}

/// `$RTSEG_CACHE_DIR`, else `$XDG_CACHE_HOME/rtseg`, else `~/.cache/rtseg`: where exported
/// ONNX files of the `ort` and `tensorrt` backends are kept.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RTSEG_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("rtseg")
}

/// A path where `""` means none (ROS parameter files have no null).
pub(crate) fn empty_is_none<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<PathBuf>, D::Error> {
    let path: Option<PathBuf> = Option::deserialize(d)?;
    Ok(path.filter(|p| !p.as_os_str().is_empty()))
}

fn cpu_only() -> Vec<ExecutionProvider> {
    vec![ExecutionProvider::Cpu]
}

impl Default for OrtOptions {
    fn default() -> Self {
        Self {
            onnx: None,
            execution_providers: cpu_only(),
            intra_op_threads: 0,
            library: None,
        }
    }
}

/// Test-time augmentation (mmsegmentation's `TestTimeAug`: `img_ratios` and a horizontal
/// flip): the network runs on the input rescaled by each ratio, and with `flip` on its mirror
/// too; the class probabilities of every view, brought back to the input's size and
/// orientation, are averaged before the argmax. Costs one network pass per view. Only the
/// `burn` backend takes it: the ONNX graphs and TensorRT engines end in ArgMax.
#[derive(Clone, Debug, PartialEq)]
pub struct Tta {
    scales: Vec<f64>,
    flip: bool,
}

impl Default for Tta {
    /// One view at scale 1, unflipped: plain inference.
    fn default() -> Self {
        Self {
            scales: vec![1.0],
            flip: false,
        }
    }
}

impl Tta {
    /// # Errors
    /// An empty list, or a ratio that is not a finite number in `(0, 4]`, naming it.
    pub fn new(scales: Vec<f64>, flip: bool) -> Result<Self, String> {
        if scales.is_empty() {
            return Err("give at least one TTA scale, e.g. 0.75,1.0,1.25".into());
        }
        if let Some(bad) = scales
            .iter()
            .find(|s| !(s.is_finite() && **s > 0.0 && **s <= 4.0))
        {
            return Err(format!("TTA scale {bad} is not in (0, 4]"));
        }
        Ok(Self { scales, flip })
    }

    pub fn scales(&self) -> &[f64] {
        &self.scales
    }

    pub fn flip(&self) -> bool {
        self.flip
    }

    /// Plain inference: one unflipped view at scale 1.
    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }
}

/// Which backend, with its settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackendConfig {
    pub kind: BackendKind,
    pub ort: OrtOptions,
    pub tensorrt: trt_config::TensorRtOptions,
    /// The network size calls will use: TensorRT engines are built for it.
    pub network_size: Option<(u32, u32)>,
    /// Test-time augmentation (`burn` only).
    pub tta: Tta,
}

/// Opens a segmenter for `source` (one per worker thread).
///
/// # Errors
/// Missing or mismatched weights; for `ort`, a missing library, ONNX file or execution
/// provider, or an ONNX made for another model — each named in the message.
pub fn open(config: &BackendConfig, source: &ModelSource) -> anyhow::Result<Box<dyn Segmenter>> {
    let tta = !config.tta.is_identity();
    match config.kind {
        BackendKind::Ort | BackendKind::Tensorrt if tta => anyhow::bail!(
            "test-time augmentation (--flip, --scales) needs the network's class scores, which \
             only the burn backend returns (the {} backend's graph ends in ArgMax); use \
             --backend burn",
            format!("{:?}", config.kind).to_lowercase()
        ),
        BackendKind::Auto => {
            let kind = if tta {
                BackendKind::Burn
            } else {
                auto_kind(&config.ort)
            };
            open(
                &BackendConfig {
                    kind,
                    ..config.clone()
                },
                source,
            )
        }
        BackendKind::Burn => {
            let device = crate::device::device()?;
            let model = source.build(&device)?;
            let card = source.card();
            let runner = BurnRunner::new(
                model,
                &source.model,
                source.label_space.num_classes(),
                device,
            )
            .with_tta(config.tta.clone(), card.input);
            Ok(Box::new(CpuSegmenter::new(runner, card)))
        }
        BackendKind::Ort => open_ort(&config.ort, source),
        BackendKind::Tensorrt => open_tensorrt(config, source),
    }
}

/// What `auto` picks: `ort` when compiled in and its library loads, else `burn`.
#[cfg(feature = "ort")]
fn auto_kind(options: &OrtOptions) -> BackendKind {
    match ort::environment(options.library.as_deref()) {
        Ok(_) => BackendKind::Ort,
        Err(e) => {
            eprintln!("backend auto: ONNX Runtime unavailable ({e:#}); using burn");
            BackendKind::Burn
        }
    }
}

#[cfg(not(feature = "ort"))]
fn auto_kind(_: &OrtOptions) -> BackendKind {
    BackendKind::Burn
}

#[cfg(feature = "tensorrt")]
fn open_tensorrt(
    config: &BackendConfig,
    source: &ModelSource,
) -> anyhow::Result<Box<dyn Segmenter>> {
    let segmenter = tensorrt::segmenter::TensorRtSegmenter::open(
        &config.tensorrt,
        source,
        config.network_size,
    )?;
    Ok(Box::new(segmenter))
}

#[cfg(not(feature = "tensorrt"))]
fn open_tensorrt(_: &BackendConfig, _: &ModelSource) -> anyhow::Result<Box<dyn Segmenter>> {
    anyhow::bail!(
        "this rtseg was built without TensorRT support; rebuild with `cargo build --release \
         --features tensorrt` (TensorRT headers needed at build time, see the README) to use \
         --backend tensorrt"
    )
}

#[cfg(feature = "ort")]
fn open_ort(options: &OrtOptions, source: &ModelSource) -> anyhow::Result<Box<dyn Segmenter>> {
    let runner = ort::OrtRunner::open(options, source)?;
    Ok(Box::new(CpuSegmenter::new(runner, source.card())))
}

#[cfg(not(feature = "ort"))]
fn open_ort(_: &OrtOptions, _: &ModelSource) -> anyhow::Result<Box<dyn Segmenter>> {
    anyhow::bail!(
        "this rtseg was built without ONNX Runtime support; rebuild with `cargo build --release \
         --features ort` to use --backend ort"
    )
}
