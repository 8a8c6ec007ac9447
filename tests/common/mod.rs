//! Helpers shared by the integration tests: locating the shared data and the Python peers.
//! Where data or a peer is absent the test prints SKIP and returns — except under
//! `RTSEG_REQUIRE_PEERS=1` (set by `.ci/run`), where absence fails the test, so CI can never
//! report a skipped check as passing.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{GrayImage, Luma, Rgb, RgbImage};

fn required() -> bool {
    std::env::var_os("RTSEG_REQUIRE_PEERS").is_some_and(|v| v == "1")
}

pub fn missing(what: &str) -> Option<PathBuf> {
    assert!(!required(), "RTSEG_REQUIRE_PEERS=1 but {what}");
    eprintln!("SKIP: {what}");
    None
}

/// A folder of `../shared/data`, or the path in `env_var`.
pub fn shared_data(env_var: &str, name: &str, probe: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/data")
                .join(name)
        });
    if dir.join(probe).exists() {
        Some(dir)
    } else {
        missing(&format!(
            "{name} not found at {} (set {env_var})",
            dir.display()
        ))
    }
}

pub fn camvid() -> Option<PathBuf> {
    shared_data("RTSEG_CAMVID", "camvid", "val")
}

pub fn pseudo_cityscapes() -> Option<PathBuf> {
    shared_data("RTSEG_PSEUDO_CITYSCAPES", "pseudo_cityscapes", "gtFine/val")
}

/// The Python with the peers installed (`$RTSEG_PYTHON`, else `.venv/bin/python`), if it
/// can import `module`.
pub fn python_with(module: &str) -> Option<PathBuf> {
    let python = std::env::var_os("RTSEG_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        missing(&format!(
            "{} cannot import {module} (run .ci/run once, or set RTSEG_PYTHON)",
            python.display()
        ))
    }
}

/// Runs the `rtseg` binary; shipped weights are hidden so tests choose their own.
pub fn rtseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtseg"))
        .args(args)
        .env("RTSEG_WEIGHTS_DIR", "/nonexistent-rtseg-weights")
        .output()
        .expect("rtseg runs")
}

/// Seeded untrained msnet-m weights written by `rtseg weights init` into `dir`.
pub fn init_weights(dir: &Path) -> PathBuf {
    init_model_weights(dir, "msnet-m")
}

/// `rtseg weights init --model MODEL` into `dir/MODEL.bpk`.
pub fn init_model_weights(dir: &Path, model: &str) -> PathBuf {
    let path = dir.join(format!("{model}.bpk"));
    let out = rtseg(&["weights", "init", "--model", model, path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    path
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that a command's output (stdout and stderr) contains `needle`.
#[track_caller]
pub fn assert_says(out: &Output, needle: &str) {
    let all = text(out);
    assert!(all.contains(needle), "expected {needle:?} in: {all}");
}

/// A folder-format dataset of `n` images per split: left half class 1, right half class 3,
/// a band of ignore; sizes vary so scale and crop paths are exercised.
pub fn synthetic_folder(root: &Path, splits: &[(&str, usize)]) {
    for &(split, n) in splits {
        let images = root.join("images").join(split);
        let labels = root.join("annotations").join(split);
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&labels).unwrap();
        for i in 0..n {
            let (w, h) = (64 + 8 * i as u32, 64);
            let image = RgbImage::from_fn(w, h, |x, y| {
                let base = if x < w / 2 {
                    [200, 40, 40]
                } else {
                    [40, 40, 200]
                };
                Rgb(base.map(|c| c + ((x * 7 + y * 13 + i as u32) % 40) as u8))
            });
            let label = GrayImage::from_fn(w, h, |x, y| {
                Luma([if y < 4 {
                    rtseg::labels::UNLABELLED
                } else if x < w / 2 {
                    1
                } else {
                    3
                }])
            });
            image.save(images.join(format!("{i:03}.png"))).unwrap();
            label.save(labels.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

/// Runs `python <script> <args>…` (script relative to the crate root) and returns the JSON
/// objects it prints, one per line; panics with its output when it fails.
pub fn python_json_lines(python: &Path, script: &str, args: &[PathBuf]) -> Vec<serde_json::Value> {
    let run = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(run.status.success(), "{script}: {}", text(&run));
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{script}: {e}: {l}")))
        .collect()
}

/// A training config for msnet-m on a [`synthetic_folder`] dataset at 64×64 crops (one
/// checkpoint ≈ 32 MB: weights plus SGD momentum).
pub fn train_config(data: &Path, out: &Path, iterations: u64, checkpoint_interval: u64) -> String {
    format!(
        r#"
model: msnet-m
dataset: {{format: folder, root: "{}", label_space: camvid}}
augment: {{crop: [64, 64], scale_range: [0.8, 1.2], flip: true, jitter: 0.1}}
batch_size: 2
iterations: {iterations}
optimizer: {{kind: sgd, lr: 0.02, momentum: 0.9, weight_decay: 0.0001, head_lr_mult: 2.0}}
schedule: {{power: 0.9, warmup_iters: 2}}
loss: {{ce: {{ohem: {{thresh: 0.7, min_kept: 512}}}}}}
eval_interval: 0
checkpoint_interval: {checkpoint_interval}
log_interval: 1
seed: 5
workers: 2
output_dir: "{}"
"#,
        data.display(),
        out.display()
    )
}
