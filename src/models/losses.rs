//! Training losses for dense prediction: cross-entropy with ignore index and class weights,
//! OHEM, and MFARANet's multi-scale joint supervision. Label-derived maps (targets, pixel
//! weights, boundaries) are built on the CPU from the u8 label batch and uploaded once.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use crate::labels::UNLABELLED;
use crate::models::layers::resize;

/// The loss settings of a training config; each network takes the parts it trains with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// Cross-entropy on the main output.
    #[serde(default)]
    pub ce: CrossEntropyConfig,
    /// Weight of each auxiliary head's cross-entropy, for networks trained with deep
    /// supervision (BiSeNet's α, 1 in its §3.4).
    #[serde(default = "default_aux_weight")]
    pub aux_weight: f32,
    /// MFARANet's multi-scale joint supervision (required for MFARANet models).
    #[serde(default)]
    pub joint: Option<JointLossConfig>,
}

fn default_aux_weight() -> f32 {
    1.0
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            ce: CrossEntropyConfig::default(),
            aux_weight: default_aux_weight(),
            joint: None,
        }
    }
}

impl LossConfig {
    /// # Errors
    /// A message naming the key that is out of range.
    pub fn validate(&self, num_classes: usize) -> Result<(), String> {
        if !(self.aux_weight.is_finite() && self.aux_weight >= 0.0) {
            return Err(format!(
                "loss.aux_weight {} must be a finite value >= 0",
                self.aux_weight
            ));
        }
        self.ce.validate(num_classes)
    }
}

/// A batch's training loss (what backward runs on) and its named parts for the log; the first
/// part is the total.
pub struct LossParts {
    pub total: Tensor<1>,
    pub parts: Vec<(&'static str, f32)>,
}

/// What a multi-scale network produces for its joint supervision, at 1/4 resolution.
pub struct MultiScaleOutput {
    /// Fused scores upsampled to the input size, `[N, K, H, W]`.
    pub fused: Tensor<4>,
    /// Per-scale scores Sᵢ, `[N, K, H/4, W/4]`.
    pub scale_scores: Vec<Tensor<4>>,
    /// Per-scale boundary logits Eᵢ, `[N, 1, H/4, W/4]`.
    pub boundaries: Vec<Tensor<4>>,
}

/// A batch of train-id labels, N×H×W row-major, 255 = ignore.
pub struct Labels<'a> {
    pub ids: &'a [u8],
    pub shape: [usize; 3],
}

/// Online hard example mining (BiSeNet/AttaNet form): average the loss over the pixels whose
/// true-class probability is below `thresh`, but over at least the `min_kept` hardest ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OhemConfig {
    pub thresh: f32,
    pub min_kept: usize,
}

/// Cross-entropy settings of a training config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossEntropyConfig {
    /// One weight per class (e.g. SegNet's median-frequency weights); `None` = all 1.
    #[serde(default)]
    pub class_weights: Option<Vec<f32>>,
    #[serde(default)]
    pub ohem: Option<OhemConfig>,
}

impl CrossEntropyConfig {
    pub fn validate(&self, num_classes: usize) -> Result<(), String> {
        if let Some(w) = &self.class_weights
            && (w.len() != num_classes || w.iter().any(|&x| !(x.is_finite() && x >= 0.0)))
        {
            return Err(format!(
                "class_weights has {} entries; need {num_classes} finite non-negative values",
                w.len()
            ));
        }
        if let Some(o) = &self.ohem
            && !(o.thresh > 0.0 && o.thresh <= 1.0 && o.min_kept > 0)
        {
            return Err("ohem.thresh must be in (0, 1] and ohem.min_kept > 0".into());
        }
        Ok(())
    }
}

/// Targets with ignore replaced by class 0, as an Int tensor N×1×H×W (for `gather`).
fn target_tensor(labels: &Labels, device: &Device) -> Tensor<4, Int> {
    let [n, h, w] = labels.shape;
    let ids: Vec<i64> = labels
        .ids
        .iter()
        .map(|&v| if v == UNLABELLED { 0 } else { v as i64 })
        .collect();
    Tensor::from_data(TensorData::new(ids, [n, 1, h, w]), device)
}

fn float_map(values: Vec<f32>, [n, h, w]: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(values, [n, h, w]), device)
}

/// Per-pixel negative log-likelihood of the true class, N×H×W (0 where ignored).
fn pixel_nll(logits: Tensor<4>, labels: &Labels) -> Tensor<3> {
    let target = target_tensor(labels, &logits.device());
    log_softmax(logits, 1)
        .gather(1, target)
        .squeeze_dim(1)
        .neg()
}

