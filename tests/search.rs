//! The architecture search's building blocks: the mixed operation is the softmax(α)-weighted
//! sum of its candidates, pruning keeps the strongest operations, and a hand-set α derives
//! exactly the genotype DARTS' rule gives.

use burn::module::Module;
use burn::prelude::*;
use rtseg::models::backbones::darts::{DartsNetworkConfig, OpKind};
use rtseg::models::lower::Layer;
use rtseg::search::mixed::{MixedOp, SearchCell};
use rtseg::search::network::{SearchNet, SearchNetConfig};
use rtseg::search::space::{Candidate, EDGES, SearchSpace, edge_endpoints};

fn device() -> Device {
    Device::flex()
}

/// burn's random numbers come from one generator per device, shared by the test threads of
/// this binary: a test that seeds it and draws (network init, inputs) holds this lock, so a
/// concurrent test cannot draw in between and change what it builds.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn input(shape: [usize; 4]) -> Tensor<4> {
    device().seed(11);
    Tensor::random(
        shape,
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device(),
    )
}

fn candidates(yaml: &str) -> Vec<Candidate> {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn the_mixed_op_is_the_softmax_weighted_sum_of_its_candidates() {
    let _rng = rng_lock();
    let set = candidates("[none, skip_connect, max_pool_3x3, sep_conv_3x3, dil_conv_5x5]");
    let alpha = [0.3f32, -1.0, 2.0, 0.5, -0.2];
    let sum: f32 = alpha.iter().map(|a| a.exp()).sum();
    let weights: Vec<f32> = alpha.iter().map(|a| a.exp() / sum).collect();
    for stride in [1, 2] {
        device().seed(5);
        let mixed = MixedOp::new(&set, 8, stride, &device()).valid();
        assert_eq!(mixed.ops.len(), 4, "no module for none");
        let x = input([2, 8, 13, 11]);
        let alpha_t = Tensor::<1>::from_floats(alpha, &device());
        let got = mixed.forward(x.clone(), alpha_t);
        // Each non-zero candidate's op on its own, weighted by hand.
        let mut want = Tensor::<4>::zeros(got.dims(), &device());
        for (op, w) in mixed.ops.iter().zip(&weights[1..]) {
            want = want + op.forward(x.clone()) * *w;
        }
        assert_eq!(
            got.dims(),
            [2, 8, 13usize.div_ceil(stride), 11usize.div_ceil(stride)]
        );
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), burn::tensor::Tolerance::absolute(1e-5));
    }
}

#[test]
fn edges_are_numbered_node_by_node() {
    assert_eq!(EDGES, 14);
    assert_eq!(edge_endpoints(0), (0, 0));
    assert_eq!(edge_endpoints(1), (1, 0));
    assert_eq!(edge_endpoints(2), (0, 1));
    assert_eq!(edge_endpoints(4), (2, 1));
    assert_eq!(edge_endpoints(8), (3, 2));
    assert_eq!(edge_endpoints(9), (0, 3));
    assert_eq!(edge_endpoints(13), (4, 3));
}

#[test]
fn supernet_cells_concatenate_their_four_nodes() {
    let _rng = rng_lock();
    let space = SearchSpace::uniform(&candidates("[none, skip_connect, sep_conv_3x3]")).unwrap();
    let alphas: Vec<Tensor<1>> = (0..EDGES).map(|_| Tensor::zeros([3], &device())).collect();
    let normal = SearchCell::new(&space.normal, (8, 8, 4), false, false, &device()).valid();
    let out = normal.forward(input([1, 8, 9, 7]), input([1, 8, 9, 7]), &alphas);
    assert_eq!(out.dims(), [1, 16, 9, 7]);
    // A reduction cell after a normal one; the one after it sees s0 at twice s1's size.
    let reduce = SearchCell::new(&space.reduce, (8, 16, 8), true, false, &device()).valid();
    let out = reduce.forward(input([1, 8, 9, 7]), input([1, 16, 9, 7]), &alphas);
    assert_eq!(out.dims(), [1, 32, 5, 4]);
    let after = SearchCell::new(&space.normal, (16, 32, 8), false, true, &device()).valid();
    let out = after.forward(input([1, 16, 9, 7]), out, &alphas);
    assert_eq!(out.dims(), [1, 32, 5, 4]);
}

