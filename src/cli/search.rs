//! `rtseg search`: the staged architecture search from a YAML config (configs/search/), or a
//! stopped search resumed; Ctrl-C checkpoints and stops.

use std::process::ExitCode;

use rtseg::search::run::{self, SearchConfig};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    job: super::JobArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::run_resumable(
        args.job,
        |path, overrides, stop| run::search(SearchConfig::load(path, overrides)?, stop),
        run::resume,
    )
}
