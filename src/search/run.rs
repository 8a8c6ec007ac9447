//! `rtseg search`: the staged, first-order bilevel search (DARTS §2.3 with ξ = 0; P-DARTS'
//! progressive stages, as ANAS runs them — architecture brief §1.1).
//!
//! The training split is shuffled once (seeded) and halved: network weights train on one
//! half, α on the other, alternating step by step after a weight-only warm-up. Each stage is
//! a fresh supernet (deeper, narrower, fewer candidate operations than the last); between
//! stages every edge keeps its strongest operations, and the last stage's α derive the
//! genotype. A search directory holds `config.yaml`, one `stage-<i>/` run per stage (its
//! `space.yaml`, metrics with α snapshots, resumable checkpoints), `search_log.jsonl` (what
//! was pruned when), `genotype.yaml` and `msnet-anas.yaml` (a `--model-config` file), and the
//! PNGs of [`super::plots`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::ParamId;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::network::{SearchNet, SearchNetConfig};
use super::space::{Candidate, EDGES, SearchSpace, edge_endpoints};
use crate::bench::{self, TrainBenchReport};
use crate::datasets::loader::{Batch, BatchLoader, Plan};
use crate::datasets::sources::{DatasetSource, SamplePaths};
use crate::datasets::transforms::AugmentConfig;
use crate::io::write_atomic;
use crate::models::backbones::darts::Genotype;
use crate::models::card::InputSpec;
use crate::models::losses::{CrossEntropyConfig, cross_entropy, scalar};
use crate::models::profile::trainable_params;
use crate::models::segmentors::SegmentorConfig;
use crate::models::segmentors::msnet::{MsNetConfig, MsNetEncoderConfig};
use crate::train::checkpoint::{self, Checkpoint, RunRecord, TrainState};
use crate::train::config::{ScheduleConfig, log_interval, read_config, train_split};
use crate::train::{Outcome, Progress, StopRequest};

/// The whole search: data, candidate operations, stages, optimizers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub dataset: DatasetSource,
    /// The split searched on; α never sees any other.
    #[serde(default = "train_split")]
    pub train_split: String,
    pub augment: AugmentConfig,
    /// The first stage's candidates on every edge, DARTS names (`none`, `sep_conv_3x3`, …).
    pub candidates: Vec<Candidate>,
    pub stages: Vec<StageConfig>,
    pub weight_optimizer: WeightOptimizer,
    pub arch_optimizer: ArchOptimizer,
    /// Weight-only steps at the start of each stage before α moves.
    #[serde(default)]
    pub arch_warmup: u64,
    pub checkpoint_interval: u64,
    #[serde(default = "log_interval")]
    pub log_interval: u64,
    pub seed: u64,
    #[serde(default = "workers")]
    pub workers: usize,
    pub output_dir: PathBuf,
}

fn workers() -> usize {
    1
}

/// One stage of the asymptotic schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Cell layout of this stage's supernet (`N`/`R`, at least three `R`).
    pub layout: String,
    /// Stem width of this stage's supernet.
    pub channels: usize,
    pub batch_size: usize,
    pub steps: u64,
    /// Operations each edge keeps for the next stage; absent on the last stage, whose α
    /// derive the genotype.
    #[serde(default)]
    pub keep_ops: Option<usize>,
}

/// SGD on the network weights with poly decay (`schedule`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightOptimizer {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f32,
    #[serde(default = "default_schedule")]
    pub schedule: ScheduleConfig,
}

fn default_schedule() -> ScheduleConfig {
    ScheduleConfig {
        power: 0.9,
        warmup_iters: 0,
        warmup_ratio: 0.1,
        min_lr: 0.0,
    }
}

/// Adam on α (DARTS: lr 3e-4, β = (0.5, 0.999), weight decay 1e-3), constant rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchOptimizer {
    pub lr: f64,
    pub weight_decay: f32,
}

impl SearchConfig {
    /// Reads a search config and applies `--set` overrides.
    ///
    /// # Errors
    /// An unreadable file, an unknown key or operation, or an impossible schedule, named.
    pub fn load(path: &Path, overrides: &[String]) -> anyhow::Result<Self> {
        read_config(path, overrides, Self::validate)
    }

