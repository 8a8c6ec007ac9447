//! PNG plots of a run, redrawn from `metrics.jsonl` after every evaluation: the training loss
//! curve, the validation mIoU curve and the last evaluation's confusion matrix (rows = ground
//! truth, normalised per row). Text uses a built-in 3×5 pixel font, so no font files are needed.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::checkpoint::read_metrics;
use crate::io::save_png;
use crate::labels::LabelSpace;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const GREY: Rgb<u8> = Rgb([210, 210, 210]);
const BLUE: Rgb<u8> = Rgb([31, 119, 180]);

/// Rows of a 3×5 glyph, three bits each (MSB = left).
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '%' => [5, 1, 2, 4, 5],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        _ => [0; 5],
    }
}

/// Draws `text` with its top-left corner at (x, y), each font pixel `scale`×`scale`.
fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: i64, color: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    let (px, py) = (x + (i as i64 * 4 + col) * scale, y + row as i64 * scale);
                    fill_rect(img, px, py, scale, scale, color);
                }
            }
        }
    }
}

fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: Rgb<u8>) {
    for yy in y.max(0)..(y + h).min(img.height() as i64) {
        for xx in x.max(0)..(x + w).min(img.width() as i64) {
            img.put_pixel(xx as u32, yy as u32, color);
        }
    }
}

fn draw_line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), color: Rgb<u8>) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
    for s in 0..=steps {
        let x = x0 + (x1 - x0) * s / steps;
        let y = y0 + (y1 - y0) * s / steps;
        fill_rect(img, x, y, 2, 2, color);
    }
}

/// A line chart of (step, value) points with min/max labels on both axes.
pub fn line_chart(title: &str, points: &[(f64, f64)]) -> RgbImage {
    let (w, h) = (720i64, 420i64);
    let (left, right, top, bottom) = (90i64, 20i64, 40i64, 50i64);
    let mut img = RgbImage::from_pixel(w as u32, h as u32, WHITE);
    draw_text(&mut img, left, 12, title, 3, BLACK);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let (x_max, y_min, y_max) = points.iter().fold(
        (1.0f64, f64::INFINITY, f64::NEG_INFINITY),
        |(xm, lo, hi), &(x, y)| (xm.max(x), lo.min(y), hi.max(y)),
    );
    // A flat series gets a unit range around it; an empty one 0..1.
    let (y_min, y_max) = match (y_min.is_finite(), y_max > y_min) {
        (true, true) => (y_min, y_max),
        (true, false) => (y_min - 0.5, y_min + 0.5),
        (false, _) => (0.0, 1.0),
    };
    for i in 0..=4 {
        let y = top + ph * i / 4;
        draw_line(&mut img, (left, y), (left + pw, y), GREY);
        let value = y_max - (y_max - y_min) * i as f64 / 4.0;
        draw_text(&mut img, 6, y - 5, &format!("{value:.3}"), 2, BLACK);
    }
    draw_line(&mut img, (left, top), (left, top + ph), BLACK);
    draw_line(&mut img, (left, top + ph), (left + pw, top + ph), BLACK);
    draw_text(&mut img, left, h - 30, "0", 2, BLACK);
    let x_label = format!("STEP {x_max:.0}");
    draw_text(
        &mut img,
        left + pw - 8 * x_label.len() as i64,
        h - 30,
        &x_label,
        2,
        BLACK,
    );
    let to_px = |(x, y): (f64, f64)| {
        (
            left + (x / x_max * pw as f64) as i64,
            top + ((y_max - y) / (y_max - y_min) * ph as f64) as i64,
        )
    };
    for pair in points.windows(2) {
        draw_line(&mut img, to_px(pair[0]), to_px(pair[1]), BLUE);
    }
    if let [only] = points {
        let (x, y) = to_px(*only);
        fill_rect(&mut img, x - 3, y - 3, 7, 7, BLUE);
    }
    img
}

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
