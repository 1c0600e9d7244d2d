//! The fleet as placement sees it, built for every decision from model lists shared between
//! decisions: the fleet's model names are gathered again only when telemetry changes them, and
//! compared with the cached ones only when a new snapshot has been published since.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::inflight::InFlight;
use crate::control::ControlSnapshot;
use crate::fleet::{FleetSnapshot, NodeSnapshot};
use crate::router::{FleetView, ModelCatalog, NameOrder, NodeModels, NodeView, same_model};

/// The fleet's model names as last turned into [`NodeView`]s, and the telemetry they come from.
pub struct FleetViewCache {
    state: Mutex<State>,
}

/// The cached names and the receiver of the telemetry they match.
struct State {
    shared: Shared,
    telemetry: watch::Receiver<FleetSnapshot>,
}

/// What every view shares until telemetry changes a node's names.
#[derive(Default)]
struct Shared {
    catalog: Arc<ModelCatalog>,
    nodes: Vec<SharedNames>,
    names: NameOrder,
}

impl Shared {
    /// Whether these are still the names of `nodes` (compared in place, nothing allocated).
    fn matches(&self, nodes: &[NodeSnapshot]) -> bool {
        self.nodes.len() == nodes.len() && self.nodes.iter().zip(nodes).all(|(names, node)| names.matches(node))
    }

    /// The names of `nodes`, gathered into a new catalog.
    fn of(nodes: &[NodeSnapshot]) -> Self {
        let mut catalog = ModelCatalog::default();
        let nodes: Vec<SharedNames> = nodes
            .iter()
            .map(|node| SharedNames {
                name: node.name.as_str().into(),
                models: catalog.intern_node(
                    node.installed.iter().map(|m| m.name.as_str()),
                    node.loaded.iter().map(|m| m.name.as_str()),
                ),
            })
            .collect();
        Shared {
            catalog: Arc::new(catalog),
            names: NameOrder::of(nodes.iter().map(|n| &*n.name)),
            nodes,
        }
    }
}

/// A node's names, shared by every view built while they stay the same.
struct SharedNames {
    name: Arc<str>,
    models: NodeModels,
}

impl SharedNames {
    /// Whether these names still mean the node's models (compared in place, nothing allocated).
    fn matches(&self, node: &NodeSnapshot) -> bool {
        *self.name == *node.name
            && self.models.installed.len() == node.installed.len()
            && self.models.loaded.len() == node.loaded.len()
            && self
                .models
                .installed
                .iter()
                .zip(&node.installed)
                .all(|(a, b)| same_model(a, &b.name))
            && self
                .models
                .loaded
                .iter()
                .zip(&node.loaded)
                .all(|(a, b)| same_model(a, &b.name))
    }
}

impl FleetViewCache {
    /// A cache over `telemetry`, its names gathered from the snapshot there now.
    pub fn watching(mut telemetry: watch::Receiver<FleetSnapshot>) -> Self {
        let shared = Shared::of(&telemetry.borrow_and_update().nodes);
        FleetViewCache {
            state: Mutex::new(State { shared, telemetry }),
        }
    }

    /// What placement sees now: the cached names are compared with the snapshot's only when a new
    /// snapshot was published since the last look.
    pub fn current(&self, control: &ControlSnapshot, in_flight: &InFlight) -> FleetView {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let State { shared, telemetry } = &mut *state;
        let published = telemetry.has_changed().unwrap_or(false);
        // One borrow for the check and the view, so both see the same snapshot.
        let snapshot = if published {
            telemetry.borrow_and_update()
        } else {
            telemetry.borrow()
        };
        if published && !shared.matches(&snapshot.nodes) {
            *shared = Shared::of(&snapshot.nodes);
        }
        build(shared, &snapshot, control, in_flight)
    }
}

/// The view of `snapshot` over the names in `shared` (which match it).
fn build(shared: &Shared, snapshot: &FleetSnapshot, control: &ControlSnapshot, in_flight: &InFlight) -> FleetView {
    let nodes = snapshot
        .nodes
        .iter()
        .zip(&shared.nodes)
        .zip(&shared.names.orders)
        .map(|((node, names), name_order)| NodeView {
            name: names.name.clone(),
            health: node.health,
            drain: control.node_state(&node.name),
            installed: names.models.installed.clone(),
            loaded: names.models.loaded.clone(),
            in_flight: in_flight.get(&node.name),
            parallel: node.parallel,
            free_memory_bytes: node.free_memory_bytes(),
            pressure: node.pressure().unwrap_or_default(),
            name_order: *name_order,
            model_bits: names.models.bits,
        })
        .collect();
    FleetView::interned(nodes, shared.catalog.clone(), &shared.names)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::fleet::{InstalledModel, LoadedModel};

    fn node(name: &str, installed: &[&str], loaded: &[&str]) -> NodeSnapshot {
        NodeSnapshot {
            installed: installed
                .iter()
                .map(|m| InstalledModel {
                    name: m.to_string(),
                    size_bytes: 1,
                })
                .collect(),
            loaded: loaded
                .iter()
                .map(|m| LoadedModel {
                    name: m.to_string(),
                    size_bytes: 1,
                    expires_at: Utc::now(),
                    active_at: Utc::now(),
                })
                .collect(),
            ..NodeSnapshot::unseen(name, 2)
        }
    }

    #[test]
    fn names_are_shared_until_telemetry_publishes_new_ones() {
        let control = ControlSnapshot::default();
        let in_flight = InFlight::new(["mini-01", "mini-02"]);
        let (publish, telemetry) = watch::channel(FleetSnapshot {
            nodes: vec![node("mini-01", &["a", "b"], &["a"]), node("mini-02", &["a"], &[])],
        });
        let cache = FleetViewCache::watching(telemetry);
        let first = cache.current(&control, &in_flight);
        assert_eq!(
            first.nodes.len(),
            2,
            "the first snapshot is read though never published"
        );
        let second = cache.current(&control, &in_flight);
        assert!(Arc::ptr_eq(&first.nodes[0].installed, &second.nodes[0].installed));

        publish.send_modify(|fleet| {
            fleet.nodes[0] = node("mini-01", &["a", "b"], &["b"]);
            fleet.nodes[1].health = crate::fleet::Health::Down;
        });
        let third = cache.current(&control, &in_flight);
        assert_eq!(third.nodes[0].loaded.iter().map(|m| &**m).collect::<Vec<_>>(), ["b"]);
        assert_eq!(third.nodes[1].health, crate::fleet::Health::Down);
        assert!(!Arc::ptr_eq(&first.nodes[0].loaded, &third.nodes[0].loaded));

        publish.send_modify(|fleet| {
            fleet.nodes.pop();
        });
        assert_eq!(cache.current(&control, &in_flight).nodes.len(), 1);
    }
}
