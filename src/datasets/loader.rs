//! The training batch stream: decoding and augmentation on worker threads, overlapped with the
//! training step, in a fixed order that depends only on the seed.
//!
//! Step `k` takes positions `k·B .. (k+1)·B` of an endless stream of epochs, each epoch a
//! seeded permutation of the split. Each position's augmentation RNG is seeded from (seed,
//! position), so a run resumed at step `k` sees exactly the batches it would have seen.
//! Worker `w` builds the batches of steps `start + w, start + w + W, …` and hands them over through its own
//! channel of capacity 2, so at most `2·W` batches wait in memory.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::sources::{DatasetSource, SamplePaths};
use super::transforms::{AugmentConfig, augment};
use crate::models::card::InputSpec;

/// A batch in N×3×H×W (image) and N×H×W (train ids) layout.
#[derive(Clone)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    pub shape: [usize; 4],
}

impl Batch {
    /// The images as an `[N, 3, H, W]` tensor on `device`.
    pub fn image_tensor(&self, device: &burn::prelude::Device) -> burn::prelude::Tensor<4> {
        burn::prelude::Tensor::from_data(
            burn::tensor::TensorData::new(self.images.clone(), self.shape),
            device,
        )
    }

    /// The labels, `N×H×W` train ids.
    pub fn label_map(&self) -> crate::models::losses::Labels<'_> {
        let [n, _, h, w] = self.shape;
        crate::models::losses::Labels {
            ids: &self.labels,
            shape: [n, h, w],
        }
    }
}

/// What a worker sends: a batch, or the error that stopped it (naming the file).
type Message = anyhow::Result<Batch>;

pub struct BatchLoader {
    receivers: Vec<Receiver<Message>>,
    workers: Vec<JoinHandle<()>>,
    start_step: u64,
    next_step: u64,
}

/// What the stream is made of: the samples of a split, their augmentation, the model card's
/// normalisation, the batch size and the seed of the order and of every random draw.
pub struct Plan {
    pub source: DatasetSource,
    pub samples: Vec<SamplePaths>,
    pub augment: AugmentConfig,
    pub input: InputSpec,
    pub batch: usize,
    pub seed: u64,
}

impl Plan {
    /// The sample index at stream position `pos` (epoch = pos / len, shuffled per epoch).
    fn sample_at(&self, pos: u64) -> usize {
        let len = self.samples.len() as u64;
        let epoch = pos / len;
        let mut order: Vec<usize> = (0..self.samples.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
        order[(pos % len) as usize]
    }

    fn build(&self, step: u64) -> Message {
        let [h, w] = self.augment.crop.map(|s| s as usize);
        let mut images = Vec::with_capacity(self.batch * 3 * h * w);
        let mut labels = Vec::with_capacity(self.batch * h * w);
        for i in 0..self.batch as u64 {
            let pos = step * self.batch as u64 + i;
            let paths = &self.samples[self.sample_at(pos)];
            let sample = self.source.load(paths)?;
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(pos);
            let t = augment(sample, &self.augment, &self.input, &mut rng);
            images.extend_from_slice(&t.image);
            labels.extend_from_slice(&t.label);
        }
        Ok(Batch {
            images,
            labels,
            shape: [self.batch, 3, h, w],
        })
    }
}

impl BatchLoader {
    /// Starts `workers` threads producing the batches of steps `start_step..`.
    pub fn new(plan: Plan, start_step: u64, workers: usize) -> Self {
        let workers = workers.max(1);
        let plan = Arc::new(plan);
        let (senders, receivers): (Vec<SyncSender<Message>>, Vec<_>) =
            (0..workers).map(|_| sync_channel(2)).unzip();
        let handles = senders
            .into_iter()
            .enumerate()
            .map(|(w, tx)| {
                let plan = plan.clone();
                std::thread::spawn(move || {
                    let mut step = start_step + w as u64;
                    // A send fails once the loader is dropped: the worker then stops.
                    while tx.send(plan.build(step)).is_ok() {
                        step += workers as u64;
                    }
                })
            })
            .collect();
        Self {
            receivers,
            workers: handles,
            start_step,
            next_step: start_step,
        }
    }

    /// The batch of the next step.
    pub fn next_batch(&mut self) -> anyhow::Result<Batch> {
        let worker = ((self.next_step - self.start_step) % self.receivers.len() as u64) as usize;
        self.next_step += 1;
        self.receivers[worker]
            .recv()
            .map_err(|_| anyhow::anyhow!("data loader worker {worker} stopped"))?
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Closing the channels unblocks the workers' sends; then wait for them.
        self.receivers.clear();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}
