//! `rtseg infer`: PNG/JPEG files or folders in; out `<name>_mask.png` (8-bit class ids, what
//! tools read), `<name>_palette.png` (the same ids as an indexed PNG, so image viewers show the
//! classes in colour) and `<name>_color.png` (palette blended over the image), through the same
//! frame-level boundary the node uses. A bad input is reported and the others still run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use image::GrayImage;
use rtseg::backend;
use rtseg::geometry::calibration::Calibration;
use rtseg::geometry::camera::{CameraCalibration, MaskRectifier};
use rtseg::geometry::drivable_table;
use rtseg::geometry::ground::{
    Extrinsics, FREE, GridSpec, GroundProjector, OCCUPIED, ScanSpec, bird_eye_view,
};
use rtseg::io::{load_rgb, save_indexed_png, save_png};
use rtseg::labels::LabelSpace;
use rtseg::pipeline::frame::FrameRef;
use rtseg::pipeline::{Fit, Segmenter};

use super::{BackendArgs, SourceArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: SourceArgs,
    #[command(flatten)]
    backend: BackendArgs,
    /// Images or folders of images (PNG/JPEG; folders are not searched recursively).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder (created if missing).
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Run the network at HxW (stretched) and resize the mask back [default: each image's
    /// own size].
    #[arg(long, value_parser = super::parse_size)]
    size: Option<(u32, u32)>,
    /// Camera calibration file (calibration/README.md): its intrinsics give
    /// `<name>_mask_rect.png` (the mask rectified, nearest pixel); with `--bev` and its
    /// extrinsics, each mask is also projected onto the flat ground.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Folder for the bird's-eye views: `<name>_drivable.png` (white drivable, black not,
    /// grey unseen) and `<name>_bev.png` (class colours), car forward up.
    #[arg(long, requires = "calibration")]
    bev: Option<PathBuf>,
    /// The ground grid: `RESOLUTION,X_MIN,X_MAX,Y_MIN,Y_MAX` in metres (x forward, y left).
    #[arg(long, value_parser = super::parse_grid, default_value = "0.15,0,30,-15,15")]
    bev_grid: GridSpec,
    /// Classes a car may drive on [default: road].
    #[arg(long, value_delimiter = ',')]
    drivable: Vec<String>,
}

/// The outputs of `--calibration`: the rectified mask, and with `--bev` the bird's-eye views.
struct Calibrated {
    camera: CameraCalibration,
    rectifier: MaskRectifier,
    bird_eye: Option<BirdEye>,
}

impl Calibrated {
    fn new(args: &Args, space: LabelSpace) -> anyhow::Result<Option<Self>> {
        let Some(file) = &args.calibration else {
            return Ok(None);
        };
        let calibration = Calibration::load(file)?;
        let camera = calibration
            .camera
            .with_context(|| format!("{}: no intrinsics (`camera_matrix`)", file.display()))?;
        let bird_eye = match &args.bev {
            Some(dir) => {
                let pose = calibration
                    .extrinsics
                    .with_context(|| format!("{}: no `extrinsics` block", file.display()))?;
                Some(BirdEye::new(args, space, pose, dir)?)
            }
            None => None,
        };
        Ok(Some(Self {
            camera,
            rectifier: MaskRectifier::default(),
            bird_eye,
        }))
    }

    /// Writes the rectified mask into `out` (and the bird's-eye views); returns the paths.
    fn write(&mut self, mask: &GrayImage, out: &Path, name: &str) -> anyhow::Result<Vec<PathBuf>> {
        let rectified = self
            .rectifier
            .rectify(&self.camera, mask.as_raw(), mask.dimensions())
            .map_err(anyhow::Error::msg)?;
        let path = out.join(format!("{name}_mask_rect.png"));
        let image = GrayImage::from_raw(mask.width(), mask.height(), rectified)
            .expect("a rectified mask has the mask's size");
        save_png(&image, &path)?;
        let mut written = vec![path];
        if let Some(bird_eye) = &mut self.bird_eye {
            written.extend(bird_eye.write(&self.camera, mask, name)?);
        }
        Ok(written)
    }
}

/// The bird's-eye outputs of `--bev`.
struct BirdEye {
    dir: PathBuf,
    pose: Extrinsics,
    projector: GroundProjector,
    palette: Vec<[u8; 3]>,
}

impl BirdEye {
    fn new(args: &Args, space: LabelSpace, pose: Extrinsics, dir: &Path) -> anyhow::Result<Self> {
        let drivable = drivable_table(space, &args.drivable).map_err(anyhow::Error::msg)?;
        let projector = GroundProjector::new(args.bev_grid, ScanSpec::default(), drivable)
            .map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create folder", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            pose,
            projector,
            palette: space.palette(),
        })
    }

    /// Writes the drivable-area and class views of one mask; returns their paths.
    fn write(
        &mut self,
        camera: &CameraCalibration,
        mask: &GrayImage,
        name: &str,
    ) -> anyhow::Result<[PathBuf; 2]> {
        let frame = self
            .projector
            .project(camera, &self.pose, mask.as_raw(), mask.dimensions(), true)
            .map_err(anyhow::Error::msg)?;
        for doubt in self.projector.take_doubts() {
            eprintln!("warning: {name}: {doubt}");
        }
        let grid = &frame.lookup.grid;
        // map_server's trinary colours: free white, occupied black, unknown grey.
        let drivable = bird_eye_view(grid, &frame.occupancy, |c| match c {
            FREE => [254; 3],
            OCCUPIED => [0; 3],
            _ => [205; 3],
        });
        let classes = frame.classes.as_deref().unwrap_or_default();
        let palette = &self.palette;
        let bev = bird_eye_view(grid, classes, |c| {
            palette
                .get(c as usize)
                .copied()
                .filter(|_| c >= 0)
                .unwrap_or([0; 3])
        });
        let paths = ["drivable", "bev"].map(|kind| self.dir.join(format!("{name}_{kind}.png")));
        save_png(&drivable, &paths[0])?;
        save_png(&bev, &paths[1])?;
        Ok(paths)
    }
}

