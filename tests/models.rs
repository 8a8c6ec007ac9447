//! Model zoo: parameter counts against the architecture brief's [EST] figures, MAC counts,
//! arbitrary input sizes, scale pruning and configuration errors.

use std::collections::BTreeSet;
use std::path::Path;

use burn::prelude::*;
use rtseg::models::backbones::darts::{DartsNetworkConfig, Genotype, OpKind};
use rtseg::models::backbones::mobilenet_v3::MobileNetV3Config;
use rtseg::models::backbones::resnet::ResNetConfig;
use rtseg::models::backbones::xception::Xception39Config;
use rtseg::models::decoders::attanet::AfmAttention;
use rtseg::models::decoders::mfma::MasgFusion;
use rtseg::models::lower::Layer;
use rtseg::models::profile::{count_macs, trainable_params};
use rtseg::models::segmentors::mfaranet::MfaraNetConfig;
use rtseg::models::segmentors::{Segmentor, SegmentorConfig};
use rtseg::models::{lookup, registry};
use rtseg::onnx::graph::{Dim, ElemType, OnnxGraph};

mod common;

/// The brief counted MFARANet with Cityscapes' 19 classes; the MsNet totals differ by less
/// than 0.02 % between 11 and 19 classes.
const BRIEF_CLASSES: usize = 19;

fn device() -> Device {
    Device::flex()
}

fn model(name: &str, classes: usize) -> Segmentor {
    lookup(name, classes)
        .unwrap()
        .config
        .init(&device())
        .valid()
}

fn assert_within_1pct(name: &str, got: usize, expected: f64) {
    let rel = (got as f64 - expected).abs() / expected;
    assert!(
        rel <= 0.01,
        "{name}: {got} parameters, brief says {expected} ({:.2} % off)",
        rel * 100.0
    );
}

#[test]
fn encoder_parameter_counts_match_reference_implementations() {
    // Exact counts of torchvision's mobilenet_v3_large().features and of ResNet-18 with the
    // 128-channel deep stem (both quoted in the brief).
    assert_eq!(
        trainable_params(&MobileNetV3Config::new().init(&device())),
        2_971_952
    );
    let resnet = trainable_params(&ResNetConfig::new().init(&device()));
    assert_within_1pct("resnet18 deep stem", resnet, 11.32e6);
    let darts_v2 = DartsNetworkConfig::new().with_genotype(Genotype::darts_v2());
    let darts = trainable_params(&darts_v2.init(&device()));
    assert_within_1pct("darts-v2 encoder C=16", darts, 0.39e6);
    // torchvision's resnet18 has 11,689,512 parameters, 513,000 of them in its classifier.
    assert_eq!(
        trainable_params(&ResNetConfig::torchvision().init(&device())),
        11_176_512
    );
    // Xception39 as the brief's §5.1 describes it (stem 3→8, stages of 4/8/4 blocks with
    // mid widths 16/32/64), summed by hand from that description.
    assert_eq!(
        trainable_params(&Xception39Config::new().init(&device())),
        299_448
    );
}

/// Parameters of a network without its training-only auxiliary heads.
fn inference_params(name: &str) -> usize {
    let net = model(name, BRIEF_CLASSES);
    let aux = match &net {
        Segmentor::Bisenet(bisenet) => trainable_params(&bisenet.aux_heads),
        Segmentor::AttaNet(attanet) => trainable_params(&attanet.aux_heads),
        _ => panic!("{name} has no auxiliary heads"),
    };
    trainable_params(&net) - aux
}

#[test]
fn fsffnet_parameter_count_matches_the_brief() {
    // Brief §4.4: 1.2425 M counted Keras-style (BatchNorm moving mean and variance included,
    // which burn's `num_params` also counts) with the brief's P6/P7 choice; the README's 1.3 M.
    let net = model("fsffnet", BRIEF_CLASSES);
    assert_within_1pct("fsffnet (Keras count)", net.num_params(), 1.2425e6);
    // PyTorch-style: 13,448 BatchNorm channels' two running statistics fewer.
    assert_within_1pct("fsffnet", trainable_params(&net), 1.2425e6 - 2.0 * 13_448.0);
}

