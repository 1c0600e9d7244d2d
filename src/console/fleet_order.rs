//! How the Fleet view lists its nodes, so that 200 of them stay readable: narrowed by the `/`
//! filter, sorted by a column (`o` cycles it, `O` reverses), and grouped by state with the
//! problems first (`g`). Pure: the view and the key handling share it.

use std::cmp::Ordering;

use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::Health;

/// The column the Fleet view sorts by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeSort {
    /// By name.
    #[default]
    Name,
    /// Down first, then degraded, draining, drained and up.
    State,
    /// Critical memory pressure first.
    Pressure,
    /// Fullest memory first.
    Memory,
    /// Busiest (in flight against parallel slots) first.
    Load,
    /// Most tokens per second first.
    TokensPerSec,
}

impl NodeSort {
    /// How the view names it.
    pub fn label(self) -> &'static str {
        match self {
            NodeSort::Name => "name",
            NodeSort::State => "state",
            NodeSort::Pressure => "pressure",
            NodeSort::Memory => "memory",
            NodeSort::Load => "load",
            NodeSort::TokensPerSec => "tok/s",
        }
    }

    /// The next column, wrapping around.
    pub fn next(self) -> NodeSort {
        match self {
            NodeSort::Name => NodeSort::State,
            NodeSort::State => NodeSort::Pressure,
            NodeSort::Pressure => NodeSort::Memory,
            NodeSort::Memory => NodeSort::Load,
            NodeSort::Load => NodeSort::TokensPerSec,
            NodeSort::TokensPerSec => NodeSort::Name,
        }
    }
}

/// The state a node is grouped under: problems first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeGroup {
    /// Ollama does not answer.
    Down,
    /// Answers partly.
    Degraded,
    /// Finishing its work before maintenance.
    Draining,
    /// Takes no work.
    Drained,
    /// Serving.
    Up,
}

impl NodeGroup {
    /// The group of a node with this health and drain state (drains show first while it is up).
    pub fn of(health: Health, drain: DrainState) -> NodeGroup {
        match (health, drain) {
            (Health::Down, _) => NodeGroup::Down,
            (Health::Degraded, _) => NodeGroup::Degraded,
            (Health::Up, DrainState::Draining) => NodeGroup::Draining,
            (Health::Up, DrainState::Drained) => NodeGroup::Drained,
            (Health::Up, DrainState::Active) => NodeGroup::Up,
        }
    }

    /// How the group header names it.
    pub fn label(self) -> &'static str {
        match self {
            NodeGroup::Down => "down",
            NodeGroup::Degraded => "degraded",
            NodeGroup::Draining => "draining",
            NodeGroup::Drained => "drained",
            NodeGroup::Up => "up",
        }
    }
}

/// What ordering needs to know of one node, borrowed from the console's state.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFacts<'a> {
    /// The node's name.
    pub name: &'a str,
    /// Its state group.
    pub group: NodeGroup,
    /// Its memory pressure, when it reports one.
    pub pressure: Option<MemoryPressure>,
    /// Used share of its memory, when it reports it.
    pub memory: Option<f64>,
    /// Requests in flight against its parallel slots.
    pub load: f64,
    /// Tokens per second over the last seconds.
    pub tokens_per_sec: f64,
    /// The words `/` matches besides the name: its loaded models, state and pressure (only
    /// gathered while a filter is set).
    pub words: Vec<&'a str>,
}

/// The Fleet view's filter, sort and grouping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetOrder {
    /// The column sorted by.
    pub sort: NodeSort,
    /// Reversed.
    pub reversed: bool,
    /// Grouped by state, problems first.
    pub grouped: bool,
    /// Only nodes whose name, loaded models, state or pressure contain this (any case).
    pub filter: String,
}