    /// # Errors
    /// A message naming the key that breaks a rule.
    pub fn validate(&self) -> Result<(), String> {
        let space =
            SearchSpace::uniform(&self.candidates).map_err(|e| format!("candidates: {e}"))?;
        if self.stages.is_empty() {
            return Err("stages: a search needs at least one stage".into());
        }
        let mut ops = self.candidates.iter().filter(|c| c.op().is_some()).count();
        let last = self.stages.len() - 1;
        for (i, stage) in self.stages.iter().enumerate() {
            let key = format!("stages[{i}]");
            if stage.steps == 0 || stage.batch_size == 0 {
                return Err(format!("{key}: steps and batch_size must be positive"));
            }
            let net = SearchNetConfig {
                channels: stage.channels,
                layout: stage.layout.clone(),
                space: space.clone(),
                num_classes: 1,
            };
            net.validate().map_err(|e| format!("{key}: {e}"))?;
            match (i == last, stage.keep_ops) {
                (true, Some(_)) => {
                    return Err(format!(
                        "{key}.keep_ops: the last stage derives the genotype and keeps nothing"
                    ));
                }
                (false, None) => {
                    return Err(format!("{key}.keep_ops: every stage but the last needs it"));
                }
                (false, Some(0)) => {
                    return Err(format!(
                        "{key}.keep_ops: 0; every stage but the last keeps at least one operation"
                    ));
                }
                (false, Some(keep)) if keep > ops => {
                    return Err(format!(
                        "{key}.keep_ops: {keep} operations cannot be kept of the {ops} this stage searches"
                    ));
                }
                (false, Some(keep)) => ops = keep,
                (true, None) => {}
            }
        }
        if self.checkpoint_interval == 0 || self.log_interval == 0 {
            return Err("checkpoint_interval and log_interval must be positive".into());
        }
        if !(self.weight_optimizer.lr > 0.0 && self.arch_optimizer.lr > 0.0) {
            return Err("weight_optimizer.lr and arch_optimizer.lr must be positive".into());
        }
        self.augment.validate()
    }

    /// The config of the search in `dir`, which may have moved since it started: its
    /// stages live where it is now.
    ///
    /// # Errors
    /// No readable `config.yaml` in `dir`, or one that breaks a rule.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let mut config = Self::load(&dir.join(checkpoint::CONFIG_FILE), &[])?;
        config.output_dir = dir.to_path_buf();
        Ok(config)
    }

    pub(crate) fn stage_dir(&self, stage: usize) -> PathBuf {
        self.output_dir.join(format!("stage-{}", stage + 1))
    }
}

/// Where a stage's search space is written before the stage starts.
pub(crate) const SPACE_FILE: &str = "space.yaml";
/// The derived genotype, in `configs/genotypes/` format.
pub const GENOTYPE_FILE: &str = "genotype.yaml";
/// The MsNet-ANAS model config with the derived genotype (`--model-config`).
pub const MODEL_FILE: &str = "msnet-anas.yaml";
const LOG_FILE: &str = "search_log.jsonl";

/// Starts a search in `config.output_dir` (refusing one that already holds a search).
pub fn search(config: SearchConfig, stop: StopRequest) -> anyhow::Result<Outcome> {
    let dir = &config.output_dir;
    if dir.join(checkpoint::CONFIG_FILE).exists() {
        anyhow::bail!(
            "{} already holds a search; resume it with --resume {} or choose another output_dir",
            dir.display(),
            dir.display()
        );
    }
    // A bad data path fails before the directory exists.
    config.dataset.list(&config.train_split)?;
    std::fs::create_dir_all(config.stage_dir(0))
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let space = SearchSpace::uniform(&config.candidates).map_err(anyhow::Error::msg)?;
    write_yaml(&config.stage_dir(0).join(SPACE_FILE), &space)?;
    write_yaml(&dir.join(checkpoint::CONFIG_FILE), &config)?;
    record(&config)?.write(dir)?;
    run_stages(&config, stop)
}

/// What a resume compares: the config as `config.yaml` holds it and the searched split's
/// digest.
fn record(config: &SearchConfig) -> anyhow::Result<RunRecord> {
    RunRecord::of(config, &config.dataset, &[&config.train_split])
}

