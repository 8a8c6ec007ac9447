//! The node's parameter file: the shipped one parses, mistakes are named.

use std::path::{Path, PathBuf};

use rtseg::ros::params::load;

mod common;

fn load_text(text: &str) -> Result<rtseg::ros::params::ParamsFile, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, text).unwrap();
    load(&path).map_err(|e| e.to_string())
}

fn shipped() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("launch/rtseg.params.yaml"))
        .unwrap()
}

#[test]
fn shipped_parameters_parse() {
    let file = load_text(&shipped()).unwrap();
    assert_eq!(file.node.fully_qualified(), "/rtseg");
    assert_eq!(file.params.cameras, ["/camera"]);
    // The model card's real-time size for CamVid.
    assert_eq!(file.params.network_size(), Some((240, 320)));
    let own = load_text(&shipped().replace("network_size: auto", "network_size: [0, 0]")).unwrap();
    assert_eq!(own.params.network_size(), None);
}

#[test]
fn parameter_mistakes_are_named() {
    let cases = [
        (
            shipped().replace("[\"/camera\"]", "[\"camera\"]"),
            "absolute namespace",
        ),
        (
            shipped().replace("[\"/camera\"]", "[]"),
            "at least one camera",
        ),
        (
            shipped().replace("network_size: auto", "network_size: [0, 640]"),
            "network_size",
        ),
        (
            shipped().replace("network_size: auto", "network_size: large"),
            "network_size \"large\": auto, [0, 0] or [height, width]",
        ),
        (
            shipped().replace("resize_policy: stretch", "resize_policy: squash"),
            "squash",
        ),
        (shipped().replace("workers: 2", "workers: 0"), "workers 0"),
        (
            shipped().replace("output_deadline_ms: 5 ", "output_deadline_ms: 90000 "),
            "output_deadline_ms 90000",
        ),
        (
            shipped().replace("max_batch: 1", "max_batch: 0"),
            "max_batch 0",
        ),
        (shipped().replace("    model:", "    modle:"), "modle"),
        (
            shipped()
                .replace("      enabled: false", "      enabled: true")
                .replace("frame_id: base_link ", "frame_id: \"\" "),
            "ground.frame_id is empty",
        ),
        (
            shipped()
                .replace("      enabled: false", "      enabled: true")
                .replace(
                    "calibration_files: [\"\"]",
                    "calibration_files: [a.yaml, b.yaml]",
                ),
            "one file per camera (1 camera(s), 2 file(s))",
        ),
        (
            shipped()
                .replace("      enabled: false", "      enabled: true")
                .replace("calibration_files: [\"\"]", "calibration_files: [a.yaml]")
                .replace("drivable_classes: [road]", "drivable_classes: [parking]"),
            "ground.drivable_classes: drivable class \"parking\"",
        ),
        (
            shipped()
                .replace("      enabled: false", "      enabled: true")
                .replace("calibration_files: [\"\"]", "calibration_files: [a.yaml]")
                .replace("resolution: 0.15", "resolution: 0.0"),
            "ground.grid: grid resolution 0",
        ),
        (
            shipped().replace("tcp/localhost:7447", "localhost:7447"),
            "zenoh.connect: \"localhost:7447\" is not tcp/<host>:<port>",
        ),
        (
            shipped().replace("tcp/localhost:0", "udp/localhost:0"),
            "zenoh.listen: \"udp/localhost:0\" is not tcp/<host>:<port>",
        ),
        (
            shipped().replace("tcp/localhost:7447", "tcp/127.0.0.1"),
            "zenoh.connect: \"tcp/127.0.0.1\"",
        ),
        (
            shipped().replace("transport: dds", "transport: zenohh"),
            "zenohh",
        ),
        ("rtseg:\n  model: x\n".to_string(), "ros__parameters"),
        (
            shipped().replace("    workers: 2", "    workers: 2\n    wrokers: 2"),
            "wrokers",
        ),
    ];
    for (text, expected) in cases {
        let err = load_text(&text)
            .err()
            .unwrap_or_else(|| panic!("accepted: {expected}"));
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn ort_threads_default_to_the_cores_shared_among_the_workers() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = |text: &str| {
        load_text(text)
            .unwrap()
            .params
            .backend_config()
            .ort
            .intra_op_threads
    };
    // Shipped: two workers, `intra_op_threads: 0`.
    assert_eq!(threads(&shipped()), (cores / 2).max(1));
    assert_eq!(
        threads(&shipped().replace("workers: 2", "workers: 1")),
        cores
    );
    let fixed = shipped().replace("intra_op_threads: 0 ", "intra_op_threads: 3 ");
    assert_eq!(threads(&fixed), 3);
}

/// rcl's rules for parameter files, `-p` overrides and remapping, as rclpy (the real rcl)
/// applies them to the same command line: node name and namespace, every parameter value,
/// and the topics after remapping.
#[test]
fn parameters_and_remapping_follow_rcl_as_rclpy_reads_them() {
    use std::process::Command;
    let Some(python) = common::python_with("rclpy") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let shipped_path = write("shipped.yaml", &shipped());
    // Blocks for other nodes, named and nested namespace keys, wildcards, later files.
    let named = write(
        "named.yaml",
        "/**:\n  ros__parameters:\n    workers: 3\n    input_qos: default\n\
         rtseg:\n  ros__parameters:\n    workers: 4\n\
         other:\n  ros__parameters:\n    workers: 9\n\
         front:\n  rtseg:\n    ros__parameters:\n      max_batch: 2\n\
         /*/rtseg:\n  ros__parameters:\n    ort:\n      intra_op_threads: 5\n\
         /**/rtseg:\n  ros__parameters:\n    ort.library: /opt/ort.so\n",
    );
    let later = write("later.yaml", "/**:\n  ros__parameters:\n    workers: 6\n");
    let cases: Vec<Vec<String>> = [
        vec!["--params-file", &shipped_path],
        vec![
            "--params-file",
            &shipped_path,
            "-r",
            "__node:=front_seg",
            "-r",
            "__ns:=/vehicle",
        ],
        vec!["--params-file", &shipped_path, "--params-file", &named],
        vec![
            "--params-file",
            &shipped_path,
            "--params-file",
            &named,
            "-r",
            "__ns:=/front",
        ],
        vec![
            "--params-file",
            &shipped_path,
            "--params-file",
            &named,
            "--params-file",
            &later,
            "-p",
            "max_batch:=3",
            "-p",
            "rtseg:ort.intra_op_threads:=7",
            "-p",
            "other:workers:=9",
            "-p",
            "cameras:=[/camera, /b]",
            "-p",
            "use_sim_time:=true",
        ],
        vec![
            "--params-file",
            &shipped_path,
            "-r",
            "__ns:=/camera",
            "-r",
            "image:=image_raw",
            "-r",
            "rtseg:/diagnostics:=/diag",
            "-r",
            "other:/camera/camera_info:=/x",
        ],
        vec![
            "--params-file",
            &shipped_path,
            "-r",
            "/camera/image:=/front/image_raw",
            "-r",
            "~/label_info:=/labels",
        ],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();
    let topics = [
        "/camera/image",
        "/camera/camera_info",
        "/camera/segmentation/mask",
        "/camera/segmentation/color_mask",
        "~/label_info",
        "/diagnostics",
    ];
    let plan: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| serde_json::json!({"ros_args": c, "topics": topics}))
        .collect();
    let plan_path = write("cases.json", &serde_json::to_string(&plan).unwrap());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ros/rcl_resolve.py");
    let run = Command::new(python)
        .arg(script)
        .arg(&plan_path)
        .env("ROS_DOMAIN_ID", "122")
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", common::text(&run));
    let rcl: Vec<serde_json::Value> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rcl.len(), cases.len());
    for (case, rcl) in cases.iter().zip(&rcl) {
        let mut args = vec![
            "node".to_string(),
            "--print-params".into(),
            "--ros-args".into(),
        ];
        args.extend(case.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::rtseg(&args);
        assert!(out.status.success(), "{case:?}: {}", common::text(&out));
        let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(ours["node"], rcl["node"], "{case:?}");
        let mut theirs = rcl["parameters"].as_object().unwrap().clone();
        // rclpy declares these on every node (Jazzy); rtseg lists what was given.
        assert_eq!(
            theirs.remove("start_type_description_service"),
            Some(true.into())
        );
        if !ours["parameters"]
            .as_object()
            .unwrap()
            .contains_key("use_sim_time")
        {
            assert_eq!(
                theirs.remove("use_sim_time"),
                Some(false.into()),
                "{case:?}"
            );
        }
        assert_eq!(
            ours["parameters"],
            serde_json::Value::Object(theirs),
            "{case:?}"
        );
        let resolved = |t: &str| rcl["topics"][t].as_str().unwrap().to_string();
        let listed = |kind: &str, want: String| {
            let list = &ours[kind];
            let found = list.as_array().unwrap().contains(&want.clone().into());
            assert!(found, "{case:?}: {want} not in {kind} {list}");
        };
        for want in [
            resolved("/camera/image"),
            format!("{}/compressed", resolved("/camera/image")),
            resolved("/camera/camera_info"),
        ] {
            listed("subscriptions", want);
        }
        for t in [
            "/camera/segmentation/mask",
            "/camera/segmentation/color_mask",
            "~/label_info",
            "/diagnostics",
        ] {
            listed("publications", resolved(t));
        }
    }
}

#[test]
fn a_node_without_a_matching_block_is_told_which_blocks_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, shipped().replace("/**:", "front_seg:")).unwrap();
    let err = rtseg::ros::params::resolve(
        &[path],
        &[],
        &rtseg::ros::args::NodeIdentity::new("/", "rtseg"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("/rtseg") && err.contains("/front_seg") && err.contains("/**"),
        "{err}"
    );
}