/// α of a cell: edge `e` gives candidate `i` the value `f(e, i)`.
fn alphas(space: &[Vec<Candidate>], f: impl Fn(usize, usize) -> f32) -> Vec<Vec<f32>> {
    space
        .iter()
        .enumerate()
        .map(|(e, c)| (0..c.len()).map(|i| f(e, i)).collect())
        .collect()
}

#[test]
fn pruning_keeps_the_strongest_operations_and_none() {
    let space = SearchSpace::uniform(&Candidate::darts()).unwrap();
    // Normal edges prefer later candidates, reduction edges earlier ones; none is strongest
    // everywhere and stays without counting.
    let normal = alphas(&space.normal, |_, i| if i == 0 { 9.0 } else { i as f32 });
    let reduce = alphas(&space.reduce, |e, i| {
        if i == 0 { 9.0 } else { -(i as f32) + e as f32 }
    });
    let pruned = space.prune(&normal, &reduce, 3).unwrap();
    let want_normal = candidates("[none, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5]");
    let want_reduce = candidates("[none, max_pool_3x3, avg_pool_3x3, skip_connect]");
    assert!(
        pruned.normal.iter().all(|e| *e == want_normal),
        "{:?}",
        pruned.normal
    );
    assert!(
        pruned.reduce.iter().all(|e| *e == want_reduce),
        "{:?}",
        pruned.reduce
    );
    // Ties keep the earlier candidate.
    let flat = alphas(&space.normal, |_, _| 0.0);
    let tied = space.prune(&flat, &flat, 2).unwrap();
    assert_eq!(
        tied.normal[0],
        candidates("[none, max_pool_3x3, avg_pool_3x3]")
    );

    let err = space.prune(&normal, &reduce, 8).unwrap_err();
    assert!(err.contains("cannot keep 8 of its 7 operations"), "{err}");
    assert!(space.prune(&normal, &reduce, 0).is_err());
    let err = space.prune(&normal[..3], &reduce, 1).unwrap_err();
    assert!(err.contains("14 edges of candidates but α for 3"), "{err}");
}

#[test]
fn a_hand_set_alpha_derives_the_expected_genotype() {
    let _rng = rng_lock();
    let space = SearchSpace::uniform(&Candidate::darts()).unwrap();
    let index = |name: &str| {
        Candidate::darts()
            .iter()
            .position(|c| *c == candidates(&format!("[{name}]"))[0])
            .unwrap()
    };
    // Each edge: one strong candidate (its strength grows with the edge's input state for the
    // normal cell, so each node keeps its last two edges) and `none` strongest of all on
    // edge 0, which the op choice skips but which weakens that edge.
    let strong = [
        "sep_conv_3x3",
        "dil_conv_5x5",
        "skip_connect",
        "max_pool_3x3",
    ];
    let normal = alphas(&space.normal, |e, i| {
        let (input, node) = edge_endpoints(e);
        if i == 0 && e == 0 {
            5.0
        } else if i == index(strong[(node + input) % 4]) {
            1.0 + input as f32
        } else {
            0.0
        }
    });
    let reduce = alphas(&space.reduce, |e, i| {
        let (input, _) = edge_endpoints(e);
        // Inputs 0 and 1 strongest everywhere, max-pool on them, avg-pool elsewhere.
        let op = if input < 2 {
            "max_pool_3x3"
        } else {
            "avg_pool_3x3"
        };
        if i == index(op) {
            3.0 - input as f32
        } else {
            0.0
        }
    });
    let genotype = space.derive("hand", &normal, &reduce).unwrap();
    use OpKind::*;
    assert_eq!(
        genotype.normal,
        vec![
            (SepConv3x3, 0), // node 0 has only two inputs; edge 0 is weak but kept
            (DilConv5x5, 1),
            (SkipConnect, 1), // node 1: inputs 1 and 2
            (MaxPool3x3, 2),
            (SepConv3x3, 2), // node 2: inputs 2 and 3
            (DilConv5x5, 3),
            (SkipConnect, 3), // node 3: inputs 3 and 4
            (MaxPool3x3, 4),
        ]
    );
    assert_eq!(
        genotype.reduce,
        [(MaxPool3x3, 0), (MaxPool3x3, 1)].repeat(4)
    );
    assert_eq!(genotype.normal_concat, vec![2, 3, 4, 5]);
    genotype.validate().unwrap();
    // The derived genotype builds the MsNet-ANAS encoder.
    let encoder = DartsNetworkConfig::new().with_genotype(genotype);
    encoder.validate().unwrap();
    let _ = encoder.init(&device());
}

