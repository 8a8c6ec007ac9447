//! The ground plane with numbers known exactly: a pinhole camera at a known height and pitch
//! over flat ground, checked against closed-form geometry written out here (not through the
//! library's own transforms), and calibration files that are wrong in one key each.

use nalgebra::{Vector2, Vector3};

mod common;
use rtseg::geometry::calibration::Calibration;
use rtseg::geometry::camera::CameraCalibration;
use rtseg::geometry::drivable_table;
use rtseg::geometry::ground::{
    FREE, GridSpec, GroundLookup, GroundProjector, OCCUPIED, ScanSpec, UNKNOWN,
};
use rtseg::labels::LabelSpace;

const HEIGHT: f64 = 1.5;
const PITCH_DEG: f64 = 10.0;
const AHEAD: f64 = 0.8;
const F: f64 = 500.0;
const W: u32 = 640;
const H: u32 = 480;

/// A 640×480 undistorted camera, `AHEAD` m in front of base_link, `HEIGHT` m up, looking
/// ahead and `PITCH_DEG` down.
fn calibration() -> Calibration {
    let text = format!(
        "image_width: {W}\nimage_height: {H}\n\
         camera_matrix: {{rows: 3, cols: 3, data: [{F}, 0, 320, 0, {F}, 240, 0, 0, 1]}}\n\
         distortion_model: plumb_bob\n\
         distortion_coefficients: {{rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}}\n\
         extrinsics:\n  parent_frame: base_link\n  axes: body\n  translation: [{AHEAD}, 0, {HEIGHT}]\n  \
         rotation: {{rpy: [0, {}, 0]}}\n",
        PITCH_DEG.to_radians()
    );
    Calibration::parse(&text).unwrap()
}

/// The pixel a ground point (x, y, 0) of base_link projects to, from the camera's axes
/// written out: forward (cos θ, 0, -sin θ), left (0, 1, 0), up (sin θ, 0, cos θ).
fn closed_form(x: f64, y: f64) -> Option<(f64, f64)> {
    let t = PITCH_DEG.to_radians();
    let d = Vector3::new(x - AHEAD, y, -HEIGHT);
    let (fwd, left, up) = (
        Vector3::new(t.cos(), 0.0, -t.sin()),
        Vector3::y(),
        Vector3::new(t.sin(), 0.0, t.cos()),
    );
    let z = d.dot(&fwd);
    (z > 0.05).then(|| (320.0 + F * -d.dot(&left) / z, 240.0 + F * -d.dot(&up) / z))
}

fn camera() -> CameraCalibration {
    calibration().camera.unwrap()
}

#[test]
fn grid_cells_project_to_the_pixels_geometry_gives() {
    let c = calibration();
    let model = c.camera.as_ref().unwrap().model(W, H).unwrap();
    let grid = GridSpec::default();
    let lookup = GroundLookup::new(
        &model,
        c.extrinsics.as_ref().unwrap(),
        grid,
        ScanSpec::default(),
    )
    .unwrap();
    let (cols, rows) = grid.size();
    assert_eq!((cols, rows), (200, 200));
    let mut seen = 0;
    for j in 0..rows {
        for i in 0..cols {
            let centre = grid.centre(i, j);
            let want = closed_form(centre.x, centre.y)
                .map(|(u, v)| (u.round(), v.round()))
                .filter(|&(u, v)| u >= 0.0 && v >= 0.0 && u < W as f64 && v < H as f64);
            let got =
                lookup.pixels()[(j * cols + i) as usize].map(|p| ((p % W) as f64, (p / W) as f64));
            assert_eq!(got, want, "cell ({i}, {j}) at {centre:?}");
            seen += got.is_some() as usize;
        }
    }
    // The camera sees a real part of the grid, and not all of it (the hood's blind zone).
    assert!(seen > 4000 && seen < 40_000, "{seen} cells seen");
}

