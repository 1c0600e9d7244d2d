//! Live control: the operators' node states and policy overrides, mirrored from the store.
//!
//! A task re-reads them whenever the store signals a change (PostgreSQL NOTIFY) and at least once
//! a second regardless, so every router and console sees a change within a second even if a
//! notification is lost. Readers get the latest [`ControlSnapshot`] from a `watch` channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::domain::DrainState;
use crate::store::{Store, StoreError, Wakeup};

/// How often control state is re-read even without a notification.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Node states and overrides as last read from the store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ControlSnapshot {
    /// The policy version in force (0 before any override was ever set).
    pub version: i64,
    /// Live overrides as `(key, value)`.
    pub overrides: Vec<(String, String)>,
    /// Operator-set node states; nodes not listed are active.
    pub node_states: HashMap<String, DrainState>,
    /// When this was read.
    pub read_at: Option<DateTime<Utc>>,
    /// The last read error, when the store is unreachable (the rest is then the last good state).
    pub store_error: Option<String>,
}

impl ControlSnapshot {
    /// The state of `node` (active unless an operator changed it).
    pub fn node_state(&self, node: &str) -> DrainState {
        self.node_states.get(node).copied().unwrap_or_default()
    }
}

/// Longest one read of the control state may take: a silent network must not leave a router
/// believing its snapshot is current, and a store that is merely slow under load still answers.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads everything once.
pub async fn read(store: &Store) -> Result<ControlSnapshot, StoreError> {
    let overrides = store.overrides().await?;
    let version = store.policy_version().await?;
    let node_states = store.node_states().await?;
    Ok(ControlSnapshot {
        version,
        overrides: overrides.into_iter().map(|o| (o.key, o.value)).collect(),
        node_states: node_states.into_iter().map(|n| (n.name, n.state)).collect(),
        read_at: Some(Utc::now()),
        store_error: None,
    })
}

/// Starts mirroring; the task ends when every receiver is dropped.
pub fn watch(store: Store) -> watch::Receiver<Arc<ControlSnapshot>> {
    let (publish, view) = watch::channel(Arc::new(ControlSnapshot::default()));
    tokio::spawn(async move {
        let mut wakeups = store.wakeups();
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = publish.closed() => return,
                _ = tick.tick() => {}
                wakeup = wakeups.recv() => match wakeup {
                    Some(Wakeup::Control | Wakeup::Resync) => {}
                    Some(Wakeup::Decisions) => continue,
                    None => wakeups = store.wakeups(),
                },
            }
            let read = tokio::time::timeout(READ_TIMEOUT, read(&store)).await;
            let next = match read {
                Ok(Ok(snapshot)) => snapshot,
                failed => {
                    let why = match failed {
                        Ok(Err(err)) => err.to_string(),
                        _ => format!("no answer within {} s", READ_TIMEOUT.as_secs()),
                    };
                    let mut last = (**publish.borrow()).clone();
                    last.store_error = Some(why);
                    last
                }
            };
            publish.send_if_modified(|current| {
                let changed = current.version != next.version
                    || current.overrides != next.overrides
                    || current.node_states != next.node_states
                    || current.store_error != next.store_error;
                *current = Arc::new(next);
                changed
            });
        }
    });
    view
}
