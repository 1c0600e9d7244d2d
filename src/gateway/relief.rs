//! Relief for nodes at `critical` memory pressure: their idle models are unloaded first, least
//! recently used first, one per node per check, until the node calms down. Placement already
//! keeps cold loads off such a node; this gives back the memory its idle models hold, so it can
//! take work again. Ollama unloads a model only once the requests running on it have finished, so
//! a model another router is still using ends its work first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::keeper_rounds::Keeping;
use crate::control::ControlSnapshot;
use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::{FleetSnapshot, Health};
use crate::wire::ollama::{GenerateRequest, KeepAlive, normalize_model_name};

/// How often critical nodes are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// How long after a relief the keeper of warm models leaves the node alone, so that it does not
/// load again what was just given back.
pub const COOL_DOWN: Duration = Duration::from_secs(600);

/// When this router last sent work to (or preloaded) each model on each node, and when it last
/// relieved each node.
#[derive(Debug, Clone, Default)]
pub struct ModelUse {
    nodes: Arc<HashMap<String, Mutex<NodeUse>>>,
}

/// One node's record.
#[derive(Debug, Default)]
struct NodeUse {
    models: Vec<(Arc<str>, Instant)>,
    relieved_at: Option<Instant>,
}

impl ModelUse {
    /// An empty record for these nodes.
    pub fn new<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Self {
        ModelUse {
            nodes: Arc::new(nodes.into_iter().map(|n| (n.to_string(), Mutex::default())).collect()),
        }
    }

    fn with<T>(&self, node: &str, f: impl FnOnce(&mut NodeUse) -> T) -> Option<T> {
        let entry = self.nodes.get(node)?;
        Some(f(&mut entry.lock().unwrap_or_else(std::sync::PoisonError::into_inner)))
    }

    /// Notes that `model` on `node` was sent work now.
    pub fn touch(&self, node: &str, model: &Arc<str>) {
        let now = Instant::now();
        self.with(node, |node| {
            match node.models.iter_mut().find(|(name, _)| name == model) {
                Some((_, at)) => *at = now,
                None => node.models.push((model.clone(), now)),
            }
        });
    }

    /// How long ago `model` (a normalised name) on `node` was last sent work, when it was.
    pub fn idle_for(&self, node: &str, model: &str, now: Instant) -> Option<Duration> {
        self.with(node, |node| {
            node.models
                .iter()
                .filter(|(name, _)| normalize_model_name(name) == model)
                .map(|(_, at)| now.saturating_duration_since(*at))
                .min()
        })
        .flatten()
    }

    /// Notes that a model was unloaded from `node` to relieve it.
    fn relieved(&self, node: &str) {
        self.with(node, |node| node.relieved_at = Some(Instant::now()));
    }

    /// Whether `node` was relieved within the last [`COOL_DOWN`].
    pub fn cooling(&self, node: &str, now: Instant) -> bool {
        self.with(node, |node| {
            node.relieved_at
                .is_some_and(|at| now.saturating_duration_since(at) < COOL_DOWN)
        })
        .unwrap_or(false)
    }
}

/// The `(node, model)` pairs to unload now: on each node that is up, not drained and at
/// `critical` pressure, the loaded model idle longest, provided it has been idle at least
/// `idle_after` (`idle` says how long this router has not used it; `None`: never used here).
pub fn unloads(
    fleet: &FleetSnapshot,
    control: &ControlSnapshot,
    idle_after: Duration,
    idle: impl Fn(&str, &str) -> Option<Duration>,
) -> Vec<(String, String)> {
    fleet
        .nodes
        .iter()
        .filter(|n| n.health == Health::Up && n.pressure() == Some(MemoryPressure::Critical))
        .filter(|n| control.node_state(&n.name) != DrainState::Drained)
        .filter_map(|n| {
            n.loaded
                .iter()
                .map(|m| (m, idle(&n.name, &m.name)))
                .filter(|(_, idle)| idle.is_none_or(|d| d >= idle_after))
                .max_by(|(a, idle_a), (b, idle_b)| {
                    let longest = idle_a.unwrap_or(Duration::MAX).cmp(&idle_b.unwrap_or(Duration::MAX));
                    longest.then(a.size_bytes.cmp(&b.size_bytes))
                })
                .map(|(m, _)| (n.name.clone(), m.name.clone()))
        })
        .collect()
}

/// Runs the relief until the fleet view closes; `idle_after` zero turns it off
/// (`router.unload_idle_on_critical_secs`).
pub fn spawn(keeping: &Keeping, idle_after: Duration) {
    if idle_after.is_zero() {
        return;
    }
    let (client, used, planner) = (keeping.client.clone(), keeping.used.clone(), keeping.used.clone());
    super::keeper_rounds::spawn(
        CHECK_EVERY,
        keeping,
        move |fleet, control| {
            let now = Instant::now();
            unloads(fleet, control, idle_after, |node, model| {
                planner.idle_for(node, model, now)
            })
        },
        move |planned| {
            let (client, used) = (client.clone(), used.clone());
            async move {
                if unload(&client, &planned.url, &planned.node, planned.model).await {
                    used.relieved(&planned.node);
                }
            }
        },
    );
}