#[test]
fn candidate_lists_are_read_by_their_darts_names() {
    assert_eq!(candidates("[none]"), vec![Candidate::None]);
    assert_eq!(Candidate::None.to_string(), "none");
    assert_eq!(
        Candidate::Op(OpKind::SepConv5x5).to_string(),
        "sep_conv_5x5"
    );
    let err = serde_yaml::from_str::<Vec<Candidate>>("[sep_conv_7x7]").unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown operation \"sep_conv_7x7\""),
        "{err}"
    );
    assert!(SearchSpace::uniform(&candidates("[none]")).is_err());
    let err = SearchSpace::uniform(&candidates("[none, skip_connect, none]")).unwrap_err();
    assert!(err.contains("none is listed twice"), "{err}");
}

fn tiny_supernet(layout: &str) -> SearchNetConfig {
    SearchNetConfig {
        channels: 4,
        layout: layout.into(),
        space: SearchSpace::uniform(&candidates(
            "[none, skip_connect, sep_conv_3x3, max_pool_3x3]",
        ))
        .unwrap(),
        num_classes: 3,
    }
}

#[test]
fn the_supernet_returns_scores_at_the_input_size() {
    let _rng = rng_lock();
    let config = tiny_supernet("NRNRR");
    config.validate().unwrap();
    let net = config.init(&device()).valid();
    assert_eq!(net.forward(input([2, 3, 64, 80])).dims(), [2, 3, 64, 80]);
    let (normal, reduce) = net.alphas();
    assert_eq!((normal.len(), reduce.len()), (EDGES, EDGES));
    assert!(normal.iter().all(|a| a.len() == 4));

    let err = tiny_supernet("NRNR").validate().unwrap_err();
    assert!(err.contains("three reduction cells"), "{err}");
    let err = tiny_supernet("NRXRR").validate().unwrap_err();
    assert!(err.contains("only N and R"), "{err}");
}

/// A weight step changes no α and an architecture step changes nothing but α: the two halves
/// of the first-order bilevel search update disjoint parameters.
#[test]
fn weight_and_architecture_steps_update_disjoint_parameters() {
    let _rng = rng_lock();
    use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
    let device = Device::flex().autodiff();
    device.seed(3);
    let net = tiny_supernet("NRNRR").init(&device);
    let snapshot = |net: &SearchNet| {
        let (n, r) = net.alphas();
        let w = net.stem[0].conv.weight.val().into_data();
        (n, r, w)
    };
    let x = Tensor::<4>::random([2, 3, 64, 64], burn::tensor::Distribution::Default, &device);
    let loss = |net: &SearchNet| net.forward(x.clone()).powi_scalar(2).mean();

    let before = snapshot(&net);
    let mut grads = loss(&net).backward();
    let ids = net.weight_params();
    let grads = GradientsParams::from_params(&mut grads, &net, &ids);
    let net = SgdConfig::new().init().step(0.1, net, grads);
    let after_w = snapshot(&net);
    assert_eq!(
        (&after_w.0, &after_w.1),
        (&before.0, &before.1),
        "a weight step moved α"
    );
    assert_ne!(after_w.2, before.2, "a weight step left the stem unchanged");

    let mut grads = loss(&net).backward();
    let ids = net.arch_params();
    let grads = GradientsParams::from_params(&mut grads, &net, &ids);
    let net = AdamConfig::new().init().step(0.01, net, grads);
    let after_a = snapshot(&net);
    assert_eq!(after_a.2, after_w.2, "an architecture step moved a weight");
    assert_ne!(
        after_a.0, after_w.0,
        "an architecture step left the normal α unchanged"
    );
    assert_ne!(
        after_a.1, after_w.1,
        "an architecture step left the reduction α unchanged"
    );
}

