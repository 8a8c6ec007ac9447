//! Camera calibration files: the intrinsics in the YAML `camera_calibration` writes and
//! `camera_calibration_parsers` reads (`image_width`, `camera_matrix`, `distortion_model`,
//! `distortion_coefficients`, `rectification_matrix`, `projection_matrix`), plus an
//! `extrinsics` block placing the camera in the vehicle frame — either translation and
//! rotation as `static_transform_publisher` takes them, or a 4×4 matrix in kalibr's notation:
//! `T_parent_camera` maps camera points into the parent frame, `T_camera_parent` the reverse
//! (kalibr's `T_cam_imu` when the IMU frame is the parent). kalibr's camera frame is the
//! optical frame, so matrices default to `axes: optical`.

use std::path::Path;

use anyhow::Context;
use nalgebra::{Isometry3, Matrix3, Matrix4, Rotation3, Translation3, UnitQuaternion, Vector3};
use serde::Deserialize;

use super::camera::CameraCalibration;
use super::ground::Extrinsics;

/// What a calibration file holds; either part may be absent.
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    pub camera_name: String,
    pub camera: Option<CameraCalibration>,
    pub extrinsics: Option<Extrinsics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    image_width: Option<u32>,
    image_height: Option<u32>,
    #[serde(default)]
    camera_name: String,
    camera_matrix: Option<Matrix>,
    distortion_model: Option<String>,
    distortion_coefficients: Option<Matrix>,
    rectification_matrix: Option<Matrix>,
    projection_matrix: Option<Matrix>,
    extrinsics: Option<ExtrinsicsFile>,
}

/// Which axes the camera pose is given for.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Axes {
    /// The optical frame (REP 103 `_optical`: z forward, x right, y down), as `/tf_static`
    /// gives it for `<camera>_optical_frame`.
    Optical,
    /// The camera body (x forward, y left, z up), as one measures a mounted camera: a roll,
    /// pitch (positive = looking down) and yaw.
    Body,
}

/// One of the two, as `rotation: {rpy: […]}` or `rotation: {quaternion: […]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotation {
    /// Roll, pitch, yaw about the parent's fixed x, y, z axes, radians (tf2, URDF).
    rpy: Option<[f64; 3]>,
    /// x, y, z, w (tf2's order).
    quaternion: Option<[f64; 4]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtrinsicsFile {
    parent_frame: String,
    /// Required with `translation`/`rotation`; `optical` by default with a matrix.
    axes: Option<Axes>,
    /// The camera's position in the parent frame, metres.
    translation: Option<[f64; 3]>,
    rotation: Option<Rotation>,
    #[serde(rename = "T_parent_camera")]
    t_parent_camera: Option<[[f64; 4]; 4]>,
    #[serde(rename = "T_camera_parent")]
    t_camera_parent: Option<[[f64; 4]; 4]>,
}

/// How far from a rotation a matrix's 3×3 may be (‖RᵀR − I‖, |det R − 1|): matrices copied
/// with four decimals pass; the nearest rotation is used.
const ROTATION_TOLERANCE: f64 = 1e-3;

/// A 4×4 rigid transform from a file, as an isometry.
fn rigid(t: &[[f64; 4]; 4], key: &str) -> anyhow::Result<Isometry3<f64>> {
    let m = Matrix4::from_fn(|r, c| t[r][c]);
    anyhow::ensure!(
        m.row(3)
            .iter()
            .zip([0.0, 0.0, 0.0, 1.0])
            .all(|(a, b)| *a == b),
        "`extrinsics.{key}`: the last row must be [0, 0, 0, 1]"
    );
    let r: Matrix3<f64> = m.fixed_view::<3, 3>(0, 0).into();
    let (off, det) = (
        (r.transpose() * r - Matrix3::identity()).norm(),
        r.determinant(),
    );
    anyhow::ensure!(
        off < ROTATION_TOLERANCE && (det - 1.0).abs() < ROTATION_TOLERANCE,
        "`extrinsics.{key}`: the top-left 3×3 is not a rotation (‖RᵀR − I‖ = {off:.2e}, \
         det = {det:.6}; both must be within {ROTATION_TOLERANCE:e} of a rotation's)"
    );
    let rotation = UnitQuaternion::from_matrix(&r);
    Ok(Isometry3::from_parts(
        Translation3::new(m[(0, 3)], m[(1, 3)], m[(2, 3)]),
        rotation,
    ))
}

/// Rotates optical-frame vectors into the body frame: optical x (right) is body -y, optical
/// y (down) is body -z, optical z (forward) is body x.
fn optical_to_body() -> Rotation3<f64> {
    Rotation3::from_matrix_unchecked(Matrix3::new(
        0.0, 0.0, 1.0, //
        -1.0, 0.0, 0.0, //
        0.0, -1.0, 0.0,
    ))
}

