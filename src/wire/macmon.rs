//! `GET /json` of `macmon serve` (github.com/vladkens/macmon): Apple Silicon power, temperatures
//! and memory, read without root. farmhand reads the fields below and ignores the rest.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use super::{AgentMetrics, PowerReading};

/// One macmon sample.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MacmonSample {
    /// CPU power, watts.
    #[serde(deserialize_with = "finite_number")]
    pub cpu_power: Option<f64>,
    /// GPU power, watts.
    #[serde(deserialize_with = "finite_number")]
    pub gpu_power: Option<f64>,
    /// Neural Engine power, watts.
    #[serde(deserialize_with = "finite_number")]
    pub ane_power: Option<f64>,
    /// CPU + GPU + ANE power, watts.
    #[serde(deserialize_with = "finite_number")]
    pub all_power: Option<f64>,
    /// Whole-system power as the SMC reports it, watts.
    #[serde(deserialize_with = "finite_number")]
    pub sys_power: Option<f64>,
    /// SoC temperatures.
    pub temp: MacmonTemp,
    /// Memory and swap.
    pub memory: MacmonMemory,
    /// Combined CPU use, 0-1 (frequency-scaled).
    #[serde(deserialize_with = "finite_number")]
    pub cpu_scaled_ratio: Option<f64>,
}

/// `temp` of a macmon sample.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MacmonTemp {
    /// Average CPU temperature, °C.
    #[serde(deserialize_with = "finite_number")]
    pub cpu_temp_avg: Option<f64>,
    /// Average GPU temperature, °C.
    #[serde(deserialize_with = "finite_number")]
    pub gpu_temp_avg: Option<f64>,
}

/// `memory` of a macmon sample, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MacmonMemory {
    /// Unified memory size.
    pub ram_total: u64,
    /// Memory in use.
    pub ram_usage: u64,
    /// Swap size.
    pub swap_total: u64,
    /// Swap in use.
    pub swap_usage: u64,
}

/// A number, or `None` for anything else (some macmon builds nest a figure in an object).
fn finite_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value.as_f64().filter(|v| v.is_finite()))
}

impl MacmonSample {
    /// Power and temperatures, when macmon reported any.
    pub fn power(&self) -> Option<PowerReading> {
        let reading = PowerReading {
            cpu_watts: self.cpu_power,
            gpu_watts: self.gpu_power,
            ane_watts: self.ane_power,
            all_watts: self.all_power,
            sys_watts: self.sys_power,
            cpu_temp_c: self.temp.cpu_temp_avg,
            gpu_temp_c: self.temp.gpu_temp_avg,
        };
        (reading != PowerReading::default()).then_some(reading)
    }

    /// The node's metrics as far as macmon alone tells them (a node polled without the farmhand
    /// agent): memory, swap, CPU use and power; no load average, uptime, Ollama process or
    /// memory-pressure level.
    pub fn into_agent_metrics(self, hostname: &str, sampled_at: DateTime<Utc>) -> AgentMetrics {
        let used = self.memory.ram_usage.min(self.memory.ram_total);
        AgentMetrics {
            hostname: hostname.to_string(),
            sampled_at,
            memory_total_bytes: self.memory.ram_total,
            memory_used_bytes: used,
            memory_available_bytes: self.memory.ram_total - used,
            swap_total_bytes: self.memory.swap_total,
            swap_used_bytes: self.memory.swap_usage.min(self.memory.swap_total),
            cpu_percent: (self.cpu_scaled_ratio.unwrap_or(0.0).clamp(0.0, 1.0) * 100.0) as f32,
            cpu_count: 0,
            load_average: [0.0; 3],
            uptime_secs: 0,
            ollama: None,
            pressure: None,
            power: self.power(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"all_power":21.4,"ane_power":0.0,"cpu_power":3.1,"gpu_power":18.3,"sys_power":31.9,
        "ram_power":0.4,"gpu_ram_power":0.2,"cpu_usage_pct":0.12,"cpu_scaled_ratio":0.12,
        "gpu_usage":[1398,0.93],"temp":{"cpu_temp_avg":52.5,"gpu_temp_avg":61.0},
        "memory":{"ram_total":68719476736,"ram_usage":51539607552,"swap_total":2147483648,"swap_usage":1073741824},
        "soc":{"chip_name":"Apple M4 Pro"},"timestamp":"2026-11-28T05:00:00Z"}"#;

    #[test]
    fn a_macmon_sample_becomes_node_metrics() {
        let sample: MacmonSample = serde_json::from_str(SAMPLE).unwrap();
        let power = sample.power().unwrap();
        assert_eq!(power.gpu_watts, Some(18.3));
        assert_eq!(power.sys_watts, Some(31.9));
        assert_eq!(power.gpu_temp_c, Some(61.0));
        let metrics = sample.into_agent_metrics("mini-03", Utc::now());
        assert_eq!(metrics.memory_available_bytes, 16 << 30);
        assert_eq!(metrics.swap_used_bytes, 1 << 30);
        assert!((metrics.cpu_percent - 12.0).abs() < 0.01);
        assert!(metrics.pressure.is_none());
    }

    #[test]
    fn odd_or_missing_fields_are_tolerated() {
        let sample: MacmonSample =
            serde_json::from_str(r#"{"cpu_power":{"total":0.85},"gpu_power":null,"memory":{"ram_total":8}}"#).unwrap();
        assert_eq!(sample.cpu_power, None);
        assert_eq!(sample.power(), None);
        assert_eq!(sample.into_agent_metrics("n", Utc::now()).memory_total_bytes, 8);
    }
}
