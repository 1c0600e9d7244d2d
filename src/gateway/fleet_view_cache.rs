//! The fleet as placement sees it, built for every decision from model lists shared between
//! decisions: a node's model names are copied only when telemetry changes them.

use std::sync::{Arc, Mutex};

use super::inflight::InFlight;
use crate::control::ControlSnapshot;
use crate::fleet::{FleetSnapshot, NodeSnapshot};
use crate::router::{FleetView, ModelNames, NodeView};

/// Each node's name and model lists as last turned into a [`NodeView`].
#[derive(Default)]
pub struct FleetViewCache {
    nodes: Mutex<Vec<SharedNames>>,
}

/// A node's names, shared by every view built while they stay the same.
struct SharedNames {
    name: Arc<str>,
    installed: ModelNames,
    loaded: ModelNames,
}

impl SharedNames {
    fn of(node: &NodeSnapshot) -> Self {
        SharedNames {
            name: node.name.as_str().into(),
            installed: node.installed.iter().map(|m| m.name.clone()).collect(),
            loaded: node.loaded.iter().map(|m| m.name.clone()).collect(),
        }
    }

    /// Whether these names are still the node's (compared in place, nothing allocated).
    fn matches(&self, node: &NodeSnapshot) -> bool {
        *self.name == *node.name
            && self.installed.len() == node.installed.len()
            && self.loaded.len() == node.loaded.len()
            && self.installed.iter().zip(&node.installed).all(|(a, b)| *a == b.name)
            && self.loaded.iter().zip(&node.loaded).all(|(a, b)| *a == b.name)
    }
}

impl FleetViewCache {
    /// What placement sees now: telemetry, drain states and the router's in-flight counts.
    pub fn view(&self, snapshot: &FleetSnapshot, control: &ControlSnapshot, in_flight: &InFlight) -> FleetView {
        let mut shared = self.nodes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        shared.truncate(snapshot.nodes.len());
        let nodes = snapshot
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                match shared.get_mut(i) {
                    Some(names) if names.matches(node) => {}
                    Some(names) => *names = SharedNames::of(node),
                    None => shared.push(SharedNames::of(node)),
                }
                let names = &shared[i];
                NodeView {
                    name: names.name.clone(),
                    health: node.health,
                    drain: control.node_state(&node.name),
                    installed: names.installed.clone(),
                    loaded: names.loaded.clone(),
                    in_flight: in_flight.get(&node.name),
                    parallel: node.parallel,
                    free_memory_bytes: node.free_memory_bytes(),
                    pressure: node.pressure().unwrap_or_default(),
                }
            })
            .collect();
        FleetView { nodes }
    }
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
                })
                .collect(),
            ..NodeSnapshot::unseen(name, 2)
        }
    }

    #[test]
    fn names_are_shared_until_telemetry_changes_them() {
        let cache = FleetViewCache::default();
        let control = ControlSnapshot::default();
        let in_flight = InFlight::new(["mini-01", "mini-02"]);
        let mut snapshot = FleetSnapshot {
            nodes: vec![node("mini-01", &["a", "b"], &["a"]), node("mini-02", &["a"], &[])],
        };
        let first = cache.view(&snapshot, &control, &in_flight);
        let second = cache.view(&snapshot, &control, &in_flight);
        assert_eq!(first, second);
        assert!(Arc::ptr_eq(&first.nodes[0].installed, &second.nodes[0].installed));

        snapshot.nodes[0] = node("mini-01", &["a", "b"], &["b"]);
        snapshot.nodes.pop();
        let third = cache.view(&snapshot, &control, &in_flight);
        assert_eq!(third.nodes.len(), 1);
        assert_eq!(&*third.nodes[0].loaded, ["b".to_string()].as_slice());
        assert!(!Arc::ptr_eq(&first.nodes[0].loaded, &third.nodes[0].loaded));
    }
}
