//! The router's own count of requests in flight per node (Ollama queues silently; we must not),
//! and of the batch job attempts among them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::Notify;

/// In-flight counters, one per node.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    counters: Arc<HashMap<String, Slots>>,
    freed: Arc<Notify>,
}

/// One node's counters: every request in flight, and the batch attempts among them.
#[derive(Debug, Default)]
struct Slots {
    all: AtomicU32,
    batch: AtomicU32,
}

/// Holds one request's slot on a node until dropped.
pub struct InFlightGuard {
    counters: Arc<HashMap<String, Slots>>,
    freed: Arc<Notify>,
    node: String,
    batch: bool,
}

impl InFlight {
    /// Counters for these nodes.
    pub fn new<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Self {
        InFlight {
            counters: Arc::new(nodes.into_iter().map(|n| (n.to_string(), Slots::default())).collect()),
            freed: Arc::default(),
        }
    }

    /// Requests in flight on `node`.
    pub fn get(&self, node: &str) -> u32 {
        self.counters
            .get(node)
            .map(|c| c.all.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Batch job attempts in flight on `node`.
    pub fn batch(&self, node: &str) -> u32 {
        self.counters
            .get(node)
            .map(|c| c.batch.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Takes a slot on `node` until the guard drops.
    pub fn enter(&self, node: &str) -> InFlightGuard {
        self.take(node, false)
    }

    /// Takes a slot on `node` for a batch job attempt until the guard drops.
    pub fn enter_batch(&self, node: &str) -> InFlightGuard {
        self.take(node, true)
    }

    fn take(&self, node: &str, batch: bool) -> InFlightGuard {
        if let Some(slots) = self.counters.get(node) {
            slots.all.fetch_add(1, Ordering::Relaxed);
            if batch {
                slots.batch.fetch_add(1, Ordering::Relaxed);
            }
        }
        InFlightGuard {
            counters: self.counters.clone(),
            freed: self.freed.clone(),
            node: node.to_string(),
            batch,
        }
    }

    /// Resolves after a slot is given back (or at once if one was given back since the last wait).
    pub async fn slot_freed(&self) {
        self.freed.notified().await;
    }

    /// Every node's count, for `/metrics`.
    pub fn all(&self) -> Vec<(String, u32)> {
        let mut all: Vec<_> = self
            .counters
            .iter()
            .map(|(n, c)| (n.clone(), c.all.load(Ordering::Relaxed)))
            .collect();
        all.sort();
        all
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(slots) = self.counters.get(&self.node) {
            slots.all.fetch_sub(1, Ordering::Relaxed);
            if self.batch {
                slots.batch.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.freed.notify_one();
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

    #[tokio::test]
    async fn batch_slots_count_apart_and_a_freed_slot_wakes_the_waiter() {
        let inflight = InFlight::new(["mini-01"]);
        let live = inflight.enter("mini-01");
        let job = inflight.enter_batch("mini-01");
        assert_eq!((inflight.get("mini-01"), inflight.batch("mini-01")), (2, 1));
        let waiter = {
            let inflight = inflight.clone();
            tokio::spawn(async move { inflight.slot_freed().await })
        };
        tokio::task::yield_now().await;
        drop(job);
        waiter
            .await
            .expect("the waiter wakes when the batch slot is given back");
        assert_eq!((inflight.get("mini-01"), inflight.batch("mini-01")), (1, 0));
        drop(live);
        assert_eq!(inflight.get("mini-01"), 0);
    }
}
