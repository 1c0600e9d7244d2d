//! Relief for nodes at `critical` memory pressure: their idle models are unloaded first, least
//! recently used first, one per node per check, until the node calms down. Placement already
//! keeps cold loads off such a node; this gives back the memory its idle models hold, so it can
//! take work again. Idle means no request has ended on the model for a while, whichever router
//! sent it: the poller sees Ollama restart a model's idle timer as each request ends. Ollama
//! unloads a model only once the requests running on it have finished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use super::keeper_rounds::{Keeping, Planned};
use crate::control::ControlSnapshot;
use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::{FleetSnapshot, Health};
use crate::wire::ollama::GenerateRequest;

/// How often critical nodes are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// How long after a relief the keeper of warm models leaves the node alone, so that it does not
/// load again what was just given back.
pub const COOL_DOWN: Duration = Duration::from_secs(600);

/// When this router last relieved each node.
#[derive(Debug, Clone, Default)]
pub struct Relieved {
    nodes: Arc<HashMap<String, Mutex<Option<Instant>>>>,
}

impl Relieved {
    /// An empty record for these nodes.
    pub fn new<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Self {
        Relieved {
            nodes: Arc::new(nodes.into_iter().map(|n| (n.to_string(), Mutex::default())).collect()),
        }
    }

    fn at(&self, node: &str) -> Option<std::sync::MutexGuard<'_, Option<Instant>>> {
        let entry = self.nodes.get(node)?;
        Some(entry.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Notes that a model was unloaded from `node` to relieve it.
    fn mark(&self, node: &str) {
        if let Some(mut at) = self.at(node) {
            *at = Some(Instant::now());
        }
    }

    /// Whether `node` was relieved within the last [`COOL_DOWN`].
    pub fn cooling(&self, node: &str, now: Instant) -> bool {
        self.at(node)
            .and_then(|at| *at)
            .is_some_and(|at| now.saturating_duration_since(at) < COOL_DOWN)
    }
}

/// The `(node, model)` pairs to unload at `now`: on each node that is up, not drained and at
/// `critical` pressure, the loaded model idle longest (the larger of two equally idle ones),
/// provided no request has ended on it for at least `idle_after`.
pub fn unloads(
    fleet: &FleetSnapshot,
    control: &ControlSnapshot,
    idle_after: Duration,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let idle_after = TimeDelta::from_std(idle_after).unwrap_or(TimeDelta::MAX);
    fleet
        .nodes
        .iter()
        .filter(|n| n.health == Health::Up && n.pressure() == Some(MemoryPressure::Critical))
        .filter(|n| control.node_state(&n.name) != DrainState::Drained)
        .filter_map(|n| {
            n.loaded
                .iter()
                .filter(|m| now - m.active_at >= idle_after)
                .max_by(|a, b| b.active_at.cmp(&a.active_at).then(a.size_bytes.cmp(&b.size_bytes)))
                .map(|m| (n.name.clone(), m.name.clone()))
        })
        .collect()
}

/// Runs the relief until the fleet view closes; `idle_after` zero turns it off
/// (`router.unload_idle_on_critical_secs`).
pub fn spawn(keeping: &Keeping, idle_after: Duration) {
    if idle_after.is_zero() {
        return;
    }
    let (client, relieved) = (keeping.client.clone(), keeping.relieved.clone());
    super::keeper_rounds::spawn(
        CHECK_EVERY,
        keeping,
        move |fleet, control| unloads(fleet, control, idle_after, Utc::now()),
        move |planned| relieve(client.clone(), relieved.clone(), planned),
    );
}

/// Asks Ollama to unload `planned.model` (`keep_alive: 0`), logs the outcome, and marks the node
/// relieved when it did.
async fn relieve(client: reqwest::Client, relieved: Relieved, planned: Planned) {
    let Planned { url, node, model } = planned;
    let sent = client
        .post(format!("{}/api/generate", url.trim_end_matches('/')))
        .json(&GenerateRequest::unload(&model))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            tracing::info!(%node, %model, "unloaded an idle model: the node is at critical memory pressure");
            relieved.mark(&node);
        }
        Ok(r) => tracing::warn!(%node, %model, status = r.status().as_u16(), "unloading an idle model was refused"),
        Err(err) => {
            tracing::warn!(%node, %model, error = %super::upstream::describe(&err), "unloading an idle model failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{LoadedModel, NodeSnapshot};
    use crate::wire::{AgentMetrics, PressureReading};

    /// A node at `pressure` with models loaded, each idle for the given seconds.
    fn node(name: &str, pressure: MemoryPressure, loaded: &[(&str, u64, i64)]) -> NodeSnapshot {
        let mut n = NodeSnapshot::unseen(name, 1);
        n.health = Health::Up;
        n.loaded = loaded
            .iter()
            .map(|(m, size, idle_secs)| LoadedModel {
                name: m.to_string(),
                size_bytes: *size,
                expires_at: now() + TimeDelta::minutes(5),
                active_at: now() - TimeDelta::seconds(*idle_secs),
            })
            .collect();
        n.metrics = Some(AgentMetrics {
            pressure: Some(PressureReading {
                level: pressure,
                source: "test".into(),
                compressor_bytes: None,
                psi_some_avg10: None,
                psi_full_avg10: None,
            }),
            ..AgentMetrics::idle(name, 64 << 30, 2 << 30)
        });
        n
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a time")
    }

    fn fleet(nodes: Vec<NodeSnapshot>) -> FleetSnapshot {
        FleetSnapshot { nodes }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn only_critical_nodes_give_up_a_model_and_the_longest_idle_goes_first() {
        let fleet = fleet(vec![
            node("calm", MemoryPressure::Normal, &[("a:1", 1, 3600)]),
            node("warm", MemoryPressure::Warn, &[("a:1", 1, 3600)]),
            node(
                "hot",
                MemoryPressure::Critical,
                &[("a:1", 1, 300), ("b:1", 1, 540), ("c:1", 1, 3)],
            ),
        ]);
        let plan = unloads(&fleet, &ControlSnapshot::default(), MINUTE * 2, now());
        assert_eq!(plan, [("hot".to_string(), "b:1".to_string())]);
    }

    #[test]
    fn a_model_in_recent_use_stays() {
        let busy = fleet(vec![node("hot", MemoryPressure::Critical, &[("busy:1", 1, 1)])]);
        assert!(unloads(&busy, &ControlSnapshot::default(), MINUTE * 2, now()).is_empty());
        let plan = unloads(&busy, &ControlSnapshot::default(), Duration::from_secs(1), now());
        assert_eq!(
            plan,
            [("hot".to_string(), "busy:1".to_string())],
            "idle exactly as long as asked"
        );
    }

    #[test]
    fn equally_idle_models_give_back_the_most_memory_first() {
        let fleet = fleet(vec![node(
            "hot",
            MemoryPressure::Critical,
            &[("small:1", 4 << 30, 600), ("large:1", 40 << 30, 600)],
        )]);
        let plan = unloads(&fleet, &ControlSnapshot::default(), MINUTE, now());
        assert_eq!(plan, [("hot".to_string(), "large:1".to_string())]);
    }

    #[test]
    fn drained_or_unreachable_nodes_are_left_to_the_operator() {
        let mut down = node("down", MemoryPressure::Critical, &[("a:1", 1, 600)]);
        down.health = Health::Down;
        let drained = node("drained", MemoryPressure::Critical, &[("a:1", 1, 600)]);
        let mut control = ControlSnapshot::default();
        control.node_states.insert("drained".into(), DrainState::Drained);
        let plan = unloads(&fleet(vec![down, drained]), &control, MINUTE, now());
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn a_relieved_node_cools_down_before_it_is_warmed_again() {
        let relieved = Relieved::new(["mini-01"]);
        let now = Instant::now();
        assert!(!relieved.cooling("mini-01", now));
        relieved.mark("mini-01");
        assert!(relieved.cooling("mini-01", Instant::now()));
        assert!(!relieved.cooling("mini-01", Instant::now() + COOL_DOWN));
        relieved.mark("elsewhere");
        assert!(!relieved.cooling("elsewhere", Instant::now()));
    }
}
