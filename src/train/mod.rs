//! `rtseg train`: the training loop. Batches come from worker threads
//! ([`BatchLoader`]); the loss is the model family's (CE/OHEM for MsNet, multi-scale joint
//! supervision for MFARANet); two SGD/AdamW optimizers give the backbone and the rest of the
//! network their own learning rates; checkpoints are atomic and resumable to the step.

pub mod checkpoint;
pub mod config;
pub mod plots;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use serde_json::json;

use crate::backend::burn::BurnRunner;
use crate::datasets::loader::{Batch, BatchLoader, Plan};
use crate::evaluation::{ConfusionMatrix, evaluate};
use crate::models::card::{InputSpec, ModelCard};
use crate::models::losses::LossConfig;
use crate::models::segmentors::{SegmentationModel, Segmentor, SegmentorConfig};
use crate::models::{lookup, resolve};
use crate::pipeline::cpu::CpuSegmenter;
use crate::weights;
use checkpoint::{Checkpoint, RunRecord, TrainState};
use config::{OptimizerConfig, TrainConfig};

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    Interrupted { step: u64 },
}

/// The network configuration of a training config, with the dataset's class count.
pub fn model_config(config: &TrainConfig) -> anyhow::Result<SegmentorConfig> {
    let classes = config.dataset.label_space().num_classes();
    Ok(resolve(
        &config.model,
        classes,
        config.model_config.clone(),
    )?)
}

/// The model card the run trains for: the registered model's input rules (ImageNet's for a
/// name the registry lacks) and the dataset's label space.
pub fn model_card(config: &TrainConfig) -> ModelCard {
    let space = config.dataset.label_space();
    ModelCard {
        model: config.model.clone(),
        input: lookup(&config.model, space.num_classes())
            .map(|spec| spec.input)
            .unwrap_or(InputSpec::IMAGENET_RGB),
        label_space: space,
    }
}

fn build_optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    match config {
        OptimizerConfig::Sgd {
            momentum,
            weight_decay,
            ..
        } => SgdConfig::new()
            // PyTorch semantics: burn's MomentumConfig defaults to dampening 0.1.
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(*momentum)
                    .with_dampening(0.0),
            ))
            .with_weight_decay(Some(WeightDecayConfig::new(*weight_decay)))
            .init(),
        OptimizerConfig::AdamW { weight_decay, .. } => {
            AdamWConfig::new().with_weight_decay(*weight_decay).init()
        }
    }
}

/// Everything of one run that the loop mutates.
struct Run {
    config: TrainConfig,
    dir: PathBuf,
    model: Segmentor,
    backbone_optim: ModuleOptimizer,
    head_optim: ModuleOptimizer,
    state: TrainState,
    device: Device,
}

/// Asked after every step with the number of completed steps; `true` checkpoints and stops
/// the run (the CLI answers from its Ctrl-C flag).
pub type StopRequest<'a> = &'a dyn Fn(u64) -> bool;

/// Starts a new run in `config.output_dir` (refusing a directory that already holds one).
pub fn train(config: TrainConfig, stop: StopRequest) -> anyhow::Result<Outcome> {
    let dir = config.output_dir.clone();
    if dir.join(checkpoint::CONFIG_FILE).exists() {
        anyhow::bail!(
            "{} already holds a run; resume it with --resume {} or choose another output_dir",
            dir.display(),
            dir.display()
        );
    }
    // Bad data paths fail here, before a run directory exists that would block a retry.
    let record = RunRecord::new(&config)?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let run = Run::fresh(config, dir.clone())?;
    crate::io::write_atomic(
        &dir.join(checkpoint::CONFIG_FILE),
        serde_yaml::to_string(&run.config)?.as_bytes(),
    )?;
    record.write(&dir)?;
    run.train_loop(stop)
}

/// Continues the run in `dir` from its latest checkpoint: same step, optimizer state,
/// data order and schedule; a run stopped before its first checkpoint starts again from
/// step 0 with its recorded config. Refuses a run whose `config.yaml` or dataset changed
/// since it started ([`RunRecord::check`]).
pub fn resume(dir: &Path, stop: StopRequest) -> anyhow::Result<Outcome> {
    let config_path = dir.join(checkpoint::CONFIG_FILE);
    let config = TrainConfig::load(&config_path, &[])?;
    RunRecord::check(dir, &config)?;
    let Some(ckpt) = Checkpoint::latest(dir)? else {
        eprintln!(
            "{} stopped before its first checkpoint; starting it again from step 0",
            dir.display()
        );
        checkpoint::truncate_metrics(dir, 0)?;
        return Run::fresh(config, dir.to_path_buf())?.train_loop(stop);
    };
    let device = crate::device::device()?.autodiff();
    let fresh = model_config(&config)?.init(&device);
    let (backbone_optim, head_optim) = optimizers(&config.optimizer);
    let (model, backbone_optim, head_optim, state) =
        ckpt.load(fresh, backbone_optim, head_optim)?;
    checkpoint::truncate_metrics(dir, state.step)?;
    eprintln!("resuming {} at step {}", dir.display(), state.step);
    Run {
        config,
        dir: dir.to_path_buf(),
        model,
        backbone_optim,
        head_optim,
        state,
        device,
    }
    .train_loop(stop)
}