/// Continues the search in `dir`: the first unfinished stage from its latest checkpoint
/// (same weights, α, optimizer states and data order), then the rest.
///
/// # Errors
/// A search whose `config.yaml` or searched split changed since it started, naming what
/// changed; then any error of the search itself.
pub fn resume(dir: &Path, stop: StopRequest) -> anyhow::Result<Outcome> {
    let mut config = SearchConfig::load(&dir.join(checkpoint::CONFIG_FILE), &[])?;
    record(&config)?.check_against(dir)?;
    // The directory may have moved since it started; the search continues where it is.
    config.output_dir = dir.to_path_buf();
    run_stages(&config, stop)
}

fn write_yaml<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    write_atomic(path, serde_yaml::to_string(value)?.as_bytes())
}

pub(crate) fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn run_stages(config: &SearchConfig, stop: StopRequest) -> anyhow::Result<Outcome> {
    let (weight_half, arch_half) = halves(config)?;
    for (i, stage) in config.stages.iter().enumerate() {
        let finished = match stage.keep_ops {
            Some(_) => config.stage_dir(i + 1).join(SPACE_FILE).exists(),
            None => config.output_dir.join(GENOTYPE_FILE).exists(),
        };
        if finished {
            continue;
        }
        let space: SearchSpace = read_yaml(&config.stage_dir(i).join(SPACE_FILE))?;
        let halves = (weight_half.clone(), arch_half.clone());
        let stage_run = StageRun::start(config, i, space.clone(), halves)?;
        let (net, outcome) = stage_run.run(stop)?;
        if let Outcome::Interrupted { .. } = outcome {
            return Ok(outcome);
        }
        let (normal, reduce) = net.alphas();
        match stage.keep_ops {
            Some(keep) => {
                let next = space
                    .prune(&normal, &reduce, keep)
                    .map_err(anyhow::Error::msg)?;
                log_pruning(config, i, &space, &next)?;
                std::fs::create_dir_all(config.stage_dir(i + 1))?;
                write_yaml(&config.stage_dir(i + 1).join(SPACE_FILE), &next)?;
            }
            None => finish(config, &space, &normal, &reduce)?,
        }
        super::plots::write_all(config)?;
    }
    eprintln!(
        "genotype: {}",
        config.output_dir.join(GENOTYPE_FILE).display()
    );
    Ok(Outcome::Finished)
}

/// The searched split shuffled with the seed and cut in two: (weights, α).
fn halves(config: &SearchConfig) -> anyhow::Result<(Vec<SamplePaths>, Vec<SamplePaths>)> {
    let mut samples = config.dataset.list(&config.train_split)?;
    if samples.len() < 2 {
        anyhow::bail!(
            "{}: a search needs at least two images to split between weights and α, found {}",
            config.train_split,
            samples.len()
        );
    }
    samples.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(config.seed));
    let arch = samples.split_off(samples.len() / 2);
    Ok((samples, arch))
}

/// One line per edge whose candidates changed: what it kept and what it dropped.
fn log_pruning(
    config: &SearchConfig,
    stage: usize,
    before: &SearchSpace,
    after: &SearchSpace,
) -> anyhow::Result<()> {
    for (cell, old, new) in [
        ("normal", &before.normal, &after.normal),
        ("reduce", &before.reduce, &after.reduce),
    ] {
        for e in 0..EDGES {
            let (input, node) = edge_endpoints(e);
            let pruned: Vec<String> = old[e]
                .iter()
                .filter(|c| !new[e].contains(c))
                .map(ToString::to_string)
                .collect();
            let kept: Vec<String> = new[e].iter().map(ToString::to_string).collect();
            checkpoint::append_record(
                &config.output_dir.join(LOG_FILE),
                &json!({"after_stage": stage + 1, "cell": cell, "edge": e, "input": input,
                    "node": node, "kept": kept, "pruned": pruned}),
            )?;
        }
    }
    Ok(())
}

/// Writes the genotype of the last stage's α and the MsNet-ANAS config that uses it.
fn finish(
    config: &SearchConfig,
    space: &SearchSpace,
    normal: &[Vec<f32>],
    reduce: &[Vec<f32>],
) -> anyhow::Result<()> {
    let name = format!(
        "searched by rtseg search on {}/{}",
        config.dataset.label_space().name(),
        config.train_split
    );
    let genotype = space
        .derive(&name, normal, reduce)
        .map_err(anyhow::Error::msg)?;
    genotype.validate().map_err(anyhow::Error::msg)?;
    write_genotype(config, &genotype, &config.output_dir)
}