mod common;
use common::{assert_says, rtseg, synthetic_folder, text};
use rtseg::search::run::{GENOTYPE_FILE, MODEL_FILE, SearchConfig, resume, search};
use rtseg::train::Outcome;

/// A three-stage search small enough for CI: 64×64 crops, 4 channels, 2 steps per stage.
fn tiny_search_yaml(data: &std::path::Path, out: &std::path::Path) -> String {
    format!(
        r#"
dataset: {{format: folder, root: "{}", label_space: camvid}}
train_split: train
augment: {{crop: [64, 64], scale_range: [0.8, 1.2], flip: true, jitter: 0.1}}
candidates: [none, skip_connect, max_pool_3x3, sep_conv_3x3, dil_conv_3x3]
stages:
  - {{layout: RRR, channels: 4, batch_size: 2, steps: 2, keep_ops: 3}}
  - {{layout: NRRR, channels: 4, batch_size: 2, steps: 2, keep_ops: 1}}
  - {{layout: RNRR, channels: 4, batch_size: 2, steps: 3}}
weight_optimizer: {{lr: 0.05, momentum: 0.9, weight_decay: 0.0003}}
arch_optimizer: {{lr: 0.003, weight_decay: 0.001}}
arch_warmup: 1
checkpoint_interval: 1
log_interval: 1
seed: 9
workers: 1
output_dir: "{}"
"#,
        data.display(),
        out.display()
    )
}

fn tiny_search(tmp: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = tmp.join("data");
    if !data.exists() {
        synthetic_folder(&data, &[("train", 4)]);
    }
    let out = tmp.join(name);
    let path = tmp.join(format!("{name}.yaml"));
    std::fs::write(&path, tiny_search_yaml(&data, &out)).unwrap();
    (path, out)
}

