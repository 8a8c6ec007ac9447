//! Run-directory files: the resolved config, resumable checkpoints, and the metrics log.
//!
//! A checkpoint is a folder `checkpoints/step-NNNNNNNN/` (model with its parameter ids, both
//! optimizer states, `state.json`), built under a temporary name and renamed into place; the
//! `checkpoints/latest` file, itself replaced atomically, names the newest complete one.
//! A crash at any point therefore leaves the previous checkpoint intact.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::io::write_atomic;
use crate::models::segmentors::Segmentor;

pub const CONFIG_FILE: &str = "config.yaml";
pub const METRICS_FILE: &str = "metrics.jsonl";
const CHECKPOINTS: &str = "checkpoints";
const LATEST: &str = "latest";

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

    pub fn write(
        run_dir: &Path,
        model: &Segmentor,
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
    pub fn load(
        &self,
        fresh: Segmentor,
        backbone_optim: ModuleOptimizer,
        head_optim: ModuleOptimizer,
    ) -> anyhow::Result<(Segmentor, ModuleOptimizer, ModuleOptimizer, TrainState)> {
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
    let path = run_dir.join(METRICS_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
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
