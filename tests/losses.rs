//! Losses against hand-computed values, and the metrics of the evaluator.

use burn::prelude::*;
use rtseg::evaluation::ConfusionMatrix;
use rtseg::models::lookup;
use rtseg::models::losses::{
    CrossEntropyConfig, JointLossConfig, Labels, OhemConfig, balanced_bce, boundary_targets,
    cross_entropy, mfaranet_joint_loss, scalar,
};
use rtseg::models::segmentors::Segmentor;

/// 1×3×1×3 logits; pixel 0 → class 2, pixel 1 ignored, pixel 2 → class 0.
fn case() -> (Tensor<4>, Vec<u8>) {
    let logits = [1.0f32, 0.0, 2.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0];
    let device = Device::default();
    let t = Tensor::<4>::from_data(TensorData::new(logits.to_vec(), [1, 3, 1, 3]), &device);
    (t, vec![2, 255, 0])
}

fn nll(logits: [f64; 3], class: usize) -> f64 {
    logits.iter().map(|l| l.exp()).sum::<f64>().ln() - logits[class]
}

#[test]
fn cross_entropy_ignores_255_and_weights_classes() {
    let (a, b) = (nll([1.0, 2.0, 3.0], 2), nll([2.0, 0.0, 0.0], 0));
    let run = |config: CrossEntropyConfig| {
        let (logits, ids) = case();
        let labels = Labels {
            ids: &ids,
            shape: [1, 1, 3],
        };
        scalar(&cross_entropy(logits, &labels, &config)) as f64
    };
    assert!((run(CrossEntropyConfig::default()) - (a + b) / 2.0).abs() < 1e-6);
    let weighted = CrossEntropyConfig {
        class_weights: Some(vec![1.0, 1.0, 3.0]),
        ohem: None,
    };
    // PyTorch's weighted mean: Σ w·l / Σ w.
    assert!((run(weighted) - (3.0 * a + b) / 4.0).abs() < 1e-6);
}

#[test]
fn ohem_keeps_at_least_min_kept_hardest_pixels() {
    let (a, b) = (nll([1.0, 2.0, 3.0], 2), nll([2.0, 0.0, 0.0], 0));
    let run = |thresh, min_kept| {
        let (logits, ids) = case();
        let labels = Labels {
            ids: &ids,
            shape: [1, 1, 3],
        };
        let config = CrossEntropyConfig {
            class_weights: None,
            ohem: Some(OhemConfig { thresh, min_kept }),
        };
        scalar(&cross_entropy(logits, &labels, &config)) as f64
    };
    // Both losses exceed −ln 0.99: both kept.
    assert!((run(0.99, 1) - (a + b) / 2.0).abs() < 1e-6);
    // Neither exceeds −ln 0.01: only the single hardest survives.
    assert!((run(0.01, 1) - a.max(b)).abs() < 1e-6);
    // min_kept above the valid count keeps every valid pixel, never the ignored one.
    assert!((run(0.01, 100) - (a + b) / 2.0).abs() < 1e-6);
}

#[test]
fn boundary_targets_mark_a_five_pixel_band() {
    let ids: Vec<u8> = (0..36).map(|i| if i % 6 < 3 { 1 } else { 2 }).collect();
    let edges = boundary_targets(&Labels {
        ids: &ids,
        shape: [1, 6, 6],
    });
    for row in edges.chunks(6) {
        assert_eq!(row, [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    }
}

#[test]
fn balanced_bce_matches_its_formula() {
    let x = [2.0f32, -1.0, 0.5, -3.0];
    let y = [1.0f32, 0.0, 0.0, 0.0];
    let logits = Tensor::<3>::from_data(TensorData::new(x.to_vec(), [1, 2, 2]), &Device::default());
    let got = scalar(&balanced_bce(logits, &y, [1, 2, 2])) as f64;
    let (pos, neg) = (1.0, 3.0);
    let want: f64 = x
        .iter()
        .zip(&y)
        .map(|(&x, &y)| {
            let (x, y) = (x as f64, y as f64);
            let p = 1.0 / (1.0 + (-x).exp());
            let w = if y > 0.5 { neg / 4.0 } else { pos / 4.0 };
            -w * (y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / 4.0;
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
}

#[test]
fn mfaranet_joint_loss_trains_every_head() {
    let device = Device::default().autodiff();
    device.seed(3);
    let Segmentor::MfaraNet(model) = lookup("mfaranet", 4).unwrap().config.init(&device) else {
        panic!("mfaranet is an MfaraNet")
    };
    let x = Tensor::<4>::random(
        [1, 3, 64, 64],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let ids: Vec<u8> = (0..64 * 64)
        .map(|i| [0, 1, 2, 3, 255][(i / 64 / 13) % 5])
        .collect();
    let labels = Labels {
        ids: &ids,
        shape: [1, 64, 64],
    };
    let joint = JointLossConfig {
        ohem: OhemConfig {
            thresh: 0.7,
            min_kept: 256,
        },
        boundary_weight: 0.3,
        regularizer_weight: 0.1,
        edge_threshold: 0.8,
    };
    let out = mfaranet_joint_loss(
        model.forward_train(x),
        &labels,
        &CrossEntropyConfig::default(),
        &joint,
    );
    let total = scalar(&out.total);
    assert!(total.is_finite() && out.main > 0.0 && out.scales > 0.0 && out.boundary > 0.0);
    let sum = out.main + out.scales + 0.3 * out.boundary + 0.1 * out.regularizer;
    assert!((total - sum).abs() < 1e-3 * total, "{total} vs parts {sum}");
    let grads = out.total.backward();
    for (i, head) in model.boundary_heads.iter().enumerate() {
        assert!(
            head.weight.grad(&grads).is_some(),
            "boundary head {i} got no gradient"
        );
    }
    assert!(model.score_heads[3].weight.grad(&grads).is_some());
}

#[test]
fn confusion_matrix_follows_the_iou_protocol() {
    let mut m = ConfusionMatrix::new(4);
    // gt:   0 0 1 1 2 255
    // pred: 0 1 1 1 0 3
    m.update(&[0, 1, 1, 1, 0, 3], &[0, 0, 1, 1, 2, 255])
        .unwrap();
    let r = m.metrics();
    // class 0: TP 1, FN 1, FP 1 → 1/3; class 1: TP 2, FP 1 → 2/3; class 2: TP 0 → 0;
    // class 3: absent from GT and (valid-GT) predictions → undefined, left out of the mean.
    assert_eq!(r.class_iou[0], Some(1.0 / 3.0));
    assert_eq!(r.class_iou[1], Some(2.0 / 3.0));
    assert_eq!(r.class_iou[2], Some(0.0));
    assert_eq!(r.class_iou[3], None);
    assert!((r.miou - 1.0 / 3.0).abs() < 1e-12);
    assert!((r.pixel_accuracy - 3.0 / 5.0).abs() < 1e-12);
    assert!((r.mean_class_accuracy - 0.5).abs() < 1e-12);
    assert!(
        m.update(&[9], &[0])
            .unwrap_err()
            .to_string()
            .contains("class 9")
    );
}