/// The shipped JSON Schema (Autoware's convention) agrees with rtseg's parameter struct: it
/// names every parameter rtseg has, and jsonschema accepts and refuses the same files rtseg's
/// own parser does.
#[test]
fn the_parameter_schema_agrees_with_the_parameter_struct() {
    let Some(python) = common::python_with("jsonschema") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let variants = [
        ("shipped", shipped(), true),
        (
            "size",
            shipped().replace("network_size: auto", "network_size: [240, 320]"),
            true,
        ),
        (
            "sim_time",
            shipped().replace("    workers: 2", "    use_sim_time: true\n    workers: 2"),
            true,
        ),
        (
            "ort",
            shipped().replace("backend: auto ", "backend: ort "),
            true,
        ),
        (
            "unknown",
            shipped().replace("    workers: 2", "    wrokers: 2"),
            false,
        ),
        (
            "enum",
            shipped().replace("backend: auto ", "backend: tflite "),
            false,
        ),
        (
            "type",
            shipped().replace("workers: 2", "workers: two"),
            false,
        ),
        (
            "required",
            shipped().replace("    model: msnet-m", ""),
            false,
        ),
        (
            "triple",
            shipped().replace("network_size: auto", "network_size: [1, 2, 3]"),
            false,
        ),
        (
            "publish",
            shipped().replace("      mask: true\n", ""),
            false,
        ),
        (
            "nested",
            shipped().replace("      gpu: 0", "      gpu: 0\n      gpus: 1"),
            false,
        ),
        (
            "relative",
            shipped().replace("[\"/camera\"]", "[\"camera\"]"),
            false,
        ),
        ("provider", shipped().replace("[cpu]", "[rocm]"), false),
    ];
    let paths: Vec<String> = variants
        .iter()
        .map(|(name, text, _)| {
            let path = dir.path().join(format!("{name}.yaml"));
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_string()
        })
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![root.join("launch/rtseg.params.schema.json")];
    args.extend(paths.iter().map(PathBuf::from));
    let lines = common::python_json_lines(&python, "tests/ros/schema_check.py", &args);
    // Every parameter of the shipped file (and use_sim_time, which it leaves out) and no other.
    let mut names: Vec<String> = load_text(&shipped()).unwrap().flat.into_keys().collect();
    names.push("use_sim_time".into());
    names.sort();
    assert_eq!(lines[0]["leaves"], serde_json::json!(names));
    for ((name, text, valid), schema) in variants.iter().zip(&lines[1..]) {
        let ours = load_text(text);
        assert_eq!(ours.is_ok(), *valid, "rtseg on {name}: {:?}", ours.err());
        assert_eq!(schema["valid"], *valid, "schema on {name}: {schema}");
    }
}
