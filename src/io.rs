//! Files that appear whole or not at all, and the reading side of image files. Every file rtseg
//! writes (masks, plots, weights, checkpoints, ONNX models, metrics) goes to a temporary sibling
//! first and is renamed into place, so a crash, a full disk or Ctrl-C never leaves half a file
//! under the final name; a failed write removes its temporary file.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::{GrayImage, ImageReader, RgbImage};
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

/// Decodes a PNG or JPEG file as 8-bit RGB, upright ([`decode_upright`]). Errors name the
/// file.
pub fn load_rgb(path: &Path) -> anyhow::Result<RgbImage> {
    let reader = ImageReader::open(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot open: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let image = decode_upright(reader)
        .map_err(|e| anyhow::anyhow!("{}: not a readable PNG/JPEG image: {e}", path.display()))?;
    Ok(image.to_rgb8())
}

/// Decodes an image with its EXIF Orientation tag (JPEG, or a PNG's eXIf chunk) applied, as
/// every viewer, Pillow's `exif_transpose` and OpenCV's `imread`/`imdecode` apply it: a frame
/// stored sideways is segmented upright and its mask is upright.
///
/// # Errors
/// The decoder's error for an unreadable image. A broken EXIF block is not one: it reads as
/// no tag.
pub fn decode_upright<R: std::io::BufRead + std::io::Seek>(
    reader: ImageReader<R>,
) -> image::ImageResult<image::DynamicImage> {
    use image::ImageDecoder;
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = image::DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// A label file's pixels as stored: class ids, or colours that a colour table maps to ids.
pub enum LabelPixels {
    Ids(GrayImage),
    Rgb(RgbImage),
}

/// Reads a label PNG's stored sample values, as PIL and mmcv's `imread(flag="unchanged")`
/// read them — never through a colour conversion: 8-bit grey → the values; a palette ("P")
/// PNG of any bit depth → the palette indices; 16-bit grey → the values, each < 256; RGB (no
/// alpha) → colours, for a colour table.
///
/// # Errors
/// Not a PNG (a lossy JPEG cannot hold ids), 1/2/4-bit grey (decoders disagree on scaling
/// it), a 16-bit value above 255, an alpha channel, 16-bit RGB — each naming the file.
pub fn load_label(path: &Path) -> anyhow::Result<LabelPixels> {
    use png::{BitDepth, ColorType};
    let fail = |what: String| anyhow::anyhow!("{}: {what}", path.display());
    let file =
        std::fs::File::open(path).map_err(|e| fail(format!("cannot open label file: {e}")))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    // Samples as stored: no palette expansion, no 16→8-bit stripping.
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().map_err(|e| {
        fail(format!(
            "not a readable label PNG (labels must be PNG): {e}"
        ))
    })?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| fail("label PNG too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| fail(format!("corrupt label PNG: {e}")))?;
    let (w, h, line) = (info.width, info.height, info.line_size);
    let rows = buf.chunks_exact(line).take(h as usize);
    match (info.color_type, info.bit_depth) {
        (ColorType::Grayscale, BitDepth::Eight) | (ColorType::Indexed, BitDepth::Eight) => {
            let ids = rows.flat_map(|row| &row[..w as usize]).copied().collect();
            Ok(LabelPixels::Ids(
                GrayImage::from_raw(w, h, ids).expect("w × h ids"),
            ))
        }
        (ColorType::Indexed, depth) => {
            // 1, 2 or 4 bits per index, packed from the high bits of each byte.
            let bits = depth as u32 as usize;
            let per_byte = 8 / bits;
            let mask = (1u16 << bits) as u8 - 1;
            let ids = rows
                .flat_map(|row| {
                    (0..w as usize).map(move |x| {
                        let shift = 8 - bits * (x % per_byte + 1);
                        (row[x / per_byte] >> shift) & mask
                    })
                })
                .collect();
            Ok(LabelPixels::Ids(
                GrayImage::from_raw(w, h, ids).expect("w × h ids"),
            ))
        }
        (ColorType::Grayscale, BitDepth::Sixteen) => {
            let mut ids = Vec::with_capacity((w * h) as usize);
            for row in rows {
                for sample in row[..2 * w as usize].chunks_exact(2) {
                    let value = u16::from_be_bytes([sample[0], sample[1]]);
                    ids.push(u8::try_from(value).map_err(|_| {
                        fail(format!(
                            "16-bit label value {value} cannot be a class id (0..=255)"
                        ))
                    })?);
                }
            }
            Ok(LabelPixels::Ids(
                GrayImage::from_raw(w, h, ids).expect("w × h ids"),
            ))
        }
        (ColorType::Grayscale, depth) => Err(fail(format!(
            "{}-bit grey label: save class ids as 8-bit grey or a palette PNG",
            depth as u32
        ))),
        (ColorType::Rgb, BitDepth::Eight) => {
            let rgb = rows
                .flat_map(|row| &row[..3 * w as usize])
                .copied()
                .collect();
            Ok(LabelPixels::Rgb(
                RgbImage::from_raw(w, h, rgb).expect("w × h colours"),
            ))
        }
        (ColorType::GrayscaleAlpha | ColorType::Rgba, _) => Err(fail(
            "label PNG has an alpha channel: class ids are one sample per pixel".into(),
        )),
        (color, depth) => Err(fail(format!(
            "{color:?} {}-bit label PNG cannot hold class ids",
            depth as u32
        ))),
    }
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
