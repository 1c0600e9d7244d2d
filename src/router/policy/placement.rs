//! Placement: which local nodes may take a request for a model, best first.

use std::cmp::Ordering;

use super::fleet_view::{FleetView, NodeView};
use super::overrides::Overrides;
use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::Health;

/// A node that may take the request, with what ranking needs precomputed.
struct Candidate<'f> {
    node: &'f NodeView,
    loaded: bool,
}

/// Nodes eligible for `model`, best first: up (degraded only when none is up), active, not
/// excluded, model installed, and not at `critical` memory pressure unless the model is already
/// loaded there (a cold load would swap models out). Ranked by memory pressure (a node at `warn`
/// after its calmer peers), then model already loaded, then fewest in-flight requests per
/// parallel slot, then most free memory, then name. Each node name appears once.
pub(crate) fn rank<'f>(fleet: &'f FleetView, model: &str, overrides: &Overrides) -> Vec<&'f NodeView> {
    let mut candidates: Vec<Candidate<'f>> = fleet
        .nodes
        .iter()
        .filter(|n| {
            n.health != Health::Down
                && n.drain == DrainState::Active
                && !overrides.is_excluded(&n.name)
                && n.has_installed(model)
                && (n.pressure < MemoryPressure::Critical || n.has_loaded(model))
        })
        .map(|node| Candidate {
            node,
            loaded: node.has_loaded(model),
        })
        .collect();
    if candidates.iter().any(|c| c.node.health == Health::Up) {
        candidates.retain(|c| c.node.health == Health::Up);
    }
    candidates.sort_unstable_by(better_first);
    // Collecting in place reuses the candidates' allocation.
    let mut ranked: Vec<&NodeView> = candidates.into_iter().map(|c| c.node).collect();
    if ranked.len() <= SMALL_FLEET {
        let mut kept = 0;
        for i in 0..ranked.len() {
            let node = ranked[i];
            if !ranked[..kept].iter().any(|k| k.name == node.name) {
                ranked[kept] = node;
                kept += 1;
            }
        }
        ranked.truncate(kept);
    } else {
        // A stable sort of the ranks by name puts a name's copies together, best rank first.
        let mut by_name: Vec<usize> = (0..ranked.len()).collect();
        by_name.sort_by(|&a, &b| ranked[a].name.cmp(&ranked[b].name));
        let mut keep = vec![true; ranked.len()];
        for pair in by_name.windows(2) {
            if ranked[pair[0]].name == ranked[pair[1]].name {
                keep[pair[1]] = false;
            }
        }
        let mut index = 0;
        ranked.retain(|_| {
            index += 1;
            keep[index - 1]
        });
    }
    ranked
}

/// Up to this many candidates, duplicates are found by comparing each with those kept (no allocation).
const SMALL_FLEET: usize = 16;

