//! The fleet as placement sees it: plain per-node data, built elsewhere from telemetry and
//! the store's node states.

use std::sync::Arc;

use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::Health;

/// A node's model names, shared between decisions until telemetry changes them.
pub type ModelNames = Arc<[String]>;

/// One node at the moment of the decision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeView {
    /// The node's name, e.g. `mini-03`.
    pub name: Arc<str>,
    /// Telemetry health; degraded nodes are used only when no node is up, down nodes never.
    pub health: Health,
    /// Operator drain state.
    pub drain: DrainState,
    /// Models present on disk (`/api/tags`).
    pub installed: ModelNames,
    /// Models loaded in memory (`/api/ps`).
    pub loaded: ModelNames,
    /// Requests the router has in flight on the node.
    pub in_flight: u32,
    /// Requests the node serves at once (`OLLAMA_NUM_PARALLEL`); 0 is read as 1.
    pub parallel: u32,
    /// Free unified memory, in bytes.
    pub free_memory_bytes: u64,
    /// Memory pressure as the node reports it (`normal` when it reports none).
    pub pressure: MemoryPressure,
}

impl NodeView {
    /// Whether `model` is on the node's disk.
    pub fn has_installed(&self, model: &str) -> bool {
        self.installed.iter().any(|m| same_model(m, model))
    }

    /// Whether `model` is loaded (no cold start).
    pub fn has_loaded(&self, model: &str) -> bool {
        self.loaded.iter().any(|m| same_model(m, model))
    }
}

/// Every node of the farm at the moment of the decision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetView {
    /// The nodes, in any order.
    pub nodes: Vec<NodeView>,
}

/// Whether two Ollama model names mean the same model (`mistral` is `mistral:latest`).
pub fn same_model(a: &str, b: &str) -> bool {
    const LATEST: &str = ":latest";
    // Lengths first: placement asks this of every model on every node, and most differ in length.
    if a.len() == b.len() {
        return a == b;
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    long.len() == short.len() + LATEST.len() && long.ends_with(LATEST) && long.starts_with(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_names_mean_latest() {
        assert!(same_model("mistral", "mistral:latest") && same_model("mistral:latest", "mistral"));
        assert!(same_model("qwen3:14b", "qwen3:14b"));
        assert!(!same_model("qwen3:14b", "qwen3:32b") && !same_model("qwen3", "qwen3:14b"));
        assert!(!same_model("mistral", "mistra:latest") && !same_model("mistral:latest", "mistral:lates"));
        assert!(!same_model("mistralxlatest", "mistral") && same_model("", ":latest"));
    }

    #[test]
    fn nodes_answer_for_installed_and_loaded_models() {
        let node = NodeView {
            installed: ["llama3.1:8b".to_string(), "mistral:latest".to_string()].into(),
            loaded: ["mistral:latest".to_string()].into(),
            ..NodeView::default()
        };
        assert!(node.has_installed("mistral") && node.has_loaded("mistral") && node.has_installed("llama3.1:8b"));
        assert!(!node.has_loaded("llama3.1:8b") && !node.has_installed("qwen3:14b"));
    }
}
