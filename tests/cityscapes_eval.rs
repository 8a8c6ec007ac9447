//! rtseg's Cityscapes IoUs against the official `csEvalPixelLevelSemanticLabeling`
//! (PyPI cityscapesscripts) on the pseudo_cityscapes fixture, with deliberately imperfect
//! predictions: rtseg's class IoUs must equal the official ones to 1e-6.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{GrayImage, Luma};
use rtseg::datasets::sources::DatasetSource;
use rtseg::evaluation::ConfusionMatrix;

mod common;
use common::{pseudo_cityscapes, python_with, rtseg, text};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The official class IoUs (trainId order) for the predictions in `results`.
fn official_ious(python: &Path, dataset: &Path, results: &Path, work: &Path) -> Vec<Option<f64>> {
    let export = work.join("export");
    std::fs::create_dir_all(&export).unwrap();
    let out = work.join("official.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cityscapes_official_eval.py");
    let run = Command::new(python)
        .arg(script)
        .arg(&out)
        .env("CITYSCAPES_DATASET", dataset)
        .env("CITYSCAPES_RESULTS", results)
        .env("CITYSCAPES_EXPORT_DIR", &export)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "official script failed: {}",
        text(&run)
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn assert_agree(rtseg: &[Option<f64>], official: &[Option<f64>]) {
    assert_eq!(rtseg.len(), 19);
    assert_eq!(official.len(), 19);
    for (c, (a, b)) in rtseg.iter().zip(official).enumerate() {
        match (a, b) {
            (Some(a), Some(b)) => {
                assert!((a - b).abs() < 1e-6, "class {c}: rtseg {a} official {b}")
            }
            (None, None) => {}
            _ => panic!("class {c}: rtseg {a:?} official {b:?}"),
        }
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    dataset: PathBuf,
    python: PathBuf,
}

fn fixture() -> Option<Fixture> {
    let source = pseudo_cityscapes()?;
    let python = python_with("cityscapesscripts")?;
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().to_path_buf();
    let dataset = work.join("cityscapes");
    copy_tree(&source, &dataset);
    Some(Fixture {
        _tmp: tmp,
        work,
        dataset,
        python,
    })
}

#[test]
fn class_ious_equal_the_official_script_on_perturbed_ground_truth() {
    let Some(f) = fixture() else { return };
    let source = DatasetSource::Cityscapes {
        root: Some(f.dataset.clone()),
    };
    let paths = source.list("val").unwrap();
    let gt = source.load(&paths[0]).unwrap().label;
    let (w, h) = gt.dimensions();
    // Imperfect on purpose: shifted 3 px right, a 40×40 block called "car", ignore pixels
    // predicted as "road", and the sky half-confused with "building".
    let prediction = GrayImage::from_fn(w, h, |x, y| {
        let shifted = gt.get_pixel(x.saturating_sub(3), y)[0];
        let v = match shifted {
            255 => 0,
            10 if x % 2 == 0 => 2,
            v => v,
        };
        Luma([if (100..140).contains(&x) && (60..100).contains(&y) {
            13
        } else {
            v
        }])
    });
    let mut matrix = ConfusionMatrix::new(19);
    matrix.update(prediction.as_raw(), gt.as_raw()).unwrap();
    let mine = matrix.metrics().class_iou;
    assert!(
        mine.iter().flatten().any(|&v| v > 0.0 && v < 1.0),
        "the case is imperfect"
    );

    let results = f.work.join("results");
    std::fs::create_dir_all(&results).unwrap();
    source
        .to_dataset_ids(prediction)
        .save(results.join("frankfurt_000000_000294_pred_labelIds.png"))
        .unwrap();
    assert_agree(
        &mine,
        &official_ious(&f.python, &f.dataset, &results, &f.work),
    );
}

#[test]
fn rtseg_eval_predictions_are_read_by_the_official_script() {
    let Some(f) = fixture() else { return };
    let results = f.work.join("predictions");
    let out = rtseg(&[
        "eval",
        "--model",
        "msnet-m",
        "--dataset",
        "cityscapes",
        "--random-init",
        "--data-root",
        f.dataset.to_str().unwrap(),
        "--split",
        "val",
        "--save-predictions",
        results.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine: Vec<Option<f64>> = report["metrics"]["class_iou"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64())
        .collect();
    assert!(
        results
            .join("frankfurt_000000_000294_pred_labelIds.png")
            .is_file()
    );
    assert_agree(
        &mine,
        &official_ious(&f.python, &f.dataset, &results, &f.work),
    );
}
