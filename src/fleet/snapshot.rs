//! The fleet as last seen: plain data, cheap to clone.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Health;
use crate::wire::AgentMetrics;

/// A model resident in a node's memory (`/api/ps`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadedModel {
    /// Normalised model name.
    pub name: String,
    /// Memory it occupies, in bytes.
    pub size_bytes: u64,
    /// When Ollama will unload it if it stays idle.
    pub expires_at: DateTime<Utc>,
    /// When a request last ended on it, as the poller saw its expiry move (Ollama restarts the
    /// idle timer as each request ends), or when the poller first saw it loaded.
    pub active_at: DateTime<Utc>,
}

impl LoadedModel {
    /// This model as `/api/ps` lists it now, its activity carried over from the `previous` listing
    /// when its expiry has not moved since.
    pub fn seen(name: String, size_bytes: u64, expires_at: DateTime<Utc>, previous: &[LoadedModel]) -> Self {
        let active_at = previous
            .iter()
            .find(|p| p.name == name && p.expires_at == expires_at)
            .map_or_else(Utc::now, |p| p.active_at);
        LoadedModel {
            name,
            size_bytes,
            expires_at,
            active_at,
        }
    }
}

/// A model installed on a node's disk (`/api/tags`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstalledModel {
    /// Normalised model name.
    pub name: String,
    /// On-disk size in bytes.
    pub size_bytes: u64,
}

/// One node as last seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSnapshot {
    /// Node name from the fleet config.
    pub name: String,
    /// Derived health.
    pub health: Health,
    /// Parallel request slots (config).
    pub parallel: u32,
    /// Models in memory (last good poll; kept while the node is unreachable, marked stale).
    pub loaded: Vec<LoadedModel>,
    /// Models on disk.
    pub installed: Vec<InstalledModel>,
    /// Last machine metrics from the agent.
    pub metrics: Option<AgentMetrics>,
    /// When Ollama last answered.
    pub last_seen: Option<DateTime<Utc>>,
    /// Round trip of the last `/api/ps` poll, in milliseconds.
    pub poll_latency_ms: Option<u64>,
    /// Ollama polls failed in a row.
    pub consecutive_failures: u32,
    /// The last poll error, short.
    pub last_error: Option<String>,
}

impl NodeSnapshot {
    /// A node not polled yet.
    pub fn unseen(name: &str, parallel: u32) -> Self {
        NodeSnapshot {
            name: name.to_string(),
            health: Health::Down,
            parallel,
            loaded: Vec::new(),
            installed: Vec::new(),
            metrics: None,
            last_seen: None,
            poll_latency_ms: None,
            consecutive_failures: 0,
            last_error: None,
        }
    }

    /// True when the shown data is older than the last poll (the node stopped answering).
    pub fn is_stale(&self) -> bool {
        self.consecutive_failures > 0
    }

    /// Whether `model` is installed (names compared in Ollama's normalised form).
    pub fn has_installed(&self, model: &str) -> bool {
        let model = crate::wire::ollama::normalize_model_name(model);
        self.installed.iter().any(|m| m.name == model)
    }

    /// Whether `model` is loaded.
    pub fn has_loaded(&self, model: &str) -> bool {
        let model = crate::wire::ollama::normalize_model_name(model);
        self.loaded.iter().any(|m| m.name == model)
    }

    /// Free unified memory in bytes: the agent's figure, else total minus loaded models, else 0.
    pub fn free_memory_bytes(&self) -> u64 {
        self.metrics.as_ref().map(|m| m.memory_available_bytes).unwrap_or(0)
    }

    /// Memory pressure as the node's agent last reported it, if it reports one.
    pub fn pressure(&self) -> Option<crate::domain::MemoryPressure> {
        self.metrics.as_ref()?.pressure.as_ref().map(|p| p.level)
    }
}

/// Every node, in config order.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct FleetSnapshot {
    /// The nodes.
    pub nodes: Vec<NodeSnapshot>,
}

impl FleetSnapshot {
    /// How many nodes report memory pressure `level`.
    pub fn count_at(&self, level: crate::domain::MemoryPressure) -> usize {
        self.nodes.iter().filter(|n| n.pressure() == Some(level)).count()
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSnapshot> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn a_model_is_active_when_its_expiry_moves_and_idle_while_it_stays() {
        let expiry = Utc::now() + TimeDelta::minutes(5);
        let first = LoadedModel::seen("llama3.1:8b".into(), 1, expiry, &[]);
        let long_ago = Utc::now() - TimeDelta::minutes(10);
        let previous = [LoadedModel {
            active_at: long_ago,
            ..first.clone()
        }];
        let unchanged = LoadedModel::seen("llama3.1:8b".into(), 1, expiry, &previous);
        assert_eq!(unchanged.active_at, long_ago, "no request ended: still idle since then");
        let moved = LoadedModel::seen("llama3.1:8b".into(), 1, expiry + TimeDelta::seconds(3), &previous);
        assert!(moved.active_at > long_ago, "a request ended: active now");
        let other = LoadedModel::seen("qwen3:14b".into(), 1, expiry, &previous);
        assert!(
            other.active_at > long_ago,
            "a model first seen counts as active from then"
        );
    }
}
