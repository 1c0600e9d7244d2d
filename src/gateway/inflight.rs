//! The router's own count of requests in flight per node (Ollama queues silently; we must not).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// In-flight counters, one per node.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    counters: Arc<HashMap<String, AtomicU32>>,
}

/// Holds one request's slot on a node until dropped.
pub struct InFlightGuard {
    counters: Arc<HashMap<String, AtomicU32>>,
    node: String,
}

impl InFlight {
    /// Counters for these nodes.
    pub fn new<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Self {
        InFlight {
            counters: Arc::new(nodes.into_iter().map(|n| (n.to_string(), AtomicU32::new(0))).collect()),
        }
    }

    /// Requests in flight on `node`.
    pub fn get(&self, node: &str) -> u32 {
        self.counters.get(node).map(|c| c.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Takes a slot on `node` until the guard drops.
    pub fn enter(&self, node: &str) -> InFlightGuard {
        if let Some(counter) = self.counters.get(node) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        InFlightGuard {
            counters: self.counters.clone(),
            node: node.to_string(),
        }
    }

    /// Every node's count, for `/metrics`.
    pub fn all(&self) -> Vec<(String, u32)> {
        let mut all: Vec<_> = self
            .counters
            .iter()
            .map(|(n, c)| (n.clone(), c.load(Ordering::Relaxed)))
            .collect();
        all.sort();
        all
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(counter) = self.counters.get(&self.node) {
            counter.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_release() {
        let inflight = InFlight::new(["mini-01", "mini-02"]);
        let a = inflight.enter("mini-01");
        let b = inflight.enter("mini-01");
        assert_eq!(inflight.get("mini-01"), 2);
        drop(a);
        assert_eq!(inflight.get("mini-01"), 1);
        drop(b);
        assert_eq!(inflight.all(), vec![("mini-01".into(), 0), ("mini-02".into(), 0)]);
        let _unknown = inflight.enter("mini-99");
        assert_eq!(inflight.get("mini-99"), 0);
    }
}
