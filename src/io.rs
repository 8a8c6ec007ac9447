//! Files that appear whole or not at all, and the reading side of image files. Every file rtseg
//! writes (masks, plots, weights, checkpoints, ONNX models, metrics) goes to a temporary sibling
//! first and is renamed into place, so a crash, a full disk or Ctrl-C never leaves half a file
//! under the final name; a failed write removes its temporary file.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::{ImageReader, RgbImage};
use sha2::{Digest, Sha256};

/// The temporary sibling a write goes to before its rename: `.<name>.<pid>.tmp` in the same
/// folder (same file system, so the rename is atomic; hidden, so folder listings skip it).
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Runs `write` on the temporary sibling of `path`, then renames it to `path`. On any error
/// the temporary file is removed and `path` is left as it was.
///
/// # Errors
/// The writer's error, or the rename's, naming `path`.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tmp = temp_sibling(path);
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, |tmp| {
        std::fs::write(tmp, bytes)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))
    })
}

/// Writes an image as PNG atomically.
pub fn save_png<P, C>(image: &image::ImageBuffer<P, C>, path: &Path) -> anyhow::Result<()>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    write_atomic_with(path, |tmp| {
        image
            .save_with_format(tmp, image::ImageFormat::Png)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))
    })
}

/// Writes class ids as an indexed PNG whose palette gives id `i` the colour `palette[i]` (ids
/// without a colour, e.g. 255 = ignore, are black): image viewers show the colours, while
/// readers that keep indices (PIL's `P` mode, numpy) still get the ids (PNG spec §11.2.3 PLTE).
///
/// # Errors
/// The write's, naming `path`.
pub fn save_indexed_png(
    ids: &image::GrayImage,
    palette: &[[u8; 3]],
    path: &Path,
) -> anyhow::Result<()> {
    let mut plte = vec![0u8; 256 * 3];
    for (slot, colour) in plte.chunks_exact_mut(3).zip(palette) {
        slot.copy_from_slice(colour);
    }
    write_atomic_with(path, |tmp| {
        let fail =
            |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: cannot write: {e}", path.display());
        let file = std::fs::File::create(tmp).map_err(|e| fail(&e))?;
        let mut encoder =
            png::Encoder::new(std::io::BufWriter::new(file), ids.width(), ids.height());
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(plte);
        let mut writer = encoder.write_header().map_err(|e| fail(&e))?;
        writer
            .write_image_data(ids.as_raw())
            .map_err(|e| fail(&e))?;
        writer.finish().map_err(|e| fail(&e))
    })
}

/// Decodes a PNG or JPEG file as 8-bit RGB, naming the file in any error.
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

/// SHA-256 of a file's bytes as 64 lowercase hex digits (weights and ONNX identities).
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot open: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// SHA-256 of bytes in memory, as [`sha256_file`] writes it.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}
