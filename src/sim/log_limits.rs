//! How much the simulator remembers of what it was asked: what the tests and `farmhand sim`
//! read back, bounded smaller in the demo, which never reads most of it.

use crate::sim::frontier::log::{LOG_CAPACITY, MAX_SIGHTINGS};
use crate::sim::node::log::NODE_LOG_CAPACITY;

/// The bounds of the frontier's and the nodes' logs; past them the oldest is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Requests the frontier keeps.
    pub frontier_entries: usize,
    /// Keyed hashes the frontier keeps over all bodies (8 bytes each); the last body's are
    /// always kept.
    pub frontier_sightings: usize,
    /// Requests and answers each node keeps.
    pub node_entries: usize,
}

impl Default for LogLimits {
    /// What `farmhand sim` and the tests keep: enough for any test's bodies.
    fn default() -> Self {
        LogLimits {
            frontier_entries: LOG_CAPACITY,
            frontier_sightings: MAX_SIGHTINGS,
            node_entries: NODE_LOG_CAPACITY,
        }
    }
}

impl LogLimits {
    /// What the demo keeps: recent requests only, about 1 MB in all, where the defaults let a
    /// demo left running grow by some 20 MB.
    pub const DEMO: LogLimits = LogLimits {
        frontier_entries: 1_000,
        frontier_sightings: 1 << 16,
        node_entries: 100,
    };
}
