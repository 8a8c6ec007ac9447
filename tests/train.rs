//! The trainer end to end on a tiny synthetic dataset: it learns, a stopped run (also one
//! stopped before its first checkpoint) resumes to the same weights as an uninterrupted one,
//! and the CLI reports bad configs clearly.

use std::path::{Path, PathBuf};

use rtseg::train::config::TrainConfig;
use rtseg::train::{Outcome, resume, train};
use rtseg::weights;

mod common;
use common::{assert_says, init_weights, rtseg, synthetic_folder, text, train_config};

fn load(data: &Path, out: &Path, iterations: u64, dir: &Path) -> TrainConfig {
    let path = dir.join(format!(
        "{}.yaml",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, train_config(data, out, iterations, 2)).unwrap();
    TrainConfig::load(&path, &[]).unwrap()
}

/// A synthetic dataset (`train_images` + 1 val) and a config file for it with `edits`
/// (`from` → `to`, each of which must apply); returns the temp folder, run dir and config.
fn config_file(
    train_images: usize,
    iterations: u64,
    edits: &[(&str, &str)],
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_folder(&data, &[("train", train_images), ("val", 1)]);
    let run = tmp.path().join("run");
    let mut yaml = train_config(&data, &run, iterations, 2);
    for (from, to) in edits {
        assert!(yaml.contains(from), "config has no {from:?}");
        yaml = yaml.replace(from, to);
    }
    let path = tmp.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    (tmp, run, path)
}

fn losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "train")
        .map(|r| r["loss"].as_f64().unwrap())
        .collect()
}

#[test]
fn training_lowers_the_loss_and_writes_the_run_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_folder(&data, &[("train", 6), ("val", 2)]);
    let run = tmp.path().join("run");
    let config = load(&data, &run, 30, tmp.path());
    assert_eq!(train(config, &|_| false).unwrap(), Outcome::Finished);
    let l = losses(&run);
    assert_eq!(l.len(), 30);
    let first: f64 = l[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = l[25..].iter().sum::<f64>() / 5.0;
    assert!(
        last < 0.6 * first,
        "loss did not fall: {first:.3} → {last:.3}"
    );
    for file in [
        "config.yaml",
        "final.bpk",
        "best.bpk",
        "loss.png",
        "val_miou.png",
        "confusion.png",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let eval = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(eval.lines().last().unwrap().contains("\"kind\":\"eval\""));
    // No temporary file survives.
    let leftovers: Vec<_> = walk(&run)
        .into_iter()
        .filter(|p| {
            p.strip_prefix(run.to_str().unwrap())
                .unwrap()
                .contains(".tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk(&p)
            } else {
                vec![p.display().to_string()]
            }
        })
        .collect()
}

#[test]
fn a_stopped_run_resumes_to_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_folder(&data, &[("train", 5), ("val", 1)]);
    let (straight, stopped) = (tmp.path().join("straight"), tmp.path().join("stopped"));
    // Both runs start from one weight file: burn's seeded initialiser is one RNG per device,
    // shared with the tests running beside this one, so a seed alone does not pin the
    // initial weights inside a multi-threaded test process.
    let init = init_weights(tmp.path());
    let from_init = |out: &Path| {
        let mut config = load(&data, out, 6, tmp.path());
        config.init_weights = Some(init.clone());
        config
    };
    train(from_init(&straight), &|_| false).unwrap();

    // Stop after step 3 (between checkpoints, as Ctrl-C would), then resume.
    let outcome = train(from_init(&stopped), &|step| step == 3).unwrap();
    assert_eq!(outcome, Outcome::Interrupted { step: 3 });
    assert!(!stopped.join("final.bpk").exists());
    assert_eq!(resume(&stopped, &|_| false).unwrap(), Outcome::Finished);

    assert_eq!(losses(&straight), losses(&stopped));
    let a = weights::read(&straight.join("final.bpk")).unwrap();
    let b = weights::read(&stopped.join("final.bpk")).unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.name, y.name);
        let name = &x.name;
        let (x, y) = (floats(x), floats(y));
        let diff = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "{name} differs by {diff}");
    }
    assert_eq!(losses(&straight), losses(&stopped));

    // Killed before its first checkpoint (no checkpoints/ yet): --resume starts it again from
    // step 0 with its recorded config rather than leaving a directory nothing can continue.
    let killed = tmp.path().join("killed");
    train(from_init(&killed), &|step| step == 2).unwrap();
    std::fs::remove_dir_all(killed.join("checkpoints")).unwrap();
    assert_eq!(resume(&killed, &|_| false).unwrap(), Outcome::Finished);
    assert_eq!(losses(&straight), losses(&killed));
}