/// Asks Ollama to unload `model` (`keep_alive: 0`) and logs the outcome; true when it did.
async fn unload(client: &reqwest::Client, url: &str, node: &str, model: String) -> bool {
    let request = GenerateRequest {
        model: model.clone(),
        stream: Some(false),
        keep_alive: Some(KeepAlive::For(Duration::ZERO)),
        ..GenerateRequest::default()
    };
    let sent = client
        .post(format!("{}/api/generate", url.trim_end_matches('/')))
        .json(&request)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            tracing::info!(%node, %model, "unloaded an idle model: the node is at critical memory pressure");
            true
        }
        Ok(r) => {
            tracing::warn!(%node, %model, status = r.status().as_u16(), "unloading an idle model was refused");
            false
        }
        Err(err) => {
            tracing::warn!(%node, %model, error = %super::upstream::describe(&err), "unloading an idle model failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{LoadedModel, NodeSnapshot};
    use crate::wire::{AgentMetrics, PressureReading};

    fn node(name: &str, pressure: MemoryPressure, loaded: &[(&str, u64)]) -> NodeSnapshot {
        let mut n = NodeSnapshot::unseen(name, 1);
        n.health = Health::Up;
        n.loaded = loaded
            .iter()
            .map(|(m, size)| LoadedModel {
                name: m.to_string(),
                size_bytes: *size,
                expires_at: chrono::Utc::now(),
            })
            .collect();
        n.metrics = Some(AgentMetrics {
            hostname: name.into(),
            sampled_at: chrono::Utc::now(),
            memory_total_bytes: 64 << 30,
            memory_used_bytes: 62 << 30,
            memory_available_bytes: 2 << 30,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            cpu_percent: 0.0,
            cpu_count: 8,
            load_average: [0.0; 3],
            uptime_secs: 1,
            ollama: None,
            pressure: Some(PressureReading {
                level: pressure,
                source: "test".into(),
                compressor_bytes: None,
                psi_some_avg10: None,
                psi_full_avg10: None,
            }),
            power: None,
        });
        n
    }

    fn fleet(nodes: Vec<NodeSnapshot>) -> FleetSnapshot {
        FleetSnapshot { nodes }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn only_critical_nodes_give_up_a_model_and_the_longest_idle_goes_first() {
        let fleet = fleet(vec![
            node("calm", MemoryPressure::Normal, &[("a:1", 1)]),
            node("warm", MemoryPressure::Warn, &[("a:1", 1)]),
            node("hot", MemoryPressure::Critical, &[("a:1", 1), ("b:1", 1), ("c:1", 1)]),
        ]);
        let idle = |_: &str, model: &str| match model {
            "a:1" => Some(MINUTE * 5),
            "b:1" => Some(MINUTE * 9),
            _ => Some(Duration::from_secs(3)),
        };
        let plan = unloads(&fleet, &ControlSnapshot::default(), MINUTE * 2, idle);
        assert_eq!(plan, [("hot".to_string(), "b:1".to_string())]);
    }

    #[test]
    fn a_model_in_recent_use_stays_and_one_never_used_here_goes_before_any_other() {
        let fleet = fleet(vec![node(
            "hot",
            MemoryPressure::Critical,
            &[("busy:1", 1), ("stranger:1", 1), ("old:1", 1)],
        )]);
        let idle = |_: &str, model: &str| match model {
            "busy:1" => Some(Duration::from_secs(1)),
            "old:1" => Some(MINUTE * 30),
            _ => None,
        };
        let plan = unloads(&fleet, &ControlSnapshot::default(), MINUTE * 2, idle);
        assert_eq!(plan, [("hot".to_string(), "stranger:1".to_string())]);

        let only_busy = self::fleet(vec![node("hot", MemoryPressure::Critical, &[("busy:1", 1)])]);
        assert!(unloads(&only_busy, &ControlSnapshot::default(), MINUTE * 2, idle).is_empty());
    }

    #[test]
    fn equally_idle_models_give_back_the_most_memory_first() {
        let fleet = fleet(vec![node(
            "hot",
            MemoryPressure::Critical,
            &[("small:1", 4 << 30), ("large:1", 40 << 30)],
        )]);
        let plan = unloads(&fleet, &ControlSnapshot::default(), MINUTE, |_, _| None);
        assert_eq!(plan, [("hot".to_string(), "large:1".to_string())]);
    }

    #[test]
    fn drained_or_unreachable_nodes_are_left_to_the_operator() {
        let mut down = node("down", MemoryPressure::Critical, &[("a:1", 1)]);
        down.health = Health::Down;
        let drained = node("drained", MemoryPressure::Critical, &[("a:1", 1)]);
        let mut control = ControlSnapshot::default();
        control.node_states.insert("drained".into(), DrainState::Drained);
        let plan = unloads(&fleet(vec![down, drained]), &control, MINUTE, |_, _| None);
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn use_is_remembered_per_node_and_model() {
        let used = ModelUse::new(["mini-01", "mini-02"]);
        let model: Arc<str> = Arc::from("llama3.1");
        used.touch("mini-01", &model);
        used.touch("elsewhere", &model);
        let later = Instant::now() + MINUTE;
        let idle = used.idle_for("mini-01", "llama3.1:latest", later).expect("used");
        assert!(idle >= MINUTE && idle < MINUTE * 2, "{idle:?}");
        assert_eq!(used.idle_for("mini-02", "llama3.1:latest", later), None);
        assert_eq!(used.idle_for("elsewhere", "llama3.1:latest", later), None);
    }

    #[test]
    fn a_relieved_node_cools_down_before_it_is_warmed_again() {
        let used = ModelUse::new(["mini-01"]);
        let now = Instant::now();
        assert!(!used.cooling("mini-01", now));
        used.relieved("mini-01");
        assert!(used.cooling("mini-01", Instant::now()));
        assert!(!used.cooling("mini-01", Instant::now() + COOL_DOWN));
        assert!(!used.cooling("elsewhere", now));
    }
}
