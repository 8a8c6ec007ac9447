//! The training configuration: one YAML file holds every hyperparameter; `--set a.b=value`
//! overrides single keys from the command line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::datasets::sources::DatasetSource;
use crate::datasets::transforms::AugmentConfig;
use crate::models::losses::LossConfig;
use crate::models::segmentors::SegmentorConfig;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Registered model name (`rtseg models`); its label space comes from the dataset.
    pub model: String,
    /// Full model configuration overriding the registry entry (optional).
    #[serde(default)]
    pub model_config: Option<SegmentorConfig>,
    /// Weights to start from (a user checkpoint or pretrained file); random init otherwise.
    #[serde(default)]
    pub init_weights: Option<PathBuf>,
    pub dataset: DatasetSource,
    #[serde(default = "train_split")]
    pub train_split: String,
    #[serde(default = "val_split")]
    pub val_split: String,
    pub augment: AugmentConfig,
    pub batch_size: usize,
    pub iterations: u64,
    pub optimizer: OptimizerConfig,
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub loss: LossConfig,
    /// Evaluate on the validation split every N steps (and at the end); 0 = only at the end.
    pub eval_interval: u64,
    /// Network input size for validation (`[h, w]`); default: each image's own size.
    #[serde(default)]
    pub eval_size: Option<[u32; 2]>,
    /// Write a resumable checkpoint every N steps (and at the end and on Ctrl-C).
    pub checkpoint_interval: u64,
    #[serde(default = "log_interval")]
    pub log_interval: u64,
    pub seed: u64,
    /// Data-loading threads.
    #[serde(default = "workers")]
    pub workers: usize,
    pub output_dir: PathBuf,
}

// `train_split` and `log_interval` are also the search config's defaults (`rtseg search`).
pub(crate) fn train_split() -> String {
    "train".into()
}
fn val_split() -> String {
    "val".into()
}
pub(crate) fn log_interval() -> u64 {
    10
}
fn workers() -> usize {
    2
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// SGD with PyTorch semantics (dampening 0), L2 weight decay.
    Sgd {
        lr: f64,
        momentum: f64,
        weight_decay: f32,
        /// LR multiplier for everything outside the backbone (decoder and heads).
        #[serde(default = "one")]
        head_lr_mult: f64,
    },
    #[serde(rename = "adamw")]
    AdamW {
        lr: f64,
        weight_decay: f32,
        #[serde(default = "one")]
        head_lr_mult: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl OptimizerConfig {
    pub fn base_lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd { lr, .. } | OptimizerConfig::AdamW { lr, .. } => *lr,
        }
    }

    pub fn head_lr_mult(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd { head_lr_mult, .. }
            | OptimizerConfig::AdamW { head_lr_mult, .. } => *head_lr_mult,
        }
    }
}

/// Poly decay `lr · (1 − t/T)^power` down to `min_lr`, after a linear warm-up from
/// `warmup_ratio · lr` over `warmup_iters` steps (mmseg's LinearLR + PolyLR).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(default = "power")]
    pub power: f64,
    #[serde(default)]
    pub warmup_iters: u64,
    #[serde(default = "warmup_ratio")]
    pub warmup_ratio: f64,
    #[serde(default)]
    pub min_lr: f64,
}

fn power() -> f64 {
    0.9
}
fn warmup_ratio() -> f64 {
    0.1
}

impl ScheduleConfig {
    /// The learning rate at `step` of `total`.
    pub fn lr(&self, base: f64, step: u64, total: u64) -> f64 {
        let progress = (step as f64 / total.max(1) as f64).min(1.0);
        let poly = (base - self.min_lr) * (1.0 - progress).powf(self.power) + self.min_lr;
        if step < self.warmup_iters {
            let t = step as f64 / self.warmup_iters as f64;
            poly * (self.warmup_ratio + (1.0 - self.warmup_ratio) * t)
        } else {
            poly
        }
    }
}