#[test]
fn a_pixel_unprojects_onto_the_ground_point_it_came_from() {
    let c = calibration();
    let model = c.camera.as_ref().unwrap().model(W, H).unwrap();
    let pose = c.extrinsics.unwrap().camera_to_parent;
    for (x, y) in [(5.0, 0.0), (10.0, 2.0), (25.0, -6.0), (3.0, 1.0)] {
        let (u, v) = closed_form(x, y).unwrap();
        let in_camera = pose.inverse() * nalgebra::Point3::new(x, y, 0.0);
        let uv = model.project(&in_camera.coords).unwrap();
        assert!(
            (uv - Vector2::new(u, v)).norm() < 1e-9,
            "({x}, {y}): {uv:?}"
        );
        // Ray through the pixel, from the camera centre, meets z = 0 at the point (metres).
        let ray = pose.rotation * model.unproject(uv).unwrap();
        let origin = pose.translation.vector;
        let ground = origin + ray * (-origin.z / ray.z);
        assert!(
            (ground - Vector3::new(x, y, 0.0)).norm() < 1e-9,
            "{ground:?}"
        );
    }
}

/// Road below row `boundary`, building above: the drivable area ends where the closed form
/// puts that row on the ground, and the straight-ahead free-space ray stops there (to one
/// cell: the scan samples every half cell and reports where it enters the occupied cell).
#[test]
fn road_below_a_row_is_free_up_to_where_that_row_meets_the_ground() {
    let (road, building) = (3u8, 1u8);
    let boundary = 300u32;
    let mask: Vec<u8> = (0..W * H)
        .map(|i| if i / W >= boundary { road } else { building })
        .collect();
    let grid = GridSpec::default();
    let scan = ScanSpec::default();
    let drivable = drivable_table(LabelSpace::Camvid, &[]).unwrap();
    let pose = calibration().extrinsics.unwrap();
    let mut projector = GroundProjector::new(grid, scan, drivable).unwrap();
    let frame = projector
        .project(&camera(), &pose, &mask, (W, H), true)
        .unwrap();
    let (cols, _) = grid.size();
    for (cell, &value) in frame.occupancy.iter().enumerate() {
        let c = grid.centre(cell as u32 % cols, cell as u32 / cols);
        let want = match closed_form(c.x, c.y) {
            Some((u, v))
                if u.round() >= 0.0
                    && u.round() < W as f64
                    && v.round() >= 0.0
                    && v.round() < H as f64 =>
            {
                if v.round() >= boundary as f64 {
                    FREE
                } else {
                    OCCUPIED
                }
            }
            _ => UNKNOWN,
        };
        assert_eq!(value, want, "cell {cell} at {c:?}");
    }
    assert_eq!(
        frame
            .classes
            .unwrap()
            .iter()
            .filter(|&&c| c == road as i8)
            .count(),
        frame.occupancy.iter().filter(|&&c| c == FREE).count()
    );
    // Straight ahead: row `boundary - 0.5` (the edge between the two) meets the ground at
    // x = ahead + h / tan(θ + atan((row - cy) / f)).
    let t = PITCH_DEG.to_radians();
    let edge = AHEAD + HEIGHT / (t + ((boundary as f64 - 0.5 - 240.0) / F).atan()).tan();
    let ahead = frame.ranges[scan.rays() / 2];
    assert!(
        (ahead as f64 - edge).abs() <= grid.resolution * 1.5,
        "free space ahead {ahead} m, geometry says {edge:.3} m"
    );
    // Far to the side the camera sees nothing: NaN (REP 117, no measurement).
    assert!(frame.ranges[0].is_nan(), "{:?}", &frame.ranges[..3]);
}

#[test]
fn an_unobstructed_ray_reads_infinity() {
    let mask = vec![3u8; (W * H) as usize];
    let pose = calibration().extrinsics.unwrap();
    let mut projector = GroundProjector::new(
        GridSpec::default(),
        ScanSpec::default(),
        drivable_table(LabelSpace::Camvid, &[]).unwrap(),
    )
    .unwrap();
    let frame = projector
        .project(&camera(), &pose, &mask, (W, H), false)
        .unwrap();
    let ahead = frame.ranges[ScanSpec::default().rays() / 2];
    assert_eq!(ahead, f32::INFINITY);
    assert!(frame.classes.is_none());
}

