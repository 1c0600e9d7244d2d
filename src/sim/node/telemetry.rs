//! The node agent's endpoints on a simulated node: `/v1/metrics` (JSON) and `/metrics`
//! (Prometheus); and `macmon serve`'s `/json`, for nodes polled with `metrics = "macmon"`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::Rng;

use crate::domain::MemoryPressure;
use crate::sim::node::NodeRuntime;
use crate::sim::respond;
use crate::wire::{AgentMetrics, OllamaProcess, PowerReading, PressureReading};

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
    let wanted = node.memory_wanted(model_bytes);
    let used = wanted.min(spec.memory_bytes);
    let pressure = pressure_of(wanted, spec.memory_bytes);
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
        pressure: Some(pressure),
        power: Some(power_of(busy, &mut rng)),
    }
}

/// Power as macmon reports it on a Mac mini: a few watts idle, the GPU taking most of the rise
/// as its slots fill (Ollama runs models on the GPU), the SoC warming with it.
fn power_of(busy: f32, rng: &mut impl Rng) -> PowerReading {
    let busy = f64::from(busy.clamp(0.0, 1.0));
    let gpu = 0.3 + busy * rng.random_range(17.0..23.0);
    let cpu = 0.8 + busy * rng.random_range(1.5..3.0);
    let ane = 0.0;
    let all = gpu + cpu + ane;
    PowerReading {
        cpu_watts: Some(cpu),
        gpu_watts: Some(gpu),
        ane_watts: Some(ane),
        all_watts: Some(all),
        sys_watts: Some(all + 5.5),
        cpu_temp_c: Some(41.0 + busy * 14.0),
        gpu_temp_c: Some(39.0 + busy * 24.0),
    }
}

/// Share of memory wanted at which a simulated node reports `warn`, and `critical`.
const PRESSURE_WARN: f64 = 0.85;
const PRESSURE_CRITICAL: f64 = 0.95;
/// Share of memory above which the simulated compressor starts to hold pages.
const COMPRESSOR_FROM: f64 = 0.75;

/// Pressure as macOS would report it for `wanted` bytes of `total`: calm while models fit, the
/// compressor growing as they crowd memory, `warn` and then `critical` as they pass it.
fn pressure_of(wanted: u64, total: u64) -> PressureReading {
    let share = wanted as f64 / total.max(1) as f64;
    let level = if share >= PRESSURE_CRITICAL {
        MemoryPressure::Critical
    } else if share >= PRESSURE_WARN {
        MemoryPressure::Warn
    } else {
        MemoryPressure::Normal
    };
    let compressed = ((share - COMPRESSOR_FROM).max(0.0) * total as f64 * 0.6) as u64;
    PressureReading {
        level,
        source: "sim".into(),
        compressor_bytes: Some(compressed),
        psi_some_avg10: None,
        psi_full_avg10: None,
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

/// The same sample as `macmon serve` shapes it (`/json`): power, temperatures, memory.
pub(crate) async fn macmon_json(State(node): State<Arc<NodeRuntime>>) -> Response {
    let m = sample(&node);
    let power = m.power.unwrap_or_default();
    let body = serde_json::json!({
        "cpu_power": power.cpu_watts,
        "gpu_power": power.gpu_watts,
        "ane_power": power.ane_watts,
        "all_power": power.all_watts,
        "sys_power": power.sys_watts,
        "cpu_scaled_ratio": f64::from(m.cpu_percent) / 100.0,
        "temp": {"cpu_temp_avg": power.cpu_temp_c, "gpu_temp_avg": power.gpu_temp_c},
        "memory": {
            "ram_total": m.memory_total_bytes,
            "ram_usage": m.memory_used_bytes,
            "swap_total": m.swap_total_bytes,
            "swap_usage": m.swap_used_bytes,
        },
        "soc": {"chip_name": "Apple M4 Pro (simulated)"},
        "timestamp": m.sampled_at.to_rfc3339(),
    });
    respond::json(StatusCode::OK, &body)
}

pub(crate) async fn metrics_prometheus(State(node): State<Arc<NodeRuntime>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        sample(&node).to_prometheus(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_follows_load() {
        let mut rng = rand::rng();
        let idle = power_of(0.0, &mut rng).watts().unwrap();
        let busy = power_of(1.0, &mut rng).watts().unwrap();
        assert!(idle < 8.0 && busy > idle + 15.0, "idle {idle} W, busy {busy} W");
    }

    #[test]
    fn pressure_rises_as_models_crowd_memory() {
        let gib = 1u64 << 30;
        let calm = pressure_of(20 * gib, 64 * gib);
        assert_eq!((calm.level, calm.compressor_bytes), (MemoryPressure::Normal, Some(0)));
        let warn = pressure_of(56 * gib, 64 * gib);
        assert_eq!(warn.level, MemoryPressure::Warn);
        assert!(warn.compressor_bytes.unwrap() > 0);
        let critical = pressure_of(70 * gib, 64 * gib);
        assert_eq!(critical.level, MemoryPressure::Critical);
        assert!(critical.compressor_bytes > warn.compressor_bytes);
    }
}