/// Writes `genotype.yaml` and `msnet-anas.yaml` (MsNet-ANAS, C = 16, N R N N R N N N R, with
/// the genotype and the dataset's classes) into `dir`.
///
/// # Errors
/// A file that cannot be written.
pub fn write_genotype(
    config: &SearchConfig,
    genotype: &Genotype,
    dir: &Path,
) -> anyhow::Result<()> {
    let model = msnet_anas(genotype.clone(), config.dataset.label_space().num_classes());
    write_yaml(&dir.join(MODEL_FILE), &model)?;
    write_yaml(&dir.join(GENOTYPE_FILE), genotype)
}

fn msnet_anas(genotype: Genotype, num_classes: usize) -> SegmentorConfig {
    SegmentorConfig::MsNet(MsNetConfig {
        encoder: MsNetEncoderConfig::Darts {
            channels: 16,
            layout: "NRNNRNNNR".into(),
            genotype,
        },
        num_classes,
        masg_fusion: crate::models::decoders::mfma::MasgFusion::SigmoidGate,
    })
}

/// The random control of a NAS comparison: a genotype drawn from the first stage's search
/// space with `seed`; with `like`, the one of `draws` draws whose MsNet-ANAS has the
/// trainable-parameter count closest to `like`'s (a random network "of similar size").
///
/// # Errors
/// `draws` of 0, or a space an edge of which offers no operation.
pub fn random_genotype(
    config: &SearchConfig,
    like: Option<&Genotype>,
    draws: usize,
    seed: u64,
) -> anyhow::Result<Genotype> {
    anyhow::ensure!(draws > 0, "--draws must be at least 1");
    let space = SearchSpace::uniform(&config.candidates).map_err(anyhow::Error::msg)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Counting parameters needs no accelerator.
    let device = Device::flex();
    let classes = config.dataset.label_space().num_classes();
    let params = |g: &Genotype| trainable_params(&msnet_anas(g.clone(), classes).init(&device));
    let target = like.map(params);
    let mut best: Option<(usize, Genotype)> = None;
    for draw in 0..if like.is_some() { draws } else { 1 } {
        let name = format!("random draw {draw} (seed {seed}) from the search space");
        let genotype = space.sample(&name, &mut rng).map_err(anyhow::Error::msg)?;
        let distance = target.map_or(0, |t| params(&genotype).abs_diff(t));
        if best.as_ref().is_none_or(|(d, _)| distance < *d) {
            best = Some((distance, genotype));
        }
    }
    Ok(best.expect("at least one draw").1)
}

/// Times search steps of stage `index` (0-based): an α step and a network-weight step on
/// synthetic batches at the config's crop size, as the search alternates them after its
/// warm-up, so data loading is excluded. The stage's search space is the one its search
/// directory holds when the search has reached it; otherwise each edge offers `none` and
/// the first operations of `candidates` the schedule keeps (operation costs differ, so the
/// report names which).
///
/// # Errors
/// A stage out of range, an unreadable `space.yaml`, `iters` of 0, or a failing step.
pub fn bench_stage(
    config: &SearchConfig,
    index: usize,
    warmup: usize,
    iters: usize,
) -> anyhow::Result<TrainBenchReport> {
    let stage = config.stages.get(index).ok_or_else(|| {
        anyhow::anyhow!(
            "--stage {}: the search has {} stages",
            index + 1,
            config.stages.len()
        )
    })?;
    let space_file = config.stage_dir(index).join(SPACE_FILE);
    let (space, which) = if space_file.exists() {
        (read_yaml(&space_file)?, "its searched space")
    } else {
        let keep = index.checked_sub(1).and_then(|i| config.stages[i].keep_ops);
        let ops = config.candidates.iter().filter(|c| c.op().is_some());
        let kept: Vec<Candidate> = config
            .candidates
            .iter()
            .filter(|c| c.op().is_none())
            .chain(ops.take(keep.unwrap_or(usize::MAX)))
            .copied()
            .collect();
        let space = SearchSpace::uniform(&kept).map_err(anyhow::Error::msg)?;
        (space, "the first candidates kept")
    };
    let ops = space.normal[0].iter().filter(|c| c.op().is_some()).count();
    let run = StageRun::fresh(config, index, space, (Vec::new(), Vec::new()))?;
    let [h, w] = config.augment.crop.map(|s| s as usize);
    let classes = config.dataset.label_space().num_classes();
    let batch = bench::synthetic_batch(stage.batch_size, h, w, classes);
    let plural = if ops == 1 { "" } else { "s" };
    let name = format!(
        "search stage {} ({}, {} channels, {ops} op{plural} per edge: {which})",
        index + 1,
        stage.layout,
        stage.channels
    );
    let (arch_lr, lr) = (config.arch_optimizer.lr, config.weight_optimizer.lr);
    bench::time_steps(name, run, &batch, warmup, iters, |mut run, batch| {
        run.net = run.step(&batch, true, arch_lr)?.0;
        run.net = run.step(&batch, false, lr)?.0;
        Ok(run)
    })
}

