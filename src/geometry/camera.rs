//! The camera as `sensor_msgs/CameraInfo` describes it and `image_geometry`'s pinhole model
//! reads it: intrinsics K, distortion D (`plumb_bob`, `rational_polynomial`, `equidistant`),
//! rectification R, projection P, binning and ROI (REP 104). Pixel coordinates follow
//! OpenCV's convention: the centre of pixel (column i, row j) is at (i, j).

use nalgebra::{Matrix3, Vector2, Vector3};

/// `sensor_msgs/RegionOfInterest`: the part of the calibrated sensor the image shows (zero
/// width/height = the full sensor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roi {
    pub x_offset: u32,
    pub y_offset: u32,
    pub width: u32,
    pub height: u32,
    pub do_rectify: bool,
}

/// Everything a `sensor_msgs/CameraInfo` holds but its header: the calibration of one camera
/// stream, row-major matrices as in the message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraCalibration {
    /// Size of the calibrated (full, unbinned) sensor image, pixels.
    pub width: u32,
    pub height: u32,
    pub distortion_model: String,
    pub d: Vec<f64>,
    pub k: [f64; 9],
    pub r: [f64; 9],
    pub p: [f64; 12],
    pub binning_x: u32,
    pub binning_y: u32,
    pub roi: Roi,
}

/// Lens distortion in normalised image coordinates (OpenCV's models, which ROS names).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distortion {
    None,
    /// `plumb_bob` (k1, k2, p1, p2, k3) and `rational_polynomial` (k1, k2, p1, p2, k3, k4,
    /// k5, k6): Brown–Conrady radial (a ratio of polynomials in r²) and tangential terms;
    /// `radial` holds k1..k6 (k4..k6 zero for plumb_bob), `tangential` p1, p2.
    Radial {
        radial: [f64; 6],
        tangential: [f64; 2],
    },
    /// `equidistant` (OpenCV's fisheye model): θd = θ(1 + k1θ² + k2θ⁴ + k3θ⁶ + k4θ⁸), θ the
    /// angle of the ray to the optical axis.
    Equidistant([f64; 4]),
}

impl Distortion {
    /// Reads `distortion_model` and D. Shorter D than the model's length is padded with
    /// zeros (drivers publish 4-element plumb_bob); an empty or all-zero D is no distortion
    /// whatever the model says.
    ///
    /// # Errors
    /// An unknown model with non-zero coefficients, or more coefficients than the model has.
    pub fn from_ros(model: &str, d: &[f64]) -> Result<Self, String> {
        if d.iter().all(|&c| c == 0.0) {
            return Ok(Distortion::None);
        }
        let padded = |n: usize| -> Result<Vec<f64>, String> {
            if d.len() > n {
                return Err(format!(
                    "distortion_model {model} has {n} coefficients, D has {}",
                    d.len()
                ));
            }
            let mut out = d.to_vec();
            out.resize(n, 0.0);
            Ok(out)
        };
        match model {
            "plumb_bob" | "rational_polynomial" => {
                let c = padded(if model == "plumb_bob" { 5 } else { 8 })?;
                let mut radial = [c[0], c[1], c[4], 0.0, 0.0, 0.0];
                if c.len() == 8 {
                    radial[3..].copy_from_slice(&c[5..8]);
                }
                Ok(Distortion::Radial {
                    radial,
                    tangential: [c[2], c[3]],
                })
            }
            "equidistant" => {
                let c = padded(4)?;
                Ok(Distortion::Equidistant([c[0], c[1], c[2], c[3]]))
            }
            other => Err(format!(
                "distortion_model {other:?} with non-zero D: rtseg knows plumb_bob, \
                 rational_polynomial and equidistant (OpenCV's fisheye model is ROS's \
                 equidistant; its radtan is plumb_bob)"
            )),
        }
    }

