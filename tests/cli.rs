//! The `rtseg` binary as a user runs it: models, weights init, infer (good and bad inputs),
//! bench --json.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{
    assert_says, camvid, init_model_weights, init_weights, rtseg, synthetic_folder, text,
};

/// `rtseg infer --model msnet-m --weights W INPUT... --out OUT`.
fn infer(weights: &Path, inputs: &[&Path], out: &Path) -> Output {
    let mut args = vec![
        "infer",
        "--model",
        "msnet-m",
        "--weights",
        weights.to_str().unwrap(),
    ];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    rtseg(&args)
}

/// `rtseg models --legend | head -1`: the reader closes the pipe before rtseg prints, and rtseg
/// ends by SIGPIPE as Unix tools do — no "failed printing to stdout" panic on stderr.
#[cfg(unix)]
#[test]
fn a_closed_stdout_pipe_ends_rtseg_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtseg"))
        .args(["models", "--legend"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closing the read end now, before the child has parsed its arguments, makes its first
    // print meet EPIPE (the listing would otherwise fit in the pipe's buffer).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {}",
        out.status,
        text(&out)
    );
    assert!(out.stderr.is_empty(), "{}", text(&out));
}

#[test]
fn models_lists_every_registered_model_with_counts() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtseg"))
        .args(["models", "--size", "64x64"])
        .env(
            "RTSEG_WEIGHTS_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("weights"),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    // Parameters, GMACs at the size, and which datasets have shipped weights.
    for line in [
        "msnet-m             3.992M           0.06  camvid ",
        "msnet-anas          1.418M ",
        "msnet-darts-v2      1.381M ",
        "mfaranet           12.991M ",
        "bisenet-r18        13.423M           0.23  - ",
        "aaffnet             0.937M           0.03  - ",
    ] {
        assert!(listing.contains(line), "{line:?} not in\n{listing}");
    }
}

/// A misspelt model with `--random-init` is refused for the name alone: no warning about
/// untrained weights of a model that does not exist.
#[test]
fn an_unknown_model_with_random_init_is_refused_without_the_untrained_warning() {
    let dir = tempfile::tempdir().unwrap();
    let frame = dir.path().join("frame.png");
    image::RgbImage::new(64, 64).save(&frame).unwrap();
    let out = rtseg(&[
        "infer",
        "--model",
        "msnet-n",
        "--random-init",
        frame.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_says(&out, "unknown model \"msnet-n\"");
    assert!(!text(&out).contains("untrained"), "{}", text(&out));
}

#[test]
fn the_legend_names_every_class_and_its_colour() {
    let out = rtseg(&["models", "--legend", "--dataset", "cityscapes"]);
    assert!(out.status.success(), "{}", text(&out));
    let legend = text(&out);
    assert!(legend.contains("cityscapes (19 classes"), "{legend}");
    assert!(legend.contains("  0 #804080 road"), "{legend}");
    assert!(legend.contains(" 18 #770b20 bicycle"), "{legend}");
}

#[test]
fn infer_writes_masks_and_overlays_and_survives_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let weights = init_weights(dir.path());
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let image = image::RgbImage::from_fn(97, 71, |x, y| image::Rgb([x as u8, y as u8, 128]));
    image.save(inputs.join("a.png")).unwrap();
    image.save(inputs.join("b.jpg")).unwrap();
    std::fs::write(inputs.join("broken.png"), b"\x89PNG\r\n\x1a\n not really").unwrap();
    image::RgbImage::new(32, 32)
        .save(inputs.join("tiny.png"))
        .unwrap();
    let out_dir = dir.path().join("out");

    let missing = dir.path().join("missing.png");
    let out = infer(&weights, &[&inputs, &missing], &out_dir);
    let log = text(&out);
    assert!(
        !out.status.success(),
        "bad inputs must give a non-zero exit:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        log.contains("broken.png") && log.contains("not a readable PNG/JPEG"),
        "{log}"
    );
    assert!(
        log.contains("tiny.png") && log.contains("64 to 8192"),
        "{log}"
    );
    assert!(log.contains("missing.png: no such file"), "{log}");
    assert!(log.contains("2 segmented, 3 failed"), "{log}");
    for stem in ["a", "b"] {
        let mask = image::open(out_dir.join(format!("{stem}_mask.png"))).unwrap();
        assert_eq!((mask.width(), mask.height()), (97, 71));
        assert!(mask.to_luma8().pixels().all(|p| p[0] < 11));
        let color = image::open(out_dir.join(format!("{stem}_color.png"))).unwrap();
        assert_eq!(color.color(), image::ColorType::Rgb8);
        let (ids, palette) = indexed_png(&out_dir.join(format!("{stem}_palette.png")));
        assert_eq!(
            ids,
            mask.to_luma8().into_raw(),
            "the palette PNG holds the same ids"
        );
        assert_eq!(
            &palette[..6],
            &[128, 128, 128, 128, 0, 0],
            "CamVid's sky, building"
        );
    }
    assert!(!out_dir.join("broken_mask.png").exists());
    assert!(log.contains("classes (camvid"), "{log}");
}

/// The indices and palette of an indexed PNG, read without expanding the palette.
fn indexed_png(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut decoder =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().unwrap();
    assert_eq!(reader.info().color_type, png::ColorType::Indexed);
    let palette = reader.info().palette.as_ref().unwrap().to_vec();
    let mut ids = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut ids).unwrap();
    ids.truncate(frame.buffer_size());
    (ids, palette)
}