fn better_first(a: &Candidate<'_>, b: &Candidate<'_>) -> Ordering {
    // in_flight / parallel compared without division: a.f * b.p vs b.f * a.p.
    let load =
        |c: &Candidate<'_>, other: &Candidate<'_>| u64::from(c.node.in_flight) * u64::from(other.node.parallel.max(1));
    a.node
        .pressure
        .cmp(&b.node.pressure)
        .then_with(|| b.loaded.cmp(&a.loaded))
        .then_with(|| load(a, b).cmp(&load(b, a)))
        .then_with(|| b.node.free_memory_bytes.cmp(&a.node.free_memory_bytes))
        .then_with(|| a.node.name.cmp(&b.node.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "qwen3:14b";

    fn node(name: &str) -> NodeView {
        NodeView {
            name: name.into(),
            health: Health::Up,
            installed: [MODEL.to_string()].into(),
            parallel: 1,
            free_memory_bytes: 8 << 30,
            ..NodeView::default()
        }
    }

    fn names(fleet: &FleetView, overrides: &Overrides) -> Vec<String> {
        rank(fleet, MODEL, overrides)
            .iter()
            .map(|n| n.name.to_string())
            .collect()
    }

    #[test]
    fn skips_ineligible_nodes() {
        let (overrides, _) = Overrides::from_rows(&[("node.mini-04.excluded".into(), "true".into())], 1);
        let fleet = FleetView {
            nodes: vec![
                NodeView {
                    health: Health::Down,
                    ..node("mini-01")
                },
                NodeView {
                    drain: DrainState::Draining,
                    ..node("mini-02")
                },
                NodeView {
                    installed: ["llama3.1:8b".to_string()].into(),
                    ..node("mini-03")
                },
                node("mini-04"),
                NodeView {
                    drain: DrainState::Drained,
                    ..node("mini-05")
                },
                node("mini-06"),
            ],
        };
        assert_eq!(names(&fleet, &overrides), ["mini-06"]);
    }

    #[test]
    fn degraded_nodes_only_when_none_is_up() {
        let degraded = NodeView {
            health: Health::Degraded,
            ..node("mini-01")
        };
        let fleet = FleetView {
            nodes: vec![degraded.clone(), node("mini-02")],
        };
        assert_eq!(names(&fleet, &Overrides::none(1)), ["mini-02"]);
        let fleet = FleetView {
            nodes: vec![
                degraded,
                NodeView {
                    health: Health::Down,
                    ..node("mini-02")
                },
            ],
        };
        assert_eq!(names(&fleet, &Overrides::none(1)), ["mini-01"]);
    }

    #[test]
    fn ranks_loaded_then_load_then_memory_then_name() {
        let fleet = FleetView {
            nodes: vec![
                NodeView {
                    in_flight: 1,
                    parallel: 4,
                    ..node("mini-05")
                },
                NodeView {
                    in_flight: 1,
                    parallel: 2,
                    ..node("mini-04")
                },
                NodeView {
                    free_memory_bytes: 16 << 30,
                    ..node("mini-03")
                },
                node("mini-02"),
                node("mini-01"),
                NodeView {
                    loaded: [MODEL.to_string()].into(),
                    in_flight: 3,
                    ..node("mini-06")
                },
            ],
        };
        assert_eq!(
            names(&fleet, &Overrides::none(1)),
            ["mini-06", "mini-03", "mini-01", "mini-02", "mini-05", "mini-04"]
        );
    }

    #[test]
    fn pressure_sends_work_to_calmer_nodes_and_keeps_cold_loads_off_critical_ones() {
        let loaded = |view: NodeView| NodeView {
            loaded: [MODEL.to_string()].into(),
            ..view
        };
        let fleet = FleetView {
            nodes: vec![
                NodeView {
                    pressure: MemoryPressure::Critical,
                    ..node("mini-01")
                },
                loaded(NodeView {
                    pressure: MemoryPressure::Critical,
                    ..node("mini-02")
                }),
                loaded(NodeView {
                    pressure: MemoryPressure::Warn,
                    ..node("mini-03")
                }),
                node("mini-04"),
            ],
        };
        let none = Overrides::none(1);
        assert_eq!(names(&fleet, &none), ["mini-04", "mini-03", "mini-02"]);
    }

    #[test]
    fn a_name_listed_twice_in_a_large_fleet_is_placed_once_at_its_best_rank() {
        let mut nodes: Vec<NodeView> = (1..=40).map(|i| node(&format!("mini-{i:02}"))).collect();
        nodes.push(NodeView {
            in_flight: 0,
            loaded: [MODEL.to_string()].into(),
            ..node("mini-07")
        });
        let fleet = FleetView { nodes };
        let ranked = names(&fleet, &Overrides::none(1));
        assert_eq!(ranked.len(), 40);
        assert_eq!(ranked[0], "mini-07", "the loaded copy ranks first and is the one kept");
    }

    #[test]
    fn a_name_listed_twice_is_placed_once() {
        let fleet = FleetView {
            nodes: vec![node("mini-01"), node("mini-01")],
        };
        assert_eq!(names(&fleet, &Overrides::none(1)), ["mini-01"]);
    }
}
