//! The `burn` backend: the network's burn module on the device burn picks (the CPU `flex`
//! backend unless a GPU feature is built in and selected with `BURN_DEVICE`), under the CPU
//! pre/post stage.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::Tta;
use crate::models::card::InputSpec;
use crate::models::layers::resize;
use crate::models::segmentors::Segmentor;
use crate::pipeline::cpu::{HostBatch, TensorRunner};
use crate::pipeline::{Extent, InputLayout, ModelIo, SegmentError};

/// Runs a [`Segmentor`] in eval mode and reduces its scores with argmax on the device.
pub struct BurnRunner {
    model: Segmentor,
    device: Device,
    io: ModelIo,
    /// Test-time augmentation and the input rules its rescaled sizes must keep.
    tta: Option<(Tta, InputSpec)>,
}

impl BurnRunner {
    /// `model` is put in eval mode (BatchNorm uses its running statistics, dropout is off).
    pub fn new(model: Segmentor, model_name: &str, num_classes: usize, device: Device) -> Self {
        let io = ModelIo {
            backend: "burn",
            device: format!("{device:?}").to_lowercase(),
            model: model_name.to_string(),
            num_classes,
            height: Extent::Any,
            width: Extent::Any,
            batch: Extent::Any,
            precision: "f32",
            input: InputLayout::NormalizedNchwF32,
        };
        Self {
            model: model.valid(),
            device,
            io,
            tta: None,
        }
    }

    /// Reduces averaged probabilities instead of single-pass scores ([`Tta`]); every rescaled
    /// input must keep `input`'s size rules (the model card's).
    pub fn with_tta(mut self, tta: Tta, input: InputSpec) -> Self {
        self.tta = (!tta.is_identity()).then_some((tta, input));
        self
    }

    /// Class scores `[N, K, H, W]` of a normalised `[N, 3, H, W]` batch (what `run` reduces).
    pub fn scores(&self, data: &[f32], shape: [usize; 4]) -> Tensor<4> {
        self.model.forward(self.input(data, shape))
    }

    fn input(&self, data: &[f32], shape: [usize; 4]) -> Tensor<4> {
        Tensor::<4>::from_data(TensorData::new(data.to_vec(), shape), &self.device)
    }

    /// Class probabilities `[N, K, H, W]` averaged over `tta`'s views of a normalised
    /// `[N, 3, H, W]` batch: each view's scores are resized back to `H × W` (bilinear), put
    /// through softmax and, for a mirrored view, mirrored back (mmsegmentation's
    /// `SegTTAModel`).
    ///
    /// # Errors
    /// [`SegmentError::Unsupported`] when a scale takes the input outside the network's sizes.
    fn tta_probabilities(
        &self,
        (tta, spec): &(Tta, InputSpec),
        data: &[f32],
        shape: [usize; 4],
    ) -> Result<Tensor<4>, SegmentError> {
        let [_, _, h, w] = shape;
        let input = self.input(data, shape);
        let mut sum: Option<Tensor<4>> = None;
        for &scale in &tta.scales {
            let size = [h, w].map(|side| (side as f64 * scale).round() as usize);
            spec.check_size(size[0] as u32, size[1] as u32)
                .map_err(|e| SegmentError::Unsupported(format!("TTA scale {scale}: {e}")))?;
            let scaled = resize(input.clone(), size, false);
            let mut views = vec![(scaled.clone(), false)];
            if tta.flip {
                views.push((scaled.flip([3]), true));
            }
            for (x, mirrored) in views {
                let mut p = softmax(resize(self.model.forward(x), [h, w], false), 1);
                if mirrored {
                    p = p.flip([3]);
                }
                sum = Some(match sum {
                    Some(total) => total + p,
                    None => p,
                });
            }
        }
        // `Tta::new` refuses an empty scale list.
        Ok(sum.expect("at least one TTA view"))
    }
}

impl TensorRunner for BurnRunner {
    fn io(&self) -> &ModelIo {
        &self.io
    }

    fn run(&mut self, batch: HostBatch<'_>) -> Result<Vec<u8>, SegmentError> {
        let HostBatch::F32(data, shape) = batch else {
            return Err(SegmentError::Unsupported(
                "the burn backend takes normalised f32 input".into(),
            ));
        };
        let scores = match &self.tta {
            Some(tta) => self.tta_probabilities(tta, data, shape)?,
            None => self.scores(data, shape),
        };
        let ids = scores.argmax(1).into_data();
        let ids: Vec<i64> =
            ids.convert::<i64>()
                .try_into_vec()
                .map_err(|e| SegmentError::Backend {
                    backend: "burn",
                    message: format!("reading the argmax back: {e:?}"),
                })?;
        Ok(ids.into_iter().map(|id| id as u8).collect())
    }
}