/// Class weight of each pixel's true class, 0 on ignored pixels.
fn pixel_weights(labels: &Labels, class_weights: Option<&[f32]>) -> Vec<f32> {
    labels
        .ids
        .iter()
        .map(|&v| match (v, class_weights) {
            (UNLABELLED, _) => 0.0,
            (v, Some(w)) => w.get(v as usize).copied().unwrap_or(0.0),
            (_, None) => 1.0,
        })
        .collect()
}

/// Weighted mean Σ wᵢ·lᵢ / Σ wᵢ (PyTorch's weighted `CrossEntropyLoss` reduction); zero
/// when no pixel carries weight, so an all-ignore crop contributes nothing.
fn weighted_mean(loss: Tensor<3>, weights: Vec<f32>, shape: [usize; 3]) -> Tensor<1> {
    let total: f32 = weights.iter().sum();
    let weights = float_map(weights, shape, &loss.device());
    (loss * weights)
        .sum()
        .div_scalar(total.max(f32::MIN_POSITIVE))
}

/// Cross-entropy of N×K×H×W logits against train ids (255 ignored), with optional class
/// weights and OHEM.
pub fn cross_entropy(logits: Tensor<4>, labels: &Labels, config: &CrossEntropyConfig) -> Tensor<1> {
    let mut weights = pixel_weights(labels, config.class_weights.as_deref());
    let nll = pixel_nll(logits, labels);
    if let Some(ohem) = &config.ohem {
        keep_hardest(&nll, &mut weights, ohem);
    }
    weighted_mean(nll, weights, labels.shape)
}

/// Deep supervision: `CE(main) + aux_weight · Σ CE(auxᵢ)`, each auxiliary score map
/// upsampled bilinearly to the label size first, all with the configured cross-entropy
/// (BiSeNet §3.4, where OHEM applies to every term in the official code). Without auxiliary
/// maps it is the plain cross-entropy, logged as `loss` alone.
///
/// # Shapes
/// `main` `[N, K, H, W]`, each of `aux` `[N, K, h, w]`; labels N×H×W.
pub fn deep_supervision_loss(
    main: Tensor<4>,
    aux: Vec<Tensor<4>>,
    labels: &Labels,
    config: &LossConfig,
) -> LossParts {
    let [_, h, w] = labels.shape;
    let mut total = cross_entropy(main, labels, &config.ce);
    let main_value = scalar(&total);
    let mut aux_value = 0f32;
    for scores in aux {
        let term = cross_entropy(resize(scores, [h, w], false), labels, &config.ce);
        aux_value += scalar(&term);
        total = total + term.mul_scalar(config.aux_weight);
    }
    let mut parts = vec![("loss", scalar(&total))];
    if aux_value > 0.0 {
        parts.extend([("main", main_value), ("aux", aux_value)]);
    }
    LossParts { total, parts }
}

/// Zeroes the weight of every pixel that OHEM drops: keep losses ≥ min(−ln thresh, the
/// `min_kept`-th largest valid loss).
fn keep_hardest(nll: &Tensor<3>, weights: &mut [f32], ohem: &OhemConfig) {
    let losses: Vec<f32> = nll
        .clone()
        .detach()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let mut valid: Vec<f32> = losses
        .iter()
        .zip(weights.iter())
        .filter(|&(_, &w)| w > 0.0)
        .map(|(&l, _)| l)
        .collect();
    if valid.is_empty() {
        return;
    }
    let k = ohem.min_kept.min(valid.len());
    let (_, kth, _) = valid.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let threshold = (-ohem.thresh.ln()).min(*kth);
    for (w, &l) in weights.iter_mut().zip(&losses) {
        if l < threshold {
            *w = 0.0;
        }
    }
}

/// MFARANet's boundary ground truth: a 5×5 box filter of the label map (255 included, so
/// edges of ignore regions count); boundary where it differs from the label by > 0.005.
/// Windows are clipped at the image border.
pub fn boundary_targets(labels: &Labels) -> Vec<f32> {
    let [n, h, w] = labels.shape;
    let mut out = vec![0f32; n * h * w];
    for b in 0..n {
        let img = &labels.ids[b * h * w..(b + 1) * h * w];
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut count) = (0f32, 0f32);
                for yy in y.saturating_sub(2)..(y + 3).min(h) {
                    for xx in x.saturating_sub(2)..(x + 3).min(w) {
                        sum += img[yy * w + xx] as f32;
                        count += 1.0;
                    }
                }
                let v = img[y * w + x] as f32;
                out[b * h * w + y * w + x] = ((sum / count - v).abs() > 0.005) as u8 as f32;
            }
        }
    }
    out
}

