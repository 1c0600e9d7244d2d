//! The loop the model keepers share (warmth and relief): every period, plan `(node, model)` pairs
//! from the fleet and control views, then act on each at its node's Ollama URL.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::relief::Relieved;
use crate::config::Node;
use crate::control::ControlSnapshot;
use crate::fleet::FleetSnapshot;

/// What both keepers work from.
#[derive(Clone)]
pub struct Keeping {
    /// The client for the nodes' Ollama API.
    pub client: reqwest::Client,
    /// Every configured node.
    pub nodes: Vec<Node>,
    /// When this router last relieved each node.
    pub relieved: Relieved,
    /// Telemetry of every node.
    pub fleet: watch::Receiver<FleetSnapshot>,
    /// Node states and overrides.
    pub control: watch::Receiver<Arc<ControlSnapshot>>,
}

/// One planned action: the node's Ollama URL, the node and the model.
pub struct Planned {
    /// The node's Ollama base URL.
    pub url: String,
    /// The node's name.
    pub node: String,
    /// The model.
    pub model: String,
}

/// Runs rounds every `period` until the fleet view closes; each action runs in a task of its own,
/// so a node that does not answer never holds up the others. A pair naming an unknown node is
/// skipped.
pub fn spawn<F>(
    period: Duration,
    keeping: &Keeping,
    plan: impl Fn(&FleetSnapshot, &ControlSnapshot) -> Vec<(String, String)> + Send + 'static,
    act: impl Fn(Planned) -> F + Send + 'static,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let (nodes, fleet, control) = (keeping.nodes.clone(), keeping.fleet.clone(), keeping.control.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if fleet.has_changed().is_err() {
                return;
            }
            let planned = plan(&fleet.borrow(), &control.borrow());
            for (node, model) in planned {
                let Some(url) = nodes.iter().find(|n| n.name == node).map(|n| n.ollama_url.clone()) else {
                    continue;
                };
                tokio::spawn(act(Planned { url, node, model }));
            }
        }
    });
}
