//! `rtseg models`: the registered models with parameter counts, GMACs counted on their ONNX
//! graph (instant: no forward pass) and the datasets they have shipped weights for; with
//! `--legend`, the class ids, names and palette colours of a label space.

use std::io::IsTerminal;
use std::process::ExitCode;

use burn::prelude::*;
use clap::ValueEnum;
use rtseg::labels::LabelSpace;
use rtseg::models::profile::trainable_params;
use rtseg::models::registry;
use rtseg::models::segmentors::SegmentorConfig;

#[derive(clap::Args)]
pub struct Args {
    /// Label space whose class count the counts are for (and whose classes --legend lists).
    #[arg(long, value_enum, default_value = "camvid")]
    dataset: LabelSpace,
    /// Input size (HxW) for the MAC count.
    #[arg(long, default_value = "720x960", value_parser = super::parse_size)]
    size: (u32, u32),
    /// Print the label space's classes: id, name and the colour `rtseg infer` and the node's
    /// color_mask give them.
    #[arg(long)]
    legend: bool,
    /// Count this model config file (e.g. a search's msnet-anas.yaml) instead of the
    /// registry; the row is named after the file.
    #[arg(long, conflicts_with = "legend")]
    model_config: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.legend {
        print_legend(args.dataset);
        return Ok(ExitCode::SUCCESS);
    }
    let device = Device::flex();
    let (h, w) = (args.size.0 as usize, args.size.1 as usize);
    let rows: Vec<(String, String, SegmentorConfig)> = match &args.model_config {
        Some(path) => {
            let source = rtseg::source::ModelSource::resolve(
                "msnet-anas",
                args.dataset,
                Some(path),
                rtseg::source::Weights::RandomInit { seed: 0 },
            )?;
            let name = path.display().to_string();
            vec![(name, "from the config file".into(), source.config)]
        }
        None => registry(args.dataset.num_classes())
            .into_iter()
            .map(|spec| (spec.name.to_string(), spec.summary.to_string(), spec.config))
            .collect(),
    };
    // After the config file is read, so a bad one prints its error alone.
    println!(
        "{:<16} {:>9} {:>14}  {:<16} description",
        "model",
        "params",
        format!("GMACs@{h}x{w}"),
        "shipped weights",
    );
    for (name, summary, config) in rows {
        let model = config.init(&device).valid();
        let shipped: Vec<&str> = LabelSpace::value_variants()
            .iter()
            .filter(|space| rtseg::source::shipped_weights(&name, **space).is_ok())
            .map(|space| space.name())
            .collect();
        println!(
            "{:<16} {:>9} {:>14.2}  {:<16} {}",
            name,
            format!("{:.3}M", trainable_params(&model) as f64 / 1e6),
            rtseg::onnx::count_macs(&model, (h, w)) as f64 / 1e9,
            if shipped.is_empty() {
                "-".to_string()
            } else {
                shipped.join(", ")
            },
            summary
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per class: id, colour swatch (on a terminal), `#rrggbb`, name.
fn print_legend(space: LabelSpace) {
    let swatches = std::io::stdout().is_terminal();
    println!(
        "{} ({} classes; other ids, e.g. 255, are ignore/black)",
        space.name(),
        space.num_classes()
    );
    for (id, (name, [r, g, b])) in space.class_names().iter().zip(space.palette()).enumerate() {
        let swatch = if swatches {
            format!("\x1b[48;2;{r};{g};{b}m    \x1b[0m ")
        } else {
            String::new()
        };
        println!("{id:>3} {swatch}#{r:02x}{g:02x}{b:02x} {name}");
    }
}
