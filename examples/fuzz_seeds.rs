//! Writes the fuzz targets' seed corpora (`scripts/fuzz.sh` runs it): one or more real inputs
//! per target, so libFuzzer starts from files and messages as rtseg meets them. The CDR seeds
//! are encoded by cdr-encoding, whose bytes tests/ros_cdr.rs checks against rosbags.
//!
//!     cargo run --features ort,tensorrt --example fuzz_seeds -- fuzz/corpus

use std::path::{Path, PathBuf};

use burn::store::bridge::from_data;
use burn::store::burn_pack::Writer;
use burn::tensor::TensorData;
use byteorder::{BigEndian, LittleEndian};
use image::{GrayImage, ImageFormat, RgbImage};
use onnx_protobuf::{ModelProto, StringStringEntryProto};
use protobuf::Message;
use rtseg::geometry::calibration::Calibration;
use rtseg::ros::msgs::*;
use rtseg::weights::{META_MODEL, META_SHA256, content_digest};
use serde::Serialize;

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or("fuzz/corpus".into()));
    let seed = |target: &str, name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
        Ok(())
    };

    let header = Header {
        stamp: Time {
            sec: 1_700_000_000,
            nanosec: 5,
        },
        frame_id: "camera_optical".into(),
    };
    // Raw frames: every family of encoding, odd sizes and row padding, one big-endian sample.
    for (encoding, w, h, step, big_endian) in [
        ("rgb8", 4, 2, 12, false),
        ("mono8", 5, 3, 7, false),
        ("bgra8", 2, 2, 8, false),
        ("rgb16", 2, 2, 12, true),
        ("yuyv", 4, 2, 8, false),
        ("nv12", 4, 4, 4, false),
        ("bayer_rggb8", 4, 4, 4, false),
    ] {
        let rows = if encoding == "nv12" { h * 3 / 2 } else { h };
        let image = Image {
            header: header.clone(),
            height: h,
            width: w,
            encoding: encoding.into(),
            is_bigendian: big_endian.into(),
            step,
            data: (0..step * rows).map(|i| (i * 37 % 251) as u8).collect(),
        };
        seed("cdr_image", encoding, &cdr_le(&image))?;
        // The zenoh transport's payload is the same CDR sample.
        seed("zenoh_sample", encoding, &cdr_le(&image))?;
        if big_endian {
            seed("cdr_image", &format!("{encoding}-cdr-be"), &cdr_be(&image))?;
        }
    }

    let rgb = RgbImage::from_fn(6, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 60, 128]));
    for (format, name) in [(ImageFormat::Png, "png"), (ImageFormat::Jpeg, "jpeg")] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        rgb.write_to(&mut bytes, format)?;
        let bytes = bytes.into_inner();
        seed("compressed_image", name, &bytes)?;
        let message = CompressedImage {
            header: header.clone(),
            format: format!("rgb8; {name} compressed bgr8"),
            data: bytes,
        };
        seed("cdr_compressed_image", name, &cdr_le(&message))?;
        seed("zenoh_sample", name, &cdr_le(&message))?;
    }

    let calibration_text = std::fs::read_to_string("calibration/example_front.yaml")?;
    seed(
        "calibration_file",
        "example_front",
        calibration_text.as_bytes(),
    )?;
    let camera = Calibration::parse(&calibration_text)?
        .camera
        .ok_or_else(|| anyhow::anyhow!("example_front.yaml has no camera"))?;
    let info = CameraInfo::from_calibration(header.clone(), camera);
    seed("cdr_camera_info", "example_front", &cdr_le(&info))?;

    let transform = |parent: &str, child: &str, x: f64, q: [f64; 4]| TransformStamped {
        header: Header {
            frame_id: parent.into(),
            ..header.clone()
        },
        child_frame_id: child.into(),
        transform: Transform {
            translation: Vector3 { x, y: 0.0, z: 1.5 },
            rotation: Quaternion {
                x: q[0],
                y: q[1],
                z: q[2],
                w: q[3],
            },
        },
    };
    let tf = TFMessage {
        transforms: vec![
            transform("base_link", "camera_link", 1.2, [0.0, 0.0, 0.0, 1.0]),
            transform("camera_link", "camera_optical", 0.0, [-0.5, 0.5, -0.5, 0.5]),
        ],
    };
    seed("cdr_tf_message", "camera_chain", &cdr_le(&tf))?;
    let clock = Clock {
        clock: header.stamp,
    };
    seed("cdr_clock", "stamp", &cdr_le(&clock))?;

    seed(
        "params_file",
        "shipped",
        &std::fs::read("launch/rtseg.params.yaml")?,
    )?;

    // A two-tensor burnpack carrying rtseg's metadata and checksum, as `weights::save` writes.
    let tensors = vec![
        from_data(
            TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25], [2, 2]),
            "decoder.cls.weight".into(),
            None,
        ),
        from_data(
            TensorData::new(vec![0.0f32, 1.0], [2]),
            "decoder.cls.bias".into(),
            None,
        ),
    ];
    let digest = content_digest(&tensors).map_err(anyhow::Error::msg)?;
    let bpk = out.join("weights_burnpack/seed-two_tensors");
    std::fs::create_dir_all(bpk.parent().unwrap())?;
    Writer::new(tensors)
        .with_metadata(META_MODEL, "msnet-m")
        .with_metadata(META_SHA256, &digest)
        .auto_extension(false)
        .write_to_file(&bpk)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    seed("weights_safetensors", "two_tensors", &safetensors())?;

    seed("engine_manifest", "fp16", manifest_json().as_bytes())?;
    check_manifest(&out)?;
    seed(
        "onnx_model",
        "metadata_only",
        &onnx_model().write_to_bytes()?,
    )?;

    let ids = GrayImage::from_fn(5, 3, |x, y| image::Luma([(x + 5 * y) as u8 % 12]));
    let mut grey = std::io::Cursor::new(Vec::new());
    ids.write_to(&mut grey, ImageFormat::Png)?;
    seed("label_png", "grey_ids", grey.get_ref())?;
    let palette_path = out.join("label_png/seed-palette_ids");
    rtseg::io::save_indexed_png(&ids, &[[128, 64, 128], [70, 70, 70]], &palette_path)?;
    let mut colours = std::io::Cursor::new(Vec::new());
    rgb.write_to(&mut colours, ImageFormat::Png)?;
    seed("label_png", "rgb_colours", colours.get_ref())?;
    Ok(())
}

