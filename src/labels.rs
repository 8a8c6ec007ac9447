//! Label spaces: the classes a network predicts, in train-id order, with their names and the
//! conventional palette. Everything that turns class ids into meaning (masks, metrics,
//! `label_info`, overlays, export metadata) reads them from here.

use serde::{Deserialize, Serialize};

/// A label space: its classes, in train-id order, with their conventional colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LabelSpace {
    /// CamVid, 11 classes (SegNet version; id 11 = void is ignored).
    Camvid,
    /// Cityscapes, 19 train ids (255 = ignore).
    Cityscapes,
}

/// CamVid classes and the colours of the SegNet tutorial.
const CAMVID: [(&str, [u8; 3]); 11] = [
    ("sky", [128, 128, 128]),
    ("building", [128, 0, 0]),
    ("pole", [192, 192, 128]),
    ("road", [128, 64, 128]),
    ("pavement", [60, 40, 222]),
    ("tree", [128, 128, 0]),
    ("sign_symbol", [192, 128, 128]),
    ("fence", [64, 64, 128]),
    ("car", [64, 0, 128]),
    ("pedestrian", [64, 64, 0]),
    ("bicyclist", [0, 128, 192]),
];

/// Cityscapes train ids and the colours of `cityscapesscripts.helpers.labels`.
const CITYSCAPES: [(&str, [u8; 3]); 19] = [
    ("road", [128, 64, 128]),
    ("sidewalk", [244, 35, 232]),
    ("building", [70, 70, 70]),
    ("wall", [102, 102, 156]),
    ("fence", [190, 153, 153]),
    ("pole", [153, 153, 153]),
    ("traffic_light", [250, 170, 30]),
    ("traffic_sign", [220, 220, 0]),
    ("vegetation", [107, 142, 35]),
    ("terrain", [152, 251, 152]),
    ("sky", [70, 130, 180]),
    ("person", [220, 20, 60]),
    ("rider", [255, 0, 0]),
    ("car", [0, 0, 142]),
    ("truck", [0, 0, 70]),
    ("bus", [0, 60, 100]),
    ("train", [0, 80, 100]),
    ("motorcycle", [0, 0, 230]),
    ("bicycle", [119, 11, 32]),
];

/// Mask value for pixels without a class.
pub const UNLABELLED: u8 = 255;

impl LabelSpace {
    fn table(self) -> &'static [(&'static str, [u8; 3])] {
        match self {
            LabelSpace::Camvid => &CAMVID,
            LabelSpace::Cityscapes => &CITYSCAPES,
        }
    }

    /// The name used in file names and configs (`camvid`, `cityscapes`).
    pub fn name(self) -> &'static str {
        match self {
            LabelSpace::Camvid => "camvid",
            LabelSpace::Cityscapes => "cityscapes",
        }
    }

    pub fn num_classes(self) -> usize {
        self.table().len()
    }

    pub fn class_names(self) -> Vec<&'static str> {
        self.table().iter().map(|(name, _)| *name).collect()
    }

    /// RGB colour of every class, in train-id order.
    pub fn palette(self) -> Vec<[u8; 3]> {
        self.table().iter().map(|(_, rgb)| *rgb).collect()
    }

    /// Colour of class `id`; black for ids outside the label space (e.g. 255).
    pub fn color(self, id: u8) -> [u8; 3] {
        self.table()
            .get(id as usize)
            .map(|(_, rgb)| *rgb)
            .unwrap_or([0, 0, 0])
    }
}