/// Image file extensions picked up from folders.
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Weight of the palette in `<name>_color.png`.
const OVERLAY_ALPHA: f32 = 0.5;

/// Expands files and folders into the images to process. Folders contribute their PNG/JPEG
/// files (not recursive, sorted); a path that does not exist is an error entry.
fn collect_inputs(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
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

/// The output name of each input: its file stem, or — where inputs share a stem (`x.png` and
/// `x.jpeg`, or `a/x.png` and `b/x.png`) — its path with separators and dots as `_`, so no
/// input's outputs overwrite another's.
fn output_names(paths: &[&Path]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned())
    };
    let stems: Vec<String> = paths.iter().map(|p| stem(p)).collect();
    let mut taken = std::collections::HashSet::new();
    stems
        .iter()
        .zip(paths)
        .map(|(s, p)| {
            let base = if stems.iter().filter(|t| *t == s).count() > 1 {
                p.to_string_lossy()
                    .trim_start_matches("./")
                    .replace(['/', '\\', '.'], "_")
            } else {
                s.clone()
            };
            // The same file given twice: number the repeats.
            let mut name = base.clone();
            let mut n = 1;
            while !taken.insert(name.clone()) {
                n += 1;
                name = format!("{base}_{n}");
            }
            name
        })
        .collect()
}

/// Segments one image file and writes its mask, palette mask and overlay (and bird's-eye
/// views); returns the paths.
fn process_one(
    segmenter: &mut dyn Segmenter,
    path: &Path,
    out: (&Path, &str),
    fit: &Fit,
    palette: &[[u8; 3]],
    calibrated: Option<&mut Calibrated>,
) -> anyhow::Result<Vec<PathBuf>> {
    let image = load_rgb(path)?;
    let seg = segmenter
        .segment(&[FrameRef::rgb(&image)], fit)
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?
        .remove(0);
    let (dir, name) = out;
    let paths = ["mask", "palette", "color"].map(|kind| dir.join(format!("{name}_{kind}.png")));
    let write = || -> anyhow::Result<Vec<PathBuf>> {
        save_png(&seg.mask, &paths[0])?;
        save_indexed_png(&seg.mask, palette, &paths[1])?;
        if let Some(overlay) = &seg.overlay {
            save_png(overlay, &paths[2])?;
        }
        let mut written = paths.to_vec();
        if let Some(calibrated) = calibrated {
            written.extend(calibrated.write(&seg.mask, dir, name)?);
        }
        Ok(written)
    };
    write().map_err(|e| e.context(OutputFailed))
}

/// An output file could not be written (a full disk, a read-only folder): unlike a bad input,
/// it would fail for every image after it, so the batch stops.
#[derive(Debug)]
struct OutputFailed;

impl std::fmt::Display for OutputFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot write the outputs")
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = args.model.source()?;
    let mut calibrated = Calibrated::new(&args, source.label_space)?;
    let mut segmenter = backend::open(&args.backend.config(args.size), &source)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create output folder: {e}", args.out.display()))?;
    let fit = Fit {
        size: args.size,
        overlay_alpha: Some(OVERLAY_ALPHA),
        ..Fit::default()
    };
    let entries = collect_inputs(&args.inputs);
    let found: Vec<&Path> = entries
        .iter()
        .filter_map(|e| e.as_ref().ok())
        .map(PathBuf::as_path)
        .collect();
    let mut names = output_names(&found).into_iter();
    let palette = source.label_space.palette();
    let mut failed = 0;
    // SIGINT/SIGTERM stop after the image in progress: every file written is whole.
    super::catch_ctrl_c();
    for (done, entry) in entries.iter().enumerate() {
        if super::interrupted() {
            eprintln!(
                "interrupted: {done} of {} inputs done ({failed} failed), the rest not started",
                entries.len()
            );
            return Ok(ExitCode::from(130));
        }
        let result = match entry {
            Err((path, message)) => Err((format!("{}: {message}", path.display()), false)),
            Ok(path) => {
                let name = names.next().expect("one name per input");
                let out = (args.out.as_path(), name.as_str());
                process_one(
                    segmenter.as_mut(),
                    path,
                    out,
                    &fit,
                    &palette,
                    calibrated.as_mut(),
                )
                .map(|written| {
                    let written: Vec<String> =
                        written.iter().map(|p| p.display().to_string()).collect();
                    format!("{} -> {}", path.display(), written.join(" "))
                })
                .map_err(|e| (format!("{e:#}"), e.is::<OutputFailed>()))
            }
        };
        match result {
            Ok(line) => println!("{line}"),
            Err((message, output_failed)) => {
                failed += 1;
                eprintln!("error: {message}");
                if output_failed {
                    eprintln!(
                        "stopped after {done} of {} inputs, the rest not started (every file \
                         written is whole)",
                        entries.len()
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    println!("{} segmented, {failed} failed", entries.len() - failed);
    println!(
        "classes ({}; colours: `rtseg models --legend --dataset {}`): {}",
        source.label_space.name(),
        source.label_space.name(),
        source
            .label_space
            .class_names()
            .iter()
            .enumerate()
            .map(|(id, name)| format!("{id} {name}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