/// One optimisation step: loss on `batch`, backward, then the backbone and the rest of the
/// network updated by their own optimizers at learning rates `(backbone, rest)`. Returns the
/// updated model and the named loss parts (the first is the total).
pub fn train_step(
    model: Segmentor,
    (backbone_optim, head_optim): &mut (&mut ModuleOptimizer, &mut ModuleOptimizer),
    batch: Batch,
    (backbone_lr, head_lr): (f64, f64),
    loss: &LossConfig,
    device: &Device,
) -> anyhow::Result<(Segmentor, Vec<(&'static str, f32)>)> {
    let loss = model.losses(batch.image_tensor(device), &batch.label_map(), loss)?;
    let parts = loss.parts;
    if !parts[0].1.is_finite() {
        anyhow::bail!("loss became {}; lower the learning rate", parts[0].1);
    }
    let mut grads = loss.total.backward();
    let backbone = GradientsParams::from_params(&mut grads, &model, &model.backbone_params());
    let rest = GradientsParams::from_grads(grads, &model);
    let model = backbone_optim.step(backbone_lr, model, backbone);
    Ok((head_optim.step(head_lr, model, rest), parts))
}

/// Fresh optimizers for the backbone and the rest of the network.
pub fn optimizers(config: &OptimizerConfig) -> (ModuleOptimizer, ModuleOptimizer) {
    (build_optimizer(config), build_optimizer(config))
}

impl Run {
    /// Step 0 of a run: the seeded initialisation (then `init_weights`) and new optimizers.
    fn fresh(config: TrainConfig, dir: PathBuf) -> anyhow::Result<Self> {
        let device = crate::device::device()?.autodiff();
        device.seed(config.seed);
        let mut model = model_config(&config)?.init(&device);
        if let Some(path) = &config.init_weights {
            model = weights::load(model, &config.model, path)?;
        }
        let (backbone_optim, head_optim) = optimizers(&config.optimizer);
        Ok(Run {
            backbone_optim,
            head_optim,
            config,
            dir,
            model,
            state: TrainState::default(),
            device,
        })
    }

    fn train_loop(mut self, stop: StopRequest) -> anyhow::Result<Outcome> {
        let cfg = self.config.clone();
        let samples = cfg.dataset.list(&cfg.train_split)?;
        eprintln!(
            "training {} on {} images of {:?}/{} for {} steps of {} (output {})",
            cfg.model,
            samples.len(),
            cfg.dataset.label_space(),
            cfg.train_split,
            cfg.iterations,
            cfg.batch_size,
            self.dir.display()
        );
        let plan = Plan {
            source: cfg.dataset.clone(),
            samples,
            augment: cfg.augment.clone(),
            input: model_card(&cfg).input,
            batch: cfg.batch_size,
            seed: cfg.seed,
        };
        let mut loader = BatchLoader::new(plan, self.state.step, cfg.workers);
        let progress = Progress::new(self.state.step, cfg.iterations);
        let mut window = (Instant::now(), 0u64);
        while self.state.step < cfg.iterations {
            let batch = loader.next_batch()?;
            let lr = cfg
                .schedule
                .lr(cfg.optimizer.base_lr(), self.state.step, cfg.iterations);
            let parts = self.step(batch, lr)?;
            self.state.step += 1;
            window.1 += 1;
            let step = self.state.step;
            if step.is_multiple_of(cfg.log_interval) || step == cfg.iterations {
                let secs = window.0.elapsed().as_secs_f64();
                let ips = (window.1 as usize * cfg.batch_size) as f64 / secs.max(1e-9);
                self.state.elapsed_s += secs;
                window = (Instant::now(), 0);
                let mut record = json!({"kind": "train", "step": step, "lr": lr,
                    "images_per_s": ips, "elapsed_s": self.state.elapsed_s});
                for (name, value) in &parts {
                    record[*name] = json!(value);
                }
                checkpoint::append_metrics(&self.dir, &record)?;
                progress.update(
                    step,
                    &format!("loss {:.4} lr {lr:.2e} {ips:.1} img/s", parts[0].1),
                );
            }
            let eval_due = cfg.eval_interval > 0 && step.is_multiple_of(cfg.eval_interval);
            if eval_due || step == cfg.iterations {
                self.evaluate_and_keep_best(&progress)?;
            }
            let due = step.is_multiple_of(cfg.checkpoint_interval) || step == cfg.iterations;
            if due {
                self.checkpoint()?;
            }
            // A stop asked for during that checkpoint's write finds it complete: no second one.
            if step < cfg.iterations && stop(step) {
                if !due {
                    self.checkpoint()?;
                }
                progress.finish(&format!("interrupted: checkpoint at step {step}"));
                return Ok(Outcome::Interrupted { step });
            }
        }
        // The last step's evaluation has already redrawn the plots.
        let final_path = self.dir.join("final.bpk");
        weights::save(&self.model.valid(), &cfg.model, &final_path)?;
        progress.finish(&format!("done: {}", final_path.display()));
        Ok(Outcome::Finished)
    }

    fn step(&mut self, batch: Batch, lr: f64) -> anyhow::Result<Vec<(&'static str, f32)>> {
        let optimizers = &mut (&mut self.backbone_optim, &mut self.head_optim);
        let (model, parts) = train_step(
            self.model.clone(),
            optimizers,
            batch,
            (lr, lr * self.config.optimizer.head_lr_mult()),
            &self.config.loss,
            &self.device,
        )
        .map_err(|e| anyhow::anyhow!("step {}: {e}", self.state.step))?;
        self.model = model;
        Ok(parts)
    }

    fn evaluate_and_keep_best(&mut self, progress: &Progress) -> anyhow::Result<()> {
        let cfg = &self.config;
        let space = cfg.dataset.label_space();
        let runner = BurnRunner::new(
            self.model.valid(),
            &cfg.model,
            space.num_classes(),
            self.device.clone().inner(),
        );
        let mut segmenter = CpuSegmenter::new(runner, model_card(cfg));
        let size = cfg.eval_size.map(|[h, w]| (h, w));
        let matrix: ConfusionMatrix = evaluate(
            &mut segmenter,
            &cfg.dataset,
            &cfg.val_split,
            size,
            None,
            |i, n| progress.message(&format!("evaluating {i}/{n}")),
        )?;
        let metrics = matrix.metrics();
        let step = self.state.step;
        checkpoint::append_metrics(
            &self.dir,
            &json!({"kind": "eval", "step": step, "miou": metrics.miou,
                "pixel_accuracy": metrics.pixel_accuracy,
                "mean_class_accuracy": metrics.mean_class_accuracy,
                "class_iou": metrics.class_iou, "confusion": matrix.counts}),
        )?;
        progress.println(&format!(
            "step {step}: val mIoU {:.2} aAcc {:.2} mAcc {:.2}",
            100.0 * metrics.miou,
            100.0 * metrics.pixel_accuracy,
            100.0 * metrics.mean_class_accuracy
        ));
        if metrics.miou > self.state.best_miou.unwrap_or(f64::NEG_INFINITY) {
            self.state.best_miou = Some(metrics.miou);
            self.state.best_step = step;
            weights::save(&self.model.valid(), &cfg.model, &self.dir.join("best.bpk"))?;
        }
        plots::write_all(&self.dir, space)
    }

    fn checkpoint(&self) -> anyhow::Result<()> {
        Checkpoint::write(
            &self.dir,
            &self.model,
            &self.backbone_optim,
            &self.head_optim,
            &self.state,
        )
    }
}

/// A progress bar on a terminal, plain log lines otherwise (CI, files).
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// When the last plain status line was printed (without a terminal).
    last_line: std::cell::Cell<std::time::Instant>,
}

/// Without a terminal, status lines (e.g. validation progress) at most this often.
const STATUS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Progress {
    pub(crate) fn new(start: u64, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}] {msg}",
                )
                .expect("static template"),
            );
            bar.set_position(start);
            bar
        });
        Self {
            bar,
            last_line: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    pub(crate) fn update(&self, step: u64, message: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(step);
                bar.set_message(message.to_string());
            }
            None => eprintln!("step {step}: {message}"),
        }
    }

    /// A status that changes often (validation progress): the bar's message on a terminal,
    /// else a log line every [`STATUS_EVERY`], so a long validation is never silent.
    pub(crate) fn message(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(message.to_string()),
            None if self.last_line.get().elapsed() >= STATUS_EVERY => {
                eprintln!("{message}");
                self.last_line.set(std::time::Instant::now());
            }
            None => {}
        }
    }

    pub(crate) fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub(crate) fn finish(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("{line}");
    }
}
