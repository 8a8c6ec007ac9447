//! Files as the field writes them, read as the field reads them: label PNGs of every flavour
//! give the ids Pillow reads (class ids are the stored samples, never colours turned grey),
//! RGB labels need a colour table, and images with an EXIF Orientation tag come out upright
//! as Pillow's `exif_transpose` (and OpenCV's `imread`) shows them; camera frames in every
//! encoding rtseg reads decode as OpenCV and cv_bridge read them. The files are written by
//! Pillow and OpenCV (`tests/field/*.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use image::GrayImage;
use rtseg::datasets::sources::{ColorId, DatasetSource, LabelColors};
use rtseg::io::{LabelPixels, load_label, load_rgb};
use rtseg::labels::{LabelSpace, UNLABELLED};
use rtseg::pipeline::frame::{FrameRef, decode_raw};

mod common;
use common::{python_json_lines, python_with, rtseg, text};

/// Pillow's files in a temporary folder.
fn pillow_files() -> Option<(tempfile::TempDir, PathBuf)> {
    let python = python_with("PIL")?;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("files");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/field/pillow_files.py");
    let run = Command::new(python).arg(script).arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    Some((dir, out))
}

fn ids(path: &Path) -> GrayImage {
    match load_label(path) {
        Ok(LabelPixels::Ids(ids)) => ids,
        Ok(LabelPixels::Rgb(_)) => panic!("{} read as RGB", path.display()),
        Err(e) => panic!("{e:#}"),
    }
}

