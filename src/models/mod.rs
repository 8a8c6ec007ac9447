//! The model zoo, split the way mmsegmentation splits it: backbones, decoders, heads and
//! segmentors, plus a registry from a model name to its serde configuration.

pub mod backbones;
pub mod decoders;
pub mod heads;
pub mod layers;
pub mod profile;
pub mod segmentor;

use segmentor::{MfaraNetConfig, MsNetConfig, MsNetEncoderConfig, SegmentorConfig};

use crate::models::backbones::darts::Genotype;
use crate::models::decoders::mfma::MasgFusion;

/// A registered model: its CLI name, a one-line summary and its default configuration.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub config: SegmentorConfig,
}

/// Every model rtseg can build, with `num_classes` as given (CamVid's 11 by default).
pub fn registry(num_classes: usize) -> Vec<ModelSpec> {
    let msnet = |encoder| {
        SegmentorConfig::MsNet(MsNetConfig {
            encoder,
            num_classes,
            masg_fusion: MasgFusion::SigmoidGate,
        })
    };
    let mfaranet = |scales: Vec<usize>| {
        SegmentorConfig::MfaraNet(MfaraNetConfig {
            num_classes,
            scales,
            channels: 128,
        })
    };
    vec![
        ModelSpec {
            name: "msnet-m",
            summary: "MsNet-M: MobileNetV3-Large encoder + MFMA decoder",
            config: msnet(MsNetEncoderConfig::MobileNetV3Large),
        },
        ModelSpec {
            name: "msnet-anas",
            summary: "MsNet-ANAS with the DARTS-V2 stand-in genotype (ANAS genotype unpublished), C=16",
            config: msnet(MsNetEncoderConfig::Darts {
                channels: 16,
                layout: "NRNNRNNNR".into(),
                genotype: Genotype::darts_v2(),
            }),
        },
        ModelSpec {
            name: "mfaranet",
            summary: "MFARANet: ResNet-18 deep stem + MFAM + RAM + ASFM, all four scales",
            config: mfaranet(vec![1, 2, 3, 4]),
        },
        ModelSpec {
            name: "mfaranet-pruned",
            summary: "MFARANet pruned at inference to scale 2 (1/8) alone; same weights as mfaranet",
            config: mfaranet(vec![2]),
        },
    ]
}

/// Looks a model up by name; the error lists the names that exist.
pub fn lookup(name: &str, num_classes: usize) -> Result<ModelSpec, String> {
    let all = registry(num_classes);
    let names: Vec<&str> = all.iter().map(|m| m.name).collect();
    all.into_iter().find(|m| m.name == name).ok_or_else(|| {
        format!(
            "unknown model {name:?}; registered models: {}",
            names.join(", ")
        )
    })
}

/// The validated configuration of a model for a label space of `num_classes`: `explicit`
/// (e.g. read from a YAML file) when given, else the registry entry `name`.
pub fn resolve(
    name: &str,
    num_classes: usize,
    explicit: Option<SegmentorConfig>,
) -> Result<SegmentorConfig, String> {
    let config = match explicit {
        Some(c) => c.with_num_classes(num_classes),
        None => lookup(name, num_classes)?.config,
    };
    config
        .validate()
        .map_err(|e| format!("model {name}: {e}"))?;
    Ok(config)
}
