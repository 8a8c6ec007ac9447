//! Inverse perspective mapping of a mask onto the flat ground plane of the vehicle frame
//! (`base_link`, REP 103: x forward, y left, z up, z = 0 on the ground): a drivable-area grid
//! laid out as `nav_msgs/OccupancyGrid`, a per-class grid, and free-space distances per
//! azimuth as `sensor_msgs/LaserScan` (REP 117 for its special values).
//!
//! Each grid cell's centre is projected into the mask once per camera (a lookup table), so a
//! frame costs one table read per cell. The flat-ground assumption breaks on slopes, kerbs
//! and when the car pitches (braking, load): a pitch error δ moves a point at distance x by
//! about x²·δ/h for a camera at height h.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use nalgebra::{Isometry3, Point3, Vector2};

use super::camera::{CameraCalibration, CameraModel};

/// Where the camera is: its optical frame (z forward, x right, y down) in the vehicle frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Extrinsics {
    /// The vehicle frame the grids are in (usually `base_link`).
    pub parent_frame: String,
    /// Maps points in the camera's optical frame into `parent_frame`, metres.
    pub camera_to_parent: Isometry3<f64>,
}

/// The grid on the ground: cells of `resolution` metres covering `x_range` × `y_range` of
/// the vehicle frame. Cell (column i, row j) spans x from `x_range.0 + i·resolution`, y from
/// `y_range.0 + j·resolution`; data is row-major from that corner, as OccupancyGrid lays it
/// out with its origin at (x_range.0, y_range.0, 0) and no rotation.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Cell edge, metres.
    pub resolution: f64,
    /// Forward extent [min, max], metres.
    pub x_range: [f64; 2],
    /// Lateral extent [min, max] (left positive), metres.
    pub y_range: [f64; 2],
}

impl Default for GridSpec {
    /// 30 m ahead, 15 m either side, 0.15 m cells: 200 × 200.
    fn default() -> Self {
        Self {
            resolution: 0.15,
            x_range: [0.0, 30.0],
            y_range: [-15.0, 15.0],
        }
    }
}

/// OccupancyGrid cell values (nav_msgs: 0 free, 100 occupied, -1 unknown).
pub const FREE: i8 = 0;
pub const OCCUPIED: i8 = 100;
pub const UNKNOWN: i8 = -1;

impl GridSpec {
    /// Columns (along x) and rows (along y).
    pub fn size(&self) -> (u32, u32) {
        let cells = |r: [f64; 2]| ((r[1] - r[0]) / self.resolution).round().max(0.0) as u32;
        (cells(self.x_range), cells(self.y_range))
    }

    /// # Errors
    /// A non-positive resolution, an empty range, or more than 4096 cells a side.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.resolution > 0.0 && self.resolution.is_finite()) {
            return Err(format!("grid resolution {} m", self.resolution));
        }
        for (name, r) in [("x_range", self.x_range), ("y_range", self.y_range)] {
            if r[0] >= r[1] || !r[0].is_finite() || !r[1].is_finite() {
                return Err(format!("grid {name} {r:?} is empty"));
            }
        }
        let (w, h) = self.size();
        if w == 0 || h == 0 || w > 4096 || h > 4096 {
            return Err(format!("grid of {w}×{h} cells: each side must be 1..=4096"));
        }
        Ok(())
    }

    /// The centre of cell (i, j) in the vehicle frame, metres.
    pub fn centre(&self, i: u32, j: u32) -> Vector2<f64> {
        Vector2::new(
            self.x_range[0] + (i as f64 + 0.5) * self.resolution,
            self.y_range[0] + (j as f64 + 0.5) * self.resolution,
        )
    }

    /// The cell containing a point of the ground, if on the grid.
    pub fn cell(&self, point: Vector2<f64>) -> Option<usize> {
        let i = ((point.x - self.x_range[0]) / self.resolution).floor();
        let j = ((point.y - self.y_range[0]) / self.resolution).floor();
        let (w, h) = self.size();
        (i >= 0.0 && j >= 0.0 && i < w as f64 && j < h as f64)
            .then(|| j as usize * w as usize + i as usize)
    }
}

