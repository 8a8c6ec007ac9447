//! Camera frames as they arrive from a driver — raw pixels in a named encoding with a row
//! stride, or a compressed JPEG/PNG — decoded to RGB8. Every malformed frame is an error that
//! says what is wrong; nothing here panics on input.

use image::RgbImage;

/// The largest frame side rtseg accepts from a camera (a bound checked before allocating).
pub const MAX_SIDE: u32 = 8192;

/// A borrowed uncompressed frame: the fields of sensor_msgs/msg/Image that describe the
/// pixels, or an RGB image seen as an `rgb8` frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameRef<'a> {
    pub width: u32,
    pub height: u32,
    /// A `sensor_msgs/image_encodings` name ([`Encoding::parse`] lists those rtseg reads).
    pub encoding: &'a str,
    /// The message's `is_bigendian`: byte order of 16-bit samples.
    pub big_endian: bool,
    /// Bytes per row, ≥ width × bytes per pixel (drivers pad rows).
    pub step: u32,
    pub data: &'a [u8],
}

/// Why a frame was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame is {width}×{height}; each side must be 1..={MAX_SIDE}")]
    BadSize { width: u32, height: u32 },
    #[error("unsupported encoding {0:?} (supported: {SUPPORTED})")]
    UnknownEncoding(String),
    #[error("step {step} is smaller than width {width} × {bytes} bytes per pixel")]
    StepTooSmall { step: u32, width: u32, bytes: u32 },
    #[error("data has {len} bytes, less than step {step} × {rows} rows")]
    DataTooShort { len: usize, step: u32, rows: u64 },
    #[error("{encoding} needs an even {side}, got {value}")]
    OddSide {
        encoding: &'static str,
        side: &'static str,
        value: u32,
    },
    #[error("compressed frame: {0}")]
    Compressed(String),
}

/// Every encoding name rtseg reads, for messages and the README.
pub const SUPPORTED: &str = "rgb8, bgr8, rgba8, bgra8, mono8, rgb16, bgr16, rgba16, bgra16, \
    mono16, yuyv (yuv422_yuy2), uyvy (yuv422), nv12, nv21, bayer_{rggb,bggr,gbrg,grbg}{8,16}, \
    8UC1, 8UC3 (BGR), 8UC4 (BGRA)";

/// Colour filter array of a Bayer sensor: the colours of the top-left 2×2 block, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cfa {
    Rggb,
    Bggr,
    Gbrg,
    Grbg,
}

impl Cfa {
    /// The channel (0 R, 1 G, 2 B) sampled at (x, y).
    fn channel(self, x: u32, y: u32) -> usize {
        let block = match self {
            Cfa::Rggb => [0, 1, 1, 2],
            Cfa::Bggr => [2, 1, 1, 0],
            Cfa::Gbrg => [1, 2, 0, 1],
            Cfa::Grbg => [1, 0, 2, 1],
        };
        block[(2 * (y % 2) + x % 2) as usize]
    }
}

/// The pixel layouts rtseg decodes, from `sensor_msgs/image_encodings` (ROS 2 Jazzy, REP
/// 104) and the OpenCV type names `cv_bridge` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Interleaved samples: `channels` of `bytes` each (1 or 2), RGB(A), BGR(A) or grey.
    Interleaved {
        order: ChannelOrder,
        bytes: u32,
    },
    /// Packed 4:2:2, two pixels in 4 bytes: Y0 U Y1 V.
    Yuyv,
    /// Packed 4:2:2, two pixels in 4 bytes: U Y0 V Y1.
    Uyvy,
    /// 4:2:0 semi-planar: a Y plane, then interleaved U V (NV12) or V U (NV21) at half size.
    Nv12,
    Nv21,
    /// One sample per pixel behind a colour filter array, 1 or 2 bytes.
    Bayer {
        cfa: Cfa,
        bytes: u32,
    },
}