#[test]
fn inputs_with_the_same_stem_keep_their_own_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let weights = init_weights(dir.path());
    for (sub, name, shade) in [("a", "x.png", 10), ("b", "x.png", 200), ("a", "x.jpeg", 90)] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        image::RgbImage::from_pixel(64, 64, image::Rgb([shade, 0, 0]))
            .save(dir.path().join(sub).join(name))
            .unwrap();
    }
    let out_dir = dir.path().join("out");
    let (ax, bx, aj) = (
        dir.path().join("a/x.png"),
        dir.path().join("b/x.png"),
        dir.path().join("a/x.jpeg"),
    );
    let out = infer(&weights, &[&ax, &bx, &aj, &ax], &out_dir);
    assert!(out.status.success(), "{}", text(&out));
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_mask.png"))
        .collect();
    written.sort();
    // Four inputs, four masks: the paths name them, the repeated one is numbered.
    assert_eq!(written.len(), 4, "{written:?}");
    assert!(
        written
            .iter()
            .all(|n| n.contains("x_png") || n.contains("x_jpeg")),
        "{written:?}"
    );
}

#[test]
fn infer_on_camvid_matches_the_library_pipeline() {
    let Some(camvid) = camvid() else { return };
    let dir = tempfile::tempdir().unwrap();
    let weights = init_weights(dir.path());
    let mut frames: Vec<PathBuf> = std::fs::read_dir(camvid.join("val"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    frames.sort();
    let frame = frames[0].clone();
    let stem = frame.file_stem().unwrap().to_string_lossy().into_owned();
    let out = infer(&weights, &[&frame], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let mask = image::open(dir.path().join(format!("{stem}_mask.png")))
        .unwrap()
        .to_luma8();
    assert_eq!(mask.dimensions(), (480, 360));

    // The same frame through the library API gives the same bytes.
    use rtseg::backend::{self, BackendConfig};
    use rtseg::pipeline::{Fit, frame::FrameRef};
    use rtseg::source::{ModelSource, Weights};
    let source = ModelSource::resolve(
        "msnet-m",
        rtseg::labels::LabelSpace::Camvid,
        None,
        Weights::File(weights.clone()),
    )
    .unwrap();
    let mut segmenter = backend::open(&BackendConfig::default(), &source).unwrap();
    let image = rtseg::io::load_rgb(&frame).unwrap();
    let expected = segmenter
        .segment(&[FrameRef::rgb(&image)], &Fit::default())
        .unwrap()
        .remove(0)
        .mask;
    assert_eq!(mask.as_raw(), expected.as_raw());
}

#[test]
fn infer_without_weights_explains_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("x.png");
    image::RgbImage::new(64, 64).save(&image).unwrap();
    let out = rtseg(&[
        "infer",
        image.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains("no shipped weights for msnet-m") && log.contains("--weights"),
        "{log}"
    );
}

#[test]
fn bench_reports_percentiles_as_json() {
    let out = rtseg(&[
        "bench",
        "--model",
        "msnet-anas",
        "--random-init",
        "--size",
        "64x96",
        "--iters",
        "3",
        "--warmup",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["iters"], 3);
    assert_eq!(report["height"], 64);
    let p50 = report["p50_ms"].as_f64().unwrap();
    let p99 = report["p99_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p99 >= p50, "{report}");
    assert!(report["peak_rss_mib"].as_f64().unwrap() > 0.0);
}

/// With several backends each runs in a child `rtseg bench`: the children's warnings and errors
/// reach the user's terminal, not only their JSON reports.
#[test]
fn bench_with_several_backends_passes_on_each_childs_warnings_and_errors() {
    let args = ["bench", "--random-init", "--size", "64x96", "--iters", "1"];
    let out = rtseg(&[&args[..], &["--warmup", "0", "--backend", "burn,burn"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("runs with untrained weights").count(),
        2,
        "one warning per child: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("burn ")).count(),
        2,
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bpk");
    let out = rtseg(&[
        "bench",
        "--weights",
        missing.to_str().unwrap(),
        "--size",
        "64x96",
        "--backend",
        "burn,burn",
    ]);
    assert!(!out.status.success());
    assert_says(&out, "missing.bpk");
    assert_says(&out, "the burn benchmark failed");
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
}

#[test]
fn burn_device_accepts_only_the_backends_the_build_has() {
    let bench = |device: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rtseg"))
            .args(["bench", "--random-init", "--size", "64x96", "--iters", "1"])
            .args(["--warmup", "0", "--json"])
            .env("BURN_DEVICE", device)
            .output()
            .unwrap()
    };
    // The tests' build has no GPU backend: burn itself would panic on these.
    for device in ["cuda", "gpu0"] {
        let out = bench(device);
        assert!(!out.status.success(), "{device}: {}", text(&out));
        assert_says(
            &out,
            &format!("BURN_DEVICE={device}: this build computes on flex"),
        );
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
    let out = bench("Flex");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn unknown_backend_and_bad_size_are_clear_errors() {
    let out = rtseg(&["bench", "--random-init", "--backend", "tflite"]);
    assert!(!out.status.success());
    assert_says(&out, "invalid value 'tflite'");
    assert_says(&out, "possible values: auto, burn, ort, tensorrt");
    let out = rtseg(&["bench", "--random-init", "--size", "10x10"]);
    assert!(!out.status.success());
    assert_says(&out, "64 to 8192 pixels a side");
}

#[test]
fn ros_arguments_are_read_by_the_node_only_and_unsupported_ones_named() {
    let params = Path::new(env!("CARGO_MANIFEST_DIR")).join("launch/rtseg.params.yaml");
    let params = params.to_str().unwrap();
    let out = rtseg(&[
        "node",
        "--params-file",
        params,
        "--ros-args",
        "--log-level",
        "debug",
    ]);
    assert!(!out.status.success());
    assert_says(&out, "ROS argument \"--log-level\" is not supported");
    // An override of a parameter rtseg does not have is named, as one in a file is.
    let out = rtseg(&["node", "--print-params", "--ros-args", "-p", "wrokers:=2"]);
    assert!(!out.status.success());
    assert_says(&out, "wrokers");
    let out = rtseg(&["node", "--ros-args", "--params-file", "/nonexistent/p.yaml"]);
    assert_says(&out, "/nonexistent/p.yaml"); // the ROS --params-file was used
    let out = rtseg(&["models", "--ros-args", "-r", "__node:=x"]);
    assert!(!out.status.success());
    assert_says(&out, "only read by `rtseg node`");
}

/// `rtseg infer` with no weight option uses the shipped CamVid weights, and they are trained:
/// on a validation frame most labelled pixels come out right (untrained weights score ~10 %).
/// Every shipped `weights/<model>_camvid.bpk` is checked the same way with `--model`, so a
/// change to a model's code or genotype that its shipped file no longer fits fails here.
#[test]
fn infer_defaults_to_the_shipped_trained_weights() {
    let Some(camvid) = camvid() else { return };
    let frame = camvid.join("val/0016E5_07959.png");
    let label = image::open(camvid.join("valannot/0016E5_07959.png"))
        .unwrap()
        .to_luma8();
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
    let mut models: Vec<Option<String>> = vec![None];
    for entry in std::fs::read_dir(&weights).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(model) = name.strip_suffix("_camvid.bpk") {
            models.push(Some(model.to_string()));
        }
    }
    assert!(
        models.len() > 1,
        "no CamVid weights in {}",
        weights.display()
    );
    for model in models {
        let out_dir = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rtseg"));
        command.args(["infer", frame.to_str().unwrap(), "--out"]);
        command.arg(out_dir.path()).env_remove("RTSEG_WEIGHTS_DIR");
        if let Some(model) = &model {
            command.args(["--model", model]);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{model:?}: {}", text(&out));
        let mask = image::open(out_dir.path().join("0016E5_07959_mask.png"))
            .unwrap()
            .to_luma8();
        let (mut correct, mut labelled) = (0, 0);
        for (m, l) in mask.pixels().zip(label.pixels()) {
            if l[0] < 11 {
                labelled += 1;
                correct += (m[0] == l[0]) as usize;
            }
        }
        let accuracy = correct as f64 / labelled as f64;
        assert!(
            accuracy > 0.75,
            "{model:?}: pixel accuracy {accuracy:.3} with the shipped weights"
        );
    }
}

/// Runs a freshly copied binary. While another test thread forks with the copy's write
/// descriptor still open, the kernel refuses to execute it ("Text file busy") until that child
/// has exec'd, so this retries for up to 2 s.
fn output_of_copy(cmd: &mut std::process::Command) -> std::process::Output {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            result => return result.unwrap(),
        }
    }
    panic!("the copied binary stayed busy for 2 s");
}

/// An installed binary finds the shipped weights in the install's `share/rtseg/weights`
/// (colcon's layout: `lib/rtseg/rtseg`), run from any folder with no RTSEG_WEIGHTS_DIR; with
/// none installed, the error lists where it looked.
#[test]
fn an_installed_binary_finds_weights_in_its_share_folder() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("install/rtseg");
    let lib = prefix.join("lib/rtseg");
    std::fs::create_dir_all(&lib).unwrap();
    let exe = lib.join("rtseg");
    std::fs::copy(env!("CARGO_BIN_EXE_rtseg"), &exe).unwrap();
    let image = root.path().join("x.png");
    image::RgbImage::new(64, 64).save(&image).unwrap();
    let run = |weights_dir: Option<&Path>| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["infer", image.to_str().unwrap(), "--out", "out"])
            .current_dir(root.path())
            .env_remove("RTSEG_WEIGHTS_DIR")
            .env_remove("AMENT_PREFIX_PATH");
        if let Some(dir) = weights_dir {
            cmd.env("RTSEG_WEIGHTS_DIR", dir);
        }
        output_of_copy(&mut cmd)
    };
    let out = run(None);
    assert!(!out.status.success());
    let share = prefix.join("share/rtseg/weights");
    assert_says(&out, "no shipped weights for msnet-m on camvid");
    assert_says(&out, &share.display().to_string());
    std::fs::create_dir_all(&share).unwrap();
    init_weights(&share);
    std::fs::rename(share.join("msnet-m.bpk"), share.join("msnet-m_camvid.bpk")).unwrap();
    let out = run(None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(root.path().join("out/x_mask.png").is_file());
    // RTSEG_WEIGHTS_DIR, when set, is the only place looked in.
    let out = run(Some(Path::new("/nonexistent-weights")));
    assert!(!out.status.success());
    assert_says(&out, "in none of: /nonexistent-weights)");
}

/// `mfaranet-pruned` changes only inference, so it is served from mfaranet's shipped file.
#[test]
fn mfaranet_pruned_finds_the_shipped_mfaranet_weights() {
    let dir = tempfile::tempdir().unwrap();
    let weights = init_model_weights(dir.path(), "mfaranet");
    std::fs::rename(&weights, dir.path().join("mfaranet_camvid.bpk")).unwrap();
    let image = dir.path().join("x.png");
    image::RgbImage::new(64, 64).save(&image).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rtseg"))
            .args(args)
            .current_dir(dir.path())
            .env("RTSEG_WEIGHTS_DIR", dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["models", "--size", "64x64"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    for model in ["mfaranet ", "mfaranet-pruned "] {
        let row = listing.lines().find(|l| l.starts_with(model)).unwrap();
        assert!(row.contains(" camvid "), "{row}");
    }
    let out = run(&[
        "infer",
        "--model",
        "mfaranet-pruned",
        "x.png",
        "--out",
        "out",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("out/x_mask.png").is_file());
    let out = run(&["infer", "--model", "bisenet-dw", "x.png", "--out", "out"]);
    assert_says(
        &out,
        "no shipped weights for bisenet-dw on camvid (bisenet-dw_camvid.bpk",
    );
}

#[test]
fn eval_without_a_dataset_names_the_option_and_the_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtseg"))
        .args(["eval", "--random-init", "--split", "val"])
        .env("RTSEG_CAMVID", "")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_says(&out, "pass --data-root DIR");
    assert_says(&out, "RTSEG_CAMVID");
}

/// Started outside the checkout, the node finds the parameter file installed beside it
/// (colcon's share/rtseg/launch), and without one says where it looked.
#[test]
fn the_node_finds_its_installed_parameter_file() {
    let root = tempfile::tempdir().unwrap();
    let lib = root.path().join("install/lib/rtseg");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_rtseg"), lib.join("rtseg")).unwrap();
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let run = || {
        output_of_copy(
            std::process::Command::new(lib.join("rtseg"))
                .arg("node")
                .current_dir(&elsewhere)
                .env("ROS_DOMAIN_ID", "121")
                .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
        )
    };
    let out = run();
    assert!(!out.status.success());
    assert_says(
        &out,
        "no parameter file given and none found (looked in launch/rtseg.params.yaml, ",
    );
    assert_says(&out, "install/share/rtseg/launch/rtseg.params.yaml");
    let share = root.path().join("install/share/rtseg/launch");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(
        share.join("rtseg.params.yaml"),
        "rtseg:\n  ros__parameters:\n    model: nonexistent-model\n",
    )
    .unwrap();
    // Found and read: the error is now about its contents, before any DDS traffic.
    let out = run();
    assert!(!out.status.success());
    assert_says(&out, "install/share/rtseg/launch/rtseg.params.yaml");
    assert!(!text(&out).contains("none found"), "{}", text(&out));
}

/// SIGTERM while `rtseg infer` works through a folder: it stops after the image in
/// progress, says how far it got, exits 130, and leaves only whole files (no temporary
/// file, every mask decodes).
#[test]
fn sigterm_stops_infer_between_images_with_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let frame = image::RgbImage::from_fn(128, 96, |x, y| image::Rgb([x as u8, y as u8, 7]));
    for i in 0..200 {
        frame.save(inputs.join(format!("f{i:03}.png"))).unwrap();
    }
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rtseg"))
        .args(["infer", "--random-init"])
        .arg(&inputs)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let masks = |out: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(out)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let start = std::time::Instant::now();
    while masks(&out).len() < 6 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "infer ended before the signal"
        );
        assert!(start.elapsed().as_secs() < 120, "no output");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let result = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(130), "{log}");
    assert!(
        log.contains("interrupted: ") && log.contains("the rest not started"),
        "{log}"
    );
    let files = masks(&out);
    assert!(
        files.len() < 600,
        "all 200 inputs were done before the signal"
    );
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.ends_with(".tmp"), "partial file left: {name}");
        image::open(f).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// `rtseg eval --flip --scales`: the report names the augmentation (table and JSON), counts
/// the same pixels as plain evaluation, draws the confusion PNG, and refuses by name a
/// backend without class scores, a bad ratio and a ratio that shrinks the input below the
/// network's minimum side.
#[test]
fn eval_with_test_time_augmentation_says_so_and_refuses_what_it_cannot_do() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_folder(&data, &[("val", 2)]);
    let root = tmp.path().join("camvid");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::rename(data.join("images/val"), root.join("val")).unwrap();
    std::fs::rename(data.join("annotations/val"), root.join("valannot")).unwrap();
    let eval = |extra: &[&str]| {
        let base = [
            "eval",
            "--random-init",
            "--dataset",
            "camvid",
            "--data-root",
            root.to_str().unwrap(),
        ];
        rtseg(&[&base[..], extra].concat())
    };
    let report = |out: &Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", text(out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let pixels = |r: &serde_json::Value| -> u64 {
        r["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum()
    };
    let png = tmp.path().join("confusion.png");
    let tta = report(&eval(&[
        "--flip",
        "--scales",
        "1.0,1.25",
        "--json",
        "--confusion",
        png.to_str().unwrap(),
    ]));
    assert_eq!(
        tta["tta"],
        serde_json::json!({"scales": [1.0, 1.25], "flip": true})
    );
    let plain = report(&eval(&["--json"]));
    assert_eq!(
        plain["tta"],
        serde_json::json!({"scales": [1.0], "flip": false})
    );
    assert!(pixels(&plain) > 0 && pixels(&tta) == pixels(&plain));
    assert!(image::open(&png).unwrap().width() > 0);

    let table = eval(&["--flip"]);
    assert!(table.status.success(), "{}", text(&table));
    assert_says(
        &table,
        "test-time augmentation: scales [1.0] + horizontal flip",
    );

    for (extra, says) in [
        (&["--flip", "--backend", "ort"][..], "only the burn backend"),
        (&["--scales", "0"][..], "TTA scale 0 is not in (0, 4]"),
        (
            &["--scales", "0.5"][..],
            "TTA scale 0.5: network input would be",
        ),
    ] {
        let out = eval(extra);
        assert!(!out.status.success(), "{extra:?}: {}", text(&out));
        assert_says(&out, says);
    }
}
