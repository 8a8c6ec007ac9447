//! Dataset layouts, label mapping, augmentation and the batch stream.

use std::path::Path;

use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rtseg::datasets::loader::{BatchLoader, Plan};
use rtseg::datasets::sources::{DatasetSource, Sample, SamplePaths};
use rtseg::datasets::transforms::{AugmentConfig, augment};
use rtseg::labels::{LabelSpace, UNLABELLED};
use rtseg::models::card::InputSpec;

mod common;
use common::synthetic_folder;

const IMAGENET: InputSpec = InputSpec::IMAGENET_RGB;

fn folder(root: &Path) -> DatasetSource {
    DatasetSource::Folder {
        root: root.to_path_buf(),
        label_space: LabelSpace::Camvid,
        label_colors: None,
    }
}

#[test]
fn camvid_split_lists_and_maps_void_to_ignore() {
    let Some(root) = common::camvid() else { return };
    let source = DatasetSource::Camvid {
        root: Some(root),
        label_colors: None,
    };
    let train = source.list("train").unwrap();
    let val = source.list("val").unwrap();
    assert_eq!((train.len(), val.len()), (367, 101));
    let sample = source.load(&val[0]).unwrap();
    assert_eq!(sample.image.dimensions(), (480, 360));
    let raw = image::open(&val[0].label).unwrap().to_luma8();
    for (mapped, raw) in sample.label.pixels().zip(raw.pixels()) {
        let want = if raw[0] == 11 { UNLABELLED } else { raw[0] };
        assert_eq!(mapped[0], want);
    }
    assert!(
        raw.pixels().any(|p| p[0] == 11),
        "fixture frame has void pixels"
    );
}

/// A split narrowed by sequence: `only` and `except` partition CamVid train by its three
/// sequences; an unknown prefix is refused listing the ones there are, bad syntax showing the
/// forms.
#[test]
fn a_split_is_narrowed_to_or_away_from_sequences() {
    let Some(root) = common::camvid() else { return };
    let source = DatasetSource::Camvid {
        root: Some(root),
        label_colors: None,
    };
    let held_out = source.list("train:only=0006R0").unwrap();
    let rest = source.list("train:except=0006R0").unwrap();
    assert_eq!((held_out.len(), rest.len()), (101, 266));
    assert!(held_out.iter().all(|s| !rest.contains(s)));
    assert_eq!(source.list("train:only=0006R0,0001TP").unwrap().len(), 163);
    let error = |split: &str| format!("{:#}", source.list(split).unwrap_err());
    let unknown = error("train:only=Seq05VD");
    assert!(
        unknown.contains("`Seq05VD`") && unknown.contains("0001TP, 0006R0, 0016E5"),
        "{unknown}"
    );
    for bad in [
        "train:all=0006R0",
        "train:only=",
        "train:except=0006R0,",
        ":only=0006R0",
    ] {
        assert!(error(bad).contains("FOLDER:only=PREFIX"), "{bad}");
    }
    assert!(error("train:except=0001TP,0006R0,0016E5").contains("leaves no files"));
}

#[test]
fn cityscapes_label_ids_map_to_the_fixture_train_ids() {
    let Some(root) = common::pseudo_cityscapes() else {
        return;
    };
    let source = DatasetSource::Cityscapes {
        root: Some(root.clone()),
    };
    let samples = source.list("val").unwrap();
    assert_eq!(samples.len(), 1);
    let sample = source.load(&samples[0]).unwrap();
    // The fixture ships a labelTrainIds rendering of the same annotation; both files were
    // downscaled separately, so 77 of 32,768 pixels at region borders disagree.
    let name = samples[0]
        .label
        .to_string_lossy()
        .replace("labelIds", "labelTrainIds");
    let official = image::open(name).unwrap().to_luma8();
    let differ = sample
        .label
        .pixels()
        .zip(official.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(differ * 200 < official.len(), "{differ} pixels differ");
    // And back: predictions in train ids become labelIds again.
    let back = source.to_dataset_ids(sample.label.clone());
    let label_ids = image::open(&samples[0].label).unwrap().to_luma8();
    for ((b, t), l) in back
        .pixels()
        .zip(sample.label.pixels())
        .zip(label_ids.pixels())
    {
        if t[0] != UNLABELLED {
            assert_eq!(b[0], l[0]);
        }
    }
}

#[test]
fn layout_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_folder(dir.path(), &[("train", 3)]);
    let source = folder(dir.path());

    std::fs::remove_file(dir.path().join("annotations/train/001.png")).unwrap();
    let err = source.list("train").unwrap_err().to_string();
    assert!(
        err.contains("001.png") && err.contains("no label file"),
        "{err}"
    );

    let err = source.list("val").unwrap_err().to_string();
    assert!(err.contains("images/val"), "{err}");

    let small = GrayImage::new(10, 10);
    small
        .save(dir.path().join("annotations/train/001.png"))
        .unwrap();
    let paths = source.list("train").unwrap();
    let err = source.load(&paths[1]).err().unwrap().to_string();
    assert!(err.contains("001.png") && err.contains("10×10"), "{err}");

    let bad = GrayImage::from_pixel(64, 64, Luma([40]));
    bad.save(dir.path().join("annotations/train/000.png"))
        .unwrap();
    let err = source.load(&paths[0]).err().unwrap().to_string();
    assert!(
        err.contains("000.png") && err.contains("label value 40"),
        "{err}"
    );

    let missing = DatasetSource::Camvid {
        root: Some(dir.path().join("nope")),
        label_colors: None,
    };
    let err = missing.list("train").unwrap_err().to_string();
    assert!(
        err.contains("nope") && err.contains("not a directory"),
        "{err}"
    );
}