#[test]
fn attanet_parameter_counts_match_the_brief() {
    // Brief §3.5: AttaNet-R18 12.64 M for inference (12.79 M with the auxiliary heads),
    // AttaNet-light 0.89 M (1.00 M).
    for (name, inference, with_aux) in [
        ("attanet-r18", 12.64e6, 12.79e6),
        ("attanet-light", 0.89e6, 1.00e6),
    ] {
        assert_within_1pct(name, inference_params(name), inference);
        let all = trainable_params(&model(name, BRIEF_CLASSES));
        assert_within_1pct(&format!("{name} with aux"), all, with_aux);
    }
}

#[test]
fn seed_004_family_parameter_counts_match_the_brief() {
    // Brief §7: CoinCheung's BiSeNet v1-R18 13.28 M (13.43 M with its auxiliary heads),
    // TorchSeg's BiSeNet-X39 1.54 M, the AAFF reconstruction 0.94 M (no auxiliary heads).
    assert_within_1pct(
        "bisenet-r18 with aux",
        trainable_params(&model("bisenet-r18", BRIEF_CLASSES)),
        13.43e6,
    );
    assert_within_1pct("bisenet-r18", inference_params("bisenet-r18"), 13.28e6);
    assert_within_1pct("bisenet-x39", inference_params("bisenet-x39"), 1.54e6);
    for name in ["aaffnet", "aaffnet2"] {
        assert_within_1pct(name, trainable_params(&model(name, BRIEF_CLASSES)), 0.94e6);
    }
    // The depthwise spatial path is what makes bisenet-dw smaller than bisenet-x39.
    assert!(inference_params("bisenet-dw") < inference_params("bisenet-x39"));
}

#[test]
fn model_parameter_counts_match_the_brief() {
    // The brief's MsNet-ANAS figures (1.38 M, 5.2 GMACs) were estimated with the DARTS-V2
    // genotype; the searched genotype that msnet-anas builds has its own (`rtseg models`).
    for (name, expected) in [
        ("msnet-m", 3.99e6),
        ("msnet-darts-v2", 1.38e6),
        ("mfaranet", 13.0e6),
    ] {
        let count = trainable_params(&model(name, BRIEF_CLASSES));
        assert_within_1pct(name, count, expected);
    }
}

#[test]
fn mac_counts_at_720x960_match_the_brief() {
    // Brief §7: MsNet-M 10.7, MsNet-ANAS (C=16) 5.2, MFARANet 72.0, BiSeNet v1-R18 39.1,
    // BiSeNet-X39 9.2, the AAFF reconstruction 4.3, AttaNet-R18 30.3, AttaNet-light 7.2 and
    // FSFFNet 7.8 (size-targeted upsampling) GMACs at 720×960.
    for (name, expected) in [
        ("msnet-m", 10.7),
        ("msnet-darts-v2", 5.2),
        ("mfaranet", 72.0),
        ("bisenet-r18", 39.1),
        ("bisenet-x39", 9.2),
        ("aaffnet", 4.3),
        ("attanet-r18", 30.3),
        ("attanet-light", 7.2),
        ("fsffnet", 7.8),
    ] {
        let net = model(name, BRIEF_CLASSES);
        let x = Tensor::<4>::zeros([1, 3, 720, 960], &device());
        let (_, macs) = count_macs(|| net.forward(x).into_data());
        let gmacs = macs as f64 / 1e9;
        let rel = (gmacs - expected).abs() / expected;
        assert!(
            rel <= 0.05,
            "{name}: {gmacs:.2} GMACs, brief says {expected}"
        );
    }
}

/// `rtseg models` counts on the ONNX graph (instant); the forward pass's count is the
/// reference it must equal, for every registered model at odd sizes.
#[test]
fn graph_mac_counts_equal_the_forward_pass_counts() {
    for spec in registry(11) {
        let net = spec.config.init(&device()).valid();
        for [h, w] in [[64, 96], [129, 161]] {
            let x = Tensor::<4>::zeros([1, 3, h, w], &device());
            let (_, forward) = count_macs(|| net.forward(x).into_data());
            let graph = rtseg::onnx::count_macs(&net, (h, w));
            assert_eq!(graph, forward, "{} at {h}x{w}", spec.name);
        }
    }
}