/// Azimuths of the free-space scan about the vehicle frame's z axis, degrees (0 = straight
/// ahead, positive to the left); LaserScan carries them in radians.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSpec {
    pub angle_min_deg: f64,
    pub angle_max_deg: f64,
    pub angle_increment_deg: f64,
}

impl Default for ScanSpec {
    /// ±60° in 1° steps: a wide front camera's field.
    fn default() -> Self {
        Self {
            angle_min_deg: -60.0,
            angle_max_deg: 60.0,
            angle_increment_deg: 1.0,
        }
    }
}

impl ScanSpec {
    /// # Errors
    /// A non-positive increment, an empty range, or more than 3600 rays.
    pub fn validate(&self) -> Result<(), String> {
        let ok = self.angle_increment_deg > 0.0
            && self.angle_min_deg <= self.angle_max_deg
            && self.angle_min_deg.is_finite()
            && self.angle_max_deg.is_finite();
        if !ok || self.rays() > 3600 {
            return Err(format!(
                "scan angles {}°..{}° in steps of {}°: need min ≤ max, a positive step, at most 3600 rays",
                self.angle_min_deg, self.angle_max_deg, self.angle_increment_deg
            ));
        }
        Ok(())
    }

    /// How many rays: from the minimum angle in increments up to the maximum.
    pub fn rays(&self) -> usize {
        let span = (self.angle_max_deg - self.angle_min_deg) / self.angle_increment_deg;
        (span + 1e-9).floor().clamp(0.0, 1e6) as usize + 1
    }

    /// The angle of ray `n`, radians.
    pub fn angle(&self, n: usize) -> f64 {
        (self.angle_min_deg + n as f64 * self.angle_increment_deg).to_radians()
    }
}

/// One camera's projection of the grid, built once per camera model, extrinsics and grid.
pub struct GroundLookup {
    /// The frame the grid is in (the extrinsics' parent).
    pub frame_id: String,
    pub grid: GridSpec,
    pub scan: ScanSpec,
    /// Per cell (row-major), the mask pixel its centre projects to; `None` where the
    /// camera cannot see it (behind, outside the image).
    pixel: Vec<Option<u32>>,
    /// Per ray, the cells it crosses in order, each with the distance along the ray where
    /// the ray enters it (sampled every half cell, so to within half a cell), metres.
    rays: Vec<Vec<(u32, f32)>>,
}

/// The nearest a cell may be in front of the camera to be projected, metres: closer points
/// are in the lens's blind zone, and their projection is numerically wild.
const MIN_DEPTH: f64 = 0.05;

impl GroundLookup {
    /// Projects every cell centre (z = 0 in the vehicle frame) into a mask seen by `camera`.
    ///
    /// # Errors
    /// A bad grid or scan specification.
    pub fn new(
        camera: &CameraModel,
        extrinsics: &Extrinsics,
        grid: GridSpec,
        scan: ScanSpec,
    ) -> Result<Self, String> {
        grid.validate()?;
        scan.validate()?;
        let to_camera = extrinsics.camera_to_parent.inverse();
        let (w, h) = grid.size();
        let mut pixel = Vec::with_capacity((w * h) as usize);
        for j in 0..h {
            for i in 0..w {
                let c = grid.centre(i, j);
                let p = to_camera * Point3::new(c.x, c.y, 0.0);
                let seen = (p.z > MIN_DEPTH)
                    .then(|| camera.project(&p.coords))
                    .flatten()
                    .and_then(|uv| camera.nearest_pixel(uv));
                pixel.push(seen);
            }
        }
        // March each ray in half-cell steps out to the grid's farthest corner.
        let reach = [grid.x_range, grid.y_range]
            .iter()
            .map(|r| r[0].abs().max(r[1].abs()).powi(2))
            .sum::<f64>()
            .sqrt();
        let step = grid.resolution / 2.0;
        let rays = (0..scan.rays())
            .map(|n| {
                let angle = scan.angle(n);
                let dir = Vector2::new(angle.cos(), angle.sin());
                let mut cells: Vec<(u32, f32)> = Vec::new();
                let mut t = 0.0;
                while t <= reach {
                    if let Some(cell) = grid.cell(dir * t)
                        && cells.last().is_none_or(|&(c, _)| c != cell as u32)
                    {
                        cells.push((cell as u32, t as f32));
                    }
                    t += step;
                }
                cells
            })
            .collect();
        Ok(Self {
            frame_id: extrinsics.parent_frame.clone(),
            grid,
            scan,
            pixel,
            rays,
        })
    }

