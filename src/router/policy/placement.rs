//! Placement: which local nodes may take a request for a model, best first.

use std::cmp::Ordering;

use super::fleet_view::{FleetView, ModelName, NodeView};
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
/// appears once, at its best rank. One pass over the nodes keeps the best few as it goes, so a
/// large farm costs about one comparison per eligible node, not a sort of them.
pub(crate) fn rank<'f>(fleet: &'f FleetView, model: &str, overrides: &Overrides) -> Vec<&'f NodeView> {
    placed(fleet, model, overrides).nodes
}

/// The nodes a plan tries for a model, and how many were eligible in all.
pub(crate) struct Placed<'f> {
    /// The best eligible nodes, best first, at most [`MAX_PLACED`].
    pub nodes: Vec<&'f NodeView>,
    /// How many nodes may take the model now (see [`rank`] for the rules), uncapped.
    pub eligible: usize,
}

/// [`rank`] with the uncapped count of eligible nodes, from the same pass.
pub(crate) fn placed<'f>(fleet: &'f FleetView, model: &str, overrides: &Overrides) -> Placed<'f> {
    let best = podium(fleet, model, overrides);
    Placed {
        nodes: best.kept.iter().map(|c| c.node).collect(),
        eligible: best.offered,
    }
}

/// The best few of the up candidates, or of the degraded ones when no node is up.
fn podium<'f>(fleet: &'f FleetView, model: &str, overrides: &Overrides) -> Podium<'f> {
    let twins = !fleet.unique_names();
    let mut up = Podium::new(twins);
    let mut degraded = Podium::new(twins);
    // The fleet's one copy of the name: each node's lists are then searched by address.
    let Some(model) = fleet.model(model) else {
        return up;
    };
    for candidate in fleet.nodes.iter().filter_map(|node| candidate(node, &model, overrides)) {
        if candidate.node.health == Health::Up {
            up.offer(candidate);
        } else {
            degraded.offer(candidate);
        }
    }
    if up.offered > 0 { up } else { degraded }
}

/// `node` as a candidate for `model`, when it may take it; whether a degraded one counts is the
/// caller's choice.
fn candidate<'f>(node: &'f NodeView, model: &ModelName, overrides: &Overrides) -> Option<Candidate<'f>> {
    if node.health == Health::Down || node.drain != DrainState::Active || !node.holds(model) {
        return None;
    }
    let loaded = node.runs(model);
    if (node.pressure == MemoryPressure::Critical && !loaded) || overrides.is_excluded(&node.name) {
        return None;
    }
    Some(Candidate { node, loaded })
}

/// The best candidates offered so far, best first, one per node name, at most [`MAX_PLACED`].
struct Podium<'f> {
    kept: Vec<Candidate<'f>>,
    /// Every candidate offered, kept or not.
    offered: usize,
    /// Whether a node name may be offered twice (then only its best copy is kept).
    twins: bool,
}

impl<'f> Podium<'f> {
    fn new(twins: bool) -> Self {
        Podium {
            kept: Vec::new(),
            offered: 0,
            twins,
        }
    }

    fn offer(&mut self, candidate: Candidate<'f>) {
        self.offered += 1;
        // Most candidates of a large farm stop here, after one comparison.
        if self.kept.len() == MAX_PLACED
            && self
                .kept
                .last()
                .is_some_and(|worst| better_first(&candidate, worst).is_ge())
        {
            return;
        }
        let twin = || {
            self.kept
                .iter()
                .position(|k| k.node.name_order == candidate.node.name_order)
        };
        if let Some(twin) = self.twins.then(twin).flatten() {
            if better_first(&candidate, &self.kept[twin]).is_ge() {
                return;
            }
            self.kept.remove(twin);
        }
        let at = self.kept.partition_point(|k| better_first(k, &candidate).is_lt());
        if self.kept.capacity() == 0 {
            self.kept.reserve_exact(MAX_PLACED + 1);
        }
        self.kept.insert(at, candidate);
        self.kept.truncate(MAX_PLACED);
    }
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
        .then_with(|| a.node.name_order.cmp(&b.node.name_order))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "qwen3:14b";

