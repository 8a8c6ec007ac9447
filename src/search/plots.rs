//! The search's pictures, redrawn from its directory after every checkpoint and stage:
//! `alpha_normal.png` / `alpha_reduce.png` (softmax(α) of every candidate on every edge across
//! the stages, times the number of candidates the edge has in that stage, so 1 is uniform in
//! every stage; one panel per edge, grey lines where a stage starts; a candidate's line ends
//! where it was pruned) and, once the genotype exists, `cell_normal.png` / `cell_reduce.png`
//! (the derived cells as DARTS draws them: the two inputs, the four nodes, the output
//! concatenation, each edge labelled with its operation).

use image::{Rgb, RgbImage};

use super::run::{GENOTYPE_FILE, SPACE_FILE, SearchConfig, read_yaml};
use super::space::{Candidate, EDGES, SearchSpace, edge_endpoints, softmax};
use crate::io::save_png;
use crate::models::backbones::darts::{Genotype, OpKind};
use crate::plots::{BLACK, Chart, GREY, PALETTE, Series, WHITE, draw_line, draw_text, fill_rect};
use crate::train::checkpoint::read_metrics;

/// Redraws the α charts of every stage started so far and, when the search has derived its
/// genotype, the two cell pictures, in `config.output_dir`.
///
/// # Errors
/// An unreadable `space.yaml`, metrics file or genotype, or a PNG that cannot be written.
pub fn write_all(config: &SearchConfig) -> anyhow::Result<()> {
    let mut stages = Vec::new();
    for i in 0..config.stages.len() {
        let space_file = config.stage_dir(i).join(SPACE_FILE);
        if !space_file.exists() {
            break;
        }
        let space: SearchSpace = read_yaml(&space_file)?;
        stages.push((space, read_metrics(&config.stage_dir(i))?));
    }
    let offsets: Vec<f64> = config
        .stages
        .iter()
        .scan(0.0, |total, s| {
            let start = *total;
            *total += s.steps as f64;
            Some(start)
        })
        .collect();
    let x_max = config.stages.iter().map(|s| s.steps as f64).sum::<f64>();
    for cell in ["normal", "reduce"] {
        let mut panels = vec![Vec::new(); EDGES];
        for (i, (space, records)) in stages.iter().enumerate() {
            let candidates = match cell {
                "normal" => &space.normal,
                _ => &space.reduce,
            };
            let key = format!("alpha_{cell}");
            let snapshots: Vec<(f64, &serde_json::Value)> = records
                .iter()
                .filter(|r| r["kind"] == "train")
                .filter_map(|r| Some((offsets[i] + r["step"].as_f64()?, &r[&key])))
                .collect();
            for (e, panel) in panels.iter_mut().enumerate() {
                panel.extend(edge_series(&candidates[e], e, &snapshots));
            }
        }
        let title = format!("{cell} cell: softmax(alpha) x candidates on the edge (1 = uniform)")
            .to_uppercase();
        let searched = stages.first().map(|(space, _)| match cell {
            "normal" => &space.normal,
            _ => &space.reduce,
        });
        let mut legend: Vec<Candidate> =
            searched.into_iter().flatten().flatten().copied().collect();
        legend.sort_by_key(|&c| candidate_index(c));
        legend.dedup();
        let img = alpha_image(&title, &panels, x_max, &offsets[1..], &legend);
        save_png(&img, &config.output_dir.join(format!("alpha_{cell}.png")))?;
    }
    let genotype_file = config.output_dir.join(GENOTYPE_FILE);
    if genotype_file.exists() {
        let genotype = Genotype::load(&genotype_file)?;
        for (cell, edges, concat) in [
            ("normal", &genotype.normal, &genotype.normal_concat),
            ("reduce", &genotype.reduce, &genotype.reduce_concat),
        ] {
            let img = cell_image(&format!("{cell} cell").to_uppercase(), edges, concat);
            save_png(&img, &config.output_dir.join(format!("cell_{cell}.png")))?;
        }
    }
    Ok(())
}

