//! Which model, in which label space, with which weights: the one description that the command
//! line, the node's parameter file and the trainer all resolve to, and where shipped weights
//! are found on an installed system (not through the build machine's source tree).

use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::labels::LabelSpace;
use crate::models::card::{InputSpec, ModelCard};
use crate::models::segmentors::{Segmentor, SegmentorConfig};
use crate::models::{lookup, resolve};
use crate::weights;

/// Where a model's weights come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Weights {
    /// `<model>_<label space>.bpk` from the shipped weights folder ([`shipped_weights`]).
    Shipped,
    /// A `.bpk` or `.safetensors` file.
    File(PathBuf),
    /// Freshly initialised, seeded: exercises the pipeline, the masks mean nothing.
    RandomInit { seed: u64 },
}

/// A resolved model: validated configuration, model card inputs and a weights source.
#[derive(Clone, Debug)]
pub struct ModelSource {
    /// Registered model name (also the name a `--model-config` file is reported under).
    pub model: String,
    pub label_space: LabelSpace,
    pub config: SegmentorConfig,
    pub input: InputSpec,
    pub weights: Weights,
}

impl ModelSource {
    /// Resolves `model` (or the full configuration in `config_file`) for `label_space`.
    ///
    /// # Errors
    /// An unknown model, an unreadable or invalid configuration file.
    pub fn resolve(
        model: &str,
        label_space: LabelSpace,
        config_file: Option<&Path>,
        weights: Weights,
    ) -> anyhow::Result<Self> {
        let explicit = match config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("{}: cannot read model config: {e}", path.display())
                })?;
                Some(serde_yaml::from_str::<SegmentorConfig>(&text).map_err(|e| {
                    anyhow::anyhow!("{}: not a valid model config: {e}", path.display())
                })?)
            }
            None => None,
        };
        let config = resolve(model, label_space.num_classes(), explicit)?;
        // A configuration file keeps the input rules of the registered model it is named
        // after, else the ImageNet rules every seed network uses.
        let input = lookup(model, label_space.num_classes())
            .map(|spec| spec.input)
            .unwrap_or(InputSpec::IMAGENET_RGB);
        Ok(Self {
            model: model.to_string(),
            label_space,
            config,
            input,
            weights,
        })
    }

    /// The model card: input rules and label space.
    pub fn card(&self) -> ModelCard {
        ModelCard {
            model: self.model.clone(),
            input: self.input,
            label_space: self.label_space,
        }
    }

    /// The weight file this source reads (`None` for random initialisation).
    ///
    /// # Errors
    /// Shipped weights that do not exist, naming every place looked in.
    pub fn weights_path(&self) -> anyhow::Result<Option<PathBuf>> {
        match &self.weights {
            Weights::Shipped => shipped_weights(&self.model, self.label_space).map(Some),
            Weights::File(path) => Ok(Some(path.clone())),
            Weights::RandomInit { .. } => Ok(None),
        }
    }

    /// SHA-256 of the weight file (`None` for random initialisation).
    pub fn weights_sha256(&self) -> anyhow::Result<Option<String>> {
        self.weights_path()?
            .map(|p| crate::io::sha256_file(&p))
            .transpose()
    }

    /// What exports of this source are cached under: the weight file's SHA-256 (first 16 hex
    /// digits), or for random initialisation the seed and the configuration's SHA-256 (first 8),
    /// so that two genotypes under one model name never share a cached file.
    ///
    /// # Errors
    /// Shipped weights that do not exist; an unreadable weight file.
    pub fn cache_identity(&self) -> anyhow::Result<String> {
        match (&self.weights, self.weights_sha256()?) {
            (Weights::RandomInit { seed }, _) => {
                let config = serde_yaml::to_string(&self.config)?;
                Ok(format!(
                    "init{seed}-{}",
                    &crate::io::sha256_bytes(config.as_bytes())[..8]
                ))
            }
            (_, Some(sha)) => Ok(sha[..16].to_string()),
            (_, None) => unreachable!("only random init has no file"),
        }
    }

    /// Builds the network on `device` with its weights, in eval mode.
    ///
    /// # Errors
    /// Missing weights, or a weight file made for another model or class count.
    pub fn build(&self, device: &Device) -> anyhow::Result<Segmentor> {
        let model = match (&self.weights, self.weights_path()?) {
            (Weights::RandomInit { seed }, _) => {
                device.seed(*seed);
                self.config.init(device)
            }
            (_, Some(path)) => weights::load(self.config.init(device), &self.model, &path)?,
            (_, None) => unreachable!("only random init has no file"),
        };
        // burn draws a parameter's initial values when it is first touched; `valid()` touches
        // them all in module order, so seeded weights are the same whichever code reads them
        // first (a forward pass, an ONNX emission or a weights file).
        Ok(model.valid())
    }
}

/// The file name of shipped weights: `<model>_<label space>.bpk`.
pub fn shipped_file_name(model: &str, label_space: LabelSpace) -> String {
    format!("{model}_{}.bpk", label_space.name())
}

/// Where an installed or checked-out rtseg keeps its data folder `sub` (`weights`, `launch`),
/// in order: `share/rtseg/<sub>` beside the installed binary (colcon's `lib/rtseg/rtseg` and
/// a plain `bin/rtseg`), under each `$AMENT_PREFIX_PATH` prefix, and `<sub>/` of a source
/// checkout holding the binary (`target/<profile>/rtseg`).
pub fn data_dirs(sub: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let share = Path::new("share/rtseg").join(sub);
    if let Some(exe_dir) = &exe_dir {
        // `<prefix>/bin/rtseg` and colcon's `<prefix>/lib/rtseg/rtseg`.
        let prefixes = exe_dir.ancestors().skip(1).take(2);
        dirs.extend(prefixes.map(|p| p.join(&share)));
    }
    if let Some(prefixes) = std::env::var_os("AMENT_PREFIX_PATH") {
        dirs.extend(std::env::split_paths(&prefixes).map(|p| p.join(&share)));
    }
    if let Some(exe_dir) = &exe_dir {
        dirs.extend(exe_dir.ancestors().take(4).map(|a| a.join(sub)));
    }
    dirs
}

/// Folders searched for shipped weights: `$RTSEG_WEIGHTS_DIR` alone when it is set, else
/// [`data_dirs`]`("weights")`.
pub fn weights_dirs() -> Vec<PathBuf> {
    match std::env::var_os("RTSEG_WEIGHTS_DIR") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => data_dirs("weights"),
    }
}

/// The shipped weight file of `model` for `label_space`: that of the model it takes its
/// weights from ([`crate::models::ModelSpec::weights_of`]; `mfaranet-pruned` loads
/// `mfaranet_<space>.bpk`).
///
/// # Errors
/// No such file in any of [`weights_dirs`]; the message lists them.
pub fn shipped_weights(model: &str, label_space: LabelSpace) -> anyhow::Result<PathBuf> {
    let owner = crate::models::lookup(model, label_space.num_classes())
        .map_or(model, |spec| spec.weights_of);
    let name = shipped_file_name(owner, label_space);
    let dirs = weights_dirs();
    dirs.iter()
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            anyhow::anyhow!(
                "no shipped weights for {model} on {} ({name} is in none of: {}); pass \
                 --weights FILE, set RTSEG_WEIGHTS_DIR, or use --random-init to exercise the \
                 pipeline with untrained weights",
                label_space.name(),
                looked.join(", ")
            )
        })
}
