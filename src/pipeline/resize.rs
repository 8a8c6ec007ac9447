//! The two resizes on the node's per-frame path (shrink the frame for the network, enlarge
//! the mask back), written for speed because `image`'s generic filters dominated it:
//! `scripts/bench_node.py` measured the node's work beside the network at 21–23 ms p50 with
//! them and 1.4–1.8 ms with these. Training scales its labels with the same nearest resize.
//! They are also the CPU twins of the CUDA kernels in `gpu::kernels`, which compute the same
//! sums in the same order (and without fused multiply-adds), so both give the same bytes.

use std::ops::Deref;

use image::{GrayImage, ImageBuffer, Rgb, RgbImage};

/// Nearest-neighbour resize of a class-id mask: output pixel `x` samples input pixel
/// `floor((x + ½) · in / out)` (pixel centres aligned). Output rows that sample the same input
/// row are copies of the previous one.
pub fn resize_nearest(mask: &GrayImage, width: u32, height: u32) -> GrayImage {
    let (w, h) = mask.dimensions();
    let source = |out: u32, len_in: u32, len_out: u32| {
        ((2 * out as u64 + 1) * len_in as u64 / (2 * len_out as u64)) as usize
    };
    let columns: Vec<usize> = (0..width).map(|x| source(x, w, width)).collect();
    let (width, w) = (width as usize, w as usize);
    let mut out = vec![0u8; width * height as usize];
    let mut previous: Option<usize> = None;
    for y in 0..height as usize {
        let sy = source(y as u32, h, height);
        let row = y * width;
        if previous == Some(sy) {
            out.copy_within(row - width..row, row);
        } else {
            let src = &mask.as_raw()[sy * w..(sy + 1) * w];
            for (o, &sx) in out[row..row + width].iter_mut().zip(&columns) {
                *o = src[sx];
            }
        }
        previous = Some(sy);
    }
    GrayImage::from_raw(width as u32, height, out).expect("buffer sized from the dimensions")
}