/// `(op type, node name)` of every node of `net`'s ONNX graph at 64×96.
fn onnx_nodes(net: &Segmentor) -> Vec<(String, String)> {
    let mut g = OnnxGraph::new(ElemType::F32);
    let x = g.input(
        "input",
        ElemType::F32,
        &[Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(64), Dim::Fixed(96)],
        &[],
    );
    net.emit_onnx(&mut g, &x);
    g.nodes()
        .iter()
        .map(|n| (n.op_type.clone(), n.name.clone()))
        .collect()
}

#[test]
fn onnx_node_names_are_module_paths() {
    // TensorRT layer names and docs/diagrams.md come from these paths: every convolution
    // must sit in a named block.
    for spec in registry(11) {
        let nodes = onnx_nodes(&spec.config.init(&device()).valid());
        let loose: Vec<_> = nodes
            .iter()
            .filter(|(op, name)| op == "Conv" && !name.contains('/'))
            .collect();
        assert!(
            loose.is_empty(),
            "{}: convolutions outside any block: {loose:?}",
            spec.name
        );
    }
    let blocks: BTreeSet<String> = onnx_nodes(&model("aaffnet", 11))
        .iter()
        .filter_map(|(_, name)| Some(name.split_once('/')?.0.to_string()))
        .collect();
    let expected = [
        "aaff_left",
        "aaff_right",
        "backbone",
        "ffm",
        "head",
        "spatial_path",
    ];
    assert_eq!(blocks, expected.iter().map(|s| s.to_string()).collect());

    // Xception39's second stage starts after the stem conv, the max-pool and 4 blocks.
    let stage2 = "context_path/backbone/XceptionBlock_6/SeparableConvBnAct_0/conv_";
    let nodes = onnx_nodes(&model("bisenet-x39", 11));
    assert!(
        nodes.iter().any(|(_, n)| n.starts_with(stage2)),
        "{nodes:?}"
    );
}

#[test]
fn every_model_returns_logits_at_the_input_size() {
    for spec in registry(11) {
        let net = spec.config.init(&device()).valid();
        for [h, w] in [[64, 64], [65, 97], [350, 470]] {
            let out = net.forward(Tensor::<4>::zeros([1, 3, h, w], &device()));
            assert_eq!(out.dims(), [1, 11, h, w], "{} at {h}x{w}", spec.name);
        }
    }
}

#[test]
fn msnet_handles_720x960_and_a_batch() {
    let net = model("msnet-m", 11);
    let out = net.forward(Tensor::<4>::zeros([2, 3, 720, 960], &device()));
    assert_eq!(out.dims(), [2, 11, 720, 960]);
}

fn mfaranet_with_scales(scales: Vec<usize>) -> SegmentorConfig {
    SegmentorConfig::MfaraNet(MfaraNetConfig {
        num_classes: 5,
        scales,
        channels: 128,
    })
}

#[test]
fn mfaranet_pruned_to_scale_2_is_the_scale_2_score_of_the_full_model() {
    device().seed(7);
    let full = mfaranet_with_scales(vec![1, 2, 3, 4])
        .init(&device())
        .valid();
    let weights = rtseg::weights::tensors(&full);
    let mut pruned = mfaranet_with_scales(vec![2]).init(&device());
    use burn::store::ModuleSnapshot;
    assert!(pruned.apply(weights, None, None, true).is_success());
    let pruned = pruned.valid();

    let x = Tensor::<4>::random(
        [1, 3, 96, 128],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device(),
    );
    let Segmentor::MfaraNet(full_net) = &full else {
        unreachable!()
    };
    let train = full_net.forward_train(x.clone());
    assert_eq!(train.scale_scores.len(), 4);
    assert_eq!(train.boundaries.len(), 4);
    for (score, boundary) in train.scale_scores.iter().zip(&train.boundaries) {
        assert_eq!(score.dims(), [1, 5, 24, 32]);
        assert_eq!(boundary.dims(), [1, 1, 24, 32]);
    }
    let expected = rtseg::models::layers::resize(train.scale_scores[1].clone(), [96, 128], true);
    let got = pruned.forward(x.clone());
    got.clone().into_data().assert_approx_eq::<f32>(
        &expected.into_data(),
        burn::tensor::Tolerance::absolute(1e-4),
    );
    // The full model fuses four scales, so it must differ from scale 2 alone.
    let full_out = full.forward(x);
    let diff = (full_out - got).abs().max().into_scalar::<f32>();
    assert!(diff > 1e-3, "full and pruned outputs are identical");
}

