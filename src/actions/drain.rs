//! Drain, undrain and unload: a node stops taking new work, finishes what it has, and is then
//! reported `drained`; its models can be unloaded to free its memory.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ActionError, Operator};
use crate::domain::DrainState;
use crate::presence::LIVE_WINDOW;
use crate::store::PresenceRow;
use crate::wire::ollama::{GenerateRequest, PsResponse};

/// How long a waiting drain gives in-flight requests to finish by default.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
/// How often a waiting drain looks again.
const POLL: Duration = Duration::from_millis(250);

/// Where a drain stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainStatus {
    /// The node.
    pub node: String,
    /// Its state in the store.
    pub state: DrainState,
    /// Routers that reported within the live window.
    pub live_routers: usize,
    /// Live routers that have not yet seen the drain or still have work on the node.
    pub busy_routers: usize,
    /// Requests in flight on the node, over every live router.
    pub in_flight: u32,
}

/// The status of `node` in `state`, from every router's last report (pure).
pub fn drain_status(node: &str, state: DrainState, rows: &[PresenceRow], now: DateTime<Utc>) -> DrainStatus {
    let live: Vec<&PresenceRow> = rows
        .iter()
        .filter(|r| r.node == node && r.reported_at > now - LIVE_WINDOW)
        .collect();
    DrainStatus {
        node: node.to_string(),
        state,
        live_routers: live.len(),
        busy_routers: live.iter().filter(|r| !r.quiet).count(),
        in_flight: live.iter().map(|r| r.in_flight).sum(),
    }
}

impl Operator {
    /// Marks `node` draining: routers place nothing new on it within a second. Refused when it
    /// is not active. Returns where the drain stands.
    pub async fn drain(&self, node: &str, reason: Option<&str>) -> Result<DrainStatus, ActionError> {
        self.require_write("node drain")?;
        self.node(node)?;
        let current = self.node_state(node).await?;
        if current != DrainState::Active {
            return Err(ActionError::Refused(format!(
                "{node} is already {current}; undrain it first to drain it again"
            )));
        }
        self.store
            .set_node_state(node, DrainState::Draining, reason, &self.actor)
            .await?;
        self.drain_progress(node).await
    }

    /// Puts `node` back to work. Refused when it is already active.
    pub async fn undrain(&self, node: &str, reason: Option<&str>) -> Result<(), ActionError> {
        self.require_write("node undrain")?;
        self.node(node)?;
        if self.node_state(node).await? == DrainState::Active {
            return Err(ActionError::Refused(format!("{node} is already active")));
        }
        self.store
            .set_node_state(node, DrainState::Active, reason, &self.actor)
            .await?;
        Ok(())
    }

    /// Where the drain of `node` stands; completes it first when every live router is quiet.
    pub async fn drain_progress(&self, node: &str) -> Result<DrainStatus, ActionError> {
        let now = Utc::now();
        self.store.complete_drains(now - LIVE_WINDOW).await?;
        let state = self.node_state(node).await?;
        let rows = self.store.presence(node).await?;
        Ok(drain_status(node, state, &rows, now))
    }

    /// Waits until `node` is drained, reporting each look; on timeout, says what to do next.
    pub async fn wait_drained(
        &self,
        node: &str,
        timeout: Duration,
        mut on_status: impl FnMut(&DrainStatus),
    ) -> Result<DrainStatus, ActionError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.drain_progress(node).await?;
            on_status(&status);
            match status.state {
                DrainState::Drained => return Ok(status),
                DrainState::Active => {
                    return Err(ActionError::Refused(format!(
                        "{node} was undrained while the drain was waiting"
                    )));
                }
                DrainState::Draining => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ActionError::TimedOut(format!(
                    "{node} is still draining after {} s: {} request(s) in flight on {} router(s). Long \
                     generations may still be running; wait longer (`farmhand node drain {node} --wait` \
                     resumes waiting), look for its requests in the console's Decisions view, or put it back \
                     with `farmhand node undrain {node}`",
                    timeout.as_secs(),
                    status.in_flight,
                    status.busy_routers
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Unloads every model loaded on a draining or drained `node` (`keep_alive: 0`), freeing its
    /// memory; returns the models unloaded. One audit row, whatever the outcome.
    pub async fn unload(&self, node_name: &str) -> Result<Vec<String>, ActionError> {
        self.require_write("node unload")?;
        let node = self.node(node_name)?.clone();
        if self.node_state(node_name).await? == DrainState::Active {
            return Err(ActionError::Refused(format!(
                "{node_name} is active: drain it first (the router would load its models again)"
            )));
        }
        let result = self.unload_all(&node.ollama_url).await;
        let detail = match &result {
            Ok(models) if models.is_empty() => "nothing was loaded".to_string(),
            Ok(models) => format!("unloaded {}", models.join(", ")),
            Err(err) => format!("failed: {err}"),
        };
        self.store.audit(&self.actor, "node.unload", node_name, &detail).await?;
        result
    }

    async fn unload_all(&self, ollama_url: &str) -> Result<Vec<String>, ActionError> {
        let base = ollama_url.trim_end_matches('/');
        let failed = |what: &str, err: &dyn std::fmt::Display| ActionError::Failed(format!("{what} at {base}: {err}"));
        let loaded: PsResponse = self
            .client
            .get(format!("{base}/api/ps"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed("cannot list loaded models", &e))?
            .json()
            .await
            .map_err(|e| failed("unreadable /api/ps", &e))?;
        let mut unloaded = Vec::new();
        for model in loaded.models {
            self.client
                .post(format!("{base}/api/generate"))
                .json(&GenerateRequest::unload(&model.name))
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| failed(&format!("cannot unload {}", model.name), &e))?;
            unloaded.push(model.name);
        }
        Ok(unloaded)
    }

    /// The state of `node` in the store.
    async fn node_state(&self, node: &str) -> Result<DrainState, ActionError> {
        Ok(self
            .store
            .node_states()
            .await?
            .into_iter()
            .find(|n| n.name == node)
            .map(|n| n.state)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn row(router: &str, node: &str, in_flight: u32, quiet: bool, age_ms: i64, now: DateTime<Utc>) -> PresenceRow {
        PresenceRow {
            router_id: router.into(),
            node: node.into(),
            state_seen: DrainState::Draining,
            in_flight,
            quiet,
            reported_at: now - TimeDelta::milliseconds(age_ms),
            status_url: None,
        }
    }

    #[test]
    fn status_counts_only_live_routers_on_the_node() {
        let now = Utc::now();
        let rows = [
            row("a", "mini-01", 2, false, 100, now),
            row("b", "mini-01", 0, true, 200, now),
            row("c", "mini-01", 5, false, 10_000, now),
            row("a", "mini-02", 7, false, 100, now),
        ];
        let status = drain_status("mini-01", DrainState::Draining, &rows, now);
        assert_eq!(
            status,
            DrainStatus {
                node: "mini-01".into(),
                state: DrainState::Draining,
                live_routers: 2,
                busy_routers: 1,
                in_flight: 2,
            }
        );
    }
}
