//! Inference backends behind one trait, chosen by name. Everything outside the model zoo —
//! `rtseg infer`, `rtseg bench`, the ROS node — talks to this trait, never to burn modules.

use burn::prelude::*;

use crate::models::segmentor::Segmentor;

/// A normalised image batch in N×3×H×W layout.
pub struct InputBatch {
    pub data: Vec<f32>,
    pub shape: [usize; 4],
}

/// Runs a segmentation network and returns class-id masks (N×H×W, row-major).
pub trait SegmentationBackend {
    fn name(&self) -> &'static str;
    fn num_classes(&self) -> usize;
    fn segment(&self, batch: InputBatch) -> anyhow::Result<Vec<u8>>;
}

/// Names accepted by `--backend`.
pub const BACKENDS: [&str; 1] = ["burn"];

/// The default backend: the burn module on the device burn picks (CPU `flex` unless a GPU
/// feature is built in and selected with `BURN_DEVICE`).
pub struct BurnBackend {
    model: Segmentor,
    num_classes: usize,
    device: Device,
}

impl BurnBackend {
    pub fn new(model: Segmentor, num_classes: usize, device: Device) -> Self {
        Self {
            model: model.valid(),
            num_classes,
            device,
        }
    }

    /// Class scores for a batch (what `segment` reduces with argmax).
    pub fn scores(&self, batch: InputBatch) -> Tensor<4> {
        let input = Tensor::<4>::from_data(TensorData::new(batch.data, batch.shape), &self.device);
        self.model.forward(input)
    }
}

impl SegmentationBackend for BurnBackend {
    fn name(&self) -> &'static str {
        "burn"
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn segment(&self, batch: InputBatch) -> anyhow::Result<Vec<u8>> {
        let ids = self.scores(batch).argmax(1);
        let data = ids.into_data();
        let ids: Vec<i64> = data
            .convert::<i64>()
            .try_into_vec()
            .map_err(|e| anyhow::anyhow!("reading the argmax back: {e:?}"))?;
        Ok(ids.into_iter().map(|id| id as u8).collect())
    }
}
