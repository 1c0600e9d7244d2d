//! `GET /v1/metrics` of the node agent (and of each simulated node): one JSON object.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::MemoryPressure;

/// A node's machine metrics, as served by `farmhand agent` at `/v1/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMetrics {
    /// The machine's host name.
    pub hostname: String,
    /// When the sample was taken.
    pub sampled_at: DateTime<Utc>,
    /// Unified memory size in bytes.
    pub memory_total_bytes: u64,
    /// Memory in use in bytes (Activity Monitor's "Memory Used": wired model memory included).
    pub memory_used_bytes: u64,
    /// Memory available to new allocations in bytes.
    pub memory_available_bytes: u64,
    /// Swap size in bytes.
    pub swap_total_bytes: u64,
    /// Swap in use in bytes.
    pub swap_used_bytes: u64,
    /// Whole-machine CPU use, 0-100.
    pub cpu_percent: f32,
    /// Number of logical CPUs.
    pub cpu_count: u32,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_average: [f64; 3],
    /// Seconds since boot.
    pub uptime_secs: u64,
    /// The Ollama server process, when it runs.
    pub ollama: Option<OllamaProcess>,
    /// Memory pressure as the OS reports it; absent where it cannot be read (and from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<PressureReading>,
    /// Power draw and SoC temperatures, where macmon runs on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerReading>,
}

#[cfg(test)]
impl AgentMetrics {
    /// An idle machine for unit tests: `total` bytes of memory with `available` free, no pressure
    /// reading and no power figures.
    pub(crate) fn idle(hostname: &str, total: u64, available: u64) -> Self {
        AgentMetrics {
            hostname: hostname.into(),
            sampled_at: Utc::now(),
            memory_total_bytes: total,
            memory_used_bytes: total.saturating_sub(available),
            memory_available_bytes: available,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            cpu_percent: 0.0,
            cpu_count: 8,
            load_average: [0.0; 3],
            uptime_secs: 1,
            ollama: None,
            pressure: None,
            power: None,
        }
    }
}

/// Power draw and SoC temperatures of an Apple Silicon node, as macmon reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PowerReading {
    /// CPU power, watts.
    pub cpu_watts: Option<f64>,
    /// GPU power, watts.
    pub gpu_watts: Option<f64>,
    /// Neural Engine power, watts.
    pub ane_watts: Option<f64>,
    /// CPU + GPU + ANE power, watts.
    pub all_watts: Option<f64>,
    /// Whole-system power, watts.
    pub sys_watts: Option<f64>,
    /// Average CPU temperature, °C.
    pub cpu_temp_c: Option<f64>,
    /// Average GPU temperature, °C.
    pub gpu_temp_c: Option<f64>,
}

impl PowerReading {
    /// The node's draw: whole-system power where known, else CPU + GPU + ANE.
    pub fn watts(&self) -> Option<f64> {
        self.sys_watts.or(self.all_watts)
    }
}

/// A memory-pressure reading: the level, and the figure it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PressureReading {
    /// `normal`, `warn` or `critical`.
    pub level: MemoryPressure,
    /// Where the level came from: `macos` (`kern.memorystatus_vm_pressure_level`), `psi`
    /// (Linux `/proc/pressure/memory`) or `sim`.
    pub source: String,
    /// Bytes held by the macOS memory compressor (`vm.compressor_bytes_used`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressor_bytes: Option<u64>,
    /// Linux PSI: share of the last 10 s in which some task waited for memory, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi_some_avg10: Option<f64>,
    /// Linux PSI: share of the last 10 s in which every task waited for memory, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi_full_avg10: Option<f64>,
}

/// The Ollama server process as the agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OllamaProcess {
    /// Process id.
    pub pid: u32,
    /// Resident set size in bytes (the runners' model memory is in their own processes).
    pub rss_bytes: u64,
}

impl AgentMetrics {
    /// Prometheus text exposition of these metrics (`GET /metrics`).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, value: f64| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
        };
        gauge(
            "farmhand_node_memory_total_bytes",
            "Unified memory size.",
            self.memory_total_bytes as f64,
        );
        gauge(
            "farmhand_node_memory_used_bytes",
            "Memory in use.",
            self.memory_used_bytes as f64,
        );
        gauge(
            "farmhand_node_memory_available_bytes",
            "Memory available.",
            self.memory_available_bytes as f64,
        );
        gauge(
            "farmhand_node_swap_total_bytes",
            "Swap size.",
            self.swap_total_bytes as f64,
        );
        gauge(
            "farmhand_node_swap_used_bytes",
            "Swap in use.",
            self.swap_used_bytes as f64,
        );
        gauge(
            "farmhand_node_cpu_percent",
            "Whole-machine CPU use, 0-100.",
            f64::from(self.cpu_percent),
        );
        gauge(
            "farmhand_node_uptime_seconds",
            "Seconds since boot.",
            self.uptime_secs as f64,
        );
        if let Some(pressure) = &self.pressure {
            gauge(
                "farmhand_node_memory_pressure",
                "Memory pressure: 0 normal, 1 warn, 2 critical.",
                pressure.level as u8 as f64,
            );
            if let Some(bytes) = pressure.compressor_bytes {
                gauge(
                    "farmhand_node_compressor_bytes",
                    "Bytes held by the macOS memory compressor.",
                    bytes as f64,
                );
            }
        }
        if let Some(power) = &self.power {
            for (name, help, value) in [
                ("farmhand_node_gpu_watts", "GPU power (macmon).", power.gpu_watts),
                (
                    "farmhand_node_ane_watts",
                    "Neural Engine power (macmon).",
                    power.ane_watts,
                ),
                ("farmhand_node_cpu_watts", "CPU power (macmon).", power.cpu_watts),
                (
                    "farmhand_node_system_watts",
                    "Whole-system power (macmon).",
                    power.watts(),
                ),
                (
                    "farmhand_node_gpu_temp_celsius",
                    "Average GPU temperature (macmon).",
                    power.gpu_temp_c,
                ),
            ] {
                if let Some(value) = value {
                    gauge(name, help, value);
                }
            }
        }
        if let Some(ollama) = &self.ollama {
            gauge(
                "farmhand_node_ollama_rss_bytes",
                "Resident memory of the Ollama server.",
                ollama.rss_bytes as f64,
            );
        }
        out.push_str("# HELP farmhand_node_load_average Load average.\n# TYPE farmhand_node_load_average gauge\n");
        for (window, value) in ["1m", "5m", "15m"].iter().zip(self.load_average) {
            out.push_str(&format!("farmhand_node_load_average{{window=\"{window}\"}} {value}\n"));
        }
        out
    }
}
