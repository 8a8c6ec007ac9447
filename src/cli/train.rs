//! `rtseg train`: train from a YAML config, or resume a run; Ctrl-C checkpoints and stops.

use std::path::PathBuf;
use std::process::ExitCode;

use rtseg::train::{self, config::TrainConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Training configuration (every hyperparameter; see configs/*.yaml).
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Override a config key, e.g. `--set iterations=20 --set augment.crop=[128,160]`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::catch_ctrl_c();
    let stop = &|_step: u64| super::interrupted();
    let outcome = match (args.config, args.resume) {
        (_, Some(dir)) => {
            if !args.overrides.is_empty() {
                anyhow::bail!(
                    "--set cannot change a run being resumed (its config.yaml is the schedule)"
                );
            }
            train::resume(&dir, stop)?
        }
        (Some(path), None) => train::train(TrainConfig::load(&path, &args.overrides)?, stop)?,
        (None, None) => anyhow::bail!("pass --config FILE or --resume RUN_DIR"),
    };
    Ok(match outcome {
        train::Outcome::Finished => ExitCode::SUCCESS,
        // The conventional exit status of a process stopped by SIGINT.
        train::Outcome::Interrupted { .. } => ExitCode::from(130),
    })
}
