//! Run-directory files: the resolved config, what the run started from (`run.json`),
//! resumable checkpoints, and the metrics log.
//!
//! A checkpoint is a folder `checkpoints/step-NNNNNNNN/` (model with its parameter ids, both
//! optimizer states, `state.json`), built under a temporary name and renamed into place; the
//! `checkpoints/latest` file, itself replaced atomically, names the newest complete one.
//! A crash at any point therefore leaves the previous checkpoint intact.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use crate::datasets::sources::{DatasetSource, SplitDigest};
use crate::io::write_atomic;

pub const CONFIG_FILE: &str = "config.yaml";
pub const RUN_FILE: &str = "run.json";
pub const METRICS_FILE: &str = "metrics.jsonl";
const CHECKPOINTS: &str = "checkpoints";
const LATEST: &str = "latest";

/// What a run started from, written once beside `config.yaml`. `--resume` refuses a run whose
/// `config.yaml` was edited or whose splits changed since: the rest of its schedule would then
/// train a recipe nobody wrote down, and the weights would match no config.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// The resolved config as the run started.
    pub config: serde_json::Value,
    /// Per split (train and val): sample count and digest.
    pub data: BTreeMap<String, SplitDigest>,
}

impl RunRecord {
    /// Digests the config's train and val splits (reading every file once).
    pub fn new(config: &TrainConfig) -> anyhow::Result<Self> {
        Self::of(
            config,
            &config.dataset,
            &[&config.train_split, &config.val_split],
        )
    }

    /// The record of any resumable job (training, search): its config and the digest of
    /// each split of `dataset` it reads.
    ///
    /// # Errors
    /// A split that cannot be listed or read.
    pub fn of<C: Serialize>(
        config: &C,
        dataset: &DatasetSource,
        splits: &[&str],
    ) -> anyhow::Result<Self> {
        let mut data = BTreeMap::new();
        for split in splits {
            data.insert(split.to_string(), dataset.digest(split)?);
        }
        Ok(Self {
            config: serde_json::to_value(config)?,
            data,
        })
    }

    pub fn write(&self, run_dir: &Path) -> anyhow::Result<()> {
        write_atomic(&run_dir.join(RUN_FILE), &serde_json::to_vec_pretty(self)?)
    }

    /// Checks `config` (the run's `config.yaml` as it is now) and its dataset against the
    /// record in `run_dir`. A run from before records existed gets one now, with a warning.
    ///
    /// # Errors
    /// Every changed config key (`key: then → now`) or changed split (sample counts, or the
    /// same count with different contents), or an unreadable record, naming the run.
    pub fn check(run_dir: &Path, config: &TrainConfig) -> anyhow::Result<()> {
        Self::new(config)?.check_against(run_dir)
    }

    /// Checks this record (the job as it is now) against the one in `run_dir`, as
    /// [`RunRecord::check`] does for training.
    ///
    /// # Errors
    /// As [`RunRecord::check`].
    pub fn check_against(self, run_dir: &Path) -> anyhow::Result<()> {
        let path = run_dir.join(RUN_FILE);
        let now = self;
        if !path.exists() {
            eprintln!(
                "warning: {} has no {RUN_FILE} (started by an older rtseg): its config and data \
                 are recorded as they are now and checked from the next resume on",
                run_dir.display()
            );
            return now.write(run_dir);
        }
        let then: Self = std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(serde_json::from_slice(&bytes)?))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut changes = Vec::new();
        changed_keys("", &then.config, &now.config, &mut changes);
        for (split, was) in &then.data {
            match now.data.get(split) {
                Some(is) if is.samples != was.samples => changes.push(format!(
                    "split `{split}`: {} samples then, {} now",
                    was.samples, is.samples
                )),
                Some(is) if is.sha256 != was.sha256 => changes.push(format!(
                    "split `{split}`: the same {} samples, but file contents or names differ",
                    is.samples
                )),
                Some(_) => {}
                None => changes.push(format!("split `{split}` is no longer used")),
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "{} cannot be resumed: it changed since the run started:\n  {}\nrestore what \
             changed, or start a new run elsewhere (a training run's `init_weights` can be \
             this run's best.bpk)",
            run_dir.display(),
            changes.join("\n  ")
        )
    }
}

/// Appends `path: then → now` for every leaf that differs between two config trees.
fn changed_keys(
    path: &str,
    then: &serde_json::Value,
    now: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (then, now) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let absent = Value::Null;
                let (x, y) = (a.get(key).unwrap_or(&absent), b.get(key).unwrap_or(&absent));
                changed_keys(&child, x, y, out);
            }
        }
        _ if then != now => out.push(format!("{path}: {then} → {now}")),
        _ => {}
    }
}

/// Loop state saved with every checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed steps.
    pub step: u64,
    pub best_miou: Option<f64>,
    pub best_step: u64,
    /// Training wall time so far (evaluation excluded), seconds.
    pub elapsed_s: f64,
}

pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// The newest complete checkpoint of a run, if any.
    pub fn latest(run_dir: &Path) -> anyhow::Result<Option<Self>> {
        let pointer = run_dir.join(CHECKPOINTS).join(LATEST);
        if !pointer.exists() {
            return Ok(None);
        }
        let name = std::fs::read_to_string(&pointer)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", pointer.display()))?;
        let dir = run_dir.join(CHECKPOINTS).join(name.trim());
        if !dir.join("state.json").is_file() {
            anyhow::bail!(
                "{} names {}, which is not a complete checkpoint",
                pointer.display(),
                dir.display()
            );
        }
        Ok(Some(Self { dir }))
    }

    /// Writes `model` (a network or a supernet), both optimizers and the loop state as the
    /// run's newest checkpoint, atomically.
    pub fn write<M: Module>(
        run_dir: &Path,
        model: &M,
        backbone_optim: &ModuleOptimizer,
        head_optim: &ModuleOptimizer,
        state: &TrainState,
    ) -> anyhow::Result<()> {
        let root = run_dir.join(CHECKPOINTS);
        let name = format!("step-{:08}", state.step);
        let tmp = root.join(format!(".{name}.tmp"));
        let fail = |what: &str, e: String| {
            anyhow::anyhow!("checkpoint {}: {what}: {e}", root.join(&name).display())
        };
        let _ = std::fs::remove_dir_all(&tmp);
        // A failed write (a full disk, a vanished folder) removes its partial folder, so it
        // neither fills the disk further nor looks like a checkpoint; `latest` still names
        // the previous one.
        let written = (|| -> anyhow::Result<()> {
            std::fs::create_dir_all(&tmp).map_err(|e| fail("create", e.to_string()))?;
            // BatchNorm running statistics lag one update behind until synced, and a saved record
            // takes the lagging value; `valid()` syncs the (shared) running state in place.
            let _ = model.valid();
            model
                .clone()
                .save_file(tmp.join("model.bpk"))
                .map_err(|e| fail("model", e.to_string()))?;
            backbone_optim
                .save(tmp.join("optim_backbone.bpk"))
                .map_err(|e| fail("optimizer", e.to_string()))?;
            head_optim
                .save(tmp.join("optim_head.bpk"))
                .map_err(|e| fail("optimizer", e.to_string()))?;
            std::fs::write(tmp.join("state.json"), serde_json::to_vec_pretty(state)?)
                .map_err(|e| fail("state", e.to_string()))?;
            let dest = root.join(&name);
            let _ = std::fs::remove_dir_all(&dest);
            std::fs::rename(&tmp, &dest).map_err(|e| fail("rename", e.to_string()))?;
            Ok(())
        })();
        if written.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        written?;
        write_atomic(&root.join(LATEST), name.as_bytes())?;
        // Older checkpoints are superseded once `latest` points past them.
        for entry in std::fs::read_dir(&root)?.flatten() {
            let other = entry.file_name().to_string_lossy().to_string();
            if other.starts_with("step-") && other != name {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// Restores model (with its parameter ids, which the optimizer states are keyed by),
    /// both optimizers and the loop state.
    pub fn load<M: Module>(
        &self,
        fresh: M,
        backbone_optim: ModuleOptimizer,
        head_optim: ModuleOptimizer,
    ) -> anyhow::Result<(M, ModuleOptimizer, ModuleOptimizer, TrainState)> {
        let fail = |what: &str, e: String| {
            anyhow::anyhow!("checkpoint {}: {what}: {e}", self.dir.display())
        };
        let model = fresh
            .try_load_file(self.dir.join("model.bpk"))
            .map_err(|e| fail("model.bpk", e.to_string()))?;
        let backbone_optim = backbone_optim
            .load(self.dir.join("optim_backbone.bpk"))
            .map_err(|e| fail("optim_backbone.bpk", e.to_string()))?;
        let head_optim = head_optim
            .load(self.dir.join("optim_head.bpk"))
            .map_err(|e| fail("optim_head.bpk", e.to_string()))?;
        let state: TrainState = serde_json::from_slice(
            &std::fs::read(self.dir.join("state.json"))
                .map_err(|e| fail("state.json", e.to_string()))?,
        )
        .map_err(|e| fail("state.json", e.to_string()))?;
        Ok((model, backbone_optim, head_optim, state))
    }
}

/// Appends one JSON record to the run's metrics log.
pub fn append_metrics(run_dir: &Path, record: &serde_json::Value) -> anyhow::Result<()> {
    append_record(&run_dir.join(METRICS_FILE), record)
}

/// Appends one JSON record as a line of the JSON-lines file `path`.
pub fn append_record(path: &Path, record: &serde_json::Value) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    writeln!(file, "{record}").map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// The metrics log's records, in order.
pub fn read_metrics(run_dir: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let path = run_dir.join(METRICS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Drops records after `step` (written after the checkpoint a resume starts from).
pub fn truncate_metrics(run_dir: &Path, step: u64) -> anyhow::Result<()> {
    let kept: Vec<String> = read_metrics(run_dir)?
        .into_iter()
        .filter(|r| r["step"].as_u64().is_some_and(|s| s <= step))
        .map(|r| r.to_string() + "\n")
        .collect();
    write_atomic(&run_dir.join(METRICS_FILE), kept.concat().as_bytes())
}