/// Channel order of an interleaved encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelOrder {
    Rgb,
    Bgr,
    Rgba,
    Bgra,
    Mono,
}

impl ChannelOrder {
    fn channels(self) -> u32 {
        match self {
            ChannelOrder::Rgb | ChannelOrder::Bgr => 3,
            ChannelOrder::Rgba | ChannelOrder::Bgra => 4,
            ChannelOrder::Mono => 1,
        }
    }

    /// RGB of one pixel's samples (already 8-bit).
    fn rgb(self, s: &[u8]) -> [u8; 3] {
        match self {
            ChannelOrder::Rgb | ChannelOrder::Rgba => [s[0], s[1], s[2]],
            ChannelOrder::Bgr | ChannelOrder::Bgra => [s[2], s[1], s[0]],
            ChannelOrder::Mono => [s[0]; 3],
        }
    }
}

impl Encoding {
    /// The layout of an encoding name; `None` for what rtseg does not read (float and signed
    /// OpenCV types, depth `16UC1`, multi-channel `8UC2`, `nv24`, ...).
    pub fn parse(name: &str) -> Option<Self> {
        use ChannelOrder::*;
        let interleaved = |order, bytes| Encoding::Interleaved { order, bytes };
        let bayer = |cfa, bytes| Encoding::Bayer { cfa, bytes };
        Some(match name {
            "rgb8" => interleaved(Rgb, 1),
            "bgr8" | "8UC3" => interleaved(Bgr, 1),
            "rgba8" => interleaved(Rgba, 1),
            "bgra8" | "8UC4" => interleaved(Bgra, 1),
            "mono8" | "8UC1" => interleaved(Mono, 1),
            "rgb16" => interleaved(Rgb, 2),
            "bgr16" => interleaved(Bgr, 2),
            "rgba16" => interleaved(Rgba, 2),
            "bgra16" => interleaved(Bgra, 2),
            "mono16" => interleaved(Mono, 2),
            "yuyv" | "yuv422_yuy2" => Encoding::Yuyv,
            "uyvy" | "yuv422" => Encoding::Uyvy,
            "nv12" => Encoding::Nv12,
            "nv21" => Encoding::Nv21,
            "bayer_rggb8" => bayer(Cfa::Rggb, 1),
            "bayer_bggr8" => bayer(Cfa::Bggr, 1),
            "bayer_gbrg8" => bayer(Cfa::Gbrg, 1),
            "bayer_grbg8" => bayer(Cfa::Grbg, 1),
            "bayer_rggb16" => bayer(Cfa::Rggb, 2),
            "bayer_bggr16" => bayer(Cfa::Bggr, 2),
            "bayer_gbrg16" => bayer(Cfa::Gbrg, 2),
            "bayer_grbg16" => bayer(Cfa::Grbg, 2),
            _ => return None,
        })
    }

    /// Bytes per pixel of a row (of the Y plane for NV12/NV21).
    fn bytes_per_pixel(self) -> u32 {
        match self {
            Encoding::Interleaved { order, bytes } => order.channels() * bytes,
            Encoding::Yuyv | Encoding::Uyvy => 2,
            Encoding::Nv12 | Encoding::Nv21 => 1,
            Encoding::Bayer { bytes, .. } => bytes,
        }
    }

    /// Rows of `step` bytes the data holds: the height, and half again for the chroma
    /// plane of NV12/NV21.
    fn rows(self, height: u32) -> u64 {
        match self {
            Encoding::Nv12 | Encoding::Nv21 => height as u64 * 3 / 2,
            _ => height as u64,
        }
    }

    /// The sides that must be even, named for the error.
    fn even_sides(self) -> (&'static str, bool, bool) {
        match self {
            Encoding::Yuyv => ("yuyv", true, false),
            Encoding::Uyvy => ("uyvy", true, false),
            Encoding::Nv12 => ("nv12", true, true),
            Encoding::Nv21 => ("nv21", true, true),
            _ => ("", false, false),
        }
    }
}

