//! What the node's diagnostics report: per-interval input and output rates, percentiles of
//! the in-node latency, of the network's share of it and of the rest (the pipeline overhead)
//! over a bounded window, and running counts of malformed frames and published masks.

use std::collections::VecDeque;
use std::time::Instant;

/// Samples kept for the percentiles (a bounded window: the newest ones).
const WINDOW: usize = 1024;

/// A bounded window of samples.
#[derive(Debug, Default)]
struct Window(VecDeque<f64>);

impl Window {
    fn push(&mut self, v: f64) {
        if self.0.len() == WINDOW {
            self.0.pop_front();
        }
        self.0.push_back(v);
    }

    fn percentiles(&self) -> Option<Percentiles> {
        let mut sorted: Vec<f64> = self.0.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        (!sorted.is_empty()).then(|| Percentiles {
            p50: crate::bench::percentile(&sorted, 50.0),
            p99: crate::bench::percentile(&sorted, 99.0),
        })
    }
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
    latency_ms: Window,
    model_ms: Window,
    overhead_ms: Window,
    malformed: u64,
    total_published: u64,
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
}

impl Default for PipelineStats {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            received: 0,
            published: 0,
            latency_ms: Window::default(),
            model_ms: Window::default(),
            overhead_ms: Window::default(),
            malformed: 0,
            total_published: 0,
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

    /// A mask went out `latency_ms` after its frame arrived, `model_ms` of it in the network.
    pub fn mask_published(&mut self, latency_ms: f64, model_ms: f64) {
        self.published += 1;
        self.total_published += 1;
        self.latency_ms.push(latency_ms);
        self.model_ms.push(model_ms);
        self.overhead_ms.push(latency_ms - model_ms);
    }

    /// Rates since the previous report, percentiles over the window; restarts the rates.
    pub fn report(&mut self) -> StatsReport {
        let secs = self.since.elapsed().as_secs_f64().max(1e-9);
        let report = StatsReport {
            input_hz: self.received as f64 / secs,
            output_hz: self.published as f64 / secs,
            latency_ms: self.latency_ms.percentiles(),
            model_ms: self.model_ms.percentiles(),
            overhead_ms: self.overhead_ms.percentiles(),
            malformed: self.malformed,
            total_published: self.total_published,
        };
        self.since = Instant::now();
        self.received = 0;
        self.published = 0;
        report
    }
}
