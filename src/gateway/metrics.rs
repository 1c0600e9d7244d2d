//! Prometheus counters for the gateway (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use crate::domain::{DecisionRecord, Endpoint, Fallback, TaskClass};
use crate::recorder::RecorderStats;

use super::inflight::InFlight;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Counters {
    requests: BTreeMap<i32, u64>,
    decisions: BTreeMap<(TaskClass, Endpoint), u64>,
    fallbacks: BTreeMap<&'static str, u64>,
    sensitive: BTreeMap<String, u64>,
    latency: BTreeMap<Endpoint, Histogram>,
}

/// The gateway's counters.
#[derive(Default)]
pub struct GatewayMetrics {
    counters: Mutex<Counters>,
}

impl GatewayMetrics {
    /// Counts one finished request.
    pub fn observe(&self, record: &DecisionRecord) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.requests.entry(record.status).or_default() += 1;
        *c.decisions
            .entry((record.effective_class, record.endpoint))
            .or_default() += 1;
        if record.fallback != Fallback::None {
            *c.fallbacks.entry(record.fallback.as_str()).or_default() += 1;
        }
        if let Some(reason) = &record.sensitivity_reason {
            *c.sensitive.entry(reason.clone()).or_default() += 1;
        }
        let seconds = record.latency_ms as f64 / 1000.0;
        let h = c.latency.entry(record.endpoint).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Counts a request refused before any decision was made.
    pub fn count_refused(&self, status: u16) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.requests.entry(i32::from(status)).or_default() += 1;
    }

    /// Prometheus text exposition.
    pub fn render(&self, inflight: &InFlight, recorder: &RecorderStats) -> String {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP farmhand_requests_total Requests answered, by HTTP status.\n# TYPE farmhand_requests_total counter"
        );
        for (status, n) in &c.requests {
            let _ = writeln!(out, "farmhand_requests_total{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP farmhand_decisions_total Routing decisions by effective class and endpoint.\n# TYPE farmhand_decisions_total counter"
        );
        for ((class, endpoint), n) in &c.decisions {
            let _ = writeln!(
                out,
                "farmhand_decisions_total{{class=\"{class}\",endpoint=\"{endpoint}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP farmhand_fallbacks_total Requests served after a fallback, by kind.\n# TYPE farmhand_fallbacks_total counter"
        );
        for (kind, n) in &c.fallbacks {
            let _ = writeln!(out, "farmhand_fallbacks_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP farmhand_sensitive_total Requests kept on the farm as sensitive, by reason.\n# TYPE farmhand_sensitive_total counter"
        );
        for (reason, n) in &c.sensitive {
            let _ = writeln!(out, "farmhand_sensitive_total{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP farmhand_request_duration_seconds Time in the router, by endpoint.\n# TYPE farmhand_request_duration_seconds histogram"
        );
        for (endpoint, h) in &c.latency {
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "farmhand_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "farmhand_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "farmhand_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "farmhand_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP farmhand_node_in_flight Requests the router has in flight per node.\n# TYPE farmhand_node_in_flight gauge"
        );
        for (node, n) in inflight.all() {
            let _ = writeln!(out, "farmhand_node_in_flight{{node=\"{node}\"}} {n}");
        }
        let recorder_gauges = [
            (
                "farmhand_decisions_written_total",
                "counter",
                "Decisions the store confirmed.",
                recorder.written.load(Ordering::Relaxed) as f64,
            ),
            (
                "farmhand_decisions_journaled_total",
                "counter",
                "Decisions spilled to the local journal during a store outage.",
                recorder.journaled.load(Ordering::Relaxed) as f64,
            ),
            (
                "farmhand_decisions_dropped_total",
                "counter",
                "Decisions dropped: the store was down with the memory buffer and the journal full, or the recorder queue was full.",
                recorder.dropped.load(Ordering::Relaxed) as f64,
            ),
            (
                "farmhand_store_up",
                "gauge",
                "Whether the last write to the store succeeded.",
                f64::from(u8::from(recorder.store_up.load(Ordering::Relaxed))),
            ),
        ];
        for (name, kind, help, value) in recorder_gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}
