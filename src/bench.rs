//! `rtseg bench`: latency of one backend on one model at one input size. Warm-up runs are
//! discarded; every timed run includes reading the mask back, which is what a caller pays.
//! `rtseg bench --train-config`: training throughput of a config's model, loss and optimizer.

use std::time::Instant;

use burn::prelude::*;
use serde::Serialize;

use crate::backend::{InputBatch, SegmentationBackend};
use crate::datasets::loader::Batch;
use crate::train::config::TrainConfig;
use crate::train::{model_config, optimizers, train_step};

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub backend: String,
    /// Images per network call.
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub warmup: usize,
    pub iters: usize,
    pub threads: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub fps: f64,
    /// Peak resident memory of the process (VmHWM), MiB; `None` where /proc is absent.
    pub peak_rss_mib: Option<f64>,
    pub machine: String,
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Deterministic pseudo-images (normalised values in a plausible range), so runs compare.
fn synthetic_batch([batch, height, width]: [usize; 3]) -> InputBatch {
    let n = batch * 3 * height * width;
    let data = (0..n)
        .map(|i| ((i.wrapping_mul(2_654_435_761) % 1000) as f32 / 500.0) - 1.0)
        .collect();
    InputBatch {
        data,
        shape: [batch, 3, height, width],
    }
}

pub fn run(
    backend: &dyn SegmentationBackend,
    model: &str,
    [batch, height, width]: [usize; 3],
    warmup: usize,
    iters: usize,
) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(iters > 0, "--iters must be at least 1");
    anyhow::ensure!(batch > 0, "--batch must be at least 1");
    for _ in 0..warmup {
        backend.segment(synthetic_batch([batch, height, width]))?;
    }
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let batch = synthetic_batch([batch, height, width]);
        let start = Instant::now();
        backend.segment(batch)?;
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    samples.sort_by(f64::total_cmp);
    Ok(BenchReport {
        model: model.to_string(),
        backend: backend.name().to_string(),
        batch,
        height,
        width,
        warmup,
        iters,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mean_ms: mean,
        p50_ms: percentile(&samples, 50.0),
        p90_ms: percentile(&samples, 90.0),
        p99_ms: percentile(&samples, 99.0),
        min_ms: samples[0],
        max_ms: samples[samples.len() - 1],
        fps: batch as f64 * 1e3 / mean,
        peak_rss_mib: peak_rss_mib(),
        machine: machine_description(),
    })
}

#[derive(Debug, Serialize)]
pub struct TrainBenchReport {
    pub model: String,
    pub batch_size: usize,
    pub height: usize,
    pub width: usize,
    pub warmup: usize,
    pub iters: usize,
    pub mean_step_ms: f64,
    pub p50_step_ms: f64,
    pub images_per_s: f64,
    pub peak_rss_mib: Option<f64>,
    pub machine: String,
}

/// Times full training steps (forward, loss, backward, both optimizer updates) of a training
/// config on synthetic batches at its crop size, so data loading is excluded.
pub fn train_throughput(
    config: &TrainConfig,
    warmup: usize,
    iters: usize,
) -> anyhow::Result<TrainBenchReport> {
    anyhow::ensure!(iters > 0, "--iters must be at least 1");
    let device = Device::default().autodiff();
    device.seed(config.seed);
    let mut model = model_config(config)?.init(&device);
    let (mut backbone, mut head) = optimizers(&config.optimizer);
    let [h, w] = config.augment.crop.map(|s| s as usize);
    let n = config.batch_size;
    let images = synthetic_batch([n, h, w]).data;
    let classes = config.dataset.label_space().num_classes();
    // Vertical stripes of every class, so each loss term has work to do.
    let labels = (0..n * h * w)
        .map(|i| ((i % w) * classes / w) as u8)
        .collect();
    let batch = Batch {
        images,
        labels,
        shape: [n, 3, h, w],
    };
    let lr = config.optimizer.base_lr();
    let lrs = (lr, lr * config.optimizer.head_lr_mult());
    let mut samples = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        // In training the loader hands over a fresh batch; the copy stays outside the timing.
        let step_batch = batch.clone();
        let start = Instant::now();
        let optims = &mut (&mut backbone, &mut head);
        (model, _) = train_step(model, optims, step_batch, lrs, &config.loss, &device)?;
        if i >= warmup {
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    samples.sort_by(f64::total_cmp);
    Ok(TrainBenchReport {
        model: config.model.clone(),
        batch_size: n,
        height: h,
        width: w,
        warmup,
        iters,
        mean_step_ms: mean,
        p50_step_ms: percentile(&samples, 50.0),
        images_per_s: n as f64 * 1e3 / mean,
        peak_rss_mib: peak_rss_mib(),
        machine: machine_description(),
    })
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores")
}
