//! The node's parameter file: the shipped one parses, mistakes are named.

use std::path::Path;

use rtseg::ros::params::load;

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
    assert_eq!(file.node_name, "rtseg");
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
        ("rtseg:\n  model: x\n".to_string(), "ros__parameters"),
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
