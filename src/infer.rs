//! Image-in, mask-out inference: decoding, normalisation, running a backend, and writing
//! `<name>_mask.png` (8-bit class ids) and `<name>_color.png` (palette blended over the
//! image). Knows nothing of ROS; the node reuses the same steps.

use std::path::{Path, PathBuf};

use image::{GrayImage, ImageReader, Rgb, RgbImage};

use crate::backend::{InputBatch, SegmentationBackend};
use crate::datasets::Dataset;

/// ImageNet statistics used by every seed network (and by `rtseg train`).
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The mean colour in 8-bit RGB: what padding is filled with (≈ zero after normalisation).
pub fn mean_rgb() -> Rgb<u8> {
    Rgb(MEAN.map(|m| (m * 255.0).round() as u8))
}

/// The smallest side the networks accept (their deepest features are at 1/64).
pub const MIN_SIDE: u32 = 64;

/// The largest side rtseg runs a network at; bigger images need `--size`.
pub const MAX_SIDE: u32 = 8192;

/// Whether a network input side is within [`MIN_SIDE`]..=[`MAX_SIDE`]; `--size` and
/// `segment_image` both check sizes with it.
pub fn side_in_range(side: u32) -> bool {
    (MIN_SIDE..=MAX_SIDE).contains(&side)
}

/// Image file extensions `rtseg infer` picks up from folders.
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Decodes an image file as RGB8, naming the file in any error.
pub fn load_rgb(path: &Path) -> anyhow::Result<RgbImage> {
    let reader = ImageReader::open(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot open: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let image = reader
        .decode()
        .map_err(|e| anyhow::anyhow!("{}: not a readable PNG/JPEG image: {e}", path.display()))?;
    Ok(image.to_rgb8())
}

/// HWC u8 RGB → normalised 1×3×H×W f32.
pub fn normalize(image: &RgbImage) -> InputBatch {
    let (w, h) = image.dimensions();
    let mut data = Vec::new();
    normalize_into(image, &mut data);
    InputBatch {
        data,
        shape: [1, 3, h as usize, w as usize],
    }
}

/// Appends the normalised 3×H×W planes of `image` to `batch` (one image of an N×3×H×W batch).
pub fn normalize_into(image: &RgbImage, batch: &mut Vec<f32>) {
    let plane = (image.width() * image.height()) as usize;
    let start = batch.len();
    batch.resize(start + 3 * plane, 0.0);
    let data = &mut batch[start..];
    for (i, px) in image.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + i] = (px[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
}

/// Segments one image. With `size = Some((h, w))` the network runs at that size (stretched)
/// and the mask is resized back (nearest) to the image size.
pub fn segment_image(
    backend: &dyn SegmentationBackend,
    image: &RgbImage,
    size: Option<(u32, u32)>,
) -> anyhow::Result<GrayImage> {
    crate::pipeline::segment_frame(
        backend,
        image,
        size,
        crate::pipeline::ResizePolicy::Stretch,
        crate::pipeline::MaskResolution::Input,
    )
    .map(|s| s.mask)
}

/// The palette image of a mask, blended over the input (`alpha` = weight of the palette).
pub fn color_overlay(image: &RgbImage, mask: &GrayImage, dataset: Dataset, alpha: f32) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let base = image.get_pixel(x, y);
        let color = dataset.color(mask.get_pixel(x, y)[0]);
        Rgb(std::array::from_fn(|c| {
            (alpha * color[c] as f32 + (1.0 - alpha) * base[c] as f32).round() as u8
        }))
    })
}

/// Expands files and folders into the list of images to process. Folders contribute their
/// PNG/JPEG files (not recursive, sorted); a path that does not exist is an error entry.
pub fn collect_inputs(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && has_image_extension(p))
                        .collect();
                    files.sort();
                    if files.is_empty() {
                        out.push(Err((path.clone(), "folder has no PNG/JPEG files".into())));
                    }
                    out.extend(files.into_iter().map(Ok));
                }
                Err(e) => out.push(Err((path.clone(), format!("cannot list folder: {e}")))),
            }
        } else if path.is_file() {
            out.push(Ok(path.clone()));
        } else {
            out.push(Err((path.clone(), "no such file or folder".into())));
        }
    }
    out
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Writes a PNG under a temporary name and renames it, so a reader never sees half a file.
pub fn save_png_atomic<P, C>(image: &image::ImageBuffer<P, C>, path: &Path) -> anyhow::Result<()>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let result = image
        .save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What happened to one input.
pub struct Outcome {
    pub input: String,
    pub result: Result<(PathBuf, PathBuf), String>,
}

/// Segments every input and writes its mask and overlay into `out_dir`. A bad input is
/// reported in its outcome and does not stop the others.
pub fn run(
    backend: &dyn SegmentationBackend,
    inputs: &[PathBuf],
    out_dir: &Path,
    dataset: Dataset,
    size: Option<(u32, u32)>,
) -> anyhow::Result<Vec<Outcome>> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create output folder: {e}", out_dir.display()))?;
    let outcomes = collect_inputs(inputs)
        .into_iter()
        .map(|entry| match entry {
            Err((path, message)) => Outcome {
                input: path.display().to_string(),
                result: Err(format!("{}: {message}", path.display())),
            },
            Ok(path) => Outcome {
                input: path.display().to_string(),
                result: process_one(backend, &path, out_dir, dataset, size)
                    .map_err(|e| format!("{e:#}")),
            },
        })
        .collect();
    Ok(outcomes)
}

fn process_one(
    backend: &dyn SegmentationBackend,
    path: &Path,
    out_dir: &Path,
    dataset: Dataset,
    size: Option<(u32, u32)>,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let image = load_rgb(path)?;
    let mask = segment_image(backend, &image, size)
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let mask_path = out_dir.join(format!("{stem}_mask.png"));
    let color_path = out_dir.join(format!("{stem}_color.png"));
    save_png_atomic(&mask, &mask_path)?;
    save_png_atomic(&color_overlay(&image, &mask, dataset, 0.5), &color_path)?;
    Ok((mask_path, color_path))
}