impl TrainConfig {
    /// Reads a YAML config and applies `key.path=value` overrides (values parsed as YAML).
    pub fn load(path: &Path, overrides: &[String]) -> anyhow::Result<Self> {
        read_config(path, overrides, Self::validate)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 || self.iterations == 0 {
            return Err("batch_size and iterations must be positive".into());
        }
        if self.checkpoint_interval == 0 || self.log_interval == 0 {
            return Err("checkpoint_interval and log_interval must be positive".into());
        }
        if !(self.optimizer.base_lr() > 0.0 && self.optimizer.head_lr_mult() > 0.0) {
            return Err("optimizer lr and head_lr_mult must be positive".into());
        }
        if let Some([h, w]) = self.eval_size
            && let Err(e) = crate::models::card::InputSpec::IMAGENET_RGB.check_size(h, w)
        {
            return Err(format!("eval_size {:?}: {e}", [h, w]));
        }
        self.augment.validate()?;
        self.loss.validate(self.dataset.label_space().num_classes())
    }
}

/// A YAML config file with `key.path=value` overrides applied (values parsed as YAML),
/// deserialised and checked by `validate`; errors name the file.
pub(crate) fn read_config<T: serde::de::DeserializeOwned>(
    path: &Path,
    overrides: &[String],
    validate: impl FnOnce(&T) -> Result<(), String>,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
    let mut value: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not valid YAML: {e}", path.display()))?;
    for item in overrides {
        apply_override(&mut value, item)?;
    }
    // Deserializing from text, not from the Value, keeps the key path (`candidates: unknown
    // operation …`) in serde_yaml's errors; with overrides that text is the merged config, so
    // its line numbers are not the file's and the error says --set took part.
    let (merged, source) = if overrides.is_empty() {
        (text, path.display().to_string())
    } else {
        let merged = serde_yaml::to_string(&value)?;
        (
            merged,
            format!("{} with --set {}", path.display(), overrides.join(" ")),
        )
    };
    // serde buffers an internally tagged section (`optimizer: {kind: sgd, …}`) before
    // deserialising it, and serde_yaml's error from the buffer carries no key path;
    // serde_path_to_error still knows which key was being read, so such errors name it.
    let config: T = serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(&merged))
        .map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner().to_string();
        // Where serde_yaml located the error itself its message starts with the top-level
        // key (its path may stop short of serde_path_to_error's, e.g. at a list).
        let top = path.split(['.', '[']).next().unwrap_or_default();
        if top.is_empty() || e.starts_with(top) {
            anyhow::anyhow!("{source}: {e}")
        } else {
            anyhow::anyhow!("{source}: {path}: {e}")
        }
    })?;
    validate(&config).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    Ok(config)
}

/// `a.b.c=value`: sets a nested key, creating maps on the way; a numeric part indexes a list.
fn apply_override(root: &mut serde_yaml::Value, item: &str) -> anyhow::Result<()> {
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("override {item:?} is not KEY=VALUE"))?;
    let value: serde_yaml::Value = serde_yaml::from_str(raw)
        .map_err(|e| anyhow::anyhow!("override {item:?}: value is not YAML: {e}"))?;
    let mut node = root;
    for part in key.split('.') {
        // A number indexes an existing list (`stages.0.steps`).
        if let (true, Ok(index)) = (node.is_sequence(), part.parse::<usize>()) {
            let list = node.as_sequence_mut().expect("just checked");
            let len = list.len();
            node = list.get_mut(index).ok_or_else(|| {
                anyhow::anyhow!("override {item:?}: index {index} is past the {len} entries")
            })?;
            continue;
        }
        if !node.is_mapping() {
            *node = serde_yaml::Value::Mapping(Default::default());
        }
        let map = node.as_mapping_mut().expect("just made a mapping");
        node = map
            .entry(serde_yaml::Value::String(part.to_string()))
            .or_insert(serde_yaml::Value::Null);
    }
    *node = value;
    Ok(())
}
