//! Training augmentation: random scale, random crop padded with ignore, horizontal flip and
//! photometric jitter, then the same normalisation as inference (the model card's). Every random draw comes from
//! the RNG passed in, so a sample's augmentation is a function of the seed alone.

use image::imageops::{self, FilterType};
use image::{Luma, Rgb, RgbImage};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::sources::Sample;
use crate::labels::UNLABELLED;
use crate::models::card::InputSpec;
use crate::pipeline::cpu::normalize_into;
use crate::pipeline::resize::resize_nearest;

/// Augmentation settings of a training config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// Crop height and width fed to the network.
    pub crop: [u32; 2],
    /// Uniform random rescale of the full image, `[min, max]` (1.0 = file resolution).
    pub scale_range: [f32; 2],
    /// Mirror left-right with probability 0.5.
    #[serde(default = "yes")]
    pub flip: bool,
    /// Brightness, contrast and saturation factors drawn from `[1 - j, 1 + j]`; 0 = off.
    #[serde(default)]
    pub jitter: f32,
}

fn yes() -> bool {
    true
}

impl AugmentConfig {
    pub fn validate(&self) -> Result<(), String> {
        let [lo, hi] = self.scale_range;
        if !(lo > 0.0 && lo <= hi && hi <= 8.0) {
            return Err(format!(
                "scale_range {lo}..{hi} must satisfy 0 < min <= max <= 8"
            ));
        }
        let [h, w] = self.crop;
        if let Err(e) = InputSpec::IMAGENET_RGB.check_size(h, w) {
            return Err(format!("crop {:?}: {e}", self.crop));
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(format!("jitter {} must be in [0, 1)", self.jitter));
        }
        Ok(())
    }
}

/// A network-ready sample: normalised 3×H×W image and H×W train ids (255 = ignore).
pub struct Tensorised {
    pub image: Vec<f32>,
    pub label: Vec<u8>,
    pub size: [usize; 2],
}

/// Scale, crop, flip and jitter one sample, then normalise it by the model card's `input`.
pub fn augment(
    sample: Sample,
    config: &AugmentConfig,
    input: &InputSpec,
    rng: &mut impl Rng,
) -> Tensorised {
    let Sample { image, label } = sample;
    let [lo, hi] = config.scale_range;
    let scale = if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    };
    let (w, h) = image.dimensions();
    let (sw, sh) = (
        ((w as f32 * scale).round() as u32).max(1),
        ((h as f32 * scale).round() as u32).max(1),
    );
    let image = imageops::resize(&image, sw, sh, FilterType::Triangle);
    let label = resize_nearest(&label, sw, sh);

    let [ch, cw] = config.crop;
    let (x0, y0) = (
        rng.random_range(0..=sw.saturating_sub(cw)),
        rng.random_range(0..=sh.saturating_sub(ch)),
    );
    let (w, h) = (cw.min(sw), ch.min(sh));
    let mut image = imageops::crop_imm(&image, x0, y0, w, h).to_image();
    let mut label = imageops::crop_imm(&label, x0, y0, w, h).to_image();
    if config.flip && rng.random_bool(0.5) {
        imageops::flip_horizontal_in_place(&mut image);
        imageops::flip_horizontal_in_place(&mut label);
    }
    if config.jitter > 0.0 {
        let j = config.jitter;
        let mut factor = || rng.random_range(1.0 - j..=1.0 + j);
        let (b, c, s) = (factor(), factor(), factor());
        jitter(&mut image, b, c, s);
    }
    // A crop larger than the scaled image is padded at the bottom and right with the mean
    // colour (zero after normalisation) and ignore, as mmsegmentation pads.
    let image = pad(image, cw, ch, Rgb(input.pad_rgb()));
    let label = pad(label, cw, ch, Luma([UNLABELLED]));
    let mut normalized = Vec::with_capacity(3 * (cw * ch) as usize);
    normalize_into(&image, input, &mut normalized);
    Tensorised {
        image: normalized,
        label: label.into_raw(),
        size: [ch as usize, cw as usize],
    }
}

fn pad<P: image::Pixel>(
    src: image::ImageBuffer<P, Vec<P::Subpixel>>,
    w: u32,
    h: u32,
    fill: P,
) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
    if src.dimensions() == (w, h) {
        return src;
    }
    image::ImageBuffer::from_fn(w, h, |x, y| {
        if x < src.width() && y < src.height() {
            *src.get_pixel(x, y)
        } else {
            fill
        }
    })
}

/// Brightness, contrast (about the image mean grey) and saturation (about each pixel's grey),
/// torchvision's ColorJitter order.
fn jitter(image: &mut RgbImage, brightness: f32, contrast: f32, saturation: f32) {
    let grey = |p: &Rgb<u8>| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
    let n = (image.width() * image.height()).max(1) as f32;
    let mean_grey = image.pixels().map(grey).sum::<f32>() / n * brightness;
    for p in image.pixels_mut() {
        let v = p.0.map(|c| c as f32 * brightness);
        let v = v.map(|c| (c - mean_grey) * contrast + mean_grey);
        let g = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
        p.0 = v.map(|c| ((c - g) * saturation + g).clamp(0.0, 255.0).round() as u8);
    }
}