/// As DDS carries a sample: the CDR_LE representation identifier, two option bytes, the body.
fn cdr_le<T: Serialize>(message: &T) -> Vec<u8> {
    let mut bytes = vec![0x00, 0x01, 0x00, 0x00];
    bytes.extend(cdr_encoding::to_vec::<_, LittleEndian>(message).expect("CDR"));
    bytes
}

/// The same in CDR_BE, which RustDDS also accepts.
fn cdr_be<T: Serialize>(message: &T) -> Vec<u8> {
    let mut bytes = vec![0x00, 0x00, 0x00, 0x00];
    bytes.extend(cdr_encoding::to_vec::<_, BigEndian>(message).expect("CDR"));
    bytes
}

/// A safetensors file (8-byte little-endian header length, JSON header, data) with the same
/// two tensors as the burnpack seed.
fn safetensors() -> Vec<u8> {
    let header = serde_json::json!({
        "__metadata__": {META_MODEL: "msnet-m"},
        "decoder.cls.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "decoder.cls.bias": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
    })
    .to_string();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    for v in [0.5f32, -1.0, 2.0, 0.25, 0.0, 1.0] {
        bytes.extend(v.to_le_bytes());
    }
    bytes
}

fn manifest_json() -> String {
    serde_json::json!({
        "rtseg_version": "0.1.0", "model": "msnet-m", "label_space": "camvid", "num_classes": 11,
        "classes": ["sky", "building"], "palette": [[128, 128, 128], [128, 0, 0]],
        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "channel_order": "rgb",
        "onnx_file": "msnet-m.onnx", "onnx_sha256": "00".repeat(32), "plan_bytes": 0,
        "plan_sha256": "11".repeat(32), "precision": "fp16", "flavour": "tensorrt",
        "tensorrt_version": "10.13.3", "header_version": "10.13.3", "gpu": "Orin",
        "compute_capability": "8.7",
        "profile": {"input": "input", "min": [1, 3, 64, 64], "opt": [1, 3, 360, 480],
                    "max": [1, 3, 720, 960]},
        "outputs": ["mask"], "calibration_set": null, "build_seconds": 12.5,
    })
    .to_string()
}

/// The manifest seed must be one the reader takes, or the fuzzer starts from a rejected file.
fn check_manifest(out: &Path) -> anyhow::Result<()> {
    use rtseg::backend::tensorrt::engine::{manifest_path, read_manifest};
    let plan = out.join("engine_manifest/plan");
    std::fs::copy(out.join("engine_manifest/seed-fp16"), manifest_path(&plan))?;
    read_manifest(&plan)?;
    std::fs::remove_file(manifest_path(&plan))?;
    Ok(())
}

/// An ONNX model with a graph input/output and rtseg's input metadata, no weights.
fn onnx_model() -> ModelProto {
    let mut model = ModelProto::new();
    model.ir_version = 9;
    for (key, value) in [
        (rtseg::onnx::meta::MEAN, "[0.485,0.456,0.406]"),
        (rtseg::onnx::meta::STD, "[0.229,0.224,0.225]"),
        (rtseg::onnx::meta::CHANNEL_ORDER, "rgb"),
        (rtseg::onnx::meta::MODEL, "msnet-m"),
    ] {
        let mut entry = StringStringEntryProto::new();
        entry.key = key.into();
        entry.value = value.into();
        model.metadata_props.push(entry);
    }
    let mut opset = onnx_protobuf::OperatorSetIdProto::new();
    opset.version = 17;
    model.opset_import.push(opset);
    let mut graph = onnx_protobuf::GraphProto::new();
    for (name, list) in [("input", &mut graph.input), ("logits", &mut graph.output)] {
        let mut value = onnx_protobuf::ValueInfoProto::new();
        value.name = name.into();
        list.push(value);
    }
    model.graph = protobuf::MessageField::some(graph);
    model
}
