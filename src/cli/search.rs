//! `rtseg search`: the staged architecture search from a YAML config (configs/search/), or a
//! stopped search resumed; Ctrl-C checkpoints and stops. `--plots` redraws a search's α
//! charts and cell pictures from its directory, also while it runs in another process.

use std::path::PathBuf;
use std::process::ExitCode;

use rtseg::search::run::{self, SearchConfig};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    job: super::JobArgs,
    /// Redraw alpha_{normal,reduce}.png (and cell_{normal,reduce}.png once the genotype
    /// exists) in this search directory, then exit.
    #[arg(long, value_name = "SEARCH_DIR", conflicts_with_all = ["config", "resume", "overrides"])]
    plots: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.plots {
        rtseg::search::plots::write_all(&SearchConfig::open(dir)?)?;
        eprintln!("plots redrawn in {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    super::run_resumable(
        args.job,
        |path, overrides, stop| run::search(SearchConfig::load(path, overrides)?, stop),
        run::resume,
    )
}
