//! Samples this machine with sysinfo: one long-lived `System`, refreshed on a timer.

use std::ffi::OsStr;

use chrono::Utc;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use crate::wire::{AgentMetrics, OllamaProcess};

/// Names the Ollama server process goes by (`ollama serve` from Homebrew, or the app).
const OLLAMA_NAMES: &[&str] = &["ollama", "Ollama"];

/// Keeps the sysinfo state between samples (CPU use is a difference between two refreshes).
pub struct Sampler {
    system: System,
    hostname: String,
}

impl Sampler {
    /// Starts sampling; the first CPU figure is only meaningful after the second sample.
    pub fn new() -> Result<Self, sysinfo::Error> {
        let mut system = System::new()?;
        system.refresh_cpu_usage();
        let hostname = System::host_name().unwrap_or_else(|_| "unknown".into());
        Ok(Sampler { system, hostname })
    }

    /// Takes one sample. Blocking syscalls: call it off the async executor.
    pub fn sample(&mut self) -> AgentMetrics {
        let system = &mut self.system;
        system.refresh_memory();
        system.refresh_cpu_usage();
        system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
        let ollama = OLLAMA_NAMES.iter().find_map(|name| {
            system
                .processes_by_exact_name(OsStr::new(name))
                .max_by_key(|p| p.memory())
                .map(|p| OllamaProcess {
                    pid: p.pid().as_u32(),
                    rss_bytes: p.memory(),
                })
        });
        let load = System::load_average()
            .map(|l| [l.one, l.five, l.fifteen])
            .unwrap_or([0.0; 3]);
        AgentMetrics {
            hostname: self.hostname.clone(),
            sampled_at: Utc::now(),
            memory_total_bytes: system.total_memory(),
            memory_used_bytes: system.used_memory(),
            memory_available_bytes: system.available_memory(),
            swap_total_bytes: system.total_swap(),
            swap_used_bytes: system.used_swap(),
            cpu_percent: system.global_cpu_usage(),
            cpu_count: u32::try_from(system.cpus().len()).unwrap_or(u32::MAX),
            load_average: load,
            uptime_secs: System::uptime().unwrap_or(0),
            ollama,
            pressure: super::pressure::read(),
            power: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_real_memory_of_this_machine() {
        let mut sampler = Sampler::new().unwrap();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let m = sampler.sample();
        assert!(m.memory_total_bytes > 0);
        assert!(m.memory_used_bytes <= m.memory_total_bytes);
        assert!(m.memory_available_bytes <= m.memory_total_bytes);
        assert!(m.cpu_count > 0);
        assert!((0.0..=100.0).contains(&m.cpu_percent));
        assert!(m.uptime_secs > 0);
    }
}
