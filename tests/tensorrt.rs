//! The `tensorrt` feature without a GPU, against the real NVIDIA libraries from PyPI (installed
//! into `.venv` by `scripts/test.sh`): the shim's version handshake with TensorRT 11.4 (the
//! lean runtime) and TensorRT-RTX 1.7, a clear error where no CUDA driver exists, ahead-of-time
//! TensorRT-RTX engine builds of every registered model with their manifests, `engine check`
//! refusing every kind of mismatched engine, NVRTC compiling the GPU stage's kernels for
//! Jetson (CUDA 13) and V100/Xavier (CUDA 12), and the errors of bad inputs.
//! Engines are not run here: that needs a GPU (`scripts/gpu_check.sh`).

mod common;

#[cfg(not(feature = "tensorrt"))]
#[test]
fn tensorrt_checks_need_the_tensorrt_feature() {
    common::missing("the TensorRT checks: run the tests with `--features tensorrt`");
}

#[cfg(feature = "tensorrt")]
mod with_tensorrt {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    use onnx_protobuf::{Message, ModelProto};

    use super::common::{self, assert_says, text};
    use rtseg::models::registry;

    /// `rtseg ARGS` with the shipped weights visible, caches in `dir`, extra environment `env`.
    fn rtseg_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rtseg"));
        command
            .args(args)
            .current_dir(dir)
            .env(
                "RTSEG_WEIGHTS_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("weights"),
            )
            .env("RTSEG_CACHE_DIR", dir.join("cache"));
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("rtseg runs")
    }

    fn rtseg(dir: &Path, args: &[&str]) -> Output {
        rtseg_env(dir, args, &[])
    }

    /// Asserts that the command failed, said `needle`, and did not panic.
    #[track_caller]
    fn assert_fails_saying(out: &Output, needle: &str) {
        assert!(!out.status.success(), "{}", text(out));
        assert_says(out, needle);
        assert!(!text(out).contains("panicked"), "{}", text(out));
    }

    /// `.venv/lib/python3.*/site-packages/<rel>` if it exists.
    fn in_venv(rel: &str) -> Option<PathBuf> {
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
        let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|python| python.path().join("site-packages").join(rel))
                .find(|p| p.exists())
        });
        found.or_else(|| {
            common::missing(&format!(
                "{rel} in {} (run scripts/test.sh once)",
                lib.display()
            ))
        })
    }

    /// `LD_LIBRARY_PATH` for CUDA 13's NVRTC from the wheel: its folder, plus a folder with the
    /// unversioned `libnvrtc.so` that cudarc (built for CUDA 12) asks for, as the toolkit's
    /// development package provides.
    fn nvrtc13(dir: &Path) -> Option<String> {
        let lib = in_venv("nvidia/cu13/lib/libnvrtc.so.13")?;
        let link = dir.join("nvrtc13");
        std::fs::create_dir_all(&link).unwrap();
        std::os::unix::fs::symlink(&lib, link.join("libnvrtc.so")).unwrap();
        Some(format!(
            "{}:{}",
            link.display(),
            lib.parent().unwrap().display()
        ))
    }

    fn nvrtc12() -> Option<String> {
        in_venv("nvidia/cuda_nvrtc/lib/libnvrtc.so.12")
            .map(|lib| lib.parent().unwrap().display().to_string())
    }

    /// `rtseg export` of `model` (shipped weights for MsNet-M, seeded ones for the others) to
    /// `<dir>/<model><suffix>.onnx`.
    fn export(dir: &Path, model: &str, suffix: &str, extra: &[&str]) -> PathBuf {
        let path = dir.join(format!("{model}{suffix}.onnx"));
        let mut args = vec!["export", "--model", model, "--out", path.to_str().unwrap()];
        if model != "msnet-m" {
            args.push("--random-init");
        }
        args.extend(extra);
        let out = rtseg(dir, &args);
        assert!(out.status.success(), "{}", text(&out));
        path
    }

    fn build_rtx(dir: &Path, onnx: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "engine",
            "build",
            "--flavour",
            "tensorrt-rtx",
            "--onnx",
            onnx.to_str().unwrap(),
            "--engine-dir",
            "engines",
            "--min",
            "128x160",
            "--opt",
            "360x480",
            "--max",
            "720x960",
        ];
        args.extend(extra);
        rtseg(dir, &args)
    }

    /// The plan path `engine build` printed.
    fn built_plan(dir: &Path, out: &Output) -> PathBuf {
        assert!(out.status.success(), "{}", text(out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let plan = stdout.split_whitespace().next().expect("the plan path");
        dir.join(plan)
    }

    #[test]
    fn the_shim_handshakes_with_tensorrt_and_reports_the_missing_driver() {
        if in_venv("tensorrt_lean_libs/libnvinfer_lean.so.11").is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = rtseg(dir.path(), &["engine", "info"]);
        assert!(out.status.success(), "{}", text(&out));
        // The lean runtime ships no ONNX parser; the driver is missing on this machine.
        assert_says(&out, "tensorrt 11.4.0 from ");
        assert_says(
            &out,
            "libnvinfer_lean.so.11 (shim built against 11.4.0 headers)",
        );
        assert_says(&out, "no ONNX parser (cannot build engines)");
        assert_says(
            &out,
            "no GPU: CUDA: no CUDA driver (libcuda.so.1 cannot be loaded)",
        );
        assert_says(
            &out,
            "TensorRT runtime: not available here: cannot create the TensorRT runtime",
        );
        assert!(!text(&out).contains("panicked"), "{}", text(&out));

        let out = rtseg(dir.path(), &["engine", "info", "--flavour", "tensorrt-rtx"]);
        assert!(out.status.success(), "{}", text(&out));
        assert_says(&out, "tensorrt-rtx 1.7.1 from ");
        assert_says(&out, "(shim built against 1.7.1 headers), ONNX parser ");
    }

    #[test]
    fn missing_or_foreign_libraries_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let out = rtseg(
            dir.path(),
            &[
                "engine",
                "info",
                "--library",
                "/nonexistent/libnvinfer.so.10",
            ],
        );
        assert_fails_saying(
            &out,
            "no tensorrt library found (tried /nonexistent/libnvinfer.so.10)",
        );
        // A shared library that is not TensorRT.
        let Some(ort) = in_venv("onnxruntime/capi") else {
            return;
        };
        let lib = std::fs::read_dir(ort)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains("libonnxruntime.so"))
            .unwrap();
        let out = rtseg(
            dir.path(),
            &["engine", "info", "--library", lib.to_str().unwrap()],
        );
        assert_fails_saying(&out, "getInferLibVersion");
    }

    #[test]
    fn nvrtc_compiles_every_kernel_for_jetson_v100_and_hopper() {
        let dir = tempfile::tempdir().unwrap();
        let (Some(cuda13), Some(cuda12)) = (nvrtc13(dir.path()), nvrtc12()) else {
            return;
        };
        let ptx = dir.path().join("ptx");
        let ptx_arg = ptx.to_str().unwrap();
        for (path, archs) in [
            (&cuda13, &["sm_87", "sm_90", "sm_110"][..]),
            (&cuda12, &["sm_70", "sm_72", "sm_87"][..]),
        ] {
            let mut args = vec!["engine", "kernels", "--out", ptx_arg];
            for arch in archs {
                args.extend(["--arch", arch]);
            }
            let out = rtseg_env(dir.path(), &args, &[("LD_LIBRARY_PATH", path)]);
            assert!(out.status.success(), "{}", text(&out));
            for arch in archs {
                let source =
                    std::fs::read_to_string(ptx.join(format!("rtseg_kernels_{arch}.ptx"))).unwrap();
                assert!(source.contains(&format!(".target {arch}")), "{arch}");
                for entry in [
                    rtseg::gpu::FIT,
                    rtseg::gpu::ARGMAX_NEAREST,
                    rtseg::gpu::OVERLAY,
                ] {
                    assert!(
                        source.contains(&format!(".entry {entry}(")),
                        "{arch}: {entry}"
                    );
                }
                // --fmad=false: no fused multiply-add in the f32 arithmetic.
                assert!(!source.contains("fma.rn.f32"), "{arch}: fused multiply-add");
            }
        }
        let out = rtseg_env(
            dir.path(),
            &["engine", "kernels", "--arch", "sm_1"],
            &[("LD_LIBRARY_PATH", &cuda13)],
        );
        assert_fails_saying(&out, "NVRTC could not compile the kernels for sm_1");
        let out = rtseg_env(
            dir.path(),
            &["engine", "kernels", "--arch", "sm_87"],
            &[("LD_LIBRARY_PATH", "/nonexistent")],
        );
        assert_fails_saying(&out, "libnvrtc cannot be loaded");
    }

    #[test]
    fn tensorrt_rtx_builds_every_registered_model_ahead_of_time() {
        if in_venv("tensorrt_rtx_libs/libtensorrt_rtx.so.1").is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for model in registry(11).iter().map(|spec| spec.name) {
            let onnx = export(dir.path(), model, "", &[]);
            let plan = built_plan(dir.path(), &build_rtx(dir.path(), &onnx, &[]));
            let name = plan.file_name().unwrap().to_string_lossy().into_owned();
            let sha = rtseg::io::sha256_file(&onnx).unwrap();
            assert_eq!(
                name,
                format!("{model}-{}-any-gpu-trtrtx1.7.1-fp32.plan", &sha[..12])
            );
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(plan.with_extension("json")).unwrap())
                    .unwrap();
            assert_eq!(manifest["model"], model);
            assert_eq!(manifest["onnx_sha256"], sha.as_str());
            assert_eq!(manifest["gpu"], "any");
            assert_eq!(manifest["flavour"], "tensorrt-rtx");
            assert_eq!(manifest["tensorrt_version"], "1.7.1");
            assert_eq!(manifest["precision"], "fp32");
            assert_eq!(manifest["num_classes"], 11);
            assert_eq!(
                manifest["profile"]["opt"],
                serde_json::json!([1, 3, 360, 480])
            );
            assert_eq!(
                manifest["profile"]["max"],
                serde_json::json!([1, 3, 720, 960])
            );
            let bytes = std::fs::read(&plan).unwrap();
            assert_eq!(manifest["plan_bytes"], bytes.len());
            assert_eq!(
                manifest["plan_sha256"],
                rtseg::io::sha256_bytes(&bytes).as_str()
            );
        }
        // fp16 comes from an fp16 export; an fp32 export cannot give it.
        let onnx = export(dir.path(), "msnet-m", "-fp16", &["--fp16"]);
        let plan = built_plan(dir.path(), &build_rtx(dir.path(), &onnx, &[]));
        assert!(
            plan.to_string_lossy().ends_with("-fp16.plan"),
            "{}",
            plan.display()
        );
        let fp32 = dir.path().join("msnet-m.onnx");
        let out = build_rtx(dir.path(), &fp32, &["--precision", "fp16"]);
        assert_fails_saying(&out, "export the model with --fp16 for an fp16 engine");
        let out = build_rtx(dir.path(), &fp32, &["--precision", "int8"]);
        assert_fails_saying(&out, "export a Q/DQ model (rtseg export --int8-qdq");
        // Nothing half-written: only plans, manifests and the timing cache.
        for entry in std::fs::read_dir(dir.path().join("engines"))
            .unwrap()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                name.ends_with(".plan") || name.ends_with(".json") || name.ends_with(".cache"),
                "{name}"
            );
        }
    }

    /// TensorRT-RTX takes INT8 only as Q/DQ: the calibrated export builds an int8 engine.
    #[cfg(feature = "ort")]
    #[test]
    fn an_int8_qdq_export_builds_an_int8_engine() {
        let (Some(camvid), Some(_)) = (
            common::camvid(),
            in_venv("tensorrt_rtx_libs/libtensorrt_rtx.so.1"),
        ) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let train = camvid.join("train");
        let onnx = export(
            dir.path(),
            "msnet-m",
            "-int8",
            &[
                "--int8-qdq",
                "--calib-images",
                train.to_str().unwrap(),
                "--calib-count",
                "4",
            ],
        );
        let plan = built_plan(dir.path(), &build_rtx(dir.path(), &onnx, &[]));
        assert!(
            plan.to_string_lossy().ends_with("-int8.plan"),
            "{}",
            plan.display()
        );
        let out = build_rtx(dir.path(), &onnx, &["--precision", "fp16"]);
        assert_fails_saying(
            &out,
            "runs a Q/DQ ONNX in INT8; build it with --precision int8",
        );
    }

    #[test]
    fn engine_check_refuses_mismatched_engines_and_says_how_to_rebuild() {
        if in_venv("tensorrt_rtx_libs/libtensorrt_rtx.so.1").is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let onnx = export(dir.path(), "msnet-m", "", &[]);
        let other = export(dir.path(), "msnet-anas", "", &[]);
        let plan = built_plan(dir.path(), &build_rtx(dir.path(), &onnx, &[]));
        let plan_arg = plan.to_str().unwrap();
        let check = |args: &[&str]| {
            let mut all = vec!["engine", "check"];
            all.extend(args);
            rtseg(dir.path(), &all)
        };

        // The right ONNX and library, but no GPU here: that check fails, the others pass.
        let out = check(&[plan_arg, "--onnx", onnx.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_says(&out, "ok    plan file is the one the manifest describes");
        assert_says(&out, "ok    built from ");
        assert_says(&out, "ok    tensorrt-rtx 1.7.1 is loaded here");
        assert_says(&out, "FAIL  GPU any (sm any): CUDA: no CUDA driver");

        let out = check(&[plan_arg, "--onnx", other.to_str().unwrap()]);
        assert_says(&out, "FAIL  built from ");
        assert_says(&out, "the plan was built from another ONNX");
        assert_says(
            &out,
            "rebuild with `rtseg engine build --onnx msnet-m.onnx --precision fp32`",
        );

        // Truncated: the manifest's size and hash catch it before TensorRT sees it.
        let bytes = std::fs::read(&plan).unwrap();
        let cut = dir.path().join("cut.plan");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        std::fs::copy(plan.with_extension("json"), cut.with_extension("json")).unwrap();
        let out = check(&[cut.to_str().unwrap()]);
        assert_says(
            &out,
            "FAIL  plan file is the one the manifest describes (size, SHA-256)",
        );
        assert_says(&out, "truncated or replaced");

        // No manifest; a manifest that is not one.
        let bare = dir.path().join("bare.plan");
        std::fs::write(&bare, &bytes).unwrap();
        let out = check(&[bare.to_str().unwrap()]);
        assert_fails_saying(&out, "no manifest beside the plan");
        std::fs::write(bare.with_extension("json"), "{\"model\": 3}").unwrap();
        let out = check(&[bare.to_str().unwrap()]);
        assert_fails_saying(&out, "not an rtseg engine manifest");

        // Built by another TensorRT version.
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(plan.with_extension("json")).unwrap()).unwrap();
        manifest["tensorrt_version"] = "1.6.0".into();
        let old = dir.path().join("old.plan");
        std::fs::write(&old, &bytes).unwrap();
        std::fs::write(old.with_extension("json"), manifest.to_string()).unwrap();
        let out = check(&[old.to_str().unwrap()]);
        assert_says(
            &out,
            "FAIL  tensorrt-rtx 1.6.0 is loaded here: this machine has tensorrt-rtx 1.7.1",
        );
    }

    /// Found by review, now reached by the `engine_manifest` fuzz target: a manifest whose
    /// `onnx_sha256` was not a digest crashed `engine check --onnx` (a byte slice past its
    /// end). The file is kept in fuzz/regressions/ (every fuzz run replays it); it is refused
    /// by name, with no crash.
    #[test]
    fn a_manifest_with_a_malformed_digest_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("x.plan");
        std::fs::write(&plan, b"plan").unwrap();
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fuzz/regressions/engine_manifest/short-onnx-sha256.json"
            ),
            plan.with_extension("json"),
        )
        .unwrap();
        let onnx = dir.path().join("x.onnx");
        std::fs::write(&onnx, b"onnx").unwrap();
        let out = rtseg(
            dir.path(),
            &[
                "engine",
                "check",
                plan.to_str().unwrap(),
                "--onnx",
                onnx.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_fails_saying(&out, "onnx_sha256 \"abc\" is not a SHA-256");
    }

    #[test]
    fn bad_onnx_files_and_runtimes_are_refused_before_building() {
        let dir = tempfile::tempdir().unwrap();
        let onnx = export(dir.path(), "msnet-m", "", &[]);
        // An export with the preprocessing inside: the GPU stage does that itself.
        let pre = export(dir.path(), "msnet-m", "-pre", &["--with-preprocess"]);
        let out = build_rtx(dir.path(), &pre, &[]);
        assert_fails_saying(&out, "export without --with-preprocess and --with-argmax");
        // Not ONNX at all.
        let junk = dir.path().join("junk.onnx");
        std::fs::write(&junk, b"not a protobuf \xff\xff\xff").unwrap();
        let out = build_rtx(dir.path(), &junk, &[]);
        assert_fails_saying(&out, "junk.onnx: not an ONNX model");
        // A dynamic-size export needs the profile's sizes.
        let out = rtseg(
            dir.path(),
            &[
                "engine",
                "build",
                "--flavour",
                "tensorrt-rtx",
                "--onnx",
                onnx.to_str().unwrap(),
            ],
        );
        assert_fails_saying(
            &out,
            "the ONNX has a dynamic height: give the profile's sizes (--min/--opt/--max HxW)",
        );
        // The lean runtime runs engines but builds none.
        let out = rtseg(
            dir.path(),
            &[
                "engine",
                "build",
                "--onnx",
                onnx.to_str().unwrap(),
                "--opt",
                "360x480",
            ],
        );
        assert_fails_saying(
            &out,
            "is a runtime without the ONNX parser: it runs engines but cannot build them",
        );
        // An op the parser does not know: TensorRT's own message comes through.
        if in_venv("tensorrt_rtx_libs/libtensorrt_rtx.so.1").is_none() {
            return;
        }
        let mut model = ModelProto::parse_from_bytes(&std::fs::read(&onnx).unwrap()).unwrap();
        let graph = model.graph.as_mut().unwrap();
        let conv = graph.node.iter_mut().find(|n| n.op_type == "Conv").unwrap();
        conv.op_type = "RtsegNoSuchOp".into();
        let odd = dir.path().join("odd.onnx");
        std::fs::write(&odd, model.write_to_bytes().unwrap()).unwrap();
        let out = build_rtx(dir.path(), &odd, &[]);
        assert_fails_saying(
            &out,
            "the TensorRT ONNX parser rejected the model: [node 4: RtsegNoSuchOp 'encoder/ConvBnAct_0/conv_",
        );
        assert_says(&out, "export the model again with `rtseg export`");
        assert!(!dir.path().join("engines").read_dir().is_ok_and(|mut d| {
            d.any(|e| e.unwrap().path().extension().is_some_and(|x| x == "plan"))
        }));
    }

    #[test]
    fn the_tensorrt_backend_without_a_gpu_says_so() {
        let Some(camvid) = common::camvid() else {
            return;
        };
        let frame = std::fs::read_dir(camvid.join("val"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let dir = tempfile::tempdir().unwrap();
        let out = rtseg(
            dir.path(),
            &[
                "infer",
                "--backend",
                "tensorrt",
                "--size",
                "360x480",
                "--out",
                "out",
                frame.to_str().unwrap(),
            ],
        );
        assert_fails_saying(
            &out,
            "the TensorRT backend needs an NVIDIA GPU: CUDA: no CUDA driver",
        );
        // A `--random-init` export given as the ONNX is called untrained before anything else.
        let untrained = export(dir.path(), "msnet-m", "-untrained", &["--random-init"]);
        let out = rtseg(
            dir.path(),
            &[
                "infer",
                "--backend",
                "tensorrt",
                "--trt-onnx",
                untrained.to_str().unwrap(),
                "--size",
                "360x480",
                "--out",
                "out",
                frame.to_str().unwrap(),
            ],
        );
        assert_fails_saying(&out, "the TensorRT backend needs an NVIDIA GPU");
        assert_says(&out, "msnet-m-untrained.onnx holds untrained weights");
    }

    /// The node's provisioning mode on a machine without a GPU: a clear error before it joins
    /// the ROS graph.
    #[test]
    fn the_node_with_backend_tensorrt_says_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let params = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("launch/rtseg.params.yaml"),
        )
        .unwrap()
        .replace("backend: auto ", "backend: tensorrt ")
        .replace("build_only: false", "build_only: true")
        .replace("network_size: auto", "network_size: [360, 480]");
        let file = dir.path().join("params.yaml");
        std::fs::write(&file, params).unwrap();
        let out = rtseg_env(
            dir.path(),
            &["node", "--params-file", file.to_str().unwrap()],
            // A domain of its own (ros_node.rs uses 100..120), though it exits before joining.
            &[
                ("ROS_DOMAIN_ID", "123"),
                ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
            ],
        );
        assert_fails_saying(&out, "the TensorRT backend needs an NVIDIA GPU");
    }
}