fn last_alphas(stage_dir: &std::path::Path) -> serde_json::Value {
    let metrics = std::fs::read_to_string(stage_dir.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    serde_json::json!([last["alpha_normal"], last["alpha_reduce"], last["step"]])
}

#[test]
fn a_tiny_search_writes_a_genotype_that_msnet_anas_builds_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, out) = tiny_search(tmp.path(), "search");
    let run = rtseg(&["search", "--config", config.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run));
    // The genotype file reads as configs/genotypes/ files do and builds the encoder.
    let genotype: rtseg::models::backbones::darts::Genotype =
        serde_yaml::from_str(&std::fs::read_to_string(out.join(GENOTYPE_FILE)).unwrap()).unwrap();
    genotype.validate().unwrap();
    assert_eq!(genotype.normal.len(), 8);
    // Stage 2 searched three operations per edge, stage 3 one (plus none).
    let space: SearchSpace =
        serde_yaml::from_str(&std::fs::read_to_string(out.join("stage-3/space.yaml")).unwrap())
            .unwrap();
    assert!(
        space
            .normal
            .iter()
            .all(|e| e.len() == 2 && e[0] == Candidate::None)
    );
    let log = std::fs::read_to_string(out.join("search_log.jsonl")).unwrap();
    assert_eq!(
        log.lines().count(),
        4 * EDGES,
        "one line per edge and cell, twice"
    );
    assert!(log.contains("\"pruned\":[\"") && log.contains("\"after_stage\":2"));
    // Each chosen operation is the one its edge kept for the last stage.
    for (i, &(op, input)) in genotype.normal.iter().enumerate() {
        let node = i / 2;
        let edge = (0..EDGES)
            .find(|&e| edge_endpoints(e) == (input, node))
            .unwrap();
        assert_eq!(space.normal[edge][1], Candidate::Op(op), "normal gene {i}");
    }

    // The pictures: α charts for both cells, and each derived cell drawn with an arrow in the
    // colour of every operation it chose. `--plots` redraws them from the directory alone.
    for png in ["alpha_normal", "alpha_reduce", "cell_normal", "cell_reduce"] {
        std::fs::remove_file(out.join(format!("{png}.png"))).unwrap();
    }
    let plots = rtseg(&["search", "--plots", out.to_str().unwrap()]);
    assert!(plots.status.success(), "{}", text(&plots));
    for png in ["alpha_normal", "alpha_reduce"] {
        let img = image::open(out.join(format!("{png}.png"))).unwrap();
        assert!(img.width() >= 1000 && img.height() >= 800, "{png}");
    }
    let cell = image::open(out.join("cell_normal.png")).unwrap().to_rgb8();
    let darts = Candidate::darts();
    let palette = rtseg::plots::PALETTE;
    for &(op, _) in &genotype.normal {
        let index = darts.iter().position(|&c| c == Candidate::Op(op)).unwrap();
        let colour = palette[index % palette.len()];
        assert!(
            cell.pixels().filter(|&&p| p == colour).count() > 50,
            "no {op:?} edge drawn in cell_normal.png"
        );
    }

    let onnx = tmp.path().join("searched.onnx");
    let model = out.join(MODEL_FILE);
    // `rtseg models` counts the searched network from its model config.
    let models = rtseg(&["models", "--model-config", model.to_str().unwrap()]);
    assert!(models.status.success(), "{}", text(&models));
    let row = String::from_utf8_lossy(&models.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let params: f64 = row
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches('M')
        .parse()
        .unwrap();
    assert!(params > 0.1 && params < 5.0, "{row}");
    let export = rtseg(&[
        "export",
        "--model",
        "msnet-anas",
        "--model-config",
        model.to_str().unwrap(),
        "--random-init",
        "--size",
        "96x128",
        "--out",
        onnx.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", text(&export));
    assert!(std::fs::metadata(&onnx).unwrap().len() > 10_000);
    // The export says which genotype it carries, not only "msnet-anas".
    let info = rtseg::onnx::inspect(&onnx).unwrap();
    let yaml = |text: &str| serde_yaml::from_str::<serde_yaml::Value>(text).unwrap();
    let exported = yaml(&info.metadata[rtseg::onnx::meta::ARCHITECTURE]);
    let searched = yaml(&std::fs::read_to_string(&model).unwrap());
    assert_eq!(
        exported["encoder"]["genotype"],
        searched["encoder"]["genotype"]
    );
    assert!(exported["encoder"]["genotype"]["normal"].is_sequence());
}

/// A search stopped in its first stage and resumed ends with the same α, step for step, as
/// one that ran through.
#[test]
fn an_interrupted_search_resumes_exactly() {
    let _rng = rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (straight_cfg, straight) = tiny_search(tmp.path(), "straight");
    let (stopped_cfg, stopped) = tiny_search(tmp.path(), "stopped");
    let never = |_: u64| false;
    let config = SearchConfig::load(&straight_cfg, &[]).unwrap();
    assert_eq!(search(config, &never).unwrap(), Outcome::Finished);
    let config = SearchConfig::load(&stopped_cfg, &[]).unwrap();
    assert_eq!(
        search(config, &|step| step == 1).unwrap(),
        Outcome::Interrupted { step: 1 }
    );
    assert!(!stopped.join("stage-2").exists());
    assert_eq!(resume(&stopped, &never).unwrap(), Outcome::Finished);
    for stage in ["stage-1", "stage-2", "stage-3"] {
        assert_eq!(
            last_alphas(&straight.join(stage)),
            last_alphas(&stopped.join(stage)),
            "{stage}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(straight.join(GENOTYPE_FILE)).unwrap(),
        std::fs::read_to_string(stopped.join(GENOTYPE_FILE)).unwrap()
    );
}

#[test]
fn bad_search_configs_are_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, _) = tiny_search(tmp.path(), "bad");
    let path = config.to_str().unwrap();
    for (set, says) in [
        (
            "candidates=[none, sep_conv_7x7]",
            "with --set candidates=[none, sep_conv_7x7]: candidates: unknown operation",
        ),
        (
            "stages.0.keep_ops=0",
            "stages[0].keep_ops: 0; every stage but the last keeps at least one",
        ),
        (
            "stages.0.keep_ops=9",
            "stages[0].keep_ops: 9 operations cannot be kept of the 4",
        ),
        (
            "stages.1.keep_ops=4",
            "stages[1].keep_ops: 4 operations cannot be kept of the 3",
        ),
        ("stages.2.keep_ops=1", "stages[2].keep_ops: the last stage"),
        (
            "stages.0.layout=\"\"",
            "stages[0]: layout \"\" needs at least three reduction cells",
        ),
        (
            "stages.1.steps=0",
            "stages[1]: steps and batch_size must be positive",
        ),
        ("stages=[]", "at least one stage"),
    ] {
        let out = rtseg(&["search", "--config", path, "--set", set]);
        assert!(!out.status.success(), "{set}");
        assert_says(&out, says);
    }
    let out = rtseg(&[
        "search",
        "--resume",
        tmp.path().join("nothing").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_says(&out, "config.yaml");
}

#[test]
fn the_shipped_search_config_parses_and_validates() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/search/anas_camvid.yaml");
    let config = SearchConfig::load(&path, &[]).unwrap();
    assert_eq!(
        config.stages.last().unwrap().layout,
        "NRNNRNNNR",
        "the MsNet-ANAS layout"
    );
    assert_eq!(config.train_split, "train");
}

/// `rtseg bench --search-config` times one α step plus one weight step per stage, and names
/// a stage that does not exist.
#[test]
fn search_steps_are_benchmarked_per_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, _) = tiny_search(tmp.path(), "bench");
    let config = config.to_str().unwrap();
    let args = [
        "bench",
        "--search-config",
        config,
        "--iters",
        "1",
        "--warmup",
        "0",
    ];
    let bench = rtseg(&[&args[..], &["--json"]].concat());
    assert!(bench.status.success(), "{}", text(&bench));
    let reports: Vec<serde_json::Value> = String::from_utf8_lossy(&bench.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 3);
    for (i, r) in reports.iter().enumerate() {
        let model = r["model"].as_str().unwrap();
        assert!(
            model.starts_with(&format!("search stage {}", i + 1)),
            "{model}"
        );
        assert_eq!(r["batch_size"], 2);
        assert!(r["images_per_s"].as_f64().unwrap() > 0.0);
    }
    // Before the search reached them, stages 2 and 3 search the first 3 and 1 operations.
    assert!(
        reports[1]["model"]
            .as_str()
            .unwrap()
            .contains("3 ops per edge")
    );
    assert!(
        reports[2]["model"]
            .as_str()
            .unwrap()
            .contains("1 op per edge")
    );
    let missing = rtseg(&[&args[..], &["--stage", "4"]].concat());
    assert_says(&missing, "--stage 4: the search has 3 stages");
}

