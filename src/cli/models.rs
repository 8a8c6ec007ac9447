//! `rtseg models`: the registered models with parameter counts and GMACs computed from the
//! module tree.

use std::process::ExitCode;

use burn::prelude::*;
use rtseg::labels::LabelSpace;
use rtseg::models::profile::{count_macs, trainable_params};
use rtseg::models::registry;

#[derive(clap::Args)]
pub struct Args {
    /// Label space whose class count the counts are for.
    #[arg(long, value_enum, default_value = "camvid")]
    dataset: LabelSpace,
    /// Input size (HxW) for the MAC count.
    #[arg(long, default_value = "720x960", value_parser = super::parse_size)]
    size: (u32, u32),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device = Device::default();
    let (h, w) = (args.size.0 as usize, args.size.1 as usize);
    println!(
        "{:<16} {:>12} {:>10}  description",
        "model",
        "params",
        format!("GMACs@{h}x{w}"),
    );
    for spec in registry(args.dataset.num_classes()) {
        let model = spec.config.init(&device).valid();
        let input = Tensor::<4>::zeros([1, 3, h, w], &device);
        let (_, macs) = count_macs(|| model.forward(input).into_data());
        println!(
            "{:<16} {:>12} {:>10.2}  {}",
            spec.name,
            format!("{:.3}M", trainable_params(&model) as f64 / 1e6),
            macs as f64 / 1e9,
            spec.summary
        );
    }
    Ok(ExitCode::SUCCESS)
}
