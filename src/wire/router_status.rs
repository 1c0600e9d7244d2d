//! A router's `GET /v1/status`: what it holds for the store, so a console can tell the truth
//! about routing while the store is away. Counts only: never a decision, a prompt or a key.

use serde::{Deserialize, Serialize};

/// Path of the status endpoint on a router.
pub const ROUTER_STATUS_PATH: &str = "/v1/status";

/// One router's decision recorder, as it reports itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouterStatus {
    /// The router's id (host and process), as in its presence rows.
    pub router_id: String,
    /// Whether its last write to the store succeeded.
    pub store_up: bool,
    /// Decisions held in memory, waiting for the store.
    pub buffered: u64,
    /// Decisions spilled to its local journal, waiting for the store.
    pub journaled: u64,
    /// Decisions the store confirmed since the router started.
    pub written: u64,
    /// Decisions dropped because its hand-off queue was full.
    pub dropped: u64,
    /// Requests it is serving now, on every node.
    pub in_flight: u64,
    /// The policy version it enforces.
    pub policy_version: i64,
    /// Milliseconds since it last read node states and overrides from the store; `None` before
    /// the first read. A router cut off from the store keeps routing on that snapshot.
    pub control_age_ms: Option<u64>,
    /// Whether its last read of node states and overrides reached the store.
    pub control_store_reachable: bool,
}

impl RouterStatus {
    /// Decisions routed but not yet in the store.
    pub fn held(&self) -> u64 {
        self.buffered + self.journaled
    }
}