/// The random control: seeded, drawn from the configured candidates only, two distinct
/// inputs per node; an edge with nothing but `none` is named.
#[test]
fn random_genotypes_are_seeded_draws_from_the_search_space() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, _) = tiny_search(tmp.path(), "random");
    let draw = |seed: &str, out: &str| {
        let out = tmp.path().join(out);
        let args = [
            "search",
            "--config",
            config.to_str().unwrap(),
            "--random-genotype",
        ];
        let run = rtseg(&[&args[..], &[out.to_str().unwrap(), "--seed", seed]].concat());
        assert!(run.status.success(), "{}", text(&run));
        std::fs::read_to_string(out.join(GENOTYPE_FILE)).unwrap()
    };
    let (a, again, other) = (draw("3", "a"), draw("3", "b"), draw("4", "c"));
    assert_eq!(a, again);
    assert_ne!(a, other);
    let genotype: rtseg::models::backbones::darts::Genotype = serde_yaml::from_str(&a).unwrap();
    genotype.validate().unwrap();
    let allowed = candidates("[skip_connect, max_pool_3x3, sep_conv_3x3, dil_conv_3x3]");
    for pair in genotype.normal.chunks(2).chain(genotype.reduce.chunks(2)) {
        assert_ne!(pair[0].1, pair[1].1, "a node reads one input twice");
        for &(op, _) in pair {
            assert!(allowed.contains(&Candidate::Op(op)), "{op:?}");
        }
    }
    // --like keeps the draw closest in size: the DARTS-V2 genotype as the target.
    let like = tmp.path().join("like");
    let args = [
        "search",
        "--config",
        config.to_str().unwrap(),
        "--random-genotype",
    ];
    let run = rtseg(
        &[
            &args[..],
            &[
                like.to_str().unwrap(),
                "--like",
                "configs/genotypes/darts_v2.yaml",
            ],
        ]
        .concat(),
    );
    assert!(run.status.success(), "{}", text(&run));

    let mut space = SearchSpace::uniform(&candidates("[none, skip_connect]")).unwrap();
    space.reduce[3] = candidates("[none]");
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let errors: Vec<String> = (0..20)
        .filter_map(|_| space.sample("x", &mut rng).err())
        .collect();
    assert!(
        !errors.is_empty()
            && errors
                .iter()
                .all(|e| e == "reduce edge 3: no operation besides none"),
        "{errors:?}"
    );
}