/// A stored f32 tensor's values.
fn floats(t: &burn::store::burn_pack::Tensor) -> Vec<f32> {
    let bytes = t.to_bytes().unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn mfaranet_trains_with_its_joint_loss() {
    let (_tmp, run, path) = config_file(
        2,
        2,
        &[
            ("model: msnet-m", "model: mfaranet"),
            (
                "loss: {ce: {ohem: {thresh: 0.7, min_kept: 512}}}",
                "loss: {joint: {ohem: {thresh: 0.7, min_kept: 512}}}",
            ),
        ],
    );
    let out = rtseg(&["train", "--config", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let records = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(records.contains("\"boundary\"") && records.contains("\"regularizer\""));
}

/// Each network of seed 004's comparison, AttaNet and FSFFNet trains through the CLI; BiSeNet
/// and AttaNet log their two auxiliary heads' loss beside the main one, the others (no
/// auxiliary heads) do not.
#[test]
fn bisenet_aaff_attanet_and_fsffnet_train() {
    for (model, aux) in [
        ("bisenet-r18", true),
        ("bisenet-x39", true),
        ("bisenet-dw", true),
        ("aaffnet", false),
        ("aaffnet2", false),
        ("attanet-r18", true),
        ("attanet-light", true),
        ("fsffnet", false),
    ] {
        let (_tmp, run, path) =
            config_file(2, 2, &[("model: msnet-m", &format!("model: {model}"))]);
        let out = rtseg(&["train", "--config", path.to_str().unwrap()]);
        assert!(out.status.success(), "{model}: {}", text(&out));
        let records = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        assert_eq!(records.contains("\"aux\""), aux, "{model}: {records}");
        assert!(run.join("checkpoints/latest").exists(), "{model}");
    }
}

#[test]
fn cli_refuses_bad_configs_and_runs_clearly() {
    let (_tmp, run, path) = config_file(2, 2, &[]);
    let cfg = path.to_str().unwrap();

    let out = rtseg(&["train", "--config", cfg, "--set", "optimizer.momentun=0.9"]);
    assert!(!out.status.success());
    assert_says(&out, "momentun");

    let out = rtseg(&[
        "train",
        "--config",
        cfg,
        "--set",
        "dataset.root=/no/such/data",
    ]);
    assert_says(&out, "/no/such/data");

    let out = rtseg(&[
        "train",
        "--config",
        cfg,
        "--set",
        "loss.ce.class_weights=[1.0]",
    ]);
    assert_says(&out, "class_weights has 1 entries");

    let out = rtseg(&["train", "--config", cfg, "--set", "loss.aux_weight=-1"]);
    assert_says(&out, "loss.aux_weight -1 must be");

    let out = rtseg(&["train", "--resume", run.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_says(&out, "config.yaml");

    let out = rtseg(&["train", "--config", cfg, "--set", "iterations=1"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = rtseg(&["train", "--config", cfg]);
    assert_says(&out, "already holds a run");
    // The resumable checkpoint of a finished run continues to nothing but succeeds.
    let out = rtseg(&["train", "--resume", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn shipped_configs_parse_and_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    for name in [
        "msnet-m_camvid",
        "msnet-m_cityscapes",
        "mfaranet_camvid",
        "mfaranet_cityscapes",
        "seed004_camvid",
    ] {
        let config = TrainConfig::load(&dir.join(format!("{name}.yaml")), &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        rtseg::train::model_config(&config).unwrap();
        assert_eq!(
            config.loss.joint.is_some(),
            config.model == "mfaranet",
            "{name}"
        );
    }
}

#[test]
fn bench_reports_training_throughput() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("c.yaml");
    std::fs::write(
        &path,
        train_config(tmp.path(), &tmp.path().join("run"), 1, 2),
    )
    .unwrap();
    let out = rtseg(&[
        "bench",
        "--train-config",
        path.to_str().unwrap(),
        "--iters",
        "2",
        "--warmup",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["batch_size"].as_u64(), r["height"].as_u64()),
        (Some(2), Some(64))
    );
    let (ips, step) = (
        r["images_per_s"].as_f64().unwrap(),
        r["mean_step_ms"].as_f64().unwrap(),
    );
    assert!((ips - 2.0 * 1e3 / step).abs() < 1e-6 * ips);
    assert!(
        !tmp.path().join("run").exists(),
        "a benchmark writes no run"
    );
}

#[test]
fn adamw_runs_through_the_trainer() {
    let (_tmp, run, path) = config_file(
        2,
        2,
        &[(
            "optimizer: {kind: sgd, lr: 0.02, momentum: 0.9, weight_decay: 0.0001, head_lr_mult: 2.0}",
            "optimizer: {kind: adamw, lr: 0.001, weight_decay: 0.01}",
        )],
    );
    let config = TrainConfig::load(&path, &[]).unwrap();
    assert_eq!(train(config, &|_| false).unwrap(), Outcome::Finished);
    assert_eq!(losses(&run).len(), 2);
}

/// A wrong value inside an internally tagged section (`optimizer`, `dataset`) names the
/// section: serde_yaml reports no key path or line for values serde buffered to read the tag.
#[test]
fn config_errors_inside_tagged_sections_name_the_section() {
    for (from, to, section, complaint) in [
        ("lr: 0.02", "lr: fast", "optimizer: ", "expected f64"),
        (
            "label_space: camvid",
            "label_space: [camvid]",
            "dataset: ",
            "invalid type: sequence",
        ),
    ] {
        let (_tmp, _run, path) = config_file(2, 2, &[(from, to)]);
        let message = format!("{:#}", TrainConfig::load(&path, &[]).unwrap_err());
        assert!(message.contains(section), "{message}");
        assert!(message.contains(complaint), "{message}");
    }
    // Errors serde_yaml already locates keep their own path and line, not a second path.
    let (_tmp, _run, path) = config_file(2, 2, &[("iterations: 2", "iterations: many")]);
    let message = format!("{:#}", TrainConfig::load(&path, &[]).unwrap_err());
    assert!(message.contains("iterations: invalid type"), "{message}");
    assert!(message.contains("line"), "{message}");
}

/// A training file that vanishes mid-run stops the run with an error naming it (a clear
/// stop, not a skip: a silently shrinking dataset would change the recipe unseen); the last
/// checkpoint stays whole, and once the file is back the run resumes from it and finishes.
#[test]
fn a_vanished_training_file_stops_the_run_and_it_resumes_from_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_folder(&data, &[("train", 5), ("val", 1)]);
    let run = tmp.path().join("run");
    let label = data.join("annotations/train/002.png");
    let kept = tmp.path().join("002.png");
    let config = load(&data, &run, 20, tmp.path());
    let err = train(config, &|step| {
        if step == 2 {
            std::fs::rename(&label, &kept).unwrap();
        }
        false
    })
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("002.png"), "{message}");
    assert!(!run.join("final.bpk").exists());
    std::fs::rename(&kept, &label).unwrap();
    assert_eq!(resume(&run, &|_| false).unwrap(), Outcome::Finished);
    assert!(weights::read(&run.join("final.bpk")).is_ok());
}

/// A run resumes only with the config and data it started with: an edited `config.yaml` is
/// refused naming each changed key with both values, an added sample naming the split and
/// both counts, a file rewritten in place as changed contents; once everything is restored the
/// run resumes and finishes.
#[test]
fn resume_refuses_a_run_whose_config_or_data_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_folder(&data, &[("train", 4), ("val", 1)]);
    let run = tmp.path().join("run");
    let config = load(&data, &run, 6, tmp.path());
    let outcome = train(config, &|step| step == 2).unwrap();
    assert_eq!(outcome, Outcome::Interrupted { step: 2 });
    let refusal = || format!("{:#}", resume(&run, &|_| false).unwrap_err());

    let config_file = run.join("config.yaml");
    let original = std::fs::read_to_string(&config_file).unwrap();
    assert!(original.contains("iterations: 6"), "{original}");
    std::fs::write(
        &config_file,
        original.replace("iterations: 6", "iterations: 9"),
    )
    .unwrap();
    let message = refusal();
    assert!(message.contains("iterations: 6 → 9"), "{message}");
    std::fs::write(&config_file, &original).unwrap();

    let image = data.join("images/train/001.png");
    let label = data.join("annotations/train/001.png");
    std::fs::copy(&image, data.join("images/train/009.png")).unwrap();
    std::fs::copy(&label, data.join("annotations/train/009.png")).unwrap();
    let message = refusal();
    assert!(
        message.contains("split `train`: 4 samples then, 5 now"),
        "{message}"
    );
    std::fs::remove_file(data.join("images/train/009.png")).unwrap();
    std::fs::remove_file(data.join("annotations/train/009.png")).unwrap();

    let bytes = std::fs::read(&label).unwrap();
    std::fs::copy(data.join("annotations/train/000.png"), &label).unwrap();
    let message = refusal();
    assert!(
        message.contains("split `train`: the same 4 samples, but file contents"),
        "{message}"
    );
    std::fs::write(&label, bytes).unwrap();

    assert_eq!(resume(&run, &|_| false).unwrap(), Outcome::Finished);
}