fn label_error(path: &Path) -> String {
    match load_label(path) {
        Ok(_) => panic!("{} read as a label", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn label_pngs_give_the_ids_pillow_reads() {
    let Some((_dir, files)) = pillow_files() else {
        return;
    };
    for name in ["p8.png", "p4.png", "l8.png", "i16.png"] {
        let want = std::fs::read(files.join(format!("{name}.ids"))).unwrap();
        let got = ids(&files.join(name));
        assert_eq!(got.dimensions(), (40, 24), "{name}");
        assert_eq!(got.as_raw(), &want, "{name}: ids differ from Pillow's");
    }
    // What cannot be an id map is refused by name, never read as one.
    for (name, says) in [
        ("i16_300.png", "16-bit label value 300"),
        ("la.png", "alpha channel"),
        ("label.jpg", "labels must be PNG"),
    ] {
        let err = label_error(&files.join(name));
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
    }
}

/// A CamVid-layout dataset under `dir/camvid` of one 40×24 val image with `label`.
fn camvid_with_label(dir: &Path, label: &Path) -> DatasetSource {
    let root = dir.join("camvid");
    for sub in ["val", "valannot"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    image::RgbImage::new(40, 24)
        .save(root.join("val/a.png"))
        .unwrap();
    std::fs::copy(label, root.join("valannot/a.png")).unwrap();
    DatasetSource::Camvid {
        root: Some(root),
        label_colors: None,
    }
}

/// The example of the issue: a CamVid-layout dataset whose labels are palette PNGs.
#[test]
fn a_camvid_layout_with_palette_labels_trains_on_the_stored_ids() {
    let Some((dir, files)) = pillow_files() else {
        return;
    };
    let source = camvid_with_label(dir.path(), &files.join("p8.png"));
    let sample = source.load(&source.list("val").unwrap()[0]).unwrap();
    let stored = std::fs::read(files.join("p8.png.ids")).unwrap();
    for (got, stored) in sample.label.pixels().zip(stored) {
        // CamVid's void (11) is ignore; every other stored id is the train id.
        assert_eq!(got[0], if stored == 11 { UNLABELLED } else { stored });
    }
}

#[test]
fn rgb_labels_need_a_colour_table_and_camvid32_maps_the_original_colours() {
    let Some((dir, files)) = pillow_files() else {
        return;
    };
    let plain = camvid_with_label(dir.path(), &files.join("camvid32.png"));
    let root = dir.path().join("camvid");
    let paths = plain.list("val").unwrap();
    let err = plain.load(&paths[0]).err().unwrap().to_string();
    assert!(
        err.contains("a.png") && err.contains("RGB label") && err.contains("label_colors"),
        "{err}"
    );

    // From a training config, as a user writes it.
    let source: DatasetSource = serde_yaml::from_str(&format!(
        "format: camvid\nroot: {}\nlabel_colors: camvid32\n",
        root.display()
    ))
    .unwrap();
    let label = source.load(&paths[0]).unwrap().label;
    // Road → road (3), MotorcycleScooter → bicyclist (10), Void → ignore, TrafficCone → pole.
    assert_eq!(label.get_pixel(2, 3)[0], 3);
    assert_eq!(label.get_pixel(30, 3)[0], 10);
    assert_eq!(label.get_pixel(30, 0)[0], UNLABELLED);
    assert_eq!(label.get_pixel(5, 5)[0], 2);

    std::fs::copy(
        files.join("camvid32_unknown.png"),
        root.join("valannot/a.png"),
    )
    .unwrap();
    let err = source.load(&paths[0]).err().unwrap().to_string();
    assert!(
        err.contains("[1, 2, 3]") && err.contains("not in the label_colors table"),
        "{err}"
    );

    // A table of one's own, in a folder dataset.
    let table = LabelColors::Table(vec![
        ColorId {
            color: [128, 64, 128],
            id: 0,
        },
        ColorId {
            color: [192, 0, 192],
            id: 1,
        },
        ColorId {
            color: [0, 0, 0],
            id: 255,
        },
        ColorId {
            color: [0, 0, 64],
            id: 2,
        },
    ]);
    let folder = dir.path().join("folder");
    std::fs::create_dir_all(folder.join("images/val")).unwrap();
    std::fs::create_dir_all(folder.join("annotations/val")).unwrap();
    image::RgbImage::new(40, 24)
        .save(folder.join("images/val/a.png"))
        .unwrap();
    std::fs::copy(
        files.join("camvid32.png"),
        folder.join("annotations/val/a.png"),
    )
    .unwrap();
    let source = DatasetSource::Folder {
        root: folder,
        label_space: LabelSpace::Camvid,
        label_colors: Some(table),
    };
    let label = source.load(&source.list("val").unwrap()[0]).unwrap().label;
    assert_eq!(
        [(2, 3), (30, 3), (30, 0), (5, 5)].map(|(x, y)| label.get_pixel(x, y)[0]),
        [0, 1, UNLABELLED, 2]
    );
}

#[test]
fn images_with_an_exif_orientation_are_read_upright_as_pillow_shows_them() {
    let Some((dir, files)) = pillow_files() else {
        return;
    };
    for orientation in [3, 6, 8] {
        for ext in ["png", "jpg"] {
            let name = format!("exif{orientation}.{ext}");
            let path = files.join(&name);
            let want = std::fs::read(files.join(format!("{name}.rgb"))).unwrap();
            let size: serde_json::Value =
                serde_json::from_slice(&std::fs::read(files.join(format!("{name}.json"))).unwrap())
                    .unwrap();
            let pillow = (size["width"].as_u64(), size["height"].as_u64());
            assert_eq!(pillow, (Some(40), Some(24)), "{name}");
            let got = load_rgb(&path).unwrap();
            assert_eq!(got.dimensions(), (40, 24), "{name}");
            if ext == "png" {
                assert_eq!(got.as_raw(), &want, "{name}");
            } else {
                // Two JPEG decoders: equal up to rounding and chroma upsampling.
                let diff: u64 = got
                    .as_raw()
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| a.abs_diff(*b) as u64)
                    .sum();
                let mean = diff as f64 / want.len() as f64;
                assert!(mean < 3.0, "{name}: mean |Δ| {mean:.2} against Pillow");
            }
            // The red block is top-left, as the picture was drawn.
            assert!(got.get_pixel(2, 2)[0] > 180, "{name}: not upright");
            // A compressed frame from a camera topic is read the same way.
            let frame =
                rtseg::pipeline::frame::decode_compressed(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(frame, got, "{name}: topic and file differ");
        }
    }
    // `rtseg infer` writes the mask in the upright orientation.
    let out = dir.path().join("out");
    let run = rtseg(&[
        "infer",
        "--random-init",
        "--size",
        "64x96",
        files.join("exif6.jpg").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run));
    let mask = image::open(out.join("exif6_mask.png")).unwrap();
    assert_eq!((mask.width(), mask.height()), (40, 24));
}

/// Every encoding rtseg reads, in a padded message as a driver sends it, decodes to what
/// OpenCV (with cv_bridge's conversion for that encoding) makes of it.
#[test]
fn every_encoding_decodes_as_opencv_and_cv_bridge_read_it() {
    let Some(python) = python_with("cv2") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/field/opencv_frames.py");
    let run = Command::new(python)
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let mut cases = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let data = std::fs::read(path.with_extension("raw")).unwrap();
        let want = std::fs::read(path.with_extension("rgb")).unwrap();
        let number = |key: &str| meta[key].as_u64().unwrap() as u32;
        let frame = FrameRef {
            width: number("width"),
            height: number("height"),
            encoding: meta["encoding"].as_str().unwrap(),
            big_endian: meta["is_bigendian"].as_bool().unwrap(),
            step: number("step"),
            data: &data,
        };
        let got = decode_raw(&frame).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (w, h) = (frame.width as usize, frame.height as usize);
        let compare = meta["compare"].as_str().unwrap();
        let (tolerance, margin) = match compare {
            "exact" => (0, 0),
            "within1" => (1, 0),
            _ => (0, 1),
        };
        for y in margin..h - margin {
            for x in margin..w - margin {
                let i = 3 * (y * w + x);
                let (a, b) = (&got.as_raw()[i..i + 3], &want[i..i + 3]);
                assert!(
                    a.iter().zip(b).all(|(a, b)| a.abs_diff(*b) <= tolerance),
                    "{name} ({compare}) at ({x}, {y}): rtseg {a:?}, OpenCV {b:?}"
                );
            }
        }
        cases += 1;
    }
    assert_eq!(cases, 28);
}

/// camera_info as drivers publish it — calibrated, with a zero K (stereo, uncalibrated
/// drivers), binned, with an ROI, the right camera of a stereo pair — scaled for a mask at
/// network resolution: OpenCV projects points through both messages to the same mask pixel.
#[test]
fn mask_camera_info_projects_points_where_the_mask_sees_them() {
    use rtseg::ros::msgs::{CameraInfo, RegionOfInterest};
    let Some(python) = python_with("cv2") else {
        return;
    };
    let calibrated = CameraInfo {
        width: 1280,
        height: 720,
        distortion_model: "plumb_bob".into(),
        d: vec![-0.28, 0.07, 0.001, -0.0005, 0.0],
        k: [900.0, 0.0, 650.0, 0.0, 905.0, 355.0, 0.0, 0.0, 1.0],
        r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p: [
            880.0, 0.0, 645.0, 0.0, 0.0, 880.0, 352.0, 0.0, 0.0, 0.0, 1.0, 0.0,
        ],
        ..Default::default()
    };
    let cases = [
        ("calibrated", calibrated.clone(), (1280, 720)),
        (
            "zero_k",
            CameraInfo {
                k: [0.0; 9],
                d: vec![],
                ..calibrated.clone()
            },
            (1280, 720),
        ),
        (
            "binned",
            CameraInfo {
                binning_x: 2,
                binning_y: 2,
                ..calibrated.clone()
            },
            (640, 360),
        ),
        (
            "roi",
            CameraInfo {
                roi: RegionOfInterest {
                    x_offset: 320,
                    y_offset: 180,
                    width: 640,
                    height: 360,
                    do_rectify: false,
                },
                ..calibrated.clone()
            },
            (640, 360),
        ),
        (
            "stereo_right",
            CameraInfo {
                p: [
                    880.0, 0.0, 645.0, -105.6, 0.0, 880.0, 352.0, 0.0, 0.0, 0.0, 1.0, 0.0,
                ],
                ..calibrated.clone()
            },
            (1280, 720),
        ),
    ];
    let (mask_w, mask_h) = (320, 240);
    let json: Vec<serde_json::Value> = cases
        .iter()
        .map(|(name, info, (w, h))| {
            info.validate().unwrap();
            let (sx, sy) = (mask_w as f64 / *w as f64, mask_h as f64 / *h as f64);
            let mask = info.scaled(sx, sy, mask_w, mask_h);
            serde_json::json!({"name": name, "input": info, "mask": mask, "sx": sx, "sy": sy})
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let results = python_json_lines(&python, "tests/field/opencv_projection.py", &[file]);
    assert_eq!(results.len(), cases.len());
    for r in &results {
        assert!(r["p_error"].as_f64().unwrap() < 1e-6, "{r}");
        match r.get("k_error") {
            Some(e) => assert!(e.as_f64().unwrap() < 1e-6, "{r}"),
            None => assert_eq!(r["k_zero"], true, "{r}"),
        }
        assert_eq!(r["mask_binning"], serde_json::json!([0, 0]), "{r}");
    }
    // Nothing usable: refused by name.
    let none = CameraInfo {
        k: [0.0; 9],
        p: [0.0; 12],
        ..calibrated
    };
    assert!(
        none.validate()
            .unwrap_err()
            .contains("no positive focal lengths")
    );
}
