//! Keeps the routine and sensitive models loaded on at least `router.warm_nodes` active nodes,
//! so agents rarely wait for a cold load (tens of seconds on real Ollama).

use std::time::Duration;

use super::keeper_rounds::{Keeping, Planned};
use crate::control::ControlSnapshot;
use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::{FleetSnapshot, Health, NodeSnapshot};
use crate::wire::ollama::normalize_model_name;

/// How often warmth is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(15);
/// The idle time a preloaded model is kept for (Ollama's `keep_alive`).
pub const KEEP_WARM_FOR: &str = "30m";

/// Which `(node, model)` pairs to preload so each model is warm on at least `k` eligible nodes.
/// Eligible: up, active, has the model installed. A preload is a cold load, so never on a node at
/// `critical` memory pressure nor on one `cooling` after a relief (it would load again what was
/// just given back); calmer nodes first, then most free memory, then by name.
pub fn preloads(
    fleet: &FleetSnapshot,
    control: &ControlSnapshot,
    models: &[&str],
    k: usize,
    cooling: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut plan = Vec::new();
    for model in models {
        let wanted = normalize_model_name(model);
        let eligible: Vec<_> = fleet
            .nodes
            .iter()
            .filter(|n| n.health == Health::Up && control.node_state(&n.name) == DrainState::Active)
            .filter(|n| n.has_installed(&wanted))
            .collect();
        let warm = eligible.iter().filter(|n| n.has_loaded(&wanted)).count();
        let pressure = |n: &NodeSnapshot| n.pressure().unwrap_or_default();
        let mut cold: Vec<_> = eligible
            .into_iter()
            .filter(|n| !n.has_loaded(&wanted) && pressure(n) < MemoryPressure::Critical && !cooling(&n.name))
            .collect();
        cold.sort_by(|a, b| {
            pressure(a)
                .cmp(&pressure(b))
                .then(b.free_memory_bytes().cmp(&a.free_memory_bytes()))
                .then(a.name.cmp(&b.name))
        });
        plan.extend(
            cold.into_iter()
                .take(k.saturating_sub(warm))
                .map(|n| (n.name.clone(), model.to_string())),
        );
    }
    plan
}

/// Runs the keeper until the fleet view closes.
pub fn spawn(keeping: &Keeping, models: Vec<String>, k: usize) {
    if k == 0 {
        return;
    }
    let (client, relieved) = (keeping.client.clone(), keeping.relieved.clone());
    super::keeper_rounds::spawn(
        CHECK_EVERY,
        keeping,
        move |fleet, control| {
            let wanted: Vec<&str> = models.iter().map(String::as_str).collect();
            let now = std::time::Instant::now();
            preloads(fleet, control, &wanted, k, |node| relieved.cooling(node, now))
        },
        move |planned| preload(client.clone(), planned),
    );
}

/// Loads `planned.model` on its node for [`KEEP_WARM_FOR`] and logs the outcome.
async fn preload(client: reqwest::Client, planned: Planned) {
    let Planned { url, node, model } = planned;
    let body = serde_json::json!({ "model": model, "keep_alive": KEEP_WARM_FOR });
    let sent = client
        .post(format!("{url}/api/generate"))
        .json(&body)
        .timeout(Duration::from_secs(300))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => tracing::info!(%node, %model, "preloaded to keep it warm"),
        Ok(r) => tracing::warn!(%node, %model, status = r.status().as_u16(), "preload refused"),
        Err(err) => {
            tracing::warn!(%node, %model, error = %super::upstream::describe(&err), "preload failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{InstalledModel, LoadedModel};
    use crate::wire::{AgentMetrics, PressureReading};

    fn node(name: &str, installed: &[&str], loaded: &[&str], free_gb: u64) -> NodeSnapshot {
        let mut n = NodeSnapshot::unseen(name, 1);
        n.health = Health::Up;
        n.installed = installed
            .iter()
            .map(|m| InstalledModel {
                name: m.to_string(),
                size_bytes: 1,
            })
            .collect();
        n.loaded = loaded
            .iter()
            .map(|m| LoadedModel {
                name: m.to_string(),
                size_bytes: 1,
                expires_at: chrono::Utc::now(),
                active_at: chrono::Utc::now(),
            })
            .collect();
        n.metrics = Some(AgentMetrics::idle(name, 64 << 30, free_gb << 30));
        n
    }

    #[test]
    fn tops_up_to_k_on_the_roomiest_eligible_nodes() {
        let fleet = FleetSnapshot {
            nodes: vec![
                node("mini-01", &["llama3.1:8b"], &["llama3.1:8b"], 10),
                node("mini-02", &["llama3.1:8b"], &[], 5),
                node("mini-03", &["llama3.1:8b"], &[], 30),
                node("mini-04", &[], &[], 60),
            ],
        };
        let control = ControlSnapshot::default();
        assert_eq!(
            preloads(&fleet, &control, &["llama3.1:8b"], 2, |_| false),
            vec![("mini-03".to_string(), "llama3.1:8b".to_string())]
        );
        assert_eq!(preloads(&fleet, &control, &["llama3.1:8b"], 1, |_| false), vec![]);
    }

    #[test]
    fn preloads_on_calm_nodes_first_and_never_on_critical_or_cooling_ones() {
        let under = |level: MemoryPressure, name: &str, free_gb: u64| {
            let mut n = node(name, &["llama3.1:8b"], &[], free_gb);
            if let Some(metrics) = n.metrics.as_mut() {
                metrics.pressure = Some(PressureReading {
                    level,
                    source: "sim".into(),
                    compressor_bytes: None,
                    psi_some_avg10: None,
                    psi_full_avg10: None,
                });
            }
            n
        };
        let fleet = FleetSnapshot {
            nodes: vec![
                under(MemoryPressure::Critical, "mini-01", 60),
                under(MemoryPressure::Warn, "mini-02", 50),
                under(MemoryPressure::Normal, "mini-03", 5),
            ],
        };
        let picked: Vec<String> = preloads(&fleet, &ControlSnapshot::default(), &["llama3.1:8b"], 3, |_| false)
            .into_iter()
            .map(|(node, _)| node)
            .collect();
        assert_eq!(picked, ["mini-03", "mini-02"]);

        let cooling = |node: &str| node == "mini-03";
        let picked: Vec<String> = preloads(&fleet, &ControlSnapshot::default(), &["llama3.1:8b"], 3, cooling)
            .into_iter()
            .map(|(node, _)| node)
            .collect();
        assert_eq!(
            picked,
            ["mini-02"],
            "a node cooling down after a relief is not warmed again"
        );
    }

    #[test]
    fn skips_drained_and_unhealthy_nodes() {
        let mut down = node("mini-02", &["qwen3:14b"], &[], 50);
        down.health = Health::Down;
        let fleet = FleetSnapshot {
            nodes: vec![
                node("mini-01", &["qwen3:14b"], &[], 40),
                down,
                node("mini-03", &["qwen3:14b"], &[], 30),
            ],
        };
        let mut control = ControlSnapshot::default();
        control.node_states.insert("mini-01".into(), DrainState::Draining);
        assert_eq!(
            preloads(&fleet, &control, &["qwen3:14b"], 3, |_| false),
            vec![("mini-03".to_string(), "qwen3:14b".to_string())]
        );
    }
}