/// One series per candidate of edge `e`: softmax over the edge's α at each snapshot, times the
/// number of candidates. Scaled so, a stage with fewer candidates does not lift every line
/// (uniform is 1/6, then 1/4, then 1/2 in the CamVid search) and hide the order within each
/// stage, which is what derives the genotype. A snapshot that does not hold this edge's α (a
/// metrics line from another layout) is skipped.
fn edge_series(
    candidates: &[Candidate],
    e: usize,
    snapshots: &[(f64, &serde_json::Value)],
) -> Vec<Series> {
    let mut points = vec![Vec::new(); candidates.len()];
    for (step, alphas) in snapshots {
        let Some(alpha) = alphas[e].as_array() else {
            continue;
        };
        let alpha: Vec<f32> = alpha
            .iter()
            .filter_map(|a| a.as_f64())
            .map(|a| a as f32)
            .collect();
        if alpha.len() != candidates.len() {
            continue;
        }
        let k = alpha.len() as f64;
        for (p, w) in points.iter_mut().zip(softmax(&alpha)) {
            p.push((*step, k * w as f64));
        }
    }
    candidates
        .iter()
        .zip(points)
        .map(|(&c, points)| Series {
            color: candidate_color(c),
            points,
        })
        .collect()
}

/// A candidate's place in DARTS' list, which orders the legend and picks its colour.
fn candidate_index(c: Candidate) -> usize {
    Candidate::darts().iter().position(|&d| d == c).unwrap_or(0)
}

/// A candidate's colour, the same in every chart and cell picture.
fn candidate_color(c: Candidate) -> Rgb<u8> {
    PALETTE[candidate_index(c) % PALETTE.len()]
}

/// How a cell state is labelled: the two inputs as DARTS writes them, nodes by number.
fn state_name(state: usize) -> String {
    match state {
        0 => "C(K-2)".into(),
        1 => "C(K-1)".into(),
        s => (s - 2).to_string(),
    }
}

/// The 14 edge panels in a 4-column grid, the colour legend of the searched candidates in the
/// last row's free slots.
fn alpha_image(
    title: &str,
    panels: &[Vec<Series>],
    x_max: f64,
    stage_starts: &[f64],
    legend: &[Candidate],
) -> RgbImage {
    let (pw, ph, top) = (360i64, 220i64, 50i64);
    let mut img = RgbImage::from_pixel(4 * pw as u32, (top + 4 * ph) as u32, WHITE);
    draw_text(&mut img, 10, 14, title, 3, BLACK);
    for (e, series) in panels.iter().enumerate() {
        let (input, node) = edge_endpoints(e);
        let panel_title = format!("E{e}: {} > {node}", state_name(input));
        Chart {
            area: ((e as i64 % 4) * pw, top + (e as i64 / 4) * ph, pw, ph),
            title: &panel_title,
            title_scale: 2,
            // α stay close to uniform in a short search; their order is what derives the
            // genotype, so each panel fits its own range.
            y_range: None,
            x_max,
            x_marks: stage_starts,
        }
        .draw(&mut img, series);
    }
    let (lx, ly) = (
        (EDGES as i64 % 4) * pw + 20,
        top + (EDGES as i64 / 4) * ph + 20,
    );
    for (i, &c) in legend.iter().enumerate() {
        let y = ly + i as i64 * 22;
        fill_rect(&mut img, lx, y, 14, 14, candidate_color(c));
        draw_text(&mut img, lx + 24, y + 2, &c.to_string(), 2, BLACK);
    }
    img
}

const INPUT_FILL: Rgb<u8> = Rgb([200, 230, 200]);
const NODE_FILL: Rgb<u8> = Rgb([190, 220, 240]);
const OUTPUT_FILL: Rgb<u8> = Rgb([238, 232, 170]);
const BOX: (i64, i64) = (76, 34);

