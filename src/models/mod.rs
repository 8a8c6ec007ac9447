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
use segmentors::aaffnet::AaffNetConfig;
use segmentors::attanet::{AttaNetBackboneKind, AttaNetConfig};
use segmentors::bisenet::BiSeNetConfig;
use segmentors::fsffnet::FsffNetConfig;
use segmentors::mfaranet::MfaraNetConfig;
use segmentors::msnet::{MsNetConfig, MsNetEncoderConfig};
use segmentors::{ConfigError, SegmentorConfig};

use crate::models::backbones::darts::Genotype;
use crate::models::decoders::attanet::AfmAttention;
use crate::models::decoders::bisenet::{ContextBackboneKind, GateKind, SpatialPathKind, Upsample};
use crate::models::decoders::mfma::MasgFusion;

/// A registered model: its CLI name, a one-line summary, its default configuration and how
/// its input is prepared.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub config: SegmentorConfig,
    pub input: InputSpec,
    /// The registered model whose shipped weights this one loads (its own name but for a
    /// variant that only changes inference, e.g. `mfaranet-pruned` → `mfaranet`).
    pub weights_of: &'static str,
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
    // CoinCheung's ResNet-18 release and TorchSeg's Xception39 release (brief §5.1).
    let bisenet_r18 = BiSeNetConfig {
        num_classes,
        backbone: ContextBackboneKind::Resnet18,
        spatial_path: SpatialPathKind::Standard,
        ffm_gate: GateKind::ConvBn,
        context_upsample: Upsample::Nearest,
        head_channels: 256,
        aux_channels: 64,
    };
    let bisenet_x39 = BiSeNetConfig {
        backbone: ContextBackboneKind::Xception39,
        ffm_gate: GateKind::Mlp,
        context_upsample: Upsample::Bilinear,
        head_channels: 64,
        aux_channels: 256,
        ..bisenet_r18.clone()
    };
    let bisenet_dw = BiSeNetConfig {
        spatial_path: SpatialPathKind::Depthwise,
        ..bisenet_x39.clone()
    };
    let aaffnet = |chained| {
        SegmentorConfig::AaffNet(AaffNetConfig {
            num_classes,
            chained,
        })
    };
    let attanet = |backbone| {
        SegmentorConfig::AttaNet(AttaNetConfig {
            num_classes,
            backbone,
            afm_attention: AfmAttention::Channel,
        })
    };
    let spec = |name, summary, config| ModelSpec {
        name,
        summary,
        config,
        input: InputSpec::IMAGENET_RGB,
        weights_of: name,
    };
    vec![
        spec(
            "msnet-m",
            "MsNet-M: MobileNetV3-Large encoder + MFMA decoder",
            msnet(MsNetEncoderConfig::MobileNetV3Large),
        ),
        spec(
            "msnet-anas",
            "MsNet-ANAS with the genotype rtseg search found on CamVid train, C=16",
            msnet(MsNetEncoderConfig::Darts {
                channels: 16,
                layout: "NRNNRNNNR".into(),
                genotype: Genotype::anas_camvid(),
            }),
        ),
        spec(
            "msnet-darts-v2",
            "MsNet with the published DARTS-V2 genotype (the stand-in before the search), C=16",
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
        ModelSpec {
            weights_of: "mfaranet",
            ..spec(
                "mfaranet-pruned",
                "MFARANet pruned at inference to scale 2 (1/8) alone; same weights as mfaranet",
                mfaranet(vec![2]),
            )
        },
        spec(
            "bisenet-r18",
            "BiSeNet v1: spatial path + ResNet-18 context path, ARM, FFM (CoinCheung's form)",
            SegmentorConfig::Bisenet(bisenet_r18),
        ),
        spec(
            "bisenet-x39",
            "BiSeNet v1 with the Xception39 context path (TorchSeg's form)",
            SegmentorConfig::Bisenet(bisenet_x39),
        ),
        spec(
            "bisenet-dw",
            "Seed 004's depthwise BiSeNet: bisenet-x39 with a depthwise-separable spatial path",
            SegmentorConfig::Bisenet(bisenet_dw),
        ),
        spec(
            "aaffnet",
            "Seed 004's AAFF network (reconstruction, brief §5.3): Xception39 + two AAFF blocks",
            aaffnet(false),
        ),
        spec(
            "aaffnet2",
            "Seed 004's AAFF2 (reconstruction: the two AAFF blocks chained)",
            aaffnet(true),
        ),
        spec(
            "attanet-r18",
            "AttaNet: ResNet-18 + attention fusion (AFM) + strip attention (SAM), as released",
            attanet(AttaNetBackboneKind::Resnet18),
        ),
        spec(
            "attanet-light",
            "AttaNet-light: plain CBR backbone, AFM and SAM at 1/8, width 64, as released",
            attanet(AttaNetBackboneKind::Light),
        ),
        spec(
            "fsffnet",
            "FSFFNet: MBConv encoder + feature scaling (FSM) + multi-stage feature fusion",
            SegmentorConfig::FsffNet(FsffNetConfig { num_classes }),
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
