//! The `burn` backend: the network's burn module on the device burn picks (the CPU `flex`
//! backend unless a GPU feature is built in and selected with `BURN_DEVICE`), under the CPU
//! pre/post stage.

use burn::prelude::*;

use crate::models::segmentors::Segmentor;
use crate::pipeline::cpu::{HostBatch, TensorRunner};
use crate::pipeline::{Extent, InputLayout, ModelIo, SegmentError};

/// Runs a [`Segmentor`] in eval mode and reduces its scores with argmax on the device.
pub struct BurnRunner {
    model: Segmentor,
    device: Device,
    io: ModelIo,
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
        }
    }

    /// Class scores `[N, K, H, W]` of a normalised `[N, 3, H, W]` batch (what `run` reduces).
    pub fn scores(&self, data: &[f32], shape: [usize; 4]) -> Tensor<4> {
        let input = Tensor::<4>::from_data(TensorData::new(data.to_vec(), shape), &self.device);
        self.model.forward(input)
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
        let ids = self.scores(data, shape).argmax(1).into_data();
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