/// msnet-anas builds the shipped searched genotype, and the DARTS-V2 stand-in stays
/// available by name.
#[test]
fn msnet_anas_builds_the_shipped_searched_genotype() {
    use rtseg::models::backbones::darts::Genotype;
    use rtseg::models::segmentors::SegmentorConfig;
    use rtseg::models::segmentors::msnet::MsNetEncoderConfig;
    let shipped =
        Genotype::load(std::path::Path::new("configs/genotypes/anas_camvid.yaml")).unwrap();
    let name = shipped.name.to_lowercase();
    assert!(
        name.starts_with("searched by rtseg search on camvid/train"),
        "{name}"
    );
    let genotype_of = |name: &str| match rtseg::models::lookup(name, 11).unwrap().config {
        SegmentorConfig::MsNet(msnet) => match msnet.encoder {
            MsNetEncoderConfig::Darts { genotype, .. } => genotype,
            other => panic!("{name}: {other:?}"),
        },
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(genotype_of("msnet-anas"), shipped);
    assert_eq!(genotype_of("msnet-darts-v2"), Genotype::darts_v2());
    assert_ne!(shipped, Genotype::darts_v2());
}

/// A stopped search whose config or searched split changed is refused on resume, naming
/// what changed (as training runs are).
#[test]
fn a_search_whose_config_or_data_changed_is_not_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let (config_file, out) = tiny_search(tmp.path(), "changed");
    let config = SearchConfig::load(&config_file, &[]).unwrap();
    assert_eq!(
        search(config, &|step| step == 1).unwrap(),
        Outcome::Interrupted { step: 1 }
    );
    let never = |_: u64| false;
    let saved = out.join("config.yaml");
    let original = std::fs::read_to_string(&saved).unwrap();
    std::fs::write(&saved, original.replace("seed: 9", "seed: 10")).unwrap();
    let err = resume(&out, &never).unwrap_err().to_string();
    assert!(err.contains("seed: 9 → 10"), "{err}");
    std::fs::write(&saved, &original).unwrap();

    let images = tmp.path().join("data/images/train");
    let first = std::fs::read_dir(&images)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&first, images.join("extra.png")).unwrap();
    let labels = tmp.path().join("data/annotations/train");
    std::fs::copy(
        labels.join(first.file_name().unwrap()),
        labels.join("extra.png"),
    )
    .unwrap();
    let err = resume(&out, &never).unwrap_err().to_string();
    assert!(
        err.contains("split `train`: 4 samples then, 5 now"),
        "{err}"
    );
}