impl FleetOrder {
    /// The listed nodes, as indexes into `facts`, in display order.
    pub fn arrange(&self, facts: &[NodeFacts<'_>]) -> Vec<usize> {
        let needle = self.filter.to_lowercase();
        let mut listed: Vec<usize> = (0..facts.len())
            .filter(|&i| needle.is_empty() || matches(&facts[i], &needle))
            .collect();
        listed.sort_by(|&a, &b| {
            let (a, b) = (&facts[a], &facts[b]);
            let group = if self.grouped {
                a.group.cmp(&b.group)
            } else {
                Ordering::Equal
            };
            let column = self.compare(a, b);
            let column = if self.reversed { column.reverse() } else { column };
            group.then(column).then_with(|| a.name.cmp(b.name))
        });
        listed
    }

    /// The sort column's order: the most telling first (busiest, fullest, worst).
    fn compare(&self, a: &NodeFacts<'_>, b: &NodeFacts<'_>) -> Ordering {
        let descending = |x: f64, y: f64| y.total_cmp(&x);
        match self.sort {
            NodeSort::Name => a.name.cmp(b.name),
            NodeSort::State => a.group.cmp(&b.group),
            NodeSort::Pressure => pressure_rank(b.pressure).cmp(&pressure_rank(a.pressure)),
            NodeSort::Memory => descending(a.memory.unwrap_or(-1.0), b.memory.unwrap_or(-1.0)),
            NodeSort::Load => descending(a.load, b.load),
            NodeSort::TokensPerSec => descending(a.tokens_per_sec, b.tokens_per_sec),
        }
    }
}

/// Critical above warn above normal above none reported.
fn pressure_rank(pressure: Option<MemoryPressure>) -> u8 {
    match pressure {
        None => 0,
        Some(MemoryPressure::Normal) => 1,
        Some(MemoryPressure::Warn) => 2,
        Some(MemoryPressure::Critical) => 3,
    }
}

fn matches(facts: &NodeFacts<'_>, needle: &str) -> bool {
    facts.name.to_lowercase().contains(needle) || facts.words.iter().any(|w| w.to_lowercase().contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(
        name: &'static str,
        group: NodeGroup,
        pressure: Option<MemoryPressure>,
        load: f64,
        tps: f64,
    ) -> NodeFacts<'static> {
        NodeFacts {
            name,
            group,
            pressure,
            memory: Some(load / 2.0),
            load,
            tokens_per_sec: tps,
            words: vec!["llama3.1:8b"],
        }
    }

    fn names(facts: &[NodeFacts<'_>], order: &FleetOrder) -> Vec<String> {
        order
            .arrange(facts)
            .into_iter()
            .map(|i| facts[i].name.to_string())
            .collect()
    }

    fn farm() -> Vec<NodeFacts<'static>> {
        vec![
            node("mini-03", NodeGroup::Up, Some(MemoryPressure::Warn), 0.5, 40.0),
            node("mini-01", NodeGroup::Down, None, 0.0, 0.0),
            node("mini-02", NodeGroup::Up, Some(MemoryPressure::Critical), 1.0, 10.0),
            node("mini-04", NodeGroup::Drained, Some(MemoryPressure::Normal), 0.0, 0.0),
        ]
    }

    #[test]
    fn every_column_sorts_the_most_telling_first_and_o_reverses() {
        let farm = farm();
        let mut order = FleetOrder::default();
        assert_eq!(names(&farm, &order), ["mini-01", "mini-02", "mini-03", "mini-04"]);
        order.sort = NodeSort::State;
        assert_eq!(names(&farm, &order), ["mini-01", "mini-04", "mini-02", "mini-03"]);
        order.sort = NodeSort::Pressure;
        assert_eq!(names(&farm, &order), ["mini-02", "mini-03", "mini-04", "mini-01"]);
        order.sort = NodeSort::Load;
        assert_eq!(names(&farm, &order), ["mini-02", "mini-03", "mini-01", "mini-04"]);
        order.sort = NodeSort::TokensPerSec;
        assert_eq!(names(&farm, &order), ["mini-03", "mini-02", "mini-01", "mini-04"]);
        order.reversed = true;
        assert_eq!(names(&farm, &order), ["mini-01", "mini-04", "mini-02", "mini-03"]);
        let mut sort = NodeSort::Name;
        for _ in 0..6 {
            sort = sort.next();
        }
        assert_eq!(sort, NodeSort::Name, "o comes back round");
    }

    #[test]
    fn grouping_puts_problems_first_and_sorts_within_each_group() {
        let farm = farm();
        let order = FleetOrder {
            sort: NodeSort::TokensPerSec,
            grouped: true,
            ..FleetOrder::default()
        };
        assert_eq!(names(&farm, &order), ["mini-01", "mini-04", "mini-03", "mini-02"]);
    }

    #[test]
    fn the_filter_matches_names_models_and_states_in_any_case() {
        let mut farm = farm();
        farm[3].words.push("drained");
        let order = |filter: &str| FleetOrder {
            filter: filter.into(),
            ..FleetOrder::default()
        };
        assert_eq!(names(&farm, &order("MINI-0")).len(), 4);
        assert_eq!(names(&farm, &order("02")), ["mini-02"]);
        assert_eq!(names(&farm, &order("drained")), ["mini-04"]);
        assert_eq!(names(&farm, &order("LLAMA")).len(), 4);
        assert!(names(&farm, &order("qwen")).is_empty());
    }
}
