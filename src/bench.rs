//! `rtseg bench`: latency of one backend on one model at one input size, through the
//! frame-level boundary. Warm-up runs are discarded; the network time of every timed run
//! includes moving data in and out of the network and the argmax, which is what a caller pays;
//! the pre/post stages around it are reported beside it.
//! `rtseg bench --train-config`: training throughput of a config's model, loss and optimizer.

use std::time::Instant;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::datasets::loader::Batch;
use crate::pipeline::frame::FrameRef;
use crate::pipeline::stats::percentile;
use crate::pipeline::{Fit, Segmenter};
use crate::train::config::TrainConfig;
use crate::train::{model_config, optimizers, train_step};

#[derive(Debug, Serialize, Deserialize)]
pub struct BenchReport {
    pub model: String,
    pub backend: String,
    pub device: String,
    /// Images per network call.
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub warmup: usize,
    pub iters: usize,
    /// Threads the backend was asked to use (0 = its default, one per core).
    pub threads: usize,
    /// Network time per call, milliseconds.
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Mean decode + fit + normalise, and mean mask post-processing, per call.
    pub pre_mean_ms: f64,
    pub post_mean_ms: f64,
    /// Images per second of the network alone.
    pub fps: f64,
    /// Peak resident memory of the process (VmHWM), MiB; `None` where /proc is absent.
    pub peak_rss_mib: Option<f64>,
    pub machine: String,
}

/// A deterministic pseudo-image, so runs compare.
fn synthetic_frame(height: usize, width: usize) -> RgbImage {
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let i = (y as usize * width + x as usize) as u64;
        image::Rgb([0, 1, 2].map(|c| ((i * 3 + c).wrapping_mul(2_654_435_761) % 251) as u8))
    })
}