#[test]
fn body_and_optical_axes_describe_the_same_mount() {
    let body = calibration().extrinsics.unwrap().camera_to_parent;
    // The same camera in optical axes: optical z = body x pitched down, etc. Its rotation as a
    // quaternion from the matrix whose columns are the optical axes in base_link.
    let t = PITCH_DEG.to_radians();
    let columns = nalgebra::Matrix3::from_columns(&[
        Vector3::new(0.0, -1.0, 0.0),
        Vector3::new(-t.sin(), 0.0, -t.cos()),
        Vector3::new(t.cos(), 0.0, -t.sin()),
    ]);
    let q = nalgebra::UnitQuaternion::from_matrix(&columns);
    let text = format!(
        "extrinsics:\n  parent_frame: base_link\n  axes: optical\n  translation: [{AHEAD}, 0, {HEIGHT}]\n  \
         rotation: {{quaternion: [{}, {}, {}, {}]}}\n",
        q.i, q.j, q.k, q.w
    );
    let optical = Calibration::parse(&text)
        .unwrap()
        .extrinsics
        .unwrap()
        .camera_to_parent;
    let p = Vector3::new(0.3, -0.2, 7.0);
    assert!(
        (body * nalgebra::Point3::from(p) - optical * nalgebra::Point3::from(p)).norm() < 1e-12
    );
    // And as kalibr's 4×4 T_parent_camera.
    let m = optical.to_homogeneous();
    let rows: Vec<String> = (0..4)
        .map(|r| {
            format!(
                "[{}]",
                (0..4)
                    .map(|c| m[(r, c)].to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    // Matrices default to optical axes (kalibr's camera frame).
    let text = format!(
        "extrinsics:\n  parent_frame: base_link\n  T_parent_camera: [{}]\n",
        rows.join(", ")
    );
    let kalibr = Calibration::parse(&text)
        .unwrap()
        .extrinsics
        .unwrap()
        .camera_to_parent;
    assert!(
        (kalibr * nalgebra::Point3::from(p) - optical * nalgebra::Point3::from(p)).norm() < 1e-12
    );
}

#[test]
fn bad_calibration_files_name_the_key() {
    let good = "image_width: 640\nimage_height: 480\n\
                camera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}\n";
    assert!(Calibration::parse(good).unwrap().camera.is_some());
    let cases = [
        (
            good.replace("rows: 3, cols: 3", "rows: 2, cols: 3"),
            "camera_matrix",
        ),
        (good.replace("image_height: 480\n", ""), "image_height"),
        (
            good.replace("500, 0, 320, 0, 500", "0, 0, 320, 0, 0"),
            "focal",
        ),
        (
            format!(
                "{good}distortion_model: kannala\ndistortion_coefficients: {{rows: 1, cols: 4, data: [0.1, 0, 0, 0]}}\n"
            ),
            "kannala",
        ),
        (format!("{good}camera_matrx: 1\n"), "camera_matrx"),
        (
            format!(
                "{good}extrinsics:\n  parent_frame: base_link\n  axes: body\n  translation: [0, 0, 1]\n"
            ),
            "rotation",
        ),
        (
            format!(
                "{good}extrinsics:\n  parent_frame: base_link\n  axes: sideways\n  translation: [0, 0, 1]\n  rotation: {{rpy: [0, 0, 0]}}\n"
            ),
            "sideways",
        ),
        (
            format!(
                "{good}extrinsics:\n  parent_frame: base_link\n  axes: optical\n  T_parent_camera: [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n"
            ),
            "not a rotation",
        ),
        (
            format!(
                "{good}extrinsics:\n  parent_frame: base_link\n  axes: optical\n  translation: [0, 0, 1]\n  rotation: {{rpy: [0, 0, 0], quaternion: [0, 0, 0, 1]}}\n"
            ),
            "exactly one",
        ),
    ];
    for (text, says) in cases {
        let err = format!("{:#}", Calibration::parse(&text).unwrap_err());
        assert!(err.contains(says), "{says}: {err}");
    }
    let err = format!(
        "{:#}",
        Calibration::load(std::path::Path::new("/nonexistent/front.yaml")).unwrap_err()
    );
    assert!(err.contains("/nonexistent/front.yaml"), "{err}");
}

#[test]
fn unknown_drivable_class_lists_the_label_space() {
    let err = drivable_table(LabelSpace::Cityscapes, &["parking".into()]).unwrap_err();
    assert!(err.contains("parking") && err.contains("sidewalk"), "{err}");
    let table =
        drivable_table(LabelSpace::Cityscapes, &["road".into(), "sidewalk".into()]).unwrap();
    assert_eq!(table.iter().filter(|&&d| d).count(), 2);
    assert!(table[0] && table[1]);
}

/// A camera of each distortion model ROS names, with a rectification rotation and a new
/// projection where stereo pairs have them.
fn opencv_cases() -> Vec<(&'static str, CameraCalibration)> {
    let base =
        |model: &str, d: Vec<f64>, k: [f64; 9], r: [f64; 9], p: [f64; 12]| CameraCalibration {
            width: 640,
            height: 480,
            distortion_model: model.into(),
            d,
            k,
            r,
            p,
            ..Default::default()
        };
    let identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    // 2° about y, as stereo rectification turns a camera.
    let (s, c) = 2f64.to_radians().sin_cos();
    let turned = [c, 0.0, s, 0.0, 1.0, 0.0, -s, 0.0, c];
    vec![
        (
            "plumb_bob",
            base(
                "plumb_bob",
                vec![-0.28, 0.09, 0.001, -0.0008, -0.01],
                [600.0, 0.0, 330.0, 0.0, 610.0, 235.0, 0.0, 0.0, 1.0],
                turned,
                [
                    580.0, 0.0, 320.0, -30.0, 0.0, 580.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0,
                ],
            ),
        ),
        (
            "rational_polynomial",
            base(
                "rational_polynomial",
                vec![0.3, -0.1, 0.0005, 0.0002, 0.02, 0.6, -0.05, 0.03],
                [520.0, 0.0, 318.0, 0.0, 522.0, 242.0, 0.0, 0.0, 1.0],
                identity,
                [
                    500.0, 0.0, 320.0, 0.0, 0.0, 500.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0,
                ],
            ),
        ),
        (
            "equidistant",
            base(
                "equidistant",
                vec![-0.02, 0.005, -0.001, 0.0002],
                [300.0, 0.0, 320.0, 0.0, 300.0, 240.0, 0.0, 0.0, 1.0],
                identity,
                [
                    200.0, 0.0, 320.0, 0.0, 0.0, 200.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0,
                ],
            ),
        ),
    ]
}

/// Projection, undistortion and rectification maps agree with OpenCV's to 1e-6 px (maps:
/// 1e-3 px, OpenCV stores them as float32); a label mask rectified with nearest-pixel
/// sampling agrees on all but the pixels whose source lies on a half-pixel boundary.
#[test]
fn camera_model_matches_opencv() {
    let Some(python) = common::python_with("cv2") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    let mut rng = 7u64;
    let mut uniform = |lo: f64, hi: f64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((rng >> 11) as f64 / (1u64 << 53) as f64)
    };
    for (name, calibration) in opencv_cases() {
        let model = calibration.model(640, 480).unwrap();
        let mut points = Vec::new();
        let mut projected = Vec::new();
        for _ in 0..200 {
            let z = uniform(1.0, 20.0);
            let p = Vector3::new(uniform(-0.7, 0.7) * z, uniform(-0.5, 0.5) * z, z);
            let uv = model.project(&p).unwrap();
            points.push([p.x, p.y, p.z]);
            projected.push([uv.x, uv.y]);
        }
        let mut pixels = Vec::new();
        let mut undistorted = Vec::new();
        for v in (10..480).step_by(40) {
            for u in (10..640).step_by(40) {
                let ray = model.unproject(Vector2::new(u as f64, v as f64)).unwrap();
                pixels.push([u as f64, v as f64]);
                undistorted.push([ray.x, ray.y]);
            }
        }
        let map: Vec<u8> = model
            .rectify_map()
            .iter()
            .flat_map(|uv| uv.map_or([f64::NAN; 2], |uv| [uv.x, uv.y]))
            .flat_map(f64::to_le_bytes)
            .collect();
        // 8×8 blocks of classes 0..=10.
        let mask: Vec<u8> = (0..640 * 480)
            .map(|i: u32| (((i % 640) / 8 * 7 + (i / 640) / 8 * 3) % 11) as u8)
            .collect();
        let remapped = rtseg::geometry::camera::remap_nearest(&mask, &model.rectify_nearest(), 255);
        let files = ["map", "mask", "remapped"].map(|f| dir.path().join(format!("{name}_{f}.bin")));
        std::fs::write(&files[0], map).unwrap();
        std::fs::write(&files[1], &mask).unwrap();
        std::fs::write(&files[2], &remapped).unwrap();
        cases.push(serde_json::json!({
            "name": name, "width": 640, "height": 480,
            "distortion_model": calibration.distortion_model,
            "k": calibration.k, "d": calibration.d, "r": calibration.r, "p": calibration.p,
            "points": points, "projected": projected,
            "pixels": pixels, "undistorted": undistorted,
            "map_file": files[0], "mask_file": files[1], "remapped_file": files[2],
        }));
    }
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&cases_file, serde_json::to_string(&cases).unwrap()).unwrap();
    let lines = common::python_json_lines(&python, "tests/field/opencv_geometry.py", &[cases_file]);
    assert_eq!(lines.len(), 3);
    for r in lines {
        eprintln!("{r}");
        let get = |k: &str| r[k].as_f64().unwrap();
        assert!(get("project_px") < 1e-6, "{r}");
        assert!(get("undistort") < 1e-9, "{r}");
        assert!(get("map_px") < 1e-3, "{r}");
        assert!(get("map_finite") == 1.0, "{r}");
        assert!(get("remap_inside") > 0.5, "{r}");
        assert!(get("remap_agree") > 0.9999, "{r}");
    }
}

#[test]
fn static_transforms_chain_through_the_common_ancestor() {
    use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion};
    use rtseg::geometry::transforms::StaticTransforms;
    let mut tf = StaticTransforms::default();
    let turn = UnitQuaternion::from_euler_angles(0.0, 0.0, std::f64::consts::FRAC_PI_2);
    // base_link → camera_mount (1 m ahead, turned 90° left) → camera_optical (0.5 m up).
    tf.insert(
        "base_link",
        "camera_mount",
        Isometry3::from_parts(Translation3::new(1.0, 0.0, 0.0), turn),
    );
    tf.insert(
        "/camera_mount",
        "camera_optical",
        Isometry3::translation(0.0, 0.0, 0.5),
    );
    tf.insert("base_link", "lidar", Isometry3::translation(0.0, 0.0, 2.0));
    let p = Point3::new(1.0, 0.0, 0.0);
    // The optical frame's x axis points along base_link's y after the 90° turn.
    let in_base = tf.lookup("base_link", "camera_optical").unwrap() * p;
    assert!(
        (in_base - Point3::new(1.0, 1.0, 0.5)).norm() < 1e-12,
        "{in_base}"
    );
    let in_lidar = tf.lookup("lidar", "camera_optical").unwrap() * p;
    assert!(
        (in_lidar - Point3::new(1.0, 1.0, -1.5)).norm() < 1e-12,
        "{in_lidar}"
    );
    let back = tf.lookup("camera_optical", "base_link").unwrap() * in_base;
    assert!((back - p).norm() < 1e-12);
    assert!(tf.lookup("base_link", "map").is_none());
    assert!(tf.lookup("base_link", "base_link").unwrap() == Isometry3::identity());
    // A cycle in what was published ends the climb instead of looping.
    tf.insert("camera_optical", "base_link", Isometry3::identity());
    assert!(tf.lookup("odom", "lidar").is_none());
}

#[test]
fn kalibr_matrices_either_way_round_and_rounded_by_hand() {
    use nalgebra::Point3;
    let pose = calibration().extrinsics.unwrap().camera_to_parent;
    let rows = |m: nalgebra::Matrix4<f64>, decimals: usize| -> String {
        let rows: Vec<String> = (0..4)
            .map(|r| {
                let row: Vec<String> = (0..4)
                    .map(|c| format!("{:.*}", decimals, m[(r, c)]))
                    .collect();
                format!("[{}]", row.join(", "))
            })
            .collect();
        rows.join(", ")
    };
    let parse = |key: &str, m: String| {
        let text = format!("extrinsics:\n  parent_frame: base_link\n  {key}: [{m}]\n");
        Calibration::parse(&text).map(|c| c.extrinsics.unwrap().camera_to_parent)
    };
    let p = Point3::new(0.3, -0.2, 7.0);
    // kalibr's T_cam_imu: the inverse, given as the camera-from-parent matrix.
    let reverse = parse("T_camera_parent", rows(pose.inverse().to_homogeneous(), 12)).unwrap();
    assert!((reverse * p - pose * p).norm() < 1e-9);
    // Four decimals, as copied by hand: accepted, within the rounding.
    let rounded = parse("T_parent_camera", rows(pose.to_homogeneous(), 4)).unwrap();
    assert!(
        (rounded * p - pose * p).norm() < 1e-2,
        "{}",
        (rounded * p - pose * p).norm()
    );
    // Translation and rotation still need their axes named.
    let text = "extrinsics:\n  parent_frame: base_link\n  translation: [0, 0, 1]\n  rotation: {rpy: [0, 0, 0]}\n";
    let err = format!("{:#}", Calibration::parse(text).unwrap_err());
    assert!(
        err.contains("extrinsics.axes") && err.contains("body"),
        "{err}"
    );
}

/// What a file cannot say wrongly is warned about: a camera under the ground, one that sees
/// no cell (looking up), an image of another aspect ratio; a sound camera gets no warning.
#[test]
fn implausible_cameras_are_doubted() {
    let drivable = drivable_table(LabelSpace::Camvid, &[]).unwrap();
    let doubts = |translation: &str, rpy: &str, size: (u32, u32)| -> Vec<String> {
        let text = format!(
            "extrinsics:\n  parent_frame: base_link\n  axes: body\n  translation: {translation}\n  rotation: {{rpy: {rpy}}}\n"
        );
        let pose = Calibration::parse(&text).unwrap().extrinsics.unwrap();
        let mut projector =
            GroundProjector::new(GridSpec::default(), ScanSpec::default(), drivable).unwrap();
        let mask = vec![3u8; (size.0 * size.1) as usize];
        projector
            .project(&camera(), &pose, &mask, size, false)
            .unwrap();
        projector.take_doubts()
    };
    let pitch = PITCH_DEG.to_radians();
    assert!(doubts("[0.8, 0, 1.5]", &format!("[0, {pitch}, 0]"), (W, H)).is_empty());
    let below = doubts("[0.8, 0, -1.5]", &format!("[0, {pitch}, 0]"), (W, H));
    assert!(
        below.iter().any(|d| d.contains("below the ground plane")),
        "{below:?}"
    );
    let up = doubts("[0.8, 0, 1.5]", "[0, -0.5, 0]", (W, H));
    assert!(up.iter().any(|d| d.contains("sees no cell")), "{up:?}");
    let wide = doubts("[0.8, 0, 1.5]", &format!("[0, {pitch}, 0]"), (1280, 480));
    assert!(wide.iter().any(|d| d.contains("aspect ratio")), "{wide:?}");
}