/// A derived cell: inputs on the left, nodes zig-zagging right, the output concatenation at
/// the right end; an arrow per edge in its operation's colour, labelled with the operation.
fn cell_image(title: &str, edges: &[(OpKind, usize)], concat: &[usize]) -> RgbImage {
    let nodes = edges.len() / 2;
    let centre = |state: usize| -> (i64, i64) {
        match state {
            0 => (80, 150),
            1 => (80, 390),
            s => (
                300 + 190 * (s as i64 - 2),
                if s % 2 == 0 { 150 } else { 390 },
            ),
        }
    };
    let output = (300 + 190 * nodes as i64, 270);
    let mut img = RgbImage::from_pixel((output.0 + 100) as u32, 520, WHITE);
    draw_text(&mut img, 10, 14, title, 3, BLACK);
    for &state in concat {
        arrow(&mut img, centre(state), output, GREY);
    }
    for (i, &(op, input)) in edges.iter().enumerate() {
        arrow(
            &mut img,
            centre(input),
            centre(i / 2 + 2),
            candidate_color(Candidate::Op(op)),
        );
    }
    // Labels after every arrow, so no line crosses a label; each slides along its edge to
    // the first spot that overlaps no label placed before it.
    let mut placed: Vec<(i64, i64, i64)> = Vec::new();
    for (i, &(op, input)) in edges.iter().enumerate() {
        let ((x0, y0), (x1, y1)) = (centre(input), centre(i / 2 + 2));
        let label = Candidate::Op(op).to_string().to_uppercase();
        let width = crate::plots::text_width(&label, 2);
        let at = |t: f64| {
            let x = x0 + ((x1 - x0) as f64 * t) as i64 - width / 2;
            (x, y0 + ((y1 - y0) as f64 * t) as i64 - 5)
        };
        let free = |&(x, y): &(i64, i64)| {
            placed
                .iter()
                .all(|&(px, py, pw)| x + width + 6 < px || px + pw + 6 < x || (y - py).abs() > 16)
        };
        let (mx, my) = [0.5, 0.35, 0.65, 0.25, 0.75]
            .map(at)
            .into_iter()
            .find(free)
            .unwrap_or_else(|| at(0.5));
        placed.push((mx, my, width));
        fill_rect(&mut img, mx - 3, my - 3, width + 4, 16, WHITE);
        draw_text(
            &mut img,
            mx,
            my,
            &label,
            2,
            candidate_color(Candidate::Op(op)),
        );
    }
    let states = (0..nodes + 2).map(|s| (centre(s), state_name(s), s < 2));
    for ((x, y), name, input) in states {
        node_box(
            &mut img,
            (x, y),
            &name,
            if input { INPUT_FILL } else { NODE_FILL },
        );
    }
    node_box(&mut img, output, "C(K)", OUTPUT_FILL);
    img
}

fn node_box(img: &mut RgbImage, (x, y): (i64, i64), name: &str, fill: Rgb<u8>) {
    let (w, h) = BOX;
    fill_rect(img, x - w / 2 - 2, y - h / 2 - 2, w + 4, h + 4, BLACK);
    fill_rect(img, x - w / 2, y - h / 2, w, h, fill);
    let width = crate::plots::text_width(name, 2);
    draw_text(img, x - width / 2, y - 5, name, 2, BLACK);
}

/// A line from box centre `from` to the border of the box at `to`, with a head there.
fn arrow(img: &mut RgbImage, from: (i64, i64), to: (i64, i64), color: Rgb<u8>) {
    let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
    let len = dx.hypot(dy).max(1.0);
    // Back off from the target centre to where the line meets its box (plus the frame).
    let (hw, hh) = (BOX.0 as f64 / 2.0 + 3.0, BOX.1 as f64 / 2.0 + 3.0);
    let back = (hw / dx.abs().max(1e-9))
        .min(hh / dy.abs().max(1e-9))
        .min(1.0);
    let tip = (to.0 as f64 - dx * back, to.1 as f64 - dy * back);
    draw_line(img, from, (tip.0 as i64, tip.1 as i64), color);
    let (ux, uy) = (dx / len, dy / len);
    for side in [-1.0, 1.0] {
        // Head strokes 12 px long at ±25° from the shaft.
        let (s, c) = (25f64.to_radians().sin() * side, 25f64.to_radians().cos());
        let (bx, by) = (-(ux * c - uy * s), -(uy * c + ux * s));
        let end = (tip.0 + 12.0 * bx, tip.1 + 12.0 * by);
        draw_line(
            img,
            (tip.0 as i64, tip.1 as i64),
            (end.0 as i64, end.1 as i64),
            color,
        );
    }
}
