//! What the node's diagnostics report: per-interval input and output rates, percentiles of
//! the in-node latency, of the network's share of it and of the rest (the pipeline overhead)
//! over a bounded window, and running counts of malformed frames and published masks.

use std::collections::VecDeque;
use std::time::Instant;

/// Samples kept for the percentiles (a bounded window: the newest ones).
const WINDOW: usize = 1024;

/// Nearest-rank percentile `p` (0–100) of sorted samples; NaN when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Nearest-rank p50 and p99 of `values`; `None` when there are none.
fn percentiles(values: impl Iterator<Item = f64>) -> Option<Percentiles> {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    (!sorted.is_empty()).then(|| Percentiles {
        p50: percentile(&sorted, 50.0),
        p99: percentile(&sorted, 99.0),
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
}

#[derive(Debug)]
pub struct PipelineStats {
    since: Instant,
    received: u64,
    published: u64,
    /// The newest (latency, network) pairs of published masks, milliseconds.
    samples_ms: VecDeque<(f64, f64)>,
    malformed: u64,
    total_published: u64,
    /// Arrival of the newest frame whose mask went out.
    newest: Option<Instant>,
    superseded: u64,
}

/// One diagnostics period.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsReport {
    pub input_hz: f64,
    pub output_hz: f64,
    /// Frame arrival to mask published, in the node.
    pub latency_ms: Option<Percentiles>,
    /// The network's part of it.
    pub model_ms: Option<Percentiles>,
    /// Everything else: decode, resize, post-processing, encoding, publishing.
    pub overhead_ms: Option<Percentiles>,
    pub malformed: u64,
    /// Masks published since the start.
    pub total_published: u64,
    /// Masks withheld since the start because a newer frame's mask went out first (several
    /// workers on one camera).
    pub superseded: u64,
}

impl Default for PipelineStats {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            received: 0,
            published: 0,
            samples_ms: VecDeque::with_capacity(WINDOW),
            malformed: 0,
            total_published: 0,
            newest: None,
            superseded: 0,
        }
    }
}

impl PipelineStats {
    pub fn frame_received(&mut self) {
        self.received += 1;
    }

    pub fn frame_malformed(&mut self) {
        self.malformed += 1;
    }

    /// Whether the mask of a frame that arrived at `arrived` may go out: not when a newer
    /// frame's mask already has, so subscribers never see time run backwards.
    pub fn claim(&mut self, arrived: Instant) -> bool {
        if self.newest.is_some_and(|newest| newest > arrived) {
            self.superseded += 1;
            return false;
        }
        self.newest = Some(arrived);
        true
    }

    /// A mask went out `latency_ms` after its frame arrived, `model_ms` of it in the network.
    pub fn mask_published(&mut self, latency_ms: f64, model_ms: f64) {
        self.published += 1;
        self.total_published += 1;
        if self.samples_ms.len() == WINDOW {
            self.samples_ms.pop_front();
        }
        self.samples_ms.push_back((latency_ms, model_ms));
    }

    /// Rates since the previous report, percentiles over the window; restarts the rates.
    pub fn report(&mut self) -> StatsReport {
        let secs = self.since.elapsed().as_secs_f64().max(1e-9);
        let report = StatsReport {
            input_hz: self.received as f64 / secs,
            output_hz: self.published as f64 / secs,
            latency_ms: percentiles(self.samples_ms.iter().map(|s| s.0)),
            model_ms: percentiles(self.samples_ms.iter().map(|s| s.1)),
            overhead_ms: percentiles(self.samples_ms.iter().map(|s| s.0 - s.1)),
            malformed: self.malformed,
            total_published: self.total_published,
            superseded: self.superseded,
        };
        self.since = Instant::now();
        self.received = 0;
        self.published = 0;
        report
    }
}
