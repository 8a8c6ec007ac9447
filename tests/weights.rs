//! Weight files: bit-exact round trips in both formats, stable names, and refusals that
//! name the first mismatched tensor.

use burn::prelude::*;
use burn::tensor::DType;
use rtseg::models::lookup;
use rtseg::models::segmentors::Segmentor;
use rtseg::weights;

fn device() -> Device {
    Device::flex()
}

fn fresh(name: &str, classes: usize, seed: u64) -> Segmentor {
    device().seed(seed);
    lookup(name, classes).unwrap().config.init(&device())
}

fn all_bytes(model: &Segmentor) -> Vec<(String, Vec<u8>)> {
    weights::tensors(model)
        .into_iter()
        .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
        .collect()
}

#[test]
fn burnpack_and_safetensors_round_trips_are_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let original = fresh("msnet-anas", 11, 1);
    let x = Tensor::<4>::random(
        [1, 3, 64, 96],
        burn::tensor::Distribution::Default,
        &device(),
    );
    let reference = original.valid().forward(x.clone()).into_data();
    for file in ["w.bpk", "w.safetensors"] {
        let path = dir.path().join(file);
        weights::save(&original, "msnet-anas", &path).unwrap();
        let loaded = weights::load(fresh("msnet-anas", 11, 2), "msnet-anas", &path).unwrap();
        assert_eq!(all_bytes(&loaded), all_bytes(&original), "{file}");
        assert_eq!(
            loaded.valid().forward(x.clone()).into_data(),
            reference,
            "{file}"
        );
        // No temporary file is left beside the result.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// `Precision::F16` stores convolution weights as float16 and BatchNorm as float32 (whose
/// running variance underflows in float16), about half the bytes in both formats; loading
/// widens them back to float32, each value within float16's rounding of the original.
#[test]
fn float16_files_take_half_the_bytes_and_load_back_as_float32() {
    let dir = tempfile::tempdir().unwrap();
    let original = fresh("msnet-anas", 11, 1);
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as f64;
    for format in ["bpk", "safetensors"] {
        let full = dir.path().join(format!("f32.{format}"));
        let half = dir.path().join(format!("f16.{format}"));
        weights::save(&original, "msnet-anas", &full).unwrap();
        weights::save_as(&original, "msnet-anas", &half, weights::Precision::F16).unwrap();
        let ratio = size(&half) / size(&full);
        assert!(
            (0.45..0.6).contains(&ratio),
            "{format}: f16/f32 size {ratio}"
        );
        let stored = weights::read(&half).unwrap();
        assert!(stored.iter().any(|t| t.dtype == DType::F16), "{format}");
        for t in stored.iter().filter(|t| t.name.contains(".running_")) {
            assert_eq!(t.dtype, DType::F32, "{format}: {}", t.name);
        }
        let loaded = weights::load(fresh("msnet-anas", 11, 2), "msnet-anas", &half).unwrap();
        let values = |t: &burn::store::burn_pack::Tensor| {
            assert_eq!(t.dtype, DType::F32, "{format}: {}", t.name);
            let bytes = t.to_bytes().unwrap();
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<f32>>()
        };
        for (got, want) in weights::tensors(&loaded)
            .iter()
            .zip(weights::tensors(&original).iter())
        {
            for (a, b) in values(got).into_iter().zip(values(want)) {
                // float16: 11 significant bits, subnormal step 6e-8.
                assert!(
                    (a - b).abs() <= b.abs() * 4.9e-4 + 6e-8,
                    "{format}: {} {a} against {b}",
                    got.name
                );
            }
        }
    }
}

#[test]
fn tensor_names_are_stable_module_paths_without_enum_variants() {
    let names: Vec<String> = weights::tensors(&fresh("msnet-m", 11, 0))
        .into_iter()
        .map(|t| t.name)
        .collect();
    for expected in [
        "encoder.stem.conv.weight",
        "encoder.blocks.3.se.fc1.bias",
        "encoder.blocks.0.depthwise.bn.running_var",
        "decoder.p3_attn.norm.gamma",
        "decoder.classifier.weight",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    let mfaranet: Vec<String> = weights::tensors(&fresh("mfaranet", 19, 0))
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(mfaranet.iter().any(|n| n == "ram.aligns.2.flow.weight"));
    assert!(mfaranet.iter().any(|n| n == "boundary_heads.3.bias"));
}

/// Saves `saved` as `file`, loads it into `target`, and returns the refusal.
fn load_error(saved: (&str, usize), file: &str, target: (&str, usize)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    weights::save(&fresh(saved.0, saved.1, 0), saved.0, &path).unwrap();
    weights::load(fresh(target.0, target.1, 0), target.0, &path)
        .unwrap_err()
        .to_string()
}

#[test]
fn wrong_class_count_names_the_first_mismatched_tensor() {
    let err = load_error(("msnet-m", 11), "camvid.safetensors", ("msnet-m", 19));
    assert!(
        err.contains("decoder.classifier.weight")
            && err.contains("[11, 64, 1, 1]")
            && err.contains("[19, 64, 1, 1]"),
        "{err}"
    );
}

#[test]
fn wrong_model_names_the_first_missing_tensor() {
    let err = load_error(("msnet-anas", 11), "anas.bpk", ("msnet-m", 11));
    assert!(err.contains("does not fit model msnet-m"), "{err}");
    assert!(err.contains("encoder.stem.conv.weight"), "{err}");
}

/// aaffnet and aaffnet2 hold the same tensors wired differently: only the model name stored in
/// the file tells them apart, so a file of one is refused for the other in both formats, while
/// mfaranet-pruned still loads mfaranet's (its weights are mfaranet's by design).
#[test]
fn a_file_of_another_model_is_refused_even_when_its_tensors_fit() {
    for file in ["aaffnet.bpk", "aaffnet.safetensors"] {
        let err = load_error(("aaffnet", 11), file, ("aaffnet2", 11));
        assert!(
            err.contains("does not fit model aaffnet2")
                && err.contains("holds aaffnet's weights, not aaffnet2's"),
            "{file}: {err}"
        );
    }
    let err = load_error(("msnet-anas", 11), "anas.safetensors", ("msnet-m", 11));
    assert!(
        err.contains("(the file holds msnet-anas's weights)"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfaranet.bpk");
    weights::save(&fresh("mfaranet", 11, 1), "mfaranet", &path).unwrap();
    weights::load(fresh("mfaranet-pruned", 11, 2), "mfaranet-pruned", &path).unwrap();
}

#[test]
fn unreadable_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bpk");
    let err = weights::read(&missing).unwrap_err().to_string();
    assert!(
        err.contains("missing.bpk") && err.contains("no such file"),
        "{err}"
    );

    for name in ["garbage.bpk", "garbage.safetensors"] {
        let path = dir.path().join(name);
        std::fs::write(&path, b"definitely not a weight file").unwrap();
        let err = weights::read(&path).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains("cannot read"), "{err}");
    }

    let path = dir.path().join("weights.pt");
    std::fs::write(&path, b"x").unwrap();
    let err = weights::read(&path).unwrap_err().to_string();
    assert!(err.contains("unsupported weight format"), "{err}");
}

/// A burnpack file carries the SHA-256 of its tensors: a bit flipped anywhere in the data, or
/// the file cut short, is refused by name instead of loaded as different weights.
#[test]
fn corrupted_weight_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.bpk");
    weights::save(&fresh("msnet-m", 11, 3), "msnet-m", &path).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(weights::read(&path).is_ok());
    // A flip in the middle of the data region (the header and metadata are at the start).
    let mut flipped = good.clone();
    let middle = good.len() / 2;
    flipped[middle] ^= 0x10;
    let bad = dir.path().join("flipped.bpk");
    std::fs::write(&bad, &flipped).unwrap();
    let err = weights::read(&bad).unwrap_err().to_string();
    assert!(
        err.contains("flipped.bpk") && err.contains("checksum"),
        "{err}"
    );
    let err = weights::load(fresh("msnet-m", 11, 4), "msnet-m", &bad)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("corrupted"), "{err}");
    for keep in [good.len() - 1, good.len() / 3, 40] {
        let cut = dir.path().join(format!("cut{keep}.bpk"));
        std::fs::write(&cut, &good[..keep]).unwrap();
        let err = weights::read(&cut).unwrap_err().to_string();
        assert!(
            err.contains(&format!("cut{keep}.bpk")) && err.contains("cannot read"),
            "{err}"
        );
    }
}
