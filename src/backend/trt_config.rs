//! Settings of the `tensorrt` backend, readable in every build (the node's parameter file and
//! the command line parse them even where TensorRT support is not compiled in).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which TensorRT.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    /// NVIDIA TensorRT (JetPack, the TensorRT packages): engines for one GPU and version.
    #[default]
    Tensorrt,
    /// TensorRT for RTX: ahead-of-time engines that the runtime specialises on the GPU
    /// (compute capability 7.5, 8.6, 8.9, 12.0).
    TensorrtRtx,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Tensorrt => "tensorrt",
            Flavour::TensorrtRtx => "tensorrt-rtx",
        }
    }
}

/// Engine precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Fp32,
    Fp16,
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }
}

/// When the node builds an engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineBuild {
    /// Build when the cache has no valid engine for this ONNX, GPU, TensorRT and precision.
    #[default]
    Auto,
    /// Never build: a missing or mismatched engine is an error.
    Never,
    /// Rebuild even when a valid engine exists.
    Force,
}

/// Settings of the `tensorrt` backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorRtOptions {
    /// The ONNX to build from; `None` exports the model at the network size into the cache.
    #[serde(default, deserialize_with = "super::empty_is_none")]
    pub onnx: Option<PathBuf>,
    #[serde(default = "engines_dir")]
    pub engine_dir: PathBuf,
    #[serde(default = "fp16")]
    pub precision: Precision,
    #[serde(default)]
    pub engine_build: EngineBuild,
    #[serde(default)]
    pub flavour: Flavour,
    /// `libnvinfer.so` (or `libtensorrt_rtx.so.1`); `None`: the system's, then `.venv`'s.
    #[serde(default, deserialize_with = "super::empty_is_none")]
    pub library: Option<PathBuf>,
    #[serde(default)]
    pub gpu: usize,
    #[serde(default = "workspace")]
    pub workspace_mib: u64,
    /// Most frames per network call (the engine profile's largest batch): the node's
    /// `max_batch`, the command line's `--batch`; not a parameter of its own.
    #[serde(skip, default = "one")]
    pub max_batch: u32,
}

fn engines_dir() -> PathBuf {
    PathBuf::from("engines")
}
fn fp16() -> Precision {
    Precision::Fp16
}
fn workspace() -> u64 {
    1024
}
fn one() -> u32 {
    1
}

impl Default for TensorRtOptions {
    fn default() -> Self {
        Self {
            onnx: None,
            engine_dir: engines_dir(),
            precision: fp16(),
            engine_build: EngineBuild::Auto,
            flavour: Flavour::Tensorrt,
            library: None,
            gpu: 0,
            workspace_mib: workspace(),
            max_batch: one(),
        }
    }
}
