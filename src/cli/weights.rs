//! `rtseg weights`: tensor names and shapes, burnpack ⇄ safetensors conversion, and seeded
//! untrained weights.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::prelude::*;
use rtseg::source::{ModelSource, Weights};
use rtseg::weights;

use super::ModelArgs;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print every tensor name and shape of a model, in module order.
    Names {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Convert a weight file (format from each extension: .bpk or .safetensors).
    Convert {
        #[command(flatten)]
        model: ModelArgs,
        /// The weight file to read (.bpk or .safetensors).
        input: PathBuf,
        /// The file to write; its extension picks the format.
        output: PathBuf,
        /// Store convolution and linear weights as float16 (BatchNorm stays float32): half
        /// the file; loading widens them back to float32.
        #[arg(long)]
        half: bool,
    },
    /// Write freshly initialised weights (seeded), e.g. as a starting point or test fixture.
    Init {
        #[command(flatten)]
        model: ModelArgs,
        /// Random seed: the same seed gives the same weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The weight file to write (.bpk or .safetensors).
        output: PathBuf,
    },
}

fn source(model: &ModelArgs, weights: Weights) -> anyhow::Result<ModelSource> {
    ModelSource::resolve(
        &model.model,
        model.dataset,
        model.model_config.as_deref(),
        weights,
    )
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let device = Device::flex();
    match command {
        Command::Names { model } => {
            let net = source(&model, Weights::RandomInit { seed: 0 })?.build(&device)?;
            for t in weights::tensors(&net) {
                println!("{}\t{:?}", t.name, t.shape.as_slice());
            }
        }
        Command::Convert {
            model,
            input,
            output,
            half,
        } => {
            let net = source(&model, Weights::File(input.clone()))?.build(&device)?;
            let precision = if half {
                weights::Precision::F16
            } else {
                weights::Precision::F32
            };
            weights::save_as(&net, &model.model, &output, precision)?;
            println!("{} -> {}", input.display(), output.display());
        }
        Command::Init {
            model,
            seed,
            output,
        } => {
            let net = source(&model, Weights::RandomInit { seed })?.build(&device)?;
            weights::save(&net, &model.model, &output)?;
            println!(
                "wrote untrained {} weights to {}",
                model.model,
                output.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
