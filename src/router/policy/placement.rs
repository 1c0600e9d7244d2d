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

/// The most local nodes one plan tries: a request that failed on this many nodes goes to its
/// fallback (the frontier, or an error) rather than walking a 200-node farm one timeout at a time.
pub const MAX_PLACED: usize = 8;

/// Nodes eligible for `model`, best first, at most [`MAX_PLACED`]: up (degraded only when none
/// is up), active, not excluded, model installed, and not at `critical` memory pressure unless
/// the model is already loaded there (a cold load would swap models out). Ranked by memory
/// pressure (a node at `warn` after its calmer peers), then model already loaded, then fewest
/// in-flight requests per parallel slot, then most free memory, then name. Each node name
/// appears once. The best few are picked by partial selection, so a large farm costs a pass
/// over its nodes, not a sort of them.
pub(crate) fn rank<'f>(fleet: &'f FleetView, model: &str, overrides: &Overrides) -> Vec<&'f NodeView> {
    let mut candidates = eligible(fleet, model, overrides);
    let mut look = MAX_PLACED.min(candidates.len());
    loop {
        if candidates.len() > look {
            candidates.select_nth_unstable_by(look - 1, better_first);
        }
        let head = &mut candidates[..look];
        head.sort_unstable_by(better_first);
        let mut ranked: Vec<&NodeView> = Vec::with_capacity(look);
        for candidate in head.iter() {
            if ranked.len() < MAX_PLACED && !ranked.iter().any(|kept| kept.name == candidate.node.name) {
                ranked.push(candidate.node);
            }
        }
        // A name listed twice took two places: look further down for the rest.
        if ranked.len() == MAX_PLACED || look == candidates.len() {
            return ranked;
        }
        look = (look * 2).min(candidates.len());
    }
}

/// How many nodes may take `model` now (see [`rank`] for the rules), uncapped.
pub(crate) fn eligible_count(fleet: &FleetView, model: &str, overrides: &Overrides) -> usize {
    eligible(fleet, model, overrides).len()
}

/// The nodes that may take `model`, unordered: the up ones, or the degraded ones when none is up.
fn eligible<'f>(fleet: &'f FleetView, model: &str, overrides: &Overrides) -> Vec<Candidate<'f>> {
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
    candidates
}

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
        assert_eq!(ranked.len(), MAX_PLACED, "the plan is capped");
        assert_eq!(ranked[0], "mini-07", "the loaded copy ranks first and is the one kept");
        assert_eq!(ranked.iter().filter(|n| *n == "mini-07").count(), 1);
        assert_eq!(eligible_count(&fleet, MODEL, &Overrides::none(1)), 41);
    }

    #[test]
    fn a_large_farm_places_its_best_few_in_the_order_a_full_sort_gives() {
        let nodes: Vec<NodeView> = (1..=200)
            .map(|i| NodeView {
                in_flight: (i * 7 % 5) as u32,
                free_memory_bytes: ((i * 13 % 17) as u64) << 30,
                pressure: if i % 11 == 0 {
                    MemoryPressure::Warn
                } else {
                    MemoryPressure::Normal
                },
                ..node(&format!("mini-{i:03}"))
            })
            .collect();
        let fleet = FleetView { nodes };
        let mut all: Vec<Candidate<'_>> = eligible(&fleet, MODEL, &Overrides::none(1));
        all.sort_unstable_by(better_first);
        let expected: Vec<String> = all.iter().take(MAX_PLACED).map(|c| c.node.name.to_string()).collect();
        assert_eq!(names(&fleet, &Overrides::none(1)), expected);
    }

    #[test]
    fn a_name_listed_twice_is_placed_once() {
        let fleet = FleetView {
            nodes: vec![node("mini-01"), node("mini-01")],
        };
        assert_eq!(names(&fleet, &Overrides::none(1)), ["mini-01"]);
    }
}
