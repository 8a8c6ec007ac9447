//! Segmentors: an encoder and a decoder composed into a network that maps a normalised
//! N×3×H×W image to N×K×H×W class scores at exactly the input size — one file per network,
//! as mmsegmentation has one per architecture.
//!
//! A network owns its forward pass, its training losses and parameter groups, and its ONNX
//! emission ([`SegmentationModel`]); its configuration validates and builds it
//! ([`NetworkConfig`]). The `segmentors!` list at the bottom is the registry of
//! architectures: adding a network is a new file implementing both traits plus one line there
//! (and its named models in [`crate::models::registry`]). The list generates the [`Segmentor`]
//! enum that burn's `Module` derive needs and the serde-tagged [`SegmentorConfig`], each
//! delegating to the network once.

pub mod aaffnet;
pub mod attanet;
pub mod bisenet;
pub mod fsffnet;
pub mod mfaranet;
pub mod msnet;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::models::losses::{Labels, LossConfig, LossParts, deep_supervision_loss};
use crate::models::lower::Layer;
use crate::onnx::graph::{OnnxGraph, Value};

/// An invalid model configuration, naming the key and the rule it breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A training configuration that does not fit the network (e.g. a missing loss section).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct LossError(pub String);

/// A batch's loss, or why the configuration cannot give one.
pub type LossResult = Result<LossParts, LossError>;

/// What every network of the zoo provides besides burn's `Module`. As a [`Layer`] it maps a
/// normalised `[N, 3, H, W]` batch (any H, W within the model card's limits) to class scores
/// `[N, K, H, W]`, in burn (`forward`) and as ONNX (`emit_onnx`, eval mode, BatchNorm
/// folded).
pub trait SegmentationModel: Layer {
    /// The training loss of a batch with its named parts: by default the configured
    /// cross-entropy on the output, for networks trained without auxiliary terms.
    ///
    /// # Errors
    /// [`LossError`] when `config` lacks a part this network trains with.
    fn losses(&self, images: Tensor<4>, labels: &Labels, config: &LossConfig) -> LossResult {
        Ok(deep_supervision_loss(
            self.forward(images),
            Vec::new(),
            labels,
            config,
        ))
    }

    /// The ids of the parameters trained with the backbone learning rate (the encoder); the
    /// rest of the network uses the head learning rate.
    fn backbone_params(&self) -> Vec<ParamId>;
}

/// A network's serde configuration.
pub trait NetworkConfig {
    fn num_classes(&self) -> usize;
    fn set_num_classes(&mut self, n: usize);
    /// Checks everything `init` would otherwise panic on; by default nothing (a network
    /// whose only setting is its class count, which [`SegmentorConfig::validate`] checks).
    ///
    /// # Errors
    /// [`ConfigError`] naming the offending key.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
    /// Builds the network with fresh (random) weights; call [`NetworkConfig::validate`] first.
    fn init(&self, device: &Device) -> Segmentor;
}

/// The ids of every parameter of `module` (its optimiser keys).
pub fn param_ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

macro_rules! segmentors {
    ($($(#[$doc:meta])* $variant:ident($module:ty, $config:ty)),* $(,)?) => {
        /// Any network of the zoo.
        // A model is built once per process, so the variant size does not matter, and burn's
        // Module derive needs the variants unboxed.
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum Segmentor {
            $($(#[$doc])* $variant($module)),*
        }

        /// Serde configuration of any network of the zoo (what the registry maps a name to,
        /// and what `--model-config FILE` reads), tagged by `arch:`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "arch", rename_all = "snake_case")]
        pub enum SegmentorConfig {
            $($(#[$doc])* $variant($config)),*
        }

        impl Segmentor {
            fn network(&self) -> &dyn SegmentationModel {
                match self {
                    $(Segmentor::$variant(m) => m),*
                }
            }
        }

        impl SegmentorConfig {
            fn network(&self) -> &dyn NetworkConfig {
                match self {
                    $(SegmentorConfig::$variant(c) => c),*
                }
            }

            fn network_mut(&mut self) -> &mut dyn NetworkConfig {
                match self {
                    $(SegmentorConfig::$variant(c) => c),*
                }
            }
        }
    };
}

segmentors! {
    /// MsNet (seed 000): MobileNetV3 or DARTS-cell encoder + MFMA decoder.
    MsNet(msnet::MsNet, msnet::MsNetConfig),
    /// MFARANet (arXiv 2402.02286): ResNet-18 + MFAM + RAM + ASFM.
    MfaraNet(mfaranet::MfaraNet, mfaranet::MfaraNetConfig),
    /// BiSeNet v1 (ECCV 2018): spatial path + context path + ARM + FFM.
    Bisenet(bisenet::BiSeNet, bisenet::BiSeNetConfig),
    /// The AAFF network (seed 004), as the architecture brief §5.3 reconstructs it.
    AaffNet(aaffnet::AaffNet, aaffnet::AaffNetConfig),
    /// AttaNet (AAAI 2021): strip attention + attention fusion.
    AttaNet(attanet::AttaNet, attanet::AttaNetConfig),
    /// FSFFNet (ICONIP 2021): feature scaling + multi-stage feature fusion.
    FsffNet(fsffnet::FsffNet, fsffnet::FsffNetConfig),
}

impl Segmentor {
    /// Class scores `[N, K, H, W]` of a normalised `[N, 3, H, W]` batch.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.network().forward(x)
    }
}

impl Layer for Segmentor {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.network().forward(x)
    }
    fn emit_onnx(&self, g: &mut OnnxGraph, image: &Value) -> Value {
        self.network().emit_onnx(g, image)
    }
}

impl SegmentationModel for Segmentor {
    fn losses(&self, images: Tensor<4>, labels: &Labels, config: &LossConfig) -> LossResult {
        self.network().losses(images, labels, config)
    }
    fn backbone_params(&self) -> Vec<ParamId> {
        self.network().backbone_params()
    }
}

impl SegmentorConfig {
    pub fn num_classes(&self) -> usize {
        self.network().num_classes()
    }

    pub fn with_num_classes(mut self, n: usize) -> Self {
        self.network_mut().set_num_classes(n);
        self
    }

    /// # Errors
    /// [`ConfigError`] for a class count outside 1..=255 or the network's own rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let k = self.num_classes();
        if k == 0 || k > 255 {
            return Err(ConfigError(format!(
                "num_classes {k} must be 1..=255 (masks are 8-bit, 255 = unlabelled)"
            )));
        }
        self.network().validate()
    }

    /// Builds the network with fresh (random) weights.
    pub fn init(&self, device: &Device) -> Segmentor {
        self.network().init(device)
    }
}
