//! A camera's ground-plane outputs: its mask projected onto the ground (drivable area, class
//! grid, free-space scan), in the frame of the camera's pose from a calibration file or
//! `/tf_static`.

use std::sync::{Arc, Mutex};

use image::GrayImage;

use super::advertise_if;
use super::topics::CameraTopics;
use super::transport::{Outlet, Qos, Transport};
use crate::geometry::calibration::Calibration;
use crate::geometry::camera::CameraCalibration;
use crate::geometry::ground::{Extrinsics, GroundFrame, GroundLookup, GroundProjector};
use crate::geometry::transforms::StaticTransforms;
use crate::ros::msgs::{CameraInfo, Header, LaserScan, MapMetaData, OccupancyGrid, Point, Pose};
use crate::ros::params::NodeParams;

/// One camera's ground-plane projection and its publishers.
pub(super) struct CameraGround {
    projector: GroundProjector,
    /// The calibration file's intrinsics, used until a camera_info arrives.
    pub(super) file_camera: Option<CameraCalibration>,
    /// The calibration file's pose; without one, the pose comes from /tf_static.
    pub(super) file_pose: Option<Extrinsics>,
    /// The frames /tf_static has placed (shared by every camera).
    tf_static: Arc<Mutex<StaticTransforms>>,
    /// The grids' frame when the pose comes from /tf_static.
    frame_id: String,
    drivable_area: Option<Box<dyn Outlet<OccupancyGrid>>>,
    class_grid: Option<Box<dyn Outlet<OccupancyGrid>>>,
    free_space: Option<Box<dyn Outlet<LaserScan>>>,
}

impl CameraGround {
    /// The ground outputs of a camera with this calibration (read from its file, or empty);
    /// advertises the enabled outputs.
    pub(super) fn new(
        transport: &mut impl Transport,
        params: &NodeParams,
        calibration: Calibration,
        tf_static: Arc<Mutex<StaticTransforms>>,
        (topics, qos): (&CameraTopics, Qos),
    ) -> anyhow::Result<Self> {
        let g = &params.ground;
        let drivable = crate::geometry::drivable_table(params.dataset, &g.drivable_classes)
            .map_err(|e| anyhow::anyhow!("ground.drivable_classes: {e}"))?;
        Ok(Self {
            projector: GroundProjector::new(g.grid, g.scan, drivable)
                .map_err(|e| anyhow::anyhow!("ground: {e}"))?,
            file_camera: calibration.camera,
            file_pose: calibration.extrinsics,
            tf_static,
            frame_id: g.frame_id.clone(),
            drivable_area: advertise_if(
                transport,
                g.publish.drivable_area,
                &topics.drivable_area,
                qos,
            )?,
            class_grid: advertise_if(transport, g.publish.class_grid, &topics.class_grid, qos)?,
            free_space: advertise_if(transport, g.publish.free_space, &topics.free_space, qos)?,
        })
    }

    /// The camera's pose: the calibration file's, else /tf_static's transform from the
    /// camera's frame (the camera_info's frame_id, else the image's) to `frame_id`.
    fn pose(&self, camera_frame: &str) -> Result<Extrinsics, String> {
        if let Some(pose) = &self.file_pose {
            return Ok(pose.clone());
        }
        let tf = self.tf_static.lock().unwrap_or_else(|e| e.into_inner());
        let camera_to_parent = tf.lookup(&self.frame_id, camera_frame).ok_or_else(|| {
            format!(
                "no /tf_static chain from {camera_frame:?} to {:?} yet (and no extrinsics in \
                 the calibration file): no ground outputs",
                self.frame_id
            )
        })?;
        Ok(Extrinsics {
            parent_frame: self.frame_id.clone(),
            camera_to_parent,
        })
    }

    /// Projects a mask and publishes the enabled outputs, stamped with the frame's stamp in
    /// the pose's parent frame; returns what looked wrong about a camera seen for the first
    /// time (to warn about).
    ///
    /// # Errors
    /// No intrinsics or pose yet, or unusable intrinsics.
    pub(super) fn publish(
        &mut self,
        header: &Header,
        camera_info: Option<CameraInfo>,
        mask: &GrayImage,
    ) -> Result<Vec<String>, String> {
        let camera_frame = match &camera_info {
            Some(info) if !info.header.frame_id.is_empty() => info.header.frame_id.clone(),
            _ => header.frame_id.clone(),
        };
        let camera = camera_info
            .map(|info| info.calibration())
            .or_else(|| self.file_camera.clone())
            .ok_or(
                "no camera_info yet and no intrinsics in a calibration file: no ground outputs",
            )?;
        let pose = self.pose(&camera_frame)?;
        let classes = self.class_grid.is_some();
        let GroundFrame {
            lookup,
            occupancy,
            classes,
            ranges,
        } = self
            .projector
            .project(&camera, &pose, mask.as_raw(), mask.dimensions(), classes)?;
        let header = Header {
            stamp: header.stamp,
            frame_id: lookup.frame_id.clone(),
        };
        if let Some(publisher) = &self.drivable_area {
            let _ = publisher.publish(occupancy_grid(&header, &lookup, occupancy));
        }
        if let Some((publisher, classes)) = self.class_grid.as_ref().zip(classes) {
            let _ = publisher.publish(occupancy_grid(&header, &lookup, classes));
        }
        if let Some(publisher) = &self.free_space {
            let _ = publisher.publish(laser_scan(&header, &lookup, ranges));
        }
        Ok(self.projector.take_doubts())
    }
}

/// A grid as nav_msgs/OccupancyGrid: origin at the grid's (x min, y min) corner, unrotated.
fn occupancy_grid(header: &Header, lookup: &GroundLookup, data: Vec<i8>) -> OccupancyGrid {
    let grid = &lookup.grid;
    let (width, height) = grid.size();
    OccupancyGrid {
        header: header.clone(),
        info: MapMetaData {
            map_load_time: header.stamp,
            resolution: grid.resolution as f32,
            width,
            height,
            origin: Pose {
                position: Point {
                    x: grid.x_range[0],
                    y: grid.y_range[0],
                    z: 0.0,
                },
                ..Default::default()
            },
        },
        data,
    }
}

/// Free-space distances as sensor_msgs/LaserScan from the frame's origin (REP 117 values).
fn laser_scan(header: &Header, lookup: &GroundLookup, ranges: Vec<f32>) -> LaserScan {
    let scan = &lookup.scan;
    LaserScan {
        header: header.clone(),
        angle_min: scan.angle(0) as f32,
        angle_max: scan.angle(ranges.len().saturating_sub(1)) as f32,
        angle_increment: scan.angle_increment_deg.to_radians() as f32,
        time_increment: 0.0,
        scan_time: 0.0,
        range_min: 0.0,
        range_max: lookup.range_max(),
        ranges,
        intensities: Vec::new(),
    }
}