/// Resizes a frame for the network. Shrinking averages every input pixel under each output
/// pixel by its covered area (OpenCV's INTER_AREA), which does not alias the way bilinear
/// sampling does at 10× reduction; enlarging interpolates bilinearly.
pub fn resize_rgb<C: Deref<Target = [u8]>>(
    image: &ImageBuffer<Rgb<u8>, C>,
    width: u32,
    height: u32,
) -> RgbImage {
    let (w, h) = image.dimensions();
    if width > w || height > h {
        return resize_bilinear(image, width, height);
    }
    let rows = area_weights(h, height);
    let columns = area_weights(w, width);
    let stride = w as usize * 3;
    let mut accumulated = vec![0f32; stride];
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for (first_row, row_weights) in &rows {
        // Vertical pass over whole contiguous rows (vectorises), then horizontal on one row.
        accumulated.fill(0.0);
        for (i, &wy) in row_weights.iter().enumerate() {
            let start = (first_row + i) * stride;
            let src = &image.as_raw()[start..start + stride];
            for (a, &s) in accumulated.iter_mut().zip(src) {
                *a += wy * s as f32;
            }
        }
        for (first_column, column_weights) in &columns {
            let mut pixel = [0f32; 3];
            for (j, &wx) in column_weights.iter().enumerate() {
                let at = (first_column + j) * 3;
                for c in 0..3 {
                    pixel[c] += wx * accumulated[at + c];
                }
            }
            out.extend(pixel.map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
    }
    RgbImage::from_raw(width, height, out).expect("buffer sized from the dimensions")
}

/// Bilinear resize with half-pixel centres (source coordinate `(o + ½) · in / out − ½`, clamped
/// to the image), rounded to 8 bits: what `resize_rgb` does when a side grows.
pub fn resize_bilinear<C: Deref<Target = [u8]>>(
    image: &ImageBuffer<Rgb<u8>, C>,
    width: u32,
    height: u32,
) -> RgbImage {
    let (w, h) = image.dimensions();
    let columns: Vec<(usize, usize, f32)> =
        (0..width).map(|x| bilinear_taps(x, w, width)).collect();
    let raw = image.as_raw();
    let stride = w as usize * 3;
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        let (y0, y1, fy) = bilinear_taps(y, h, height);
        let (row0, row1) = (&raw[y0 * stride..], &raw[y1 * stride..]);
        for &(x0, x1, fx) in &columns {
            for c in 0..3 {
                let top = row0[3 * x0 + c] as f32 * (1.0 - fx) + row0[3 * x1 + c] as f32 * fx;
                let bottom = row1[3 * x0 + c] as f32 * (1.0 - fx) + row1[3 * x1 + c] as f32 * fx;
                let v = top * (1.0 - fy) + bottom * fy;
                out.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    RgbImage::from_raw(width, height, out).expect("buffer sized from the dimensions")
}

/// The two input pixels and the weight of the second for output pixel `out` along one axis.
fn bilinear_taps(out: u32, len_in: u32, len_out: u32) -> (usize, usize, f32) {
    let scale = len_in as f32 / len_out as f32;
    let s = ((out as f32 + 0.5) * scale - 0.5).max(0.0);
    let i0 = (s.floor() as usize).min(len_in as usize - 1);
    let i1 = (i0 + 1).min(len_in as usize - 1);
    (i0, i1, s - i0 as f32)
}

/// For each of `len_out` output pixels along one axis: the first input pixel it covers and the
/// weights (summing to 1) of the input pixels `[first, first + weights.len())` under it.
pub(crate) fn area_weights(len_in: u32, len_out: u32) -> Vec<(usize, Vec<f32>)> {
    let scale = len_in as f64 / len_out as f64;
    (0..len_out)
        .map(|o| {
            let (lo, hi) = (
                o as f64 * scale,
                ((o + 1) as f64 * scale).min(len_in as f64),
            );
            let first = lo.floor() as usize;
            let last = (hi.ceil() as usize).max(first + 1);
            let weights = (first..last)
                .map(|i| {
                    let covered = hi.min(i as f64 + 1.0) - lo.max(i as f64);
                    (covered.max(0.0) / scale) as f32
                })
                .collect();
            (first, weights)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops::{self, FilterType};

    #[test]
    fn nearest_samples_pixel_centres() {
        let mask = GrayImage::from_fn(3, 2, |x, y| image::Luma([(10 * y + x) as u8]));
        let up = resize_nearest(&mask, 7, 5);
        // Column x samples floor((2x+1)·3/14): 0 0 1 1 1 2 2; row y floor((2y+1)·2/10): 0 0 1 1 1.
        let want_columns = [0u8, 0, 1, 1, 1, 2, 2];
        for (y, want_row) in [0u8, 0, 1, 1, 1].iter().enumerate() {
            for (x, &c) in want_columns.iter().enumerate() {
                assert_eq!(up.get_pixel(x as u32, y as u32).0[0], 10 * want_row + c);
            }
        }
        assert_eq!(resize_nearest(&up, 3, 2).dimensions(), (3, 2));
    }

    #[test]
    fn nearest_equals_image_crate_nearest_at_any_ratio() {
        // The same rule as `imageops::resize(.., FilterType::Nearest)`, so swapping it in
        // changed no mask and no training label.
        for (w, h, ow, oh) in [
            (7, 5, 28, 15),
            (112, 64, 1280, 720),
            (480, 360, 333, 250),
            (5, 3, 12, 11),
        ] {
            let mask = GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 13 + y * 7) as u8]));
            let ours = resize_nearest(&mask, ow, oh);
            let theirs = imageops::resize(&mask, ow, oh, FilterType::Nearest);
            assert_eq!(ours.as_raw(), theirs.as_raw(), "{w}×{h} → {ow}×{oh}");
        }
    }

    #[test]
    fn bilinear_interpolates_between_pixel_centres() {
        // 2 → 4 columns: centres at −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
        let row = RgbImage::from_fn(2, 1, |x, _| image::Rgb([[0, 200][x as usize]; 3]));
        let up = resize_rgb(&row, 4, 2);
        let got: Vec<u8> = (0..4).map(|x| up.get_pixel(x, 1).0[0]).collect();
        assert_eq!(got, [0, 50, 150, 200]);
        let flat = RgbImage::from_pixel(7, 5, image::Rgb([9, 99, 199]));
        assert!(
            resize_rgb(&flat, 31, 17)
                .pixels()
                .all(|p| p.0 == [9, 99, 199])
        );
    }

    #[test]
    fn area_averages_whole_blocks_and_keeps_flat_colour() {
        // 4×2 → 2×1: each output pixel is the mean of a 2×2 block.
        let image = RgbImage::from_fn(4, 2, |x, y| image::Rgb([(x * 40 + y * 100) as u8, 200, 7]));
        let small = resize_rgb(&image, 2, 1);
        assert_eq!(small.get_pixel(0, 0).0, [70, 200, 7]); // (0+40+100+140)/4
        assert_eq!(small.get_pixel(1, 0).0, [150, 200, 7]); // (80+120+180+220)/4
        // Fractional coverage: a flat frame stays flat at any size.
        let flat = RgbImage::from_pixel(1280, 720, image::Rgb([12, 130, 250]));
        let net = resize_rgb(&flat, 112, 64);
        assert!(net.pixels().all(|p| p.0 == [12, 130, 250]));
        // A 3 → 2 column split weights the middle pixel half to each side.
        let row = RgbImage::from_fn(3, 1, |x, _| image::Rgb([[0, 90, 180][x as usize]; 3]));
        let two = resize_rgb(&row, 2, 1);
        assert_eq!(two.get_pixel(0, 0).0[0], 30); // (0·1 + 90·½) / 1.5
        assert_eq!(two.get_pixel(1, 0).0[0], 150); // (90·½ + 180·1) / 1.5
    }
}