impl<'a> FrameRef<'a> {
    /// An RGB image as an `rgb8` frame without row padding.
    pub fn rgb(image: &'a RgbImage) -> Self {
        FrameRef {
            width: image.width(),
            height: image.height(),
            encoding: "rgb8",
            big_endian: false,
            step: 3 * image.width(),
            data: image.as_raw(),
        }
    }

    /// Checks everything [`decode_raw`] checks, without decoding.
    ///
    /// # Errors
    /// The [`FrameError`] that decoding would return.
    pub fn validate(&self) -> Result<Encoding, FrameError> {
        let (w, h) = (self.width, self.height);
        check_size(w, h)?;
        let encoding = Encoding::parse(self.encoding)
            .ok_or_else(|| FrameError::UnknownEncoding(self.encoding.to_string()))?;
        let bytes = encoding.bytes_per_pixel();
        if (self.step as u64) < w as u64 * bytes as u64 {
            return Err(FrameError::StepTooSmall {
                step: self.step,
                width: w,
                bytes,
            });
        }
        // The last row only needs its pixels, but drivers send full rows; demand step × rows.
        let rows = encoding.rows(h);
        if (self.data.len() as u64) < self.step as u64 * rows {
            return Err(FrameError::DataTooShort {
                len: self.data.len(),
                step: self.step,
                rows,
            });
        }
        let (name, even_width, even_height) = encoding.even_sides();
        for (needed, side, value) in [(even_width, "width", w), (even_height, "height", h)] {
            if needed && value % 2 == 1 {
                return Err(FrameError::OddSide {
                    encoding: name,
                    side,
                    value,
                });
            }
        }
        Ok(encoding)
    }

    /// The pixels as contiguous RGB8 rows when the frame already is exactly that (an `rgb8`
    /// frame without row padding), so callers can skip a copy.
    pub fn as_packed_rgb(&self) -> Option<&'a [u8]> {
        let len = 3 * self.width as usize * self.height as usize;
        (self.encoding == "rgb8" && self.step == 3 * self.width && self.data.len() >= len)
            .then(|| &self.data[..len])
    }

    /// Row `y` of `step` bytes.
    fn row(&self, y: usize) -> &'a [u8] {
        let step = self.step as usize;
        &self.data[y * step..(y + 1) * step]
    }
}

/// Checks that a size is one rtseg will process.
fn check_size(width: u32, height: u32) -> Result<(), FrameError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(FrameError::BadSize { width, height });
    }
    Ok(())
}

/// A 16-bit sample scaled to 8 bits over the full range (v × 255 / 65535, rounded), as
/// OpenCV's `convertTo(CV_8U, 255.0 / 65535)` does.
fn sample16(bytes: [u8; 2], big_endian: bool) -> u8 {
    let v = if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    } as u32;
    ((v * 255 + 32767) / 65535) as u8
}

/// A row's samples as 8-bit values (16-bit samples scaled).
fn samples8(row: &[u8], bytes: u32, big_endian: bool) -> std::borrow::Cow<'_, [u8]> {
    if bytes == 1 {
        return row.into();
    }
    row.chunks_exact(2)
        .map(|b| sample16([b[0], b[1]], big_endian))
        .collect::<Vec<u8>>()
        .into()
}