    fn node(name: &str) -> NodeView {
        NodeView {
            name: name.into(),
            health: Health::Up,
            installed: [ModelName::from(MODEL)].into(),
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
        let fleet = FleetView::new(vec![
            NodeView {
                health: Health::Down,
                ..node("mini-01")
            },
            NodeView {
                drain: DrainState::Draining,
                ..node("mini-02")
            },
            NodeView {
                installed: [ModelName::from("llama3.1:8b")].into(),
                ..node("mini-03")
            },
            node("mini-04"),
            NodeView {
                drain: DrainState::Drained,
                ..node("mini-05")
            },
            node("mini-06"),
        ]);
        assert_eq!(names(&fleet, &overrides), ["mini-06"]);
    }

    #[test]
    fn degraded_nodes_only_when_none_is_up() {
        let degraded = NodeView {
            health: Health::Degraded,
            ..node("mini-01")
        };
        let fleet = FleetView::new(vec![degraded.clone(), node("mini-02")]);
        assert_eq!(names(&fleet, &Overrides::none(1)), ["mini-02"]);
        let fleet = FleetView::new(vec![
            degraded,
            NodeView {
                health: Health::Down,
                ..node("mini-02")
            },
        ]);
        assert_eq!(names(&fleet, &Overrides::none(1)), ["mini-01"]);
    }

    #[test]
    fn ranks_loaded_then_load_then_memory_then_name() {
        let fleet = FleetView::new(vec![
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
                loaded: [ModelName::from(MODEL)].into(),
                in_flight: 3,
                ..node("mini-06")
            },
        ]);
        assert_eq!(
            names(&fleet, &Overrides::none(1)),
            ["mini-06", "mini-03", "mini-01", "mini-02", "mini-05", "mini-04"]
        );
    }

    #[test]
    fn pressure_sends_work_to_calmer_nodes_and_keeps_cold_loads_off_critical_ones() {
        let loaded = |view: NodeView| NodeView {
            loaded: [ModelName::from(MODEL)].into(),
            ..view
        };
        let fleet = FleetView::new(vec![
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
        ]);
        let none = Overrides::none(1);
        assert_eq!(names(&fleet, &none), ["mini-04", "mini-03", "mini-02"]);
    }

    #[test]
    fn a_name_listed_twice_in_a_large_fleet_is_placed_once_at_its_best_rank() {
        let mut nodes: Vec<NodeView> = (1..=40).map(|i| node(&format!("mini-{i:02}"))).collect();
        nodes.push(NodeView {
            in_flight: 0,
            loaded: [ModelName::from(MODEL)].into(),
            ..node("mini-07")
        });
        let fleet = FleetView::new(nodes);
        let ranked = names(&fleet, &Overrides::none(1));
        assert_eq!(ranked.len(), MAX_PLACED, "the plan is capped");
        assert_eq!(ranked[0], "mini-07", "the loaded copy ranks first and is the one kept");
        assert_eq!(ranked.iter().filter(|n| *n == "mini-07").count(), 1);
        assert_eq!(placed(&fleet, MODEL, &Overrides::none(1)).eligible, 41);
    }

    /// What placement must give, the slow way: every candidate sorted, each name's best copy
    /// kept, the first few taken.
    fn placed_by_full_sort(fleet: &FleetView) -> Vec<String> {
        let model = fleet.model(MODEL).expect("installed");
        let mut all: Vec<Candidate<'_>> = fleet
            .nodes
            .iter()
            .filter_map(|n| candidate(n, &model, &Overrides::none(1)))
            .collect();
        all.sort_by(better_first);
        let mut placed: Vec<String> = Vec::new();
        for c in &all {
            if placed.len() < MAX_PLACED && !placed.iter().any(|n| **n == *c.node.name) {
                placed.push(c.node.name.to_string());
            }
        }
        placed
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
        let fleet = FleetView::new(nodes);
        assert_eq!(names(&fleet, &Overrides::none(1)), placed_by_full_sort(&fleet));
    }

    #[test]
    fn names_listed_many_times_keep_their_best_copy_as_a_full_sort_would() {
        let nodes: Vec<NodeView> = (1..=90)
            .map(|i| NodeView {
                in_flight: (i * 5 % 7) as u32,
                free_memory_bytes: ((i * 11 % 13) as u64) << 30,
                loaded: if i % 9 == 0 {
                    [ModelName::from(MODEL)].into()
                } else {
                    NodeView::default().loaded
                },
                ..node(&format!("mini-{:02}", i % 17))
            })
            .collect();
        let fleet = FleetView::new(nodes);
        assert_eq!(names(&fleet, &Overrides::none(1)), placed_by_full_sort(&fleet));
    }

    #[test]
    fn a_name_listed_twice_is_placed_once() {
        let fleet = FleetView::new(vec![node("mini-01"), node("mini-01")]);
        assert_eq!(names(&fleet, &Overrides::none(1)), ["mini-01"]);
    }
}
