//! `transport: zenoh` against a peer built only from eclipse-zenoh and rosbags
//! (tests/ros/zenoh_peer.py): the peer is the zenoh router (on loopback), sends
//! sensor_msgs/Image and CompressedImage as an rmw_zenoh node would (exact key expressions
//! with rosbags' RIHS01 hashes, 33-byte attachment) and gets masks back byte-equal to
//! `rtseg infer`; the node's liveliness tokens say what `ros2 node list` / `ros2 topic list`
//! over rmw_zenoh would show. The node runs as a zenoh peer and as a client.
#![cfg(feature = "zenoh")]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{camvid, init_weights, python_with, rtseg, text};

/// Kills the process when dropped, so a failing test leaves nothing behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port for the peer's router.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port` (the peer's router), or panics.
fn wait_listening(port: u16, peer: &mut Child) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            peer.try_wait().unwrap().is_none(),
            "the zenoh peer exited before listening"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no router on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn params(dir: &Path, weights: &Path, mode: &str, port: u16) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("launch/rtseg.params.yaml");
    let mut text = std::fs::read_to_string(shipped).unwrap();
    for (from, to) in [
        (
            "weights: \"\"",
            format!("weights: \"{}\"", weights.display()),
        ),
        ("cameras: [\"/camera\"]", "cameras: [\"/cam0\"]".into()),
        // `rtseg infer`'s settings: burn at each frame's own size.
        ("backend: auto ", "backend: burn ".into()),
        ("network_size: auto ", "network_size: [0, 0] ".into()),
        ("transport: dds ", "transport: zenoh ".into()),
        ("mode: peer ", format!("mode: {mode} ")),
        (
            "connect: [\"tcp/localhost:7447\"]",
            format!("connect: [\"tcp/127.0.0.1:{port}\"]"),
        ),
        (
            "listen: [\"tcp/localhost:0\"]",
            "listen: [\"tcp/127.0.0.1:0\"]".into(),
        ),
    ] {
        assert!(
            text.contains(from),
            "the shipped parameters have no {from:?}"
        );
        text = text.replace(from, &to);
    }
    let path = dir.join(format!("{mode}.params.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn masks_cross_zenoh(mode: &str, domain: &str) {
    let Some(python) = python_with("zenoh") else {
        return;
    };
    let Some(camvid) = camvid() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let weights = init_weights(dir);
    // A small frame keeps burn's call short; the PNG is what `rtseg infer` reads.
    let image = image::open(camvid.join("val/0016E5_07959.png"))
        .unwrap()
        .resize_exact(128, 96, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let png = dir.join("frame.png");
    image.save(&png).unwrap();
    let raw = dir.join("frame.rgb");
    std::fs::write(&raw, image.as_raw()).unwrap();

    let port = free_port();
    let out_dir = dir.join("peer");
    std::fs::create_dir_all(&out_dir).unwrap();
    let plan = serde_json::json!({
        "endpoint": format!("tcp/127.0.0.1:{port}"), "domain": domain.parse::<u32>().unwrap(),
        "camera": "/cam0", "output_namespace": "segmentation", "timeout_s": 120,
        "out_dir": out_dir,
        "frames": [
            {"kind": "raw", "frame_id": "raw", "encoding": "rgb8", "width": 128, "height": 96,
             "data_file": raw},
            {"kind": "compressed", "frame_id": "png", "format": "png", "data_file": png},
        ],
    });
    let plan_path = dir.join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let report_path = dir.join("report.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ros/zenoh_peer.py");
    let (peer_log, node_log) = (dir.join("peer.log"), dir.join("node.log"));
    let mut peer = Running(
        Command::new(&python)
            .args([&script, &plan_path, &report_path])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&peer_log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_listening(port, &mut peer.0);
    let node = Running(
        Command::new(env!("CARGO_BIN_EXE_rtseg"))
            .args(["node", "--params-file"])
            .arg(params(dir, &weights, mode, port))
            .env("ROS_DOMAIN_ID", domain)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&node_log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The peer gives up after its own timeout; this one guards against a peer that hangs.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = peer.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the zenoh peer hangs"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(node);
    let logs = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("peer:\n{}\nnode:\n{}", read(&peer_log), read(&node_log))
    };
    assert!(status.success(), "zenoh peer failed ({status}): {}", logs());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert!(
        report["frames"]["png"]["mask"].is_object(),
        "no mask came back: {report}\n{}",
        logs()
    );

    // Masks from both input forms equal `rtseg infer`'s, raw and PNG-compressed.
    let infer_dir = dir.join("infer");
    let done = rtseg(&[
        "infer",
        "--weights",
        weights.to_str().unwrap(),
        png.to_str().unwrap(),
        "--out",
        infer_dir.to_str().unwrap(),
    ]);
    assert!(done.status.success(), "{}", text(&done));
    let expected = image::open(infer_dir.join("frame_mask.png"))
        .unwrap()
        .to_luma8();
    let image_hash = report["hashes"]["sensor_msgs/msg/Image"].as_str().unwrap();
    for frame in ["raw", "png"] {
        let entry = &report["frames"][frame];
        let mask = &entry["mask"];
        assert_eq!(mask["encoding"], "mono8", "{frame}: {report}");
        assert_eq!(
            (mask["width"].as_u64(), mask["height"].as_u64()),
            (Some(128), Some(96))
        );
        let data = std::fs::read(mask["data_file"].as_str().unwrap()).unwrap();
        assert!(
            data == expected.as_raw().as_slice(),
            "{frame}: mask differs from rtseg infer"
        );
        let png_mask = image::open(entry["mask_compressed"]["data_file"].as_str().unwrap())
            .unwrap()
            .to_luma8();
        assert_eq!(png_mask, expected, "{frame}: mask/compressed differs");
        // The exact key an rmw_zenoh subscriber declares: the type hash is rosbags'.
        let key = mask["key"].as_str().unwrap();
        assert_eq!(
            key,
            format!("{domain}/cam0/segmentation/mask/sensor_msgs::msg::dds_::Image_/{image_hash}")
        );
        // rmw_zenoh's attachment: sequence number, source timestamp, 16-byte GID.
        let attachment = hex(mask["attachment"].as_str().unwrap());
        assert_eq!(attachment.len(), 33, "{key}");
        let sequence = i64::from_le_bytes(attachment[..8].try_into().unwrap());
        let stamp = i64::from_le_bytes(attachment[8..16].try_into().unwrap());
        assert!(
            sequence >= 1 && stamp > 1_700_000_000_000_000_000,
            "{attachment:?}"
        );
        assert_eq!(attachment[16], 16);
    }

    // The graph as rmw_zenoh's graph cache (and so `ros2 node list`) reads it.
    let tokens: Vec<&str> = report["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let prefix = format!("@ros2_lv/{domain}/");
    let ours: Vec<&&str> = tokens.iter().filter(|t| t.starts_with(&prefix)).collect();
    let node = ours
        .iter()
        .find(|t| t.contains("/NN/"))
        .expect("a node token");
    assert!(node.ends_with("/0/0/NN/%/%/rtseg"), "{node}");
    let has = |kind: &str, topic: &str, ty: &str| {
        ours.iter().any(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            parts.len() == 13 && parts[5] == kind && parts[9] == topic && parts[10] == ty
        })
    };
    assert!(
        has("MS", "%cam0%image", "sensor_msgs::msg::dds_::Image_"),
        "{ours:?}"
    );
    assert!(has(
        "MS",
        "%cam0%image%compressed",
        "sensor_msgs::msg::dds_::CompressedImage_"
    ));
    assert!(has(
        "MP",
        "%cam0%segmentation%mask",
        "sensor_msgs::msg::dds_::Image_"
    ));
    assert!(has(
        "MP",
        "%diagnostics",
        "diagnostic_msgs::msg::dds_::DiagnosticArray_"
    ));
    assert!(has("MP", "%rosout", "rcl_interfaces::msg::dds_::Log_"));
    let mask_token = ours
        .iter()
        .find(|t| t.contains("/MP/") && t.contains("/%cam0%segmentation%mask/"))
        .unwrap();
    assert!(mask_token.contains(image_hash), "{mask_token}");
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn masks_cross_zenoh_to_an_rmw_zenoh_style_peer_with_the_node_as_peer() {
    masks_cross_zenoh("peer", "140");
}

#[test]
fn masks_cross_zenoh_to_an_rmw_zenoh_style_peer_with_the_node_as_client() {
    masks_cross_zenoh("client", "141");
}
