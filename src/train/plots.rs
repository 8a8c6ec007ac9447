//! PNG plots of a run, redrawn from `metrics.jsonl` after every evaluation: the training loss
//! curve, the validation mIoU curve and the last evaluation's confusion matrix (rows = ground
//! truth, normalised per row).

use std::path::Path;

use image::{Rgb, RgbImage};

use super::checkpoint::read_metrics;
use crate::io::save_png;
use crate::labels::LabelSpace;
use crate::plots::{BLACK, BLUE, WHITE, draw_text, fill_rect, line_chart};

/// The confusion matrix normalised per ground-truth row: white (0) to blue (1), class ids
/// along both axes, the class names listed beside it.
pub fn confusion_image(counts: &[u64], dataset: LabelSpace) -> RgbImage {
    let k = dataset.num_classes();
    let cell = 26i64;
    let (left, top) = (50i64, 50i64);
    let names = dataset.class_names();
    let legend_w = 8 * names.iter().map(|n| n.len() as i64 + 4).max().unwrap_or(8);
    let size = left + cell * k as i64 + 20;
    let mut img = RgbImage::from_pixel((size + legend_w) as u32, size as u32, WHITE);
    draw_text(
        &mut img,
        10,
        12,
        "CONFUSION - ROWS ARE GROUND TRUTH",
        2,
        BLACK,
    );
    for g in 0..k {
        let row = &counts[g * k..(g + 1) * k];
        let total = row.iter().sum::<u64>().max(1) as f64;
        for (p, &c) in row.iter().enumerate() {
            let f = c as f64 / total;
            let shade = |base: u8| (255.0 - (255.0 - base as f64) * f) as u8;
            let color = Rgb([shade(BLUE[0]), shade(BLUE[1]), shade(BLUE[2])]);
            fill_rect(
                &mut img,
                left + p as i64 * cell,
                top + g as i64 * cell,
                cell - 1,
                cell - 1,
                color,
            );
        }
        let label = g.to_string();
        draw_text(&mut img, 10, top + g as i64 * cell + 8, &label, 2, BLACK);
        draw_text(
            &mut img,
            left + g as i64 * cell + 4,
            top - 16,
            &label,
            2,
            BLACK,
        );
        let legend = format!("{g} {}", names[g].replace('_', " "));
        draw_text(&mut img, size, top + g as i64 * cell + 8, &legend, 2, BLACK);
    }
    img
}

/// Redraws `loss.png`, `val_miou.png` and `confusion.png` in `run_dir`.
pub fn write_all(run_dir: &Path, dataset: LabelSpace) -> anyhow::Result<()> {
    let records = read_metrics(run_dir)?;
    let series = |kind: &str, key: &str| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter(|r| r["kind"] == kind)
            .filter_map(|r| Some((r["step"].as_f64()?, r[key].as_f64()?)))
            .collect()
    };
    save_png(
        &line_chart("TRAINING LOSS", &series("train", "loss")),
        &run_dir.join("loss.png"),
    )?;
    let miou: Vec<_> = series("eval", "miou")
        .into_iter()
        .map(|(s, v)| (s, 100.0 * v))
        .collect();
    save_png(
        &line_chart("VAL MIOU (%)", &miou),
        &run_dir.join("val_miou.png"),
    )?;
    let last_confusion = records
        .iter()
        .rev()
        .find(|r| r["kind"] == "eval")
        .and_then(|r| r["confusion"].as_array())
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect::<Vec<_>>());
    if let Some(counts) = last_confusion.filter(|c| c.len() == dataset.num_classes().pow(2)) {
        save_png(
            &confusion_image(&counts, dataset),
            &run_dir.join("confusion.png"),
        )?;
    }
    Ok(())
}