fn matrix(m: &Option<Matrix>, key: &str, rows: usize, cols: &[usize]) -> anyhow::Result<Vec<f64>> {
    let m = m.as_ref().with_context(|| format!("`{key}` is missing"))?;
    anyhow::ensure!(
        m.rows == rows && cols.contains(&m.cols) && m.data.len() == m.rows * m.cols,
        "`{key}` is {}×{} with {} values; expected {rows}×{} filled row by row",
        m.rows,
        m.cols,
        m.data.len(),
        cols.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    );
    anyhow::ensure!(
        m.data.iter().all(|v| v.is_finite()),
        "`{key}` has a value that is not a finite number"
    );
    Ok(m.data.clone())
}

impl File {
    fn camera(&self) -> anyhow::Result<Option<CameraCalibration>> {
        if self.camera_matrix.is_none() && self.image_width.is_none() {
            return Ok(None);
        }
        let width = self.image_width.context("`image_width` is missing")?;
        let height = self.image_height.context("`image_height` is missing")?;
        anyhow::ensure!(
            width > 0 && height > 0,
            "`image_width` × `image_height` is {width}×{height}: both must be positive"
        );
        let k: [f64; 9] = matrix(&self.camera_matrix, "camera_matrix", 3, &[3])?
            .try_into()
            .expect("3×3");
        let d = match &self.distortion_coefficients {
            None => Vec::new(),
            some => matrix(some, "distortion_coefficients", 1, &[0, 4, 5, 8])?,
        };
        let r: [f64; 9] = match &self.rectification_matrix {
            None => [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            some => matrix(some, "rectification_matrix", 3, &[3])?
                .try_into()
                .expect("3×3"),
        };
        let p: [f64; 12] = match &self.projection_matrix {
            None => [
                k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, k[6], k[7], k[8], 0.0,
            ],
            some => matrix(some, "projection_matrix", 3, &[4])?
                .try_into()
                .expect("3×4"),
        };
        let camera = CameraCalibration {
            width,
            height,
            distortion_model: self
                .distortion_model
                .clone()
                .unwrap_or_else(|| "plumb_bob".into()),
            d,
            k,
            r,
            p,
            ..Default::default()
        };
        camera.validate().map_err(anyhow::Error::msg)?;
        // Checked here so a bad model is named with the file, not at the first frame.
        super::camera::Distortion::from_ros(&camera.distortion_model, &camera.d)
            .map_err(|e| anyhow::anyhow!("`distortion_model`/`distortion_coefficients`: {e}"))?;
        Ok(Some(camera))
    }
}

impl ExtrinsicsFile {
    fn resolve(&self) -> anyhow::Result<Extrinsics> {
        anyhow::ensure!(
            !self.parent_frame.is_empty(),
            "`extrinsics.parent_frame` is empty"
        );
        let matrices = (&self.t_parent_camera, &self.t_camera_parent);
        let pose = match (matrices, &self.translation, &self.rotation) {
            ((Some(t), None), None, None) => rigid(t, "T_parent_camera")?,
            ((None, Some(t)), None, None) => rigid(t, "T_camera_parent")?.inverse(),
            ((None, None), Some(t), Some(rotation)) => {
                let rotation = match (rotation.rpy, rotation.quaternion) {
                    (Some([roll, pitch, yaw]), None) => {
                        UnitQuaternion::from_euler_angles(roll, pitch, yaw)
                    }
                    (None, Some([x, y, z, w])) => {
                        let q = nalgebra::Quaternion::new(w, x, y, z);
                        anyhow::ensure!(
                            q.norm() > 1e-9,
                            "`extrinsics.rotation.quaternion` is zero"
                        );
                        UnitQuaternion::from_quaternion(q)
                    }
                    _ => anyhow::bail!(
                        "`extrinsics.rotation` needs exactly one of `rpy` and `quaternion`"
                    ),
                };
                Isometry3::from_parts(Translation3::from(Vector3::from(*t)), rotation)
            }
            _ => anyhow::bail!(
                "`extrinsics` needs `translation` and `rotation` (rpy or quaternion), or one \
                 of `T_parent_camera` and `T_camera_parent` instead of both"
            ),
        };
        let axes = match (self.axes, self.translation.is_some()) {
            (Some(axes), _) => axes,
            (None, false) => Axes::Optical,
            (None, true) => anyhow::bail!(
                "`extrinsics.axes` is missing: `body` (x forward, y left, z up: the camera as \
                 mounted) or `optical` (z forward, x right, y down: <camera>_optical_frame)"
            ),
        };
        let camera_to_parent = match axes {
            Axes::Optical => pose,
            Axes::Body => pose * UnitQuaternion::from_rotation_matrix(&optical_to_body()),
        };
        Ok(Extrinsics {
            parent_frame: self.parent_frame.clone(),
            camera_to_parent,
        })
    }
}

impl Calibration {
    /// Reads a calibration file.
    ///
    /// # Errors
    /// The file cannot be read, is not this YAML (the message names the key), a matrix has
    /// the wrong shape, the intrinsics have no focal length, or the pose is not a rotation and
    /// a translation.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read calibration {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("calibration {}", path.display()))
    }

    /// [`load`](Self::load) from text.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: File = serde_yaml::from_str(text)?;
        Ok(Self {
            camera: file.camera()?,
            extrinsics: file.extrinsics.as_ref().map(|e| e.resolve()).transpose()?,
            camera_name: file.camera_name,
        })
    }
}
