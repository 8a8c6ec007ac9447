//! `rtseg search`: the staged architecture search from a YAML config (configs/search/), or a
//! stopped search resumed; Ctrl-C checkpoints and stops. `--plots` redraws a search's α
//! charts and cell pictures from its directory, also while it runs in another process;
//! `--random-genotype` draws the random control a searched genotype is compared with.

use std::path::PathBuf;
use std::process::ExitCode;

use rtseg::models::backbones::darts::Genotype;
use rtseg::search::run::{self, SearchConfig};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    job: super::JobArgs,
    /// Redraw alpha_{normal,reduce}.png (and cell_{normal,reduce}.png once the genotype
    /// exists) in this search directory, then exit.
    #[arg(long, value_name = "SEARCH_DIR", conflicts_with_all = ["config", "resume", "overrides"])]
    plots: Option<PathBuf>,
    /// Draw a random genotype from --config's search space (the control of a NAS
    /// comparison) and write genotype.yaml and msnet-anas.yaml into this directory.
    #[arg(long, value_name = "OUT_DIR", requires = "config", conflicts_with_all = ["resume", "plots"])]
    random_genotype: Option<PathBuf>,
    /// With --random-genotype: of --draws draws, keep the one whose MsNet-ANAS parameter
    /// count is closest to this genotype file's.
    #[arg(long, value_name = "GENOTYPE", requires = "random_genotype")]
    like: Option<PathBuf>,
    /// With --like: how many genotypes to draw before keeping the closest in size.
    #[arg(long, default_value_t = 20, requires = "like")]
    draws: usize,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 0, requires = "random_genotype")]
    seed: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.plots {
        rtseg::search::plots::write_all(&SearchConfig::open(dir)?)?;
        eprintln!("plots redrawn in {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(out), Some(path)) = (&args.random_genotype, &args.job.config) {
        let config = SearchConfig::load(path, &args.job.overrides)?;
        let like = match &args.like {
            Some(file) => Some(Genotype::load(file)?),
            None => None,
        };
        let genotype = run::random_genotype(&config, like.as_ref(), args.draws, args.seed)?;
        std::fs::create_dir_all(out)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
        run::write_genotype(&config, &genotype, out)?;
        eprintln!(
            "{}: {}",
            out.join(run::GENOTYPE_FILE).display(),
            genotype.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    super::run_resumable(
        args.job,
        |path, overrides, stop| run::search(SearchConfig::load(path, overrides)?, stop),
        run::resume,
    )
}
