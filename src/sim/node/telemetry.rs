//! The node agent's endpoints on a simulated node: `/v1/metrics` (JSON) and `/metrics` (Prometheus).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::Rng;

use crate::sim::node::NodeRuntime;
use crate::sim::respond;
use crate::wire::{AgentMetrics, OllamaProcess};

/// Resident memory of the Ollama server process itself (models live in runner processes).
const OLLAMA_RSS: u64 = 96 * 1024 * 1024;
/// Seconds the simulated machines had been up when the farm started.
const BOOT_OFFSET_SECS: u64 = 3 * 24 * 3600;

/// A metrics sample of the node now.
pub(crate) fn sample(node: &NodeRuntime) -> AgentMetrics {
    let (model_bytes, in_flight, queued) = node.with_model(|m, now| {
        m.loaded(now);
        (m.model_bytes(), m.in_flight(), m.queued())
    });
    let spec = &node.spec;
    let used = (spec.base_used + model_bytes).min(spec.memory_bytes);
    let mut rng = rand::rng();
    let busy = in_flight as f32 / spec.parallel.max(1) as f32;
    let cpu_percent = (rng.random_range(2.0..6.0) + busy * rng.random_range(55.0..75.0)).min(100.0);
    let running = (in_flight + queued) as f64;
    let load_average = [
        running + rng.random_range(0.1..0.6),
        running * 0.6 + 0.4,
        running * 0.3 + 0.3,
    ];
    AgentMetrics {
        hostname: spec.name.clone(),
        sampled_at: Utc::now(),
        memory_total_bytes: spec.memory_bytes,
        memory_used_bytes: used,
        memory_available_bytes: spec.memory_bytes - used,
        swap_total_bytes: 1 << 30,
        swap_used_bytes: 0,
        cpu_percent,
        cpu_count: spec.cpu_count,
        load_average,
        uptime_secs: BOOT_OFFSET_SECS + node.uptime().as_secs(),
        ollama: Some(OllamaProcess {
            pid: pid_of(&spec.name),
            rss_bytes: OLLAMA_RSS,
        }),
    }
}

/// A stable, plausible process id for the node's Ollama server.
fn pid_of(name: &str) -> u32 {
    400 + name
        .bytes()
        .fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 50_000
}

pub(crate) async fn metrics_json(State(node): State<Arc<NodeRuntime>>) -> Response {
    respond::json(StatusCode::OK, &sample(&node))
}

pub(crate) async fn metrics_prometheus(State(node): State<Arc<NodeRuntime>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        sample(&node).to_prometheus(),
    )
        .into_response()
}