/// Two registered models built from the same seed give different outputs on the same input.
fn assert_outputs_differ(a: &str, b: &str) {
    let build = |name| {
        device().seed(3);
        model(name, 11)
    };
    let (a_net, b_net) = (build(a), build(b));
    let x = Tensor::<4>::ones([1, 3, 64, 64], &device());
    let diff = (a_net.forward(x.clone()) - b_net.forward(x))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(diff > 0.0, "{a} and {b} compute the same function");
}

#[test]
fn aaffnet2_chains_the_aaff_blocks() {
    let (Segmentor::AaffNet(plain), Segmentor::AaffNet(chained)) =
        (model("aaffnet", 11), model("aaffnet2", 11))
    else {
        panic!("not AAFF networks")
    };
    assert!(!plain.chained && chained.chained);
    assert_outputs_differ("aaffnet", "aaffnet2");
}

#[test]
fn afm_attention_switch_changes_the_network() {
    let mut config = lookup("attanet-light", 11).unwrap().config;
    let SegmentorConfig::AttaNet(attanet) = &mut config else {
        unreachable!()
    };
    attanet.afm_attention = AfmAttention::Pixel;
    let net = config.init(&device()).valid();
    let out = net.forward(Tensor::<4>::ones([1, 3, 64, 96], &device()));
    assert_eq!(out.dims(), [1, 11, 64, 96]);
    assert!(trainable_params(&net) != trainable_params(&model("attanet-light", 11)));
}

#[test]
fn masg_fusion_switch_changes_the_network() {
    let mut config = lookup("msnet-m", 11).unwrap().config;
    let SegmentorConfig::MsNet(msnet) = &mut config else {
        unreachable!()
    };
    msnet.masg_fusion = MasgFusion::Add;
    device().seed(3);
    let add = config.init(&device()).valid();
    device().seed(3);
    let gate = lookup("msnet-m", 11)
        .unwrap()
        .config
        .init(&device())
        .valid();
    let x = Tensor::<4>::ones([1, 3, 64, 64], &device());
    let diff = (add.forward(x.clone()) - gate.forward(x))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(diff > 0.0);
}

#[test]
fn bad_configurations_are_errors_naming_the_problem() {
    let mut genotype = Genotype::darts_v2();
    genotype.normal[7] = (OpKind::SepConv3x3, 9);
    let err = genotype.validate().unwrap_err();
    assert!(err.contains("reads state 9"), "{err}");

    let err = mfaranet_with_scales(vec![2, 5]).validate().unwrap_err().0;
    assert!(err.contains("scales"), "{err}");

    let err = lookup("msnet-x", 11).unwrap_err().0;
    assert!(err.contains("msnet-m") && err.contains("mfaranet"), "{err}");

    let mut config = lookup("bisenet-dw", 11).unwrap().config;
    let SegmentorConfig::Bisenet(bisenet) = &mut config else {
        unreachable!()
    };
    bisenet.aux_channels = 0;
    let err = config.validate().unwrap_err().0;
    assert!(err.contains("aux_channels"), "{err}");
    let yaml = "arch: bisenet\nnum_classes: 3\nbackbone: resnet34\n";
    let err = serde_yaml::from_str::<SegmentorConfig>(yaml).unwrap_err();
    assert!(err.to_string().contains("resnet34"), "{err}");

    let yaml = "arch: mfa_ra_net\nnum_classes: 3\n";
    assert!(serde_yaml::from_str::<SegmentorConfig>(yaml).is_err());
}