/// Class-balanced BCE with logits (HED/GSCNN): positives weighted by neg/(pos+neg),
/// negatives by pos/(pos+neg), mean over all pixels.
pub fn balanced_bce(logits: Tensor<3>, targets: &[f32], shape: [usize; 3]) -> Tensor<1> {
    let pos: f32 = targets.iter().sum();
    let total = targets.len() as f32;
    let neg = total - pos;
    let weights: Vec<f32> = targets
        .iter()
        .map(|&t| if t > 0.5 { neg / total } else { pos / total })
        .collect();
    let device = logits.device();
    let y = float_map(targets.to_vec(), shape, &device);
    let wt = float_map(weights, shape, &device);
    // max(x, 0) − x·y + ln(1 + e^(−|x|)): the overflow-free form of BCE-with-logits.
    let bce = logits.clone().clamp_min(0.0) - logits.clone() * y + logits.abs().neg().exp().log1p();
    (bce * wt).mean()
}

/// Per-image class weights w_c = 1 + (1 − freq_c) for classes present in that image (GSCNN's
/// image-based CE), as a per-pixel weight map restricted to `mask` pixels.
fn image_class_weights(labels: &Labels, num_classes: usize, mask: &[bool]) -> Vec<f32> {
    let [n, h, w] = labels.shape;
    let mut out = vec![0f32; n * h * w];
    for b in 0..n {
        let range = b * h * w..(b + 1) * h * w;
        let img = &labels.ids[range.clone()];
        let mut hist = vec![0f32; num_classes];
        for &v in img {
            if (v as usize) < num_classes {
                hist[v as usize] += 1.0;
            }
        }
        let count: f32 = hist.iter().sum::<f32>().max(1.0);
        for (i, &v) in range.clone().zip(img) {
            if mask[i] && (v as usize) < num_classes {
                out[i] = 1.0 + (1.0 - hist[v as usize] / count);
            }
        }
    }
    out
}

/// Weights of MFARANet's multi-scale joint supervision (architectures §2.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointLossConfig {
    /// OHEM on each scale's scores.
    pub ohem: OhemConfig,
    #[serde(default = "default_boundary_weight")]
    pub boundary_weight: f32,
    #[serde(default = "default_regularizer_weight")]
    pub regularizer_weight: f32,
    /// Boundary logit above which the regulariser's CE applies (to the raw logit).
    #[serde(default = "default_edge_threshold")]
    pub edge_threshold: f32,
}

fn default_boundary_weight() -> f32 {
    0.3
}
fn default_regularizer_weight() -> f32 {
    0.1
}
fn default_edge_threshold() -> f32 {
    0.8
}

/// The parts of the joint loss, for logging.
pub struct JointLoss {
    pub total: Tensor<1>,
    pub main: f32,
    pub scales: f32,
    pub boundary: f32,
    pub regularizer: f32,
}

/// CE(fused) + Σᵢ [OHEM(Sᵢ) + w_b·BCE_bal(Eᵢ) + w_r·CE_img(Sᵢ | Eᵢ > t)], every term at
/// full resolution (Sᵢ and Eᵢ upsampled bilinearly, align_corners as in the model).
pub fn mfaranet_joint_loss(
    out: MultiScaleOutput,
    labels: &Labels,
    main: &CrossEntropyConfig,
    config: &JointLossConfig,
) -> JointLoss {
    let [_, h, w] = labels.shape;
    let num_classes = out.fused.dims()[1];
    let boundary_gt = boundary_targets(labels);
    let scale_ce = CrossEntropyConfig {
        class_weights: None,
        ohem: Some(config.ohem.clone()),
    };
    let mut total = cross_entropy(out.fused, labels, main);
    let main_value = scalar(&total);
    let (mut seg, mut bnd, mut reg) = (0f32, 0f32, 0f32);
    for (score, edge) in out.scale_scores.into_iter().zip(out.boundaries) {
        let score = resize(score, [h, w], true);
        let edge = resize(edge, [h, w], true).squeeze_dim::<3>(1);
        let seg_term = cross_entropy(score.clone(), labels, &scale_ce);
        let bnd_term = balanced_bce(edge.clone(), &boundary_gt, labels.shape);
        let edge_mask: Vec<bool> = edge
            .detach()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e > config.edge_threshold)
            .collect();
        let reg_weights = image_class_weights(labels, num_classes, &edge_mask);
        let reg_term = weighted_mean(pixel_nll(score, labels), reg_weights, labels.shape);
        seg += scalar(&seg_term);
        bnd += scalar(&bnd_term);
        reg += scalar(&reg_term);
        total = total
            + seg_term
            + bnd_term.mul_scalar(config.boundary_weight)
            + reg_term.mul_scalar(config.regularizer_weight);
    }
    JointLoss {
        total,
        main: main_value,
        scales: seg,
        boundary: bnd,
        regularizer: reg,
    }
}

/// The value of a one-element tensor (for logging).
pub fn scalar(t: &Tensor<1>) -> f32 {
    t.clone().into_scalar::<f32>()
}
