//! The model zoo, split the way mmsegmentation splits it: backbones, decoders, heads, losses
//! and segmentors, plus a registry from a model name to its serde configuration and its model
//! card's input specification.

pub mod backbones;
pub mod card;
pub mod decoders;
pub mod heads;
pub mod layers;
pub mod losses;
pub mod lower;
pub mod profile;
pub mod segmentors;

use card::InputSpec;
use segmentors::mfaranet::MfaraNetConfig;
use segmentors::msnet::{MsNetConfig, MsNetEncoderConfig};
use segmentors::{ConfigError, SegmentorConfig};

use crate::models::backbones::darts::Genotype;
use crate::models::decoders::mfma::MasgFusion;

/// A registered model: its CLI name, a one-line summary, its default configuration and how
/// its input is prepared.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub config: SegmentorConfig,
    pub input: InputSpec,
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
    let spec = |name, summary, config| ModelSpec {
        name,
        summary,
        config,
        input: InputSpec::IMAGENET_RGB,
    };
    vec![
        spec(
            "msnet-m",
            "MsNet-M: MobileNetV3-Large encoder + MFMA decoder",
            msnet(MsNetEncoderConfig::MobileNetV3Large),
        ),
        spec(
            "msnet-anas",
            "MsNet-ANAS with the DARTS-V2 stand-in genotype (ANAS genotype unpublished), C=16",
            msnet(MsNetEncoderConfig::Darts {
                channels: 16,
                layout: "NRNNRNNNR".into(),
                genotype: Genotype::darts_v2(),
            }),
        ),
        spec(
            "mfaranet",
            "MFARANet: ResNet-18 deep stem + MFAM + RAM + ASFM, all four scales",
            mfaranet(vec![1, 2, 3, 4]),
        ),
        spec(
            "mfaranet-pruned",
            "MFARANet pruned at inference to scale 2 (1/8) alone; same weights as mfaranet",
            mfaranet(vec![2]),
        ),
    ]
}

/// Looks a model up by name.
///
/// # Errors
/// [`ConfigError`] listing the registered names.
pub fn lookup(name: &str, num_classes: usize) -> Result<ModelSpec, ConfigError> {
    let all = registry(num_classes);
    let names: Vec<&str> = all.iter().map(|m| m.name).collect();
    all.into_iter().find(|m| m.name == name).ok_or_else(|| {
        ConfigError(format!(
            "unknown model {name:?}; registered models: {}",
            names.join(", ")
        ))
    })
}

/// The validated configuration of a model for a label space of `num_classes`: `explicit`
/// (e.g. read from a YAML file) when given, else the registry entry `name`.
///
/// # Errors
/// [`ConfigError`] for an unknown name or an invalid configuration.
pub fn resolve(
    name: &str,
    num_classes: usize,
    explicit: Option<SegmentorConfig>,
) -> Result<SegmentorConfig, ConfigError> {
    let config = match explicit {
        Some(c) => c.with_num_classes(num_classes),
        None => lookup(name, num_classes)?.config,
    };
    config
        .validate()
        .map_err(|e| ConfigError(format!("model {name}: {e}")))?;
    Ok(config)
}
