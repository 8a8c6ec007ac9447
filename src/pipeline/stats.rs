//! What the node's diagnostics report: per-interval input and output rates, latency
//! percentiles over a bounded window, and running counts of dropped and malformed frames.

use std::collections::VecDeque;
use std::time::Instant;

/// Latencies kept for the percentiles (a bounded window: the newest samples).
const WINDOW: usize = 1024;

#[derive(Debug)]
pub struct PipelineStats {
    since: Instant,
    received: u64,
    published: u64,
    latencies_ms: VecDeque<f64>,
    malformed: u64,
    total_published: u64,
}

/// One diagnostics period.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsReport {
    pub input_hz: f64,
    pub output_hz: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
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
            latencies_ms: VecDeque::with_capacity(WINDOW),
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

    /// A mask went out `latency_ms` after its frame arrived.
    pub fn mask_published(&mut self, latency_ms: f64) {
        self.published += 1;
        self.total_published += 1;
        if self.latencies_ms.len() == WINDOW {
            self.latencies_ms.pop_front();
        }
        self.latencies_ms.push_back(latency_ms);
    }

    /// Rates since the previous report, percentiles over the window; restarts the rates.
    pub fn report(&mut self) -> StatsReport {
        let secs = self.since.elapsed().as_secs_f64().max(1e-9);
        let mut sorted: Vec<f64> = self.latencies_ms.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let pct = |p| (!sorted.is_empty()).then(|| crate::bench::percentile(&sorted, p));
        let report = StatsReport {
            input_hz: self.received as f64 / secs,
            output_hz: self.published as f64 / secs,
            latency_p50_ms: pct(50.0),
            latency_p99_ms: pct(99.0),
            malformed: self.malformed,
            total_published: self.total_published,
        };
        self.since = Instant::now();
        self.received = 0;
        self.published = 0;
        report
    }
}
