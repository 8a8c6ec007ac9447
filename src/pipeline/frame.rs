//! Camera frames as they arrive from a driver — raw pixels in a named encoding with a row
//! stride, or a compressed JPEG/PNG — decoded to RGB8. Every malformed frame is an error that
//! says what is wrong; nothing here panics on input.

use image::RgbImage;

/// The largest frame side rtseg accepts from a camera (a bound checked before allocating).
pub const MAX_SIDE: u32 = 8192;

/// A borrowed uncompressed frame: the fields of sensor_msgs/msg/Image that describe the
/// pixels (REP 104 encodings), or an RGB image seen as an `rgb8` frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameRef<'a> {
    pub width: u32,
    pub height: u32,
    /// One of the 8-bit encodings below, where byte order does not arise.
    pub encoding: &'a str,
    /// Bytes per row, ≥ width × bytes per pixel (drivers pad rows).
    pub step: u32,
    pub data: &'a [u8],
}

/// Why a frame was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame is {width}×{height}; each side must be 1..={MAX_SIDE}")]
    BadSize { width: u32, height: u32 },
    #[error("unsupported encoding {0:?} (rgb8, bgr8, rgba8, bgra8, mono8, yuv422_yuy2)")]
    UnknownEncoding(String),
    #[error("step {step} is smaller than width {width} × {bytes} bytes per pixel")]
    StepTooSmall { step: u32, width: u32, bytes: u32 },
    #[error("data has {len} bytes, less than step {step} × height {height}")]
    DataTooShort { len: usize, step: u32, height: u32 },
    #[error("yuv422_yuy2 needs an even width, got {0}")]
    OddYuyvWidth(u32),
    #[error("compressed frame: {0}")]
    Compressed(String),
}

/// Bytes per pixel of the encodings rtseg reads (YUYV: 2 per pixel, 4 per pixel pair).
fn bytes_per_pixel(encoding: &str) -> Option<u32> {
    Some(match encoding {
        "rgb8" | "bgr8" => 3,
        "rgba8" | "bgra8" => 4,
        "mono8" => 1,
        "yuv422_yuy2" => 2,
        _ => return None,
    })
}

impl<'a> FrameRef<'a> {
    /// An RGB image as an `rgb8` frame without row padding.
    pub fn rgb(image: &'a RgbImage) -> Self {
        FrameRef {
            width: image.width(),
            height: image.height(),
            encoding: "rgb8",
            step: 3 * image.width(),
            data: image.as_raw(),
        }
    }

    /// Checks everything [`decode_raw`] checks, without decoding.
    ///
    /// # Errors
    /// The [`FrameError`] that decoding would return.
    pub fn validate(&self) -> Result<(), FrameError> {
        let (w, h) = (self.width, self.height);
        check_size(w, h)?;
        let bytes = bytes_per_pixel(self.encoding)
            .ok_or_else(|| FrameError::UnknownEncoding(self.encoding.to_string()))?;
        if (self.step as u64) < w as u64 * bytes as u64 {
            return Err(FrameError::StepTooSmall {
                step: self.step,
                width: w,
                bytes,
            });
        }
        // The last row only needs its pixels, but drivers send full rows; demand step × height.
        if (self.data.len() as u64) < self.step as u64 * h as u64 {
            return Err(FrameError::DataTooShort {
                len: self.data.len(),
                step: self.step,
                height: h,
            });
        }
        if self.encoding == "yuv422_yuy2" && w % 2 == 1 {
            return Err(FrameError::OddYuyvWidth(w));
        }
        Ok(())
    }

    /// The pixels as contiguous RGB8 rows when the frame already is exactly that (an `rgb8`
    /// frame without row padding), so callers can skip a copy.
    pub fn as_packed_rgb(&self) -> Option<&'a [u8]> {
        let len = 3 * self.width as usize * self.height as usize;
        (self.encoding == "rgb8" && self.step == 3 * self.width && self.data.len() >= len)
            .then(|| &self.data[..len])
    }
}

/// Checks that a size is one rtseg will process.
fn check_size(width: u32, height: u32) -> Result<(), FrameError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(FrameError::BadSize { width, height });
    }
    Ok(())
}

/// Decodes a raw frame to RGB8, honouring row padding.
///
/// # Errors
/// [`FrameError`] for a size, encoding, step or data length that cannot be a frame.
pub fn decode_raw(frame: &FrameRef) -> Result<RgbImage, FrameError> {
    frame.validate()?;
    let (w, h) = (frame.width, frame.height);
    let bytes = bytes_per_pixel(frame.encoding).expect("validated encoding");
    let (step, row_bytes) = (frame.step as usize, (w * bytes) as usize);
    let mut out = RgbImage::new(w, h);
    // Written row by row straight into the output: no per-row buffers on this per-frame path.
    for (y, dst) in out.chunks_exact_mut(3 * w as usize).enumerate() {
        let src = &frame.data[y * step..y * step + row_bytes];
        let pixels = dst.chunks_exact_mut(3);
        match frame.encoding {
            "rgb8" => dst.copy_from_slice(src),
            "bgr8" => convert(pixels, src.chunks_exact(3), |p| [p[2], p[1], p[0]]),
            "rgba8" => convert(pixels, src.chunks_exact(4), |p| [p[0], p[1], p[2]]),
            "bgra8" => convert(pixels, src.chunks_exact(4), |p| [p[2], p[1], p[0]]),
            "mono8" => convert(pixels, src.chunks_exact(1), |p| [p[0]; 3]),
            _ => {
                for (pair, yuyv) in dst.chunks_exact_mut(6).zip(src.chunks_exact(4)) {
                    let [a, b] = yuyv_pair(yuyv);
                    pair[..3].copy_from_slice(&a);
                    pair[3..].copy_from_slice(&b);
                }
            }
        }
    }
    Ok(out)
}

/// Writes `to_rgb` of each source pixel into the matching output pixel.
fn convert<'a>(
    out: std::slice::ChunksExactMut<'_, u8>,
    src: impl Iterator<Item = &'a [u8]>,
    to_rgb: impl Fn(&[u8]) -> [u8; 3],
) {
    for (dst, p) in out.zip(src) {
        dst.copy_from_slice(&to_rgb(p));
    }
}

/// Y0 U Y1 V → two RGB pixels (BT.601, limited range, as the common USB cameras send).
fn yuyv_pair(p: &[u8]) -> [[u8; 3]; 2] {
    let (u, v) = (p[1] as f32 - 128.0, p[3] as f32 - 128.0);
    [p[0], p[2]].map(|y| {
        let c = 1.164 * (y as f32 - 16.0);
        [c + 1.596 * v, c - 0.392 * u - 0.813 * v, c + 2.017 * u]
            .map(|x| x.round().clamp(0.0, 255.0) as u8)
    })
}

/// Decodes a JPEG or PNG frame (sensor_msgs/msg/CompressedImage data), checking its size,
/// upright as `image_transport`'s OpenCV decoder reads it (EXIF Orientation applied).
pub fn decode_compressed(data: &[u8]) -> Result<RgbImage, FrameError> {
    let format = image::guess_format(data).map_err(|e| FrameError::Compressed(e.to_string()))?;
    if !matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
        return Err(FrameError::Compressed(format!(
            "{format:?} is not JPEG or PNG"
        )));
    }
    let reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| FrameError::Compressed(e.to_string()))?;
    check_size(w, h)?;
    let reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    crate::io::decode_upright(reader)
        .map(|img| img.to_rgb8())
        .map_err(|e| FrameError::Compressed(e.to_string()))
}
