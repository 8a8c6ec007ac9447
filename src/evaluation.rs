//! Evaluation with the field's protocol (mmsegmentation `IoUMetric`, Cityscapes class IoU):
//! one confusion matrix accumulated over the whole split, pixels with ignore ground truth
//! dropped, IoU_c = TP / (TP + FP + FN), mIoU = mean over classes whose IoU is defined.

use std::path::Path;

use image::GrayImage;
use serde::Serialize;

use crate::datasets::sources::DatasetSource;
use crate::labels::UNLABELLED;
use crate::pipeline::frame::FrameRef;
use crate::pipeline::{Fit, Segmenter};

/// counts[gt * k + pred], over pixels whose ground truth is a class.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    pub num_classes: usize,
    pub counts: Vec<u64>,
}

/// The summary a user reads (and `metrics.jsonl` stores).
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    /// Per-class IoU; `None` where the class is absent from both ground truth and prediction.
    pub class_iou: Vec<Option<f64>>,
    pub class_accuracy: Vec<Option<f64>>,
    pub miou: f64,
    pub pixel_accuracy: f64,
    pub mean_class_accuracy: f64,
}

impl ConfusionMatrix {
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            counts: vec![0; num_classes * num_classes],
        }
    }

    /// Adds a prediction/ground-truth pair (train ids; ground truth 255 and any id outside
    /// the label space are skipped). Predictions outside the label space are an error.
    pub fn update(&mut self, prediction: &[u8], ground_truth: &[u8]) -> anyhow::Result<()> {
        if prediction.len() != ground_truth.len() {
            anyhow::bail!(
                "prediction has {} pixels, ground truth {}",
                prediction.len(),
                ground_truth.len()
            );
        }
        let k = self.num_classes;
        for (&p, &g) in prediction.iter().zip(ground_truth) {
            if g == UNLABELLED || g as usize >= k {
                continue;
            }
            if p as usize >= k {
                anyhow::bail!("prediction holds class {p}, outside 0..{k}");
            }
            self.counts[g as usize * k + p as usize] += 1;
        }
        Ok(())
    }

    pub fn metrics(&self) -> Metrics {
        let k = self.num_classes;
        let row = |c: usize| -> u64 { self.counts[c * k..(c + 1) * k].iter().sum() };
        let col = |c: usize| -> u64 { (0..k).map(|g| self.counts[g * k + c]).sum() };
        let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
        let tp = |c: usize| self.counts[c * k + c];
        let class_iou: Vec<_> = (0..k)
            .map(|c| ratio(tp(c), row(c) + col(c) - tp(c)))
            .collect();
        let class_accuracy: Vec<_> = (0..k).map(|c| ratio(tp(c), row(c))).collect();
        let total: u64 = self.counts.iter().sum();
        let correct: u64 = (0..k).map(tp).sum();
        Metrics {
            miou: nan_mean(&class_iou),
            mean_class_accuracy: nan_mean(&class_accuracy),
            pixel_accuracy: ratio(correct, total).unwrap_or(f64::NAN),
            class_iou,
            class_accuracy,
        }
    }
}

fn nan_mean(values: &[Option<f64>]) -> f64 {
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    if defined.is_empty() {
        f64::NAN
    } else {
        defined.iter().sum::<f64>() / defined.len() as f64
    }
}

/// Runs `segmenter` over every image of a split (the network at `size`, stretched, or at each
/// image's own size; masks at the image's size) and accumulates the confusion matrix. With
/// `save_predictions`, each prediction is written in the dataset's own label space (e.g.
/// Cityscapes labelIds, which `csEvalPixelLevelSemanticLabeling` reads) under the image's
/// file name relative to the split folder, with the format's suffix.
pub fn evaluate(
    segmenter: &mut dyn Segmenter,
    source: &DatasetSource,
    split: &str,
    size: Option<(u32, u32)>,
    save_predictions: Option<&Path>,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ConfusionMatrix> {
    let samples = source.list(split)?;
    let mut matrix = ConfusionMatrix::new(segmenter.io().num_classes);
    let fit = Fit {
        size,
        ..Fit::default()
    };
    for (i, paths) in samples.iter().enumerate() {
        let sample = source.load(paths)?;
        let prediction = segmenter
            .segment(&[FrameRef::rgb(&sample.image)], &fit)
            .map_err(|e| anyhow::anyhow!("{}: {e}", paths.image.display()))?
            .remove(0)
            .mask;
        matrix.update(prediction.as_raw(), sample.label.as_raw())?;
        if let Some(dir) = save_predictions {
            save_prediction(source, &paths.image, prediction, dir)?;
        }
        progress(i + 1, samples.len());
    }
    Ok(matrix)
}

fn save_prediction(
    source: &DatasetSource,
    image: &Path,
    prediction: GrayImage,
    dir: &Path,
) -> anyhow::Result<()> {
    let file = image
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{}: file name is not UTF-8", image.display()))?;
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let name = match source {
        // The official script matches `<city>_<seq>_<frame>*.png`.
        DatasetSource::Cityscapes { .. } => {
            format!(
                "{}_pred_labelIds.png",
                stem.trim_end_matches("_leftImg8bit")
            )
        }
        _ => format!("{stem}.png"),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    crate::io::save_png(&source.to_dataset_ids(prediction), &dir.join(name))
}

/// The per-class table `rtseg eval` prints.
pub fn format_table(metrics: &Metrics, class_names: &[&str]) -> String {
    let pct = |v: Option<f64>| v.map_or("   n/a".to_string(), |v| format!("{:6.2}", 100.0 * v));
    let mut out = format!("{:<16} {:>6} {:>6}\n", "class", "IoU", "Acc");
    for (i, name) in class_names.iter().enumerate() {
        out += &format!(
            "{name:<16} {} {}\n",
            pct(metrics.class_iou[i]),
            pct(metrics.class_accuracy[i])
        );
    }
    out += &format!(
        "mIoU {:.2}  aAcc {:.2}  mAcc {:.2}\n",
        100.0 * metrics.miou,
        100.0 * metrics.pixel_accuracy,
        100.0 * metrics.mean_class_accuracy
    );
    out
}