#[test]
fn model_configs_round_trip_through_yaml() {
    for spec in registry(19) {
        let yaml = serde_yaml::to_string(&spec.config).unwrap();
        let back: SegmentorConfig = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, spec.config, "{}", spec.name);
    }
}

/// Flip TTA averages the probabilities of an image and of its mirror, so its masks commute
/// with mirroring exactly (the same two network passes, summed in the other order), while
/// plain inference does not. Two views at scale 1 give the plain argmax back through the
/// probability path. The shipped MsNet-M on a CamVid frame at 96×128: a trained network and a
/// real street, so the masks hold many classes (an untrained network's are often one class,
/// which commutes with anything).
#[test]
fn flip_tta_commutes_with_mirroring_and_scale_one_views_match_plain_inference() {
    use rtseg::backend::Tta;
    use rtseg::backend::burn::BurnRunner;
    use rtseg::models::card::InputSpec;
    use rtseg::pipeline::cpu::{HostBatch, TensorRunner, normalize_into};

    let Some(camvid) = common::camvid() else {
        return;
    };
    let (h, w) = (96usize, 128usize);
    let frame = image::open(camvid.join("val/0016E5_07959.png"))
        .unwrap()
        .resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let spec = InputSpec::IMAGENET_RGB;
    let planes = |rgb: &image::RgbImage| {
        let mut data = Vec::new();
        normalize_into(rgb, &spec, &mut data);
        data
    };
    let image = planes(&frame);
    let mirrored = planes(&image::imageops::flip_horizontal(&frame));
    let mirror_ids = |ids: &[u8]| {
        let mask = image::GrayImage::from_raw(w as u32, h as u32, ids.to_vec()).unwrap();
        image::imageops::flip_horizontal(&mask).into_raw()
    };
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/msnet-m_camvid.bpk");
    let net = rtseg::weights::load(model("msnet-m", 11), "msnet-m", &shipped).unwrap();
    let runner =
        |tta: Tta| BurnRunner::new(net.clone(), "msnet-m", 11, device()).with_tta(tta, spec);
    let run = |r: &mut BurnRunner, data: &[f32]| r.run(HostBatch::F32(data, [1, 3, h, w])).unwrap();
    let mut plain = runner(Tta::default());
    let mut flip = runner(Tta::new(vec![1.0], true).unwrap());
    let mut twice = runner(Tta::new(vec![1.0, 1.0], false).unwrap());

    let plain_ids = run(&mut plain, &image);
    let mut classes = plain_ids.clone();
    classes.sort_unstable();
    classes.dedup();
    assert!(classes.len() >= 4, "a street scene: {classes:?}");
    assert_ne!(run(&mut plain, &mirrored), mirror_ids(&plain_ids));
    let flip_ids = run(&mut flip, &image);
    assert_eq!(run(&mut flip, &mirrored), mirror_ids(&flip_ids));
    assert_ne!(flip_ids, plain_ids);
    assert_eq!(run(&mut twice, &image), plain_ids);
}

/// Cached exports of seeded weights are keyed by seed and configuration: a `--model-config`
/// genotype under a registered name, or another seed, never reuses the registry model's file.
#[test]
fn the_cache_identity_of_seeded_weights_follows_seed_and_configuration() {
    use rtseg::labels::LabelSpace;
    use rtseg::source::{ModelSource, Weights};

    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.yaml");
    let anas = lookup("msnet-anas", 11).unwrap().config;
    std::fs::write(&other, serde_yaml::to_string(&anas).unwrap()).unwrap();
    let identity = |config: Option<&Path>, seed: u64| {
        let weights = Weights::RandomInit { seed };
        ModelSource::resolve("msnet-m", LabelSpace::Camvid, config, weights)
            .unwrap()
            .cache_identity()
            .unwrap()
    };
    let plain = identity(None, 0);
    assert_eq!(plain, identity(None, 0));
    assert!(plain.starts_with("init0-"), "{plain}");
    assert_ne!(plain, identity(Some(&other), 0));
    assert_ne!(plain, identity(None, 1));
}