/// One stage being searched.
struct StageRun<'a> {
    config: &'a SearchConfig,
    index: usize,
    dir: PathBuf,
    net: SearchNet,
    weight_optim: ModuleOptimizer,
    arch_optim: ModuleOptimizer,
    state: TrainState,
    weight_ids: Vec<ParamId>,
    arch_ids: Vec<ParamId>,
    halves: (Vec<SamplePaths>, Vec<SamplePaths>),
    device: Device,
}

impl<'a> StageRun<'a> {
    /// The stage's supernet from its latest checkpoint, or fresh.
    fn start(
        config: &'a SearchConfig,
        index: usize,
        space: SearchSpace,
        halves: (Vec<SamplePaths>, Vec<SamplePaths>),
    ) -> anyhow::Result<Self> {
        let mut run = Self::fresh(config, index, space, halves)?;
        if let Some(ckpt) = Checkpoint::latest(&run.dir)? {
            let (net, weight_optim, arch_optim, state) =
                ckpt.load(run.net, run.weight_optim, run.arch_optim)?;
            checkpoint::truncate_metrics(&run.dir, state.step)?;
            eprintln!("resuming {} at step {}", run.dir.display(), state.step);
            // Loading may carry the checkpoint's parameter ids; the step masks follow them.
            (run.weight_ids, run.arch_ids) = (net.weight_params(), net.arch_params());
            (run.net, run.weight_optim, run.arch_optim) = (net, weight_optim, arch_optim);
            run.state = state;
        }
        Ok(run)
    }

