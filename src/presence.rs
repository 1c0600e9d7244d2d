//! Router presence: every router tells the store, twice a second, which state it has seen for
//! each node and how many requests it still has in flight there. A drain is complete when every
//! live router has seen it and is quiet on that node; any router (or a waiting operator) may then
//! move the node from `draining` to `drained`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::control::ControlSnapshot;
use crate::domain::DrainState;
use crate::gateway::InFlight;
use crate::store::{PresenceRow, Store};

/// How often a router reports.
pub const REPORT_EVERY: Duration = Duration::from_millis(500);
/// A router that has not reported for this long is taken as gone (its requests died with it).
pub const LIVE_WINDOW: TimeDelta = TimeDelta::seconds(3);
/// Reports older than this are deleted.
const FORGET_AFTER: TimeDelta = TimeDelta::minutes(10);

/// This process's router id: host name and process id.
pub fn router_id() -> String {
    let host = sysinfo::System::host_name().unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Decides, report by report, whether a router is quiet on each node.
///
/// A node counts as quiet once the router has seen it out of `active` with nothing in flight in
/// two consecutive samples: a request that picked the node just before the router saw the drain
/// has entered its in-flight slot by the second sample.
#[derive(Debug, Default)]
pub struct QuietTracker {
    idle_before: HashMap<String, bool>,
}

impl QuietTracker {
    /// Records one sample for `node`; true when the router is quiet there.
    pub fn observe(&mut self, node: &str, seen: DrainState, in_flight: u32) -> bool {
        let idle = seen != DrainState::Active && in_flight == 0;
        let before = self.idle_before.insert(node.to_string(), idle).unwrap_or(false);
        idle && before
    }
}

/// Where a router listening on `listen` tells consoles to read its status: its own address, or
/// its host name when it listens on every interface.
pub fn status_url(listen: std::net::SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        let host = sysinfo::System::host_name().unwrap_or_else(|_| "localhost".into());
        format!("http://{host}:{}", listen.port())
    } else {
        format!("http://{listen}")
    }
}

/// Starts reporting for a router (serving its status at `status_url`, when given); the task runs
/// until aborted, then its rows expire.
pub fn spawn(
    store: Store,
    router_id: String,
    status_url: Option<String>,
    in_flight: InFlight,
    control: watch::Receiver<Arc<ControlSnapshot>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tracker = QuietTracker::default();
        let mut tick = tokio::time::interval(REPORT_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut failing = false;
        let mut last_pruned = chrono::DateTime::<Utc>::MIN_UTC;
        loop {
            tick.tick().await;
            let snapshot = control.borrow().clone();
            let now = Utc::now();
            let rows: Vec<PresenceRow> = in_flight
                .all()
                .into_iter()
                .map(|(node, count)| {
                    let seen = snapshot.node_state(&node);
                    PresenceRow {
                        router_id: router_id.clone(),
                        quiet: tracker.observe(&node, seen, count),
                        node,
                        state_seen: seen,
                        in_flight: count,
                        reported_at: now,
                        status_url: status_url.clone(),
                    }
                })
                .collect();
            let result = async {
                store.report_presence(&rows).await?;
                if now - last_pruned > FORGET_AFTER {
                    store.forget_presence(None, now - FORGET_AFTER).await?;
                    last_pruned = now;
                }
                // Completing takes the control lock: only worth it while some node is draining.
                if snapshot.node_states.values().any(|s| *s == DrainState::Draining) {
                    store.complete_drains(now - LIVE_WINDOW).await
                } else {
                    Ok(Vec::new())
                }
            }
            .await;
            match result {
                Ok(drained) => {
                    for node in drained {
                        tracing::info!(%node, "drain complete: nothing left in flight on any router");
                    }
                    failing = false;
                }
                Err(err) if !failing => {
                    tracing::warn!(%err, "cannot report in-flight counts; drains wait until the store is back");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_urls_name_a_reachable_address() {
        assert_eq!(
            status_url("100.101.7.10:8080".parse().expect("address")),
            "http://100.101.7.10:8080"
        );
        let any = status_url("0.0.0.0:8080".parse().expect("address"));
        assert!(
            any.starts_with("http://") && any.ends_with(":8080") && !any.contains("0.0.0.0"),
            "{any}"
        );
    }

    #[test]
    fn quiet_needs_the_drain_seen_and_two_idle_samples() {
        let mut tracker = QuietTracker::default();
        assert!(
            !tracker.observe("a", DrainState::Active, 0),
            "active nodes are never quiet"
        );
        assert!(!tracker.observe("a", DrainState::Draining, 0), "first idle sample");
        assert!(tracker.observe("a", DrainState::Draining, 0));
        assert!(!tracker.observe("a", DrainState::Draining, 1), "work arrived");
        assert!(!tracker.observe("a", DrainState::Draining, 0));
        assert!(tracker.observe("a", DrainState::Drained, 0));
        assert!(!tracker.observe("b", DrainState::Drained, 0), "each node on its own");
    }
}