    /// What looks wrong about this camera's view of the grid, for a warning: the camera at or
    /// below the ground plane, or no cell seen (a camera looking up or backwards, angles in
    /// degrees where radians belong, a grid behind the camera).
    pub fn doubts(&self, extrinsics: &Extrinsics) -> Vec<String> {
        let mut out = Vec::new();
        let z = extrinsics.camera_to_parent.translation.vector.z;
        if z <= 0.0 {
            out.push(format!(
                "the camera is at z = {z:.2} m in {}, at or below the ground plane: check \
                 the extrinsics' translation",
                extrinsics.parent_frame
            ));
        }
        if self.pixel.iter().all(Option::is_none) {
            out.push(
                "the camera sees no cell of the grid: check the extrinsics' rotation (radians, \
                 pitch positive looking down with axes: body) and the grid's ranges"
                    .into(),
            );
        }
        out
    }

    /// Per cell (row-major), the mask pixel (row-major index) its centre projects to;
    /// `None` where the camera does not see it.
    pub fn pixels(&self) -> &[Option<u32>] {
        &self.pixel
    }

    /// The drivable-area grid of a mask (row-major class ids, the size of the camera the
    /// table was built for): [`FREE`] where the class is drivable, [`OCCUPIED`] where not,
    /// [`UNKNOWN`] where the camera does not see the ground.
    pub fn occupancy(&self, mask: &[u8], drivable: &[bool; 256]) -> Vec<i8> {
        self.pixel
            .iter()
            .map(|p| match p {
                Some(p) if drivable[mask[*p as usize] as usize] => FREE,
                Some(_) => OCCUPIED,
                None => UNKNOWN,
            })
            .collect()
    }

    /// The class id each cell sees (-1 unseen): the per-class grid.
    pub fn classes(&self, mask: &[u8]) -> Vec<i8> {
        self.pixel
            .iter()
            .map(|p| p.map_or(UNKNOWN, |p| mask[p as usize] as i8))
            .collect()
    }

    /// Free-space distance per ray of an occupancy grid from [`occupancy`](Self::occupancy),
    /// from the vehicle frame's origin, metres: where the ray enters the first occupied cell
    /// (to within half a cell); +∞ when the ray leaves the view (or the
    /// grid) without meeting one — nothing detected within range, REP 117 — and NaN when it
    /// never enters the view.
    pub fn free_space(&self, occupancy: &[i8]) -> Vec<f32> {
        self.rays
            .iter()
            .map(|cells| {
                let mut seen = false;
                for &(cell, distance) in cells {
                    match occupancy[cell as usize] {
                        OCCUPIED => return distance,
                        UNKNOWN if seen => return f32::INFINITY,
                        UNKNOWN => {}
                        _ => seen = true,
                    }
                }
                if seen { f32::INFINITY } else { f32::NAN }
            })
            .collect()
    }

    /// The farthest a ray reaches on the grid, metres (LaserScan's `range_max`).
    pub fn range_max(&self) -> f32 {
        self.rays
            .iter()
            .filter_map(|r| r.last().map(|&(_, d)| d))
            .fold(0.0, f32::max)
            + self.grid.resolution as f32
    }
}

/// One camera's ground outputs for one mask.
pub struct GroundFrame {
    /// The table the outputs were made with (grid and scan metadata, `range_max`).
    pub lookup: Arc<GroundLookup>,
    /// Drivable-area OccupancyGrid cells.
    pub occupancy: Vec<i8>,
    /// Class id per cell, -1 unseen (when asked for).
    pub classes: Option<Vec<i8>>,
    /// Free-space distance per ray, metres.
    pub ranges: Vec<f32>,
}

