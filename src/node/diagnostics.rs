//! The node's `/diagnostics` report: one `diagnostic_msgs/DiagnosticStatus` per camera with its
//! rates, latency percentiles and drop counts (REP 107's diagnostic array).

use std::sync::Arc;

use super::camera::{Camera, Pending};
use crate::pipeline::latest::LatestSlots;
use crate::pipeline::stats::Percentiles;
use crate::ros::msgs::{DiagnosticArray, DiagnosticStatus, Header, KeyValue, Time};
use crate::ros::params::NodeParams;

/// One status per camera: rates, latency percentiles, drop and malformed counts.
pub(super) fn diagnostics_message(
    params: &NodeParams,
    node_name: &str,
    outputs: &[Arc<Camera>],
    slots: &LatestSlots<Pending>,
    stamp: Time,
) -> DiagnosticArray {
    let status = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let r = o.stats.lock().unwrap_or_else(|e| e.into_inner()).report();
            let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
            let p50 = |p: Option<Percentiles>| ms(p.map(|p| p.p50));
            let p99 = |p: Option<Percentiles>| ms(p.map(|p| p.p99));
            let kv = |key: &str, value: String| KeyValue {
                key: key.into(),
                value,
            };
            let (level, message) = r.health(&params.health);
            DiagnosticStatus {
                level: level as u8,
                name: format!("{node_name}: {}", o.name),
                message,
                hardware_id: node_name.to_string(),
                values: vec![
                    kv("input_rate_hz", format!("{:.2}", r.input_hz)),
                    kv("output_rate_hz", format!("{:.2}", r.output_hz)),
                    kv("latency_p50_ms", p50(r.latency_ms)),
                    kv("latency_p99_ms", p99(r.latency_ms)),
                    kv("model_p50_ms", p50(r.model_ms)),
                    kv("model_p99_ms", p99(r.model_ms)),
                    kv("overhead_p50_ms", p50(r.overhead_ms)),
                    kv("overhead_p99_ms", p99(r.overhead_ms)),
                    kv("dropped", slots.dropped(i).to_string()),
                    kv("malformed", r.malformed.to_string()),
                    kv("superseded", r.superseded.to_string()),
                    kv("bad_camera_info", r.bad_camera_info.to_string()),
                    kv("published", r.total_published.to_string()),
                    kv("backend", params.backend.name().to_string()),
                    kv("model", params.model.clone()),
                ],
            }
        })
        .collect();
    DiagnosticArray {
        header: Header {
            stamp,
            frame_id: String::new(),
        },
        status,
    }
}