fn config() -> AugmentConfig {
    AugmentConfig {
        crop: [64, 96],
        scale_range: [0.5, 1.5],
        flip: true,
        jitter: 0.3,
    }
}

fn sample() -> Sample {
    Sample {
        image: RgbImage::from_fn(120, 80, |x, y| Rgb([x as u8, y as u8, (x ^ y) as u8])),
        label: GrayImage::from_fn(120, 80, |x, _| Luma([(x / 40) as u8])),
    }
}

#[test]
fn augmentation_is_a_function_of_the_seed() {
    let run = |seed| {
        augment(
            sample(),
            &config(),
            &IMAGENET,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.size, [64, 96]);
    assert_eq!(a.image.len(), 3 * 64 * 96);
    assert_eq!((a.image.clone(), a.label.clone()), (b.image, b.label));
    assert!(a.image != c.image || a.label != c.label);
    // Labels keep their classes (nearest resize) and add only ignore padding.
    for seed in 0..20 {
        let t = run(seed);
        assert!(t.label.iter().all(|&v| v <= 2 || v == UNLABELLED));
    }
}

#[test]
fn small_scales_pad_the_crop_with_ignore() {
    let cfg = AugmentConfig {
        scale_range: [0.5, 0.5],
        jitter: 0.0,
        ..config()
    };
    // 120×80 at 0.5 = 60×40, inside a 96×64 crop: the rest is ignore, zero after normalising.
    let t = augment(sample(), &cfg, &IMAGENET, &mut ChaCha8Rng::seed_from_u64(1));
    let ignored = t.label.iter().filter(|&&v| v == UNLABELLED).count();
    assert_eq!(ignored, 64 * 96 - 60 * 40);
    let padded = t.label.iter().position(|&v| v == UNLABELLED).unwrap();
    assert!(t.image[padded].abs() < 0.02, "pad is the mean colour");
}

#[test]
fn batch_stream_is_independent_of_workers_and_resumable() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_folder(dir.path(), &[("train", 5)]);
    let source = folder(dir.path());
    let samples: Vec<SamplePaths> = source.list("train").unwrap();
    let stream = |start: u64, workers: usize, steps: usize| {
        let plan = Plan {
            source: source.clone(),
            samples: samples.clone(),
            augment: config(),
            input: IMAGENET,
            batch: 2,
            seed: 11,
        };
        let mut loader = BatchLoader::new(plan, start, workers);
        (0..steps)
            .map(|_| {
                let b = loader.next_batch().unwrap();
                (b.images, b.labels)
            })
            .collect::<Vec<_>>()
    };
    let one = stream(0, 1, 6);
    assert_eq!(one, stream(0, 3, 6));
    assert_eq!(one[4..], stream(4, 2, 2)[..]);
    assert_eq!(one[3..], stream(3, 2, 3)[..]);
    assert_ne!(one[0], one[1]);
}

#[test]
fn bdd100k_and_folder_layouts_pair_images_with_masks() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images/10k/val");
    let masks = dir.path().join("labels/sem_seg/masks/val");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    RgbImage::new(64, 64).save(images.join("a1.jpg")).unwrap();
    GrayImage::from_pixel(64, 64, Luma([18]))
        .save(masks.join("a1.png"))
        .unwrap();
    let source = DatasetSource::Bdd100k {
        root: Some(dir.path().to_path_buf()),
    };
    assert_eq!(source.label_space(), LabelSpace::Cityscapes);
    let paths = source.list("val").unwrap();
    assert_eq!(paths.len(), 1);
    assert!(
        source
            .load(&paths[0])
            .unwrap()
            .label
            .pixels()
            .all(|p| p[0] == 18)
    );
    GrayImage::from_pixel(64, 64, Luma([19]))
        .save(masks.join("a1.png"))
        .unwrap();
    let err = source.load(&paths[0]).err().unwrap().to_string();
    assert!(
        err.contains("a1.png") && err.contains("label value 19"),
        "{err}"
    );
}

#[test]
fn adamw_configs_parse() {
    let yaml = "{kind: adamw, lr: 0.001, weight_decay: 0.01}";
    let parsed: rtseg::train::config::OptimizerConfig = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(parsed.base_lr(), 0.001);
}