/// Projects one camera's masks onto the ground, rebuilding its lookup table only when the
/// camera (calibration, pose or mask size) changes.
pub struct GroundProjector {
    grid: GridSpec,
    scan: ScanSpec,
    drivable: [bool; 256],
    cached: Option<(CameraKey, Arc<GroundLookup>)>,
    /// Warnings about the table built last, not yet taken ([`take_doubts`](Self::take_doubts)).
    doubts: Vec<String>,
}

/// What a lookup table depends on besides the grid: the camera, its pose, the mask size.
struct CameraKey {
    calibration: CameraCalibration,
    pose: Extrinsics,
    size: (u32, u32),
}

impl GroundProjector {
    /// # Errors
    /// A bad grid or scan specification.
    pub fn new(grid: GridSpec, scan: ScanSpec, drivable: [bool; 256]) -> Result<Self, String> {
        grid.validate()?;
        scan.validate()?;
        Ok(Self {
            grid,
            scan,
            drivable,
            cached: None,
            doubts: Vec::new(),
        })
    }

    /// The lookup table for masks of `size` from the image `calibration` describes (a mask
    /// of another size than that image is taken as the image resized to it), the camera
    /// placed by `extrinsics`.
    ///
    /// # Errors
    /// Unusable intrinsics or distortion.
    pub fn lookup(
        &mut self,
        calibration: &CameraCalibration,
        extrinsics: &Extrinsics,
        size: (u32, u32),
    ) -> Result<Arc<GroundLookup>, String> {
        // Compared in place: a frame of an unchanged camera copies nothing.
        if let Some((key, lookup)) = &self.cached
            && key.calibration == *calibration
            && key.pose == *extrinsics
            && key.size == size
        {
            return Ok(lookup.clone());
        }
        let key = CameraKey {
            calibration: calibration.clone(),
            pose: extrinsics.clone(),
            size,
        };
        let camera = calibration.model(size.0, size.1)?;
        let lookup = Arc::new(GroundLookup::new(
            &camera, extrinsics, self.grid, self.scan,
        )?);
        self.doubts = lookup.doubts(extrinsics);
        self.doubts.extend(calibration.aspect_doubt(size.0, size.1));
        self.cached = Some((key, lookup.clone()));
        Ok(lookup)
    }

    /// What looked wrong when the current table was built (see [`GroundLookup::doubts`] and
    /// [`CameraCalibration::aspect_doubt`]), once: empty until the camera changes again.
    pub fn take_doubts(&mut self) -> Vec<String> {
        std::mem::take(&mut self.doubts)
    }

    /// The drivable-area grid, the per-class grid when `classes` and the free-space scan of
    /// one mask (row-major class ids of `size`).
    ///
    /// # Errors
    /// As [`lookup`](Self::lookup).
    pub fn project(
        &mut self,
        calibration: &CameraCalibration,
        extrinsics: &Extrinsics,
        mask: &[u8],
        size: (u32, u32),
        classes: bool,
    ) -> Result<GroundFrame, String> {
        let lookup = self.lookup(calibration, extrinsics, size)?;
        let occupancy = lookup.occupancy(mask, &self.drivable);
        Ok(GroundFrame {
            ranges: lookup.free_space(&occupancy),
            classes: classes.then(|| lookup.classes(mask)),
            occupancy,
            lookup,
        })
    }
}

/// A grid as a bird's-eye image, the car's forward direction up and its left to the left
/// (image row 0 = the far edge x max, column 0 = the left edge y max), one pixel per cell.
pub fn bird_eye_view(grid: &GridSpec, cells: &[i8], color: impl Fn(i8) -> [u8; 3]) -> RgbImage {
    let (cols, rows) = grid.size();
    RgbImage::from_fn(rows, cols, |x, y| {
        let (i, j) = (cols - 1 - y, rows - 1 - x);
        Rgb(color(cells[(j * cols + i) as usize]))
    })
}