    /// The distorted normalised coordinates of a ray in the camera's optical frame (z
    /// forward); `None` for a ray at or behind the image plane (z ≤ 0).
    pub fn distort(&self, ray: &Vector3<f64>) -> Option<Vector2<f64>> {
        if ray.z <= 0.0 {
            return None;
        }
        let (x, y) = (ray.x / ray.z, ray.y / ray.z);
        Some(match *self {
            Distortion::None => Vector2::new(x, y),
            Distortion::Radial {
                radial: k,
                tangential: [p1, p2],
            } => {
                let r2 = x * x + y * y;
                let num = 1.0 + r2 * (k[0] + r2 * (k[1] + r2 * k[2]));
                let den = 1.0 + r2 * (k[3] + r2 * (k[4] + r2 * k[5]));
                let s = num / den;
                Vector2::new(
                    x * s + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
                    y * s + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
                )
            }
            Distortion::Equidistant(k) => {
                let r = (x * x + y * y).sqrt();
                if r < 1e-12 {
                    return Some(Vector2::new(x, y));
                }
                let theta = r.atan();
                let t2 = theta * theta;
                let theta_d = theta * (1.0 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))));
                Vector2::new(x, y) * (theta_d / r)
            }
        })
    }

    /// The undistorted normalised coordinates (x/z, y/z) whose distortion is `distorted`:
    /// Newton's method on the forward model, to 1e-12, from the distorted point.
    ///
    /// # Errors
    /// When the iteration does not converge (a point outside the lens's valid field, where
    /// the model folds back).
    pub fn undistort(&self, distorted: Vector2<f64>) -> Result<Vector2<f64>, String> {
        if *self == Distortion::None {
            return Ok(distorted);
        }
        let f = |p: Vector2<f64>| {
            self.distort(&Vector3::new(p.x, p.y, 1.0))
                .expect("z = 1 is in front")
        };
        let mut p = distorted;
        for _ in 0..50 {
            let residual = f(p) - distorted;
            if residual.norm() < 1e-12 {
                return Ok(p);
            }
            // Central differences: the Jacobian only steers, the residual decides convergence.
            let h = 1e-7 * (1.0 + p.norm());
            let dx = (f(p + Vector2::new(h, 0.0)) - f(p - Vector2::new(h, 0.0))) / (2.0 * h);
            let dy = (f(p + Vector2::new(0.0, h)) - f(p - Vector2::new(0.0, h))) / (2.0 * h);
            let jacobian = nalgebra::Matrix2::from_columns(&[dx, dy]);
            let step = jacobian
                .try_inverse()
                .ok_or("distortion has a singular Jacobian here")?
                * residual;
            p -= step;
        }
        Err(format!(
            "undistorting ({:.4}, {:.4}) did not converge: outside the lens model's valid field",
            distorted.x, distorted.y
        ))
    }
}

/// A camera ready to project: binning and ROI folded into K and P, so pixel coordinates are
/// those of the image the camera_info accompanies (`image_geometry`'s PinholeCameraModel).
#[derive(Clone, Debug, PartialEq)]
pub struct CameraModel {
    /// Image size, pixels.
    pub width: u32,
    pub height: u32,
    pub k: Matrix3<f64>,
    pub distortion: Distortion,
    /// Rectification: rotates the camera's frame into the rectified one.
    pub r: Matrix3<f64>,
    /// The left 3×3 of P: the rectified image's intrinsics.
    pub p: Matrix3<f64>,
}

impl CameraCalibration {
    /// Usable for geometry: a positive size and positive focal lengths in P or in K (stereo
    /// and uncalibrated drivers publish a zero K with a valid P, or the other way round).
    ///
    /// # Errors
    /// What is missing, with the values seen.
    pub fn validate(&self) -> Result<(), String> {
        let (fx, fy) = (self.k[0], self.k[4]);
        let (px, py) = (self.p[0], self.p[5]);
        if self.width == 0 || self.height == 0 {
            return Err(format!(
                "camera size is {}×{} (width × height): both must be positive",
                self.width, self.height
            ));
        }
        let usable_k = fx > 0.0 && fy > 0.0;
        let usable_p = px > 0.0 && py > 0.0;
        if !(usable_k || usable_p) {
            return Err(format!(
                "camera_info has no positive focal lengths in K (fx {fx} fy {fy}) or P (fx {px} fy {py})"
            ));
        }
        Ok(())
    }

    /// The size of the image this calibration accompanies: its ROI (or the sensor), binned.
    pub fn image_size(&self) -> (u32, u32) {
        let roi = &self.roi;
        let (w, h) = match roi.width > 0 && roi.height > 0 {
            true => (roi.width, roi.height),
            false => (self.width, self.height),
        };
        (w / self.binning_x.max(1), h / self.binning_y.max(1))
    }

