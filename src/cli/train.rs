//! `rtseg train`: train from a YAML config, or resume a run; Ctrl-C checkpoints and stops.

use std::process::ExitCode;

use rtseg::train::{self, config::TrainConfig};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    job: super::JobArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::run_resumable(
        args.job,
        |path, overrides, stop| train::train(TrainConfig::load(path, overrides)?, stop),
        train::resume,
    )
}
