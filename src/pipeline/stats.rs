//! What the node's diagnostics report: per-interval input and output rates, percentiles of
//! the in-node latency, of the network's share of it and of the rest (the pipeline overhead)
//! over a bounded window, running counts of malformed frames and published masks, and the
//! health level a dashboard shows (`diagnostic_updater`'s OK / WARN / ERROR).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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
    /// Arrival of the last frame, well-formed or not.
    last_input: Option<Instant>,
    malformed_in_period: u64,
    bad_camera_info: u64,
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
    /// camera_info messages without usable intrinsics since the start.
    pub bad_camera_info: u64,
    /// Malformed frames and well-formed frames in this period.
    pub malformed_in_period: u64,
    pub received_in_period: u64,
    /// Seconds since the last frame arrived; `None` before the first.
    pub since_input_s: Option<f64>,
}

/// Health level of a camera's pipeline (diagnostic_msgs/DiagnosticStatus levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok = 0,
    Warn = 1,
    Error = 2,
}

/// When a camera's status turns WARN or ERROR (node parameters `health:`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthThresholds {
    /// ERROR after this long without a frame (once frames came); WARN before the first.
    pub input_timeout_s: f64,
    /// ERROR when more than this share of a period's frames is malformed.
    pub malformed_error_ratio: f64,
    /// WARN when masks go out at less than this share of the input rate.
    pub output_warn_ratio: f64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            input_timeout_s: 2.0,
            malformed_error_ratio: 0.5,
            output_warn_ratio: 0.8,
        }
    }
}

impl StatsReport {
    /// The level and message a dashboard shows for this period: the worst condition wins.
    pub fn health(&self, t: &HealthThresholds) -> (Level, String) {
        let rates = format!("{:.1} Hz in, {:.1} Hz out", self.input_hz, self.output_hz);
        let Some(since_input) = self.since_input_s else {
            return (Level::Warn, "no frame yet".into());
        };
        if since_input > t.input_timeout_s {
            return (Level::Error, format!("no frame for {since_input:.1} s"));
        }
        let frames = self.malformed_in_period + self.received_in_period;
        if frames > 0 && self.malformed_in_period as f64 > t.malformed_error_ratio * frames as f64 {
            return (
                Level::Error,
                format!(
                    "{} of {frames} frames malformed ({rates})",
                    self.malformed_in_period
                ),
            );
        }
        if self.input_hz > 0.0 && self.output_hz < t.output_warn_ratio * self.input_hz {
            return (Level::Warn, format!("falling behind: {rates}"));
        }
        (Level::Ok, rates)
    }
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
            last_input: None,
            malformed_in_period: 0,
            bad_camera_info: 0,
        }
    }
}

impl PipelineStats {
    pub fn frame_received(&mut self) {
        self.received += 1;
        self.last_input = Some(Instant::now());
    }

    /// A camera_info without usable intrinsics (counted apart from frames).
    pub fn camera_info_rejected(&mut self) {
        self.bad_camera_info += 1;
    }

    pub fn frame_malformed(&mut self) {
        self.malformed += 1;
        self.malformed_in_period += 1;
        self.last_input = Some(Instant::now());
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
            bad_camera_info: self.bad_camera_info,
            malformed_in_period: self.malformed_in_period,
            received_in_period: self.received,
            since_input_s: self.last_input.map(|t| t.elapsed().as_secs_f64()),
        };
        self.since = Instant::now();
        self.received = 0;
        self.published = 0;
        self.malformed_in_period = 0;
        report
    }
}

/// Logs each kind of warning at most once per period per camera, counting the ones of that
/// kind it held back, so a count always belongs to the warning it is printed with.
pub struct WarningThrottle {
    period: Duration,
    /// Kind (the message without its digits) → when it was last logged, and how many of it
    /// were held back since; bounded, the longest-quiet kind gives way.
    kinds: std::collections::HashMap<String, (Instant, u64)>,
}

impl WarningThrottle {
    const KINDS: usize = 32;

    pub fn new(period: Duration) -> Self {
        Self {
            period,
            kinds: Default::default(),
        }
    }

    /// The warning line to log now, or `None` while the period holds this kind back.
    pub fn warn(&mut self, camera: &str, message: &str) -> Option<String> {
        let kind: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
        if let Some((last, held)) = self.kinds.get_mut(&kind) {
            if last.elapsed() < self.period {
                *held += 1;
                return None;
            }
            let more = match std::mem::take(held) {
                0 => String::new(),
                n => format!(" (and {n} more like it since the last such warning)"),
            };
            *last = Instant::now();
            return Some(format!("{camera}: {message}{more}"));
        }
        if self.kinds.len() == Self::KINDS
            && let Some(quietest) = self
                .kinds
                .iter()
                .min_by_key(|(_, (last, _))| *last)
                .map(|(k, _)| k.clone())
        {
            self.kinds.remove(&quietest);
        }
        self.kinds.insert(kind, (Instant::now(), 0));
        Some(format!("{camera}: {message}"))
    }
}