    /// The camera of the image this calibration describes, resized by `sx` × `sy` to
    /// `width` × `height` (a mask at network resolution), as image_geometry's pinhole model
    /// reads both: binning and ROI (REP 104) are folded into K and P first, then the first two
    /// rows of K and P are scaled, as `image_proc`'s resize does; the result has no binning
    /// and a full-image ROI. D and R stay (distortion works in normalised coordinates); zeros
    /// stay zero.
    pub fn scaled(&self, sx: f64, sy: f64, width: u32, height: u32) -> CameraCalibration {
        let mut out = self.clone();
        let roi = &self.roi;
        let axes = [
            (sx, self.binning_x.max(1) as f64, roi.x_offset as f64),
            (sy, self.binning_y.max(1) as f64, roi.y_offset as f64),
        ];
        for (row, (scale, binning, offset)) in axes.into_iter().enumerate() {
            // The principal point moves with the ROI (through K[8] and P[10], which are 1
            // where the matrix is set and 0 where it is not, so zeros stay zero).
            out.k[row * 3 + 2] = (self.k[row * 3 + 2] - offset * self.k[8]) / binning * scale;
            out.k[row * 3] = self.k[row * 3] / binning * scale;
            out.k[row * 3 + 1] = self.k[row * 3 + 1] / binning * scale;
            out.p[row * 4 + 2] = (self.p[row * 4 + 2] - offset * self.p[10]) / binning * scale;
            for col in [0, 1, 3] {
                out.p[row * 4 + col] = self.p[row * 4 + col] / binning * scale;
            }
        }
        out.width = width;
        out.height = height;
        out.binning_x = 0;
        out.binning_y = 0;
        out.roi = Roi::default();
        out
    }

    /// A warning when an image of `width` × `height` has another aspect ratio than the one
    /// this calibration describes (by more than 1 %): the calibration is then stretched to it,
    /// which is right for a resize and wrong for a crop or another camera mode.
    pub fn aspect_doubt(&self, width: u32, height: u32) -> Option<String> {
        let (w, h) = self.image_size();
        let ratio = (width as f64 / height.max(1) as f64) / (w as f64 / h.max(1) as f64);
        ((ratio - 1.0).abs() > 0.01).then(|| {
            format!(
                "the image is {width}×{height} but the calibration describes {w}×{h} (another \
                 aspect ratio): it is stretched to fit; calibrate the camera mode in use"
            )
        })
    }

    /// The model of the image at `width` × `height` (the image itself, or a mask resized
    /// from it): binning, ROI and the resize folded in. A zero K (uncalibrated drivers) takes
    /// P's intrinsics and no distortion; a zero P takes K's and no rectification.
    ///
    /// # Errors
    /// Unusable intrinsics (see [`validate`](Self::validate)) or distortion.
    pub fn model(&self, width: u32, height: u32) -> Result<CameraModel, String> {
        self.validate()?;
        let (w, h) = self.image_size();
        let c = self.scaled(
            width as f64 / w.max(1) as f64,
            height as f64 / h.max(1) as f64,
            width,
            height,
        );
        let k = Matrix3::from_row_slice(&c.k);
        let p = Matrix3::new(
            c.p[0], c.p[1], c.p[2], c.p[4], c.p[5], c.p[6], c.p[8], c.p[9], c.p[10],
        );
        let (k_ok, p_ok) = (c.k[0] > 0.0 && c.k[4] > 0.0, c.p[0] > 0.0 && c.p[5] > 0.0);
        let r = Matrix3::from_row_slice(&c.r);
        let r = if r == Matrix3::zeros() {
            Matrix3::identity()
        } else {
            r
        };
        Ok(match (k_ok, p_ok) {
            (true, true) => CameraModel {
                width,
                height,
                k,
                distortion: Distortion::from_ros(&c.distortion_model, &c.d)?,
                r,
                p,
            },
            (true, false) => CameraModel {
                width,
                height,
                k,
                distortion: Distortion::from_ros(&c.distortion_model, &c.d)?,
                r: Matrix3::identity(),
                p: k,
            },
            _ => CameraModel {
                width,
                height,
                k: p,
                distortion: Distortion::None,
                r: Matrix3::identity(),
                p,
            },
        })
    }
}

/// A pixel's source in another image: `None` where it falls outside.
pub type PixelMap = Vec<Option<u32>>;