    /// The stage's supernet, freshly initialised from the stage's seed, at step 0.
    fn fresh(
        config: &'a SearchConfig,
        index: usize,
        space: SearchSpace,
        halves: (Vec<SamplePaths>, Vec<SamplePaths>),
    ) -> anyhow::Result<Self> {
        let stage = &config.stages[index];
        let dir = config.stage_dir(index);
        let device = crate::device::device()?.autodiff();
        device.seed(config.seed + index as u64);
        let net_config = SearchNetConfig {
            channels: stage.channels,
            layout: stage.layout.clone(),
            space,
            num_classes: config.dataset.label_space().num_classes(),
        };
        net_config.validate().map_err(anyhow::Error::msg)?;
        let net = net_config.init(&device);
        let w = &config.weight_optimizer;
        let weight_optim = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(w.momentum)
                    .with_dampening(0.0),
            ))
            .with_weight_decay(Some(WeightDecayConfig::new(w.weight_decay)))
            .init();
        let arch_optim = AdamConfig::new()
            .with_beta_1(0.5)
            .with_beta_2(0.999)
            .with_weight_decay(Some(WeightDecayConfig::new(
                config.arch_optimizer.weight_decay,
            )))
            .init();
        Ok(Self {
            weight_ids: net.weight_params(),
            arch_ids: net.arch_params(),
            config,
            index,
            dir,
            net,
            weight_optim,
            arch_optim,
            state: TrainState::default(),
            halves,
            device,
        })
    }

    fn loader(&self, samples: &[SamplePaths], offset: u64, start: u64) -> BatchLoader {
        let plan = Plan {
            source: self.config.dataset.clone(),
            samples: samples.to_vec(),
            augment: self.config.augment.clone(),
            input: InputSpec::IMAGENET_RGB,
            batch: self.config.stages[self.index].batch_size,
            seed: self.config.seed + 1000 * self.index as u64 + offset,
        };
        BatchLoader::new(plan, start, self.config.workers)
    }

    fn run(mut self, stop: StopRequest) -> anyhow::Result<(SearchNet, Outcome)> {
        let stage = &self.config.stages[self.index];
        let warmup = self.config.arch_warmup;
        let mut weight_loader = self.loader(&self.halves.0, 0, self.state.step);
        let mut arch_loader =
            self.loader(&self.halves.1, 1, self.state.step.saturating_sub(warmup));
        eprintln!(
            "search stage {}/{}: {} cells ({}), {} channels, {} steps of {} (output {})",
            self.index + 1,
            self.config.stages.len(),
            stage.layout.len(),
            stage.layout,
            stage.channels,
            stage.steps,
            stage.batch_size,
            self.dir.display()
        );
        let progress = Progress::new(self.state.step, stage.steps);
        let mut window = (Instant::now(), 0u64);
        while self.state.step < stage.steps {
            let step = self.state.step;
            let lr = self.config.weight_optimizer.schedule.lr(
                self.config.weight_optimizer.lr,
                step,
                stage.steps,
            );
            let arch_loss = if step >= warmup {
                let batch = arch_loader.next_batch()?;
                let (net, loss) = self.step(&batch, true, self.config.arch_optimizer.lr)?;
                self.net = net;
                Some(loss)
            } else {
                None
            };
            let batch = weight_loader.next_batch()?;
            let (net, weight_loss) = self.step(&batch, false, lr)?;
            self.net = net;
            self.state.step += 1;
            window.1 += 1;
            let step = self.state.step;
            if step.is_multiple_of(self.config.log_interval) || step == stage.steps {
                let secs = window.0.elapsed().as_secs_f64();
                self.state.elapsed_s += secs;
                let ips = (window.1 as usize * stage.batch_size) as f64 / secs.max(1e-9);
                window = (Instant::now(), 0);
                let (normal, reduce) = self.net.alphas();
                checkpoint::append_metrics(
                    &self.dir,
                    &json!({"kind": "train", "step": step, "lr": lr, "loss": weight_loss,
                        "arch_loss": arch_loss, "images_per_s": ips,
                        "elapsed_s": self.state.elapsed_s,
                        "alpha_normal": normal, "alpha_reduce": reduce}),
                )?;
                progress.update(
                    step,
                    &format!("loss {weight_loss:.4} lr {lr:.2e} {ips:.1} img/s"),
                );
            }
            let due = step.is_multiple_of(self.config.checkpoint_interval) || step == stage.steps;
            if due {
                self.checkpoint()?;
                super::plots::write_all(self.config)?;
            }
            if step < stage.steps && stop(step) {
                if !due {
                    self.checkpoint()?;
                }
                progress.finish(&format!("interrupted: checkpoint at step {step}"));
                return Ok((self.net, Outcome::Interrupted { step }));
            }
        }
        progress.finish(&format!("stage {} done", self.index + 1));
        Ok((self.net, Outcome::Finished))
    }

    /// One step on `batch`: α (`arch`) or the network weights, with CE on the scores.
    fn step(&mut self, batch: &Batch, arch: bool, lr: f64) -> anyhow::Result<(SearchNet, f32)> {
        let loss = cross_entropy(
            self.net.forward(batch.image_tensor(&self.device)),
            &batch.label_map(),
            &CrossEntropyConfig::default(),
        );
        let value = scalar(&loss);
        if !value.is_finite() {
            anyhow::bail!(
                "stage {} step {}: loss became {value}; lower the learning rates",
                self.index + 1,
                self.state.step
            );
        }
        let mut grads = loss.backward();
        let net = self.net.clone();
        let (ids, optim) = if arch {
            (&self.arch_ids, &mut self.arch_optim)
        } else {
            (&self.weight_ids, &mut self.weight_optim)
        };
        let grads = GradientsParams::from_params(&mut grads, &net, ids);
        Ok((optim.step(lr, net, grads), value))
    }

    fn checkpoint(&self) -> anyhow::Result<()> {
        Checkpoint::write(
            &self.dir,
            &self.net,
            &self.weight_optim,
            &self.arch_optim,
            &self.state,
        )
    }
}