/// Decodes a raw frame to RGB8, honouring row padding and byte order.
///
/// # Errors
/// [`FrameError`] for a size, encoding, step or data length that cannot be a frame.
pub fn decode_raw(frame: &FrameRef) -> Result<RgbImage, FrameError> {
    let encoding = frame.validate()?;
    let (w, h) = (frame.width, frame.height);
    let row_bytes = (w * encoding.bytes_per_pixel()) as usize;
    let mut out = RgbImage::new(w, h);
    match encoding {
        Encoding::Bayer { cfa, bytes } => {
            let mono: Vec<u8> = (0..h as usize)
                .flat_map(|y| {
                    samples8(&frame.row(y)[..row_bytes], bytes, frame.big_endian).into_owned()
                })
                .collect();
            demosaic(&mono, w, h, cfa, &mut out);
        }
        Encoding::Nv12 | Encoding::Nv21 => {
            let v_first = encoding == Encoding::Nv21;
            for (y, dst) in out.chunks_exact_mut(3 * w as usize).enumerate() {
                let luma = &frame.row(y)[..w as usize];
                let chroma = frame.row(h as usize + y / 2);
                for (x, px) in dst.chunks_exact_mut(3).enumerate() {
                    let pair = &chroma[x / 2 * 2..x / 2 * 2 + 2];
                    let (u, v) = if v_first {
                        (pair[1], pair[0])
                    } else {
                        (pair[0], pair[1])
                    };
                    px.copy_from_slice(&yuv_to_rgb(luma[x], u, v));
                }
            }
        }
        // One output row per input row: written straight into the output, no per-row buffers
        // for the 8-bit encodings on this per-frame path.
        _ => {
            for (y, dst) in out.chunks_exact_mut(3 * w as usize).enumerate() {
                let src = &frame.row(y)[..row_bytes];
                match encoding {
                    Encoding::Interleaved { order, bytes } => {
                        let samples = samples8(src, bytes, frame.big_endian);
                        let chunks = samples.chunks_exact(order.channels() as usize);
                        for (px, s) in dst.chunks_exact_mut(3).zip(chunks) {
                            px.copy_from_slice(&order.rgb(s));
                        }
                    }
                    _ => {
                        // Yuyv: Y0 U Y1 V; Uyvy: U Y0 V Y1.
                        let [y0, u, y1, v] = if encoding == Encoding::Uyvy {
                            [1, 0, 3, 2]
                        } else {
                            [0, 1, 2, 3]
                        };
                        for (pair, p) in dst.chunks_exact_mut(6).zip(src.chunks_exact(4)) {
                            pair[..3].copy_from_slice(&yuv_to_rgb(p[y0], p[u], p[v]));
                            pair[3..].copy_from_slice(&yuv_to_rgb(p[y1], p[u], p[v]));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// One YUV sample → RGB: BT.601 limited range, luma below 16 taken as black, as OpenCV's
/// `COLOR_YUV2RGB_{YUYV,UYVY,NV12,NV21}` and the common USB cameras do.
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let (u, v) = (u as f32 - 128.0, v as f32 - 128.0);
    let c = 1.164 * (y as f32 - 16.0).max(0.0);
    [c + 1.596 * v, c - 0.392 * u - 0.813 * v, c + 2.017 * u]
        .map(|x| x.round().clamp(0.0, 255.0) as u8)
}

/// Bilinear demosaic: each pixel keeps its own sample and takes each other colour as the
/// rounded mean of that colour's samples in its 3×3 neighbourhood (inside the image). The
/// interior equals OpenCV's `COLOR_Bayer*2RGB`; at the border only neighbours inside count.
fn demosaic(mono: &[u8], w: u32, h: u32, cfa: Cfa, out: &mut RgbImage) {
    for (x, y, px) in out.enumerate_pixels_mut() {
        let own = cfa.channel(x, y);
        let (mut sum, mut n) = ([0u32; 3], [0u32; 3]);
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for nx in x.saturating_sub(1)..(x + 2).min(w) {
                let c = cfa.channel(nx, ny);
                sum[c] += mono[(ny * w + nx) as usize] as u32;
                n[c] += 1;
            }
        }
        px.0 = std::array::from_fn(|c| {
            if c == own {
                mono[(y * w + x) as usize]
            } else {
                ((sum[c] + n[c] / 2) / n[c].max(1)) as u8
            }
        });
    }
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
