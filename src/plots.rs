//! Charts and diagrams drawn pixel by pixel into PNGs (training curves, confusion matrices, the
//! architecture search's α and cells). Text uses a built-in 3×5 pixel font (upper case, digits
//! and a few signs), so no font files are needed at run time.

use image::{Rgb, RgbImage};

pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
pub const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
pub const GREY: Rgb<u8> = Rgb([210, 210, 210]);
pub const BLUE: Rgb<u8> = Rgb([31, 119, 180]);

/// Eight distinguishable series colours (matplotlib's tab10 without its grey and olive).
pub const PALETTE: [Rgb<u8>; 8] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([23, 190, 207]),
];

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
        ',' => [0, 0, 0, 2, 4],
        ':' => [0, 2, 0, 2, 0],
        '-' => [0, 0, 7, 0, 0],
        '_' => [0, 0, 0, 0, 7],
        '=' => [0, 7, 0, 7, 0],
        '>' => [4, 2, 1, 2, 4],
        '/' => [1, 1, 2, 4, 4],
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

/// Width in pixels of `text` drawn at `scale` (4 font pixels per character, spacing included).
pub fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().count() as i64 * 4 * scale
}

/// Draws `text` with its top-left corner at (x, y), each font pixel `scale`×`scale`.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: i64, color: Rgb<u8>) {
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

/// Fills the `w`×`h` rectangle at (x, y), clipped to the image.
pub fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: Rgb<u8>) {
    for yy in y.max(0)..(y + h).min(img.height() as i64) {
        for xx in x.max(0)..(x + w).min(img.width() as i64) {
            img.put_pixel(xx as u32, yy as u32, color);
        }
    }
}

/// A 2-pixel-wide straight line from (x0, y0) to (x1, y1).
pub fn draw_line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), color: Rgb<u8>) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
    for s in 0..=steps {
        let x = x0 + (x1 - x0) * s / steps;
        let y = y0 + (y1 - y0) * s / steps;
        fill_rect(img, x, y, 2, 2, color);
    }
}

/// One line of a chart: (x, y) points joined in order.
#[derive(Clone)]
pub struct Series {
    pub color: Rgb<u8>,
    pub points: Vec<(f64, f64)>,
}

/// A chart's frame inside an image: where it goes and how it reads.
pub struct Chart<'a> {
    /// Top-left corner and size of the chart (title and labels included), pixels.
    pub area: (i64, i64, i64, i64),
    pub title: &'a str,
    pub title_scale: i64,
    /// The y range; `None` fits the data (a flat series gets a unit range around it).
    pub y_range: Option<(f64, f64)>,
    /// The right end of the x axis; the left end is 0.
    pub x_max: f64,
    /// x positions marked by vertical grey lines (e.g. where a search stage begins).
    pub x_marks: &'a [f64],
}

impl Chart<'_> {
    /// Draws axes, a 4-band grid with y labels, the x range and every series.
    pub fn draw(&self, img: &mut RgbImage, series: &[Series]) {
        let (x0, y0, w, h) = self.area;
        draw_text(img, x0 + 10, y0 + 10, self.title, self.title_scale, BLACK);
        let (y_min, y_max) = self.y_range.unwrap_or_else(|| fit(series));
        // Enough decimals that the five labels differ, however narrow the range.
        let band = (y_max - y_min) / 4.0;
        let decimals = (1.0 - band.log10().floor()).clamp(1.0, 8.0) as usize;
        let labels: Vec<String> = (0..=4)
            .map(|i| format!("{:.decimals$}", y_max - band * i as f64))
            .collect();
        let left = labels.iter().map(|l| text_width(l, 2)).max().unwrap_or(0) + 20;
        let top = 20 + 5 * self.title_scale;
        let (pw, ph) = (w - left - 20, h - top - 40);
        let (px, py) = (x0 + left, y0 + top);
        for (i, label) in labels.iter().enumerate() {
            let y = py + ph * i as i64 / 4;
            draw_line(img, (px, y), (px + pw, y), GREY);
            draw_text(img, x0 + 6, y - 5, label, 2, BLACK);
        }
        let x_max = self.x_max.max(1e-9);
        let to_px = |(x, y): (f64, f64)| {
            (
                px + (x / x_max * pw as f64) as i64,
                py + ((y_max - y) / (y_max - y_min) * ph as f64) as i64,
            )
        };
        for &m in self.x_marks {
            let (x, _) = to_px((m, y_max));
            draw_line(img, (x, py), (x, py + ph), GREY);
        }
        draw_line(img, (px, py), (px, py + ph), BLACK);
        draw_line(img, (px, py + ph), (px + pw, py + ph), BLACK);
        draw_text(img, px, py + ph + 10, "0", 2, BLACK);
        let x_label = format!("STEP {x_max:.0}");
        draw_text(
            img,
            px + pw - text_width(&x_label, 2),
            py + ph + 10,
            &x_label,
            2,
            BLACK,
        );
        for s in series {
            for pair in s.points.windows(2) {
                draw_line(img, to_px(pair[0]), to_px(pair[1]), s.color);
            }
            if let [only] = s.points[..] {
                let (x, y) = to_px(only);
                fill_rect(img, x - 3, y - 3, 7, 7, s.color);
            }
        }
    }
}

/// The y range of the data: min..max, a unit range around a flat series, 0..1 when empty.
fn fit(series: &[Series]) -> (f64, f64) {
    let (lo, hi) = series
        .iter()
        .flat_map(|s| &s.points)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
    match (lo.is_finite(), hi > lo) {
        (true, true) => (lo, hi),
        (true, false) => (lo - 0.5, lo + 0.5),
        (false, _) => (0.0, 1.0),
    }
}

/// A 720×420 line chart of (step, value) points with min/max labels on both axes.
pub fn line_chart(title: &str, points: &[(f64, f64)]) -> RgbImage {
    let mut img = RgbImage::from_pixel(720, 420, WHITE);
    let chart = Chart {
        area: (0, 0, 720, 420),
        title,
        title_scale: 3,
        y_range: None,
        x_max: points.iter().fold(1.0f64, |m, &(x, _)| m.max(x)),
        x_marks: &[],
    };
    let series = Series {
        color: BLUE,
        points: points.to_vec(),
    };
    chart.draw(&mut img, &[series]);
    img
}