impl CameraModel {
    /// The raw (distorted) image pixel of a point in the camera's optical frame (metres;
    /// z forward, x right, y down, REP 103); `None` behind the camera.
    pub fn project(&self, point: &Vector3<f64>) -> Option<Vector2<f64>> {
        let d = self.distortion.distort(point)?;
        let uv = self.k * Vector3::new(d.x, d.y, 1.0);
        Some(Vector2::new(uv.x / uv.z, uv.y / uv.z))
    }

    /// The ray (z = 1, optical frame) a raw image pixel sees.
    ///
    /// # Errors
    /// When undistortion does not converge (see [`Distortion::undistort`]).
    pub fn unproject(&self, pixel: Vector2<f64>) -> Result<Vector3<f64>, String> {
        let k_inv = self
            .k
            .try_inverse()
            .ok_or("K is singular: cannot unproject")?;
        let n = k_inv * Vector3::new(pixel.x, pixel.y, 1.0);
        let u = self
            .distortion
            .undistort(Vector2::new(n.x / n.z, n.y / n.z))?;
        Ok(Vector3::new(u.x, u.y, 1.0))
    }

    /// Where each pixel of the rectified image (same size, intrinsics P, rotated by R) lies
    /// in the raw image, as `cv::initUndistortRectifyMap(K, D, R, P)` (or its fisheye twin)
    /// computes it: `(column, row)` per pixel, row-major, `None` behind the camera.
    pub fn rectify_map(&self) -> Vec<Option<Vector2<f64>>> {
        // A rectified pixel's ray in the rectified frame, rotated back into the camera's.
        let back = (self.p * self.r)
            .try_inverse()
            .unwrap_or_else(Matrix3::identity);
        let mut out = Vec::with_capacity((self.width * self.height) as usize);
        for v in 0..self.height {
            for u in 0..self.width {
                let ray = back * Vector3::new(u as f64, v as f64, 1.0);
                out.push(self.project(&ray));
            }
        }
        out
    }

    /// [`rectify_map`](Self::rectify_map) as nearest-pixel indices into the raw image
    /// (row-major), for remapping masks: class ids must not be interpolated.
    pub fn rectify_nearest(&self) -> PixelMap {
        self.rectify_map()
            .into_iter()
            .map(|uv| uv.and_then(|uv| self.nearest_pixel(uv)))
            .collect()
    }

    /// The row-major index of the pixel whose centre is nearest `uv`, if inside the image.
    pub fn nearest_pixel(&self, uv: Vector2<f64>) -> Option<u32> {
        let (col, row) = (uv.x.round(), uv.y.round());
        let inside =
            col >= 0.0 && row >= 0.0 && col < self.width as f64 && row < self.height as f64;
        inside.then(|| row as u32 * self.width + col as u32)
    }
}

/// Applies a [`PixelMap`] to an 8-bit image: out[i] = image[map[i]], `fill` where `None`.
pub fn remap_nearest(image: &[u8], map: &PixelMap, fill: u8) -> Vec<u8> {
    map.iter()
        .map(|i| i.map_or(fill, |i| image[i as usize]))
        .collect()
}

/// Rectifies masks of one camera with nearest-pixel sampling (class ids must not be
/// interpolated), as `image_proc`'s rectify does images: the map is built once per camera
/// and mask size.
#[derive(Default)]
pub struct MaskRectifier {
    camera: Option<(CameraCalibration, (u32, u32))>,
    map: PixelMap,
}

impl MaskRectifier {
    /// The mask (row-major, `size`) of the image `calibration` describes, rectified: same
    /// size, seen through P after R; [`crate::labels::UNLABELLED`] where the raw mask has no
    /// pixel.
    ///
    /// # Errors
    /// Unusable intrinsics or distortion.
    pub fn rectify(
        &mut self,
        calibration: &CameraCalibration,
        mask: &[u8],
        size: (u32, u32),
    ) -> Result<Vec<u8>, String> {
        let unchanged = self
            .camera
            .as_ref()
            .is_some_and(|(c, s)| c == calibration && *s == size);
        if !unchanged {
            self.map = calibration.model(size.0, size.1)?.rectify_nearest();
            self.camera = Some((calibration.clone(), size));
        }
        Ok(remap_nearest(mask, &self.map, crate::labels::UNLABELLED))
    }
}