/// Times `iters` calls of `batch` frames of `height × width` (the network at that size).
///
/// # Errors
/// Zero iterations or batch, or a backend error.
pub fn run(
    segmenter: &mut dyn Segmenter,
    [batch, height, width]: [usize; 3],
    warmup: usize,
    iters: usize,
    threads: usize,
) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(iters > 0, "--iters must be at least 1");
    anyhow::ensure!(batch > 0, "--batch must be at least 1");
    let image = synthetic_frame(height, width);
    let frames = vec![FrameRef::rgb(&image); batch];
    let fit = Fit {
        size: Some((height as u32, width as u32)),
        ..Fit::default()
    };
    for _ in 0..warmup {
        segmenter.segment(&frames, &fit)?;
    }
    let mut network = Vec::with_capacity(iters);
    let (mut pre, mut post) = (0.0, 0.0);
    for _ in 0..iters {
        let timing = segmenter.segment(&frames, &fit)?[0].timing;
        network.push(timing.network_ms);
        pre += timing.pre_ms;
        post += timing.post_ms;
    }
    let mean = network.iter().sum::<f64>() / network.len() as f64;
    network.sort_by(f64::total_cmp);
    let io = segmenter.io();
    Ok(BenchReport {
        model: io.model.clone(),
        backend: io.backend.to_string(),
        device: io.device.clone(),
        batch,
        height,
        width,
        warmup,
        iters,
        threads,
        mean_ms: mean,
        p50_ms: percentile(&network, 50.0),
        p90_ms: percentile(&network, 90.0),
        p99_ms: percentile(&network, 99.0),
        min_ms: network[0],
        max_ms: network[network.len() - 1],
        pre_mean_ms: pre / iters as f64,
        post_mean_ms: post / iters as f64,
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
    let device = crate::device::device()?.autodiff();
    device.seed(config.seed);
    let model = model_config(config)?.init(&device);
    let (mut backbone, mut head) = optimizers(&config.optimizer);
    let [h, w] = config.augment.crop.map(|s| s as usize);
    let classes = config.dataset.label_space().num_classes();
    let batch = synthetic_batch(config.batch_size, h, w, classes);
    let lr = config.optimizer.base_lr();
    let lrs = (lr, lr * config.optimizer.head_lr_mult());
    let name = config.model.clone();
    time_steps(name, model, &batch, warmup, iters, |model, batch| {
        let optims = &mut (&mut backbone, &mut head);
        Ok(train_step(model, optims, batch, lrs, &config.loss, &device)?.0)
    })
}

/// `n` images of `h`×`w` with a fixed pattern and labels in vertical stripes of every one of
/// `classes` classes, so each loss term has work to do.
pub fn synthetic_batch(n: usize, h: usize, w: usize, classes: usize) -> Batch {
    Batch {
        images: (0..n * 3 * h * w)
            .map(|i| ((i.wrapping_mul(2_654_435_761) % 1000) as f32 / 500.0) - 1.0)
            .collect(),
        labels: (0..n * h * w)
            .map(|i| ((i % w) * classes / w) as u8)
            .collect(),
        shape: [n, 3, h, w],
    }
}

/// Runs `step` on copies of `batch`, `warmup` untimed times then `iters` timed ones; each
/// step takes the network the previous one returned (optimizer steps consume it).
///
/// # Errors
/// `iters` of 0, or the first error of a step.
pub fn time_steps<M>(
    model: String,
    mut network: M,
    batch: &Batch,
    warmup: usize,
    iters: usize,
    mut step: impl FnMut(M, Batch) -> anyhow::Result<M>,
) -> anyhow::Result<TrainBenchReport> {
    anyhow::ensure!(iters > 0, "--iters must be at least 1");
    let mut samples = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        // In training the loader hands over a fresh batch; the copy stays outside the timing.
        let step_batch = batch.clone();
        let start = Instant::now();
        network = step(network, step_batch)?;
        if i >= warmup {
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    samples.sort_by(f64::total_cmp);
    let [n, _, h, w] = batch.shape;
    Ok(TrainBenchReport {
        model,
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

pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn machine_description() -> String {
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

/// Timings of the ground projection one camera's masks go through in the node.
#[derive(Debug, Serialize, Deserialize)]
pub struct GroundBenchReport {
    /// Mask size, pixels.
    pub height: u32,
    pub width: u32,
    /// Grid cells (columns × rows) and free-space rays.
    pub grid: (u32, u32),
    pub rays: usize,
    /// Building the lookup table, once per camera_info, ms.
    pub table_ms: f64,
    /// Per mask: drivable grid, class grid and free-space scan together, ms.
    pub frame_mean_ms: f64,
    pub frame_p50_ms: f64,
    pub frame_p99_ms: f64,
    pub iters: usize,
    pub machine: String,
}

/// Times [`GroundProjector::project`](crate::geometry::ground::GroundProjector::project) on
/// a synthetic mask of `height × width` (road in the lower half) seen by `camera`.
///
/// # Errors
/// Zero iterations, or a calibration the projector refuses.
pub fn ground(
    camera: &crate::geometry::camera::CameraCalibration,
    extrinsics: crate::geometry::ground::Extrinsics,
    grid: crate::geometry::ground::GridSpec,
    (height, width): (u32, u32),
    warmup: usize,
    iters: usize,
) -> anyhow::Result<GroundBenchReport> {
    use crate::geometry::ground::{GroundProjector, ScanSpec};
    anyhow::ensure!(iters > 0, "--iters must be at least 1");
    let scan = ScanSpec::default();
    let drivable = crate::geometry::drivable_table(crate::labels::LabelSpace::Camvid, &[])
        .map_err(anyhow::Error::msg)?;
    let mut projector = GroundProjector::new(grid, scan, drivable).map_err(anyhow::Error::msg)?;
    let mask: Vec<u8> = (0..height * width)
        .map(|i| {
            if i / width > height / 2 {
                3
            } else {
                (i % 11) as u8
            }
        })
        .collect();
    let start = Instant::now();
    projector
        .lookup(camera, &extrinsics, (width, height))
        .map_err(anyhow::Error::msg)?;
    let table_ms = start.elapsed().as_secs_f64() * 1e3;
    for doubt in projector.take_doubts() {
        eprintln!("warning: {doubt}");
    }
    let mut samples = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        let start = Instant::now();
        let frame = projector
            .project(camera, &extrinsics, &mask, (width, height), true)
            .map_err(anyhow::Error::msg)?;
        std::hint::black_box(frame);
        if i >= warmup {
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    samples.sort_by(f64::total_cmp);
    Ok(GroundBenchReport {
        height,
        width,
        grid: grid.size(),
        rays: scan.rays(),
        table_ms,
        frame_mean_ms: mean,
        frame_p50_ms: percentile(&samples, 50.0),
        frame_p99_ms: percentile(&samples, 99.0),
        iters,
        machine: machine_description(),
    })
}
