//! Everything the console shows, as plain data. Sources write it through [`super::update`];
//! views only read it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::theme::Theme;
use crate::control::ControlSnapshot;
use crate::domain::StoredDecision;
use crate::fleet::FleetSnapshot;
use crate::store::{AuditRow, SpendSummary};

/// Decisions kept in memory by default.
pub const DECISION_CAPACITY: usize = 10_000;

/// The console's views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// Nodes: health, memory, loaded models.
    #[default]
    Fleet,
    /// The live decision stream.
    Decisions,
    /// Frontier spend against local volume.
    Spend,
    /// Policy version and overrides.
    Policy,
}

impl View {
    /// Every view in tab order.
    pub const ALL: [View; 4] = [View::Fleet, View::Decisions, View::Spend, View::Policy];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Fleet => "Fleet",
            View::Decisions => "Decisions",
            View::Spend => "Spend",
            View::Policy => "Policy",
        }
    }

    /// The view after this one, wrapping around.
    pub fn next(self) -> View {
        let index = View::ALL.iter().position(|v| *v == self).unwrap_or(0);
        View::ALL[(index + 1) % View::ALL.len()]
    }
}

/// What keys currently do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Keys are actions.
    #[default]
    Normal,
    /// Keys edit the filter text.
    Filter,
    /// The help overlay is open.
    Help,
}

/// The store connection as the decision tail last saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum StoreStatus {
    /// Not read yet.
    #[default]
    Connecting,
    /// The last read worked.
    Connected,
    /// The last read failed; the next attempt is at `retry_at`.
    Reconnecting {
        /// When the tail tries again.
        retry_at: DateTime<Utc>,
        /// The error, short.
        error: String,
    },
}

/// Spend over the windows the console shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendWindows {
    /// Since UTC midnight.
    pub today: SpendSummary,
    /// The last 24 hours.
    pub day: SpendSummary,
    /// The last 7 days.
    pub week: SpendSummary,
}

/// The newest decisions, oldest first, never more than its capacity.
#[derive(Debug, Clone)]
pub struct DecisionRing {
    rows: VecDeque<StoredDecision>,
    capacity: usize,
    dropped: u64,
}

impl DecisionRing {
    /// An empty ring holding at most `capacity` decisions (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        DecisionRing {
            rows: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            dropped: 0,
        }
    }

    /// Appends decisions newer than the newest held; drops the oldest beyond capacity.
    pub fn extend(&mut self, decisions: impl IntoIterator<Item = StoredDecision>) {
        for decision in decisions {
            if self.rows.back().is_some_and(|last| decision.id <= last.id) {
                continue;
            }
            if self.rows.len() == self.capacity {
                self.rows.pop_front();
                self.dropped += 1;
            }
            self.rows.push_back(decision);
        }
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &StoredDecision> {
        self.rows.iter()
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when none are held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How many were dropped to stay within capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The id of the newest decision held.
    pub fn newest_id(&self) -> Option<i64> {
        self.rows.back().map(|d| d.id)
    }
}

/// The console's whole state.
#[derive(Debug, Clone)]
pub struct State {
    /// The time shown in the header and used for ages (set by ticks; fixed in tests).
    pub now: DateTime<Utc>,
    /// The fleet's telemetry.
    pub fleet: FleetSnapshot,
    /// Node states and overrides.
    pub control: Arc<ControlSnapshot>,
    /// Recent decisions.
    pub decisions: DecisionRing,
    /// Spend figures, once read.
    pub spend: Option<SpendWindows>,
    /// The newest audited operator actions, newest first.
    pub audit: Vec<AuditRow>,
    /// The daily frontier budget in USD (0: none).
    pub budget_usd: f64,
    /// The store connection.
    pub store: StoreStatus,
    /// The store, as shown (password redacted).
    pub store_label: String,
    /// Requests in flight per node, when an in-process router reports them.
    pub in_flight: Option<HashMap<String, u32>>,
    /// When set, the decision stream is frozen at this id.
    pub paused_at: Option<i64>,
    /// The current view.
    pub view: View,
    /// What keys do now.
    pub mode: Mode,
    /// Selected node row.
    pub fleet_row: usize,
    /// Selected decision row, counted from the newest shown.
    pub decision_row: usize,
    /// Decision filter: a substring of class, agent, endpoint or node.
    pub filter: String,
    /// Whether this console may change anything.
    pub read_only: bool,
    /// Colours.
    pub theme: Theme,
}

impl State {
    /// A console with nothing read yet.
    pub fn new(now: DateTime<Utc>, theme: Theme) -> Self {
        State {
            now,
            fleet: FleetSnapshot::default(),
            control: Arc::new(ControlSnapshot::default()),
            decisions: DecisionRing::new(DECISION_CAPACITY),
            spend: None,
            audit: Vec::new(),
            budget_usd: 0.0,
            store: StoreStatus::default(),
            store_label: String::new(),
            in_flight: None,
            paused_at: None,
            view: View::default(),
            mode: Mode::default(),
            fleet_row: 0,
            decision_row: 0,
            filter: String::new(),
            read_only: false,
            theme,
        }
    }

    /// The decisions the Decisions view lists, newest first: not past the pause, matching the filter.
    pub fn visible_decisions(&self) -> impl Iterator<Item = &StoredDecision> {
        let needle = self.filter.to_lowercase();
        let paused_at = self.paused_at;
        self.decisions
            .iter()
            .rev()
            .filter(move |d| paused_at.is_none_or(|id| d.id <= id))
            .filter(move |d| needle.is_empty() || matches_filter(d, &needle))
    }

    /// The decision currently selected, if any.
    pub fn selected_decision(&self) -> Option<&StoredDecision> {
        self.visible_decisions().nth(self.decision_row)
    }

    /// The node currently selected, if any.
    pub fn selected_node(&self) -> Option<&crate::fleet::NodeSnapshot> {
        self.fleet.nodes.get(self.fleet_row)
    }
}

/// True when `needle` (lower case) is part of the decision's class, agent, endpoint or node.
fn matches_filter(decision: &StoredDecision, needle: &str) -> bool {
    let r = &decision.record;
    [
        r.effective_class.as_str(),
        r.declared_class.as_str(),
        r.endpoint.as_str(),
        r.agent.as_str(),
        r.node.as_deref().unwrap_or(""),
    ]
    .iter()
    .any(|field| contains_ignoring_case(field, needle))
}

/// Substring search ignoring ASCII case, without allocating (this runs per decision per frame).
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::contains_ignoring_case;

    #[test]
    fn filter_matching_ignores_case() {
        assert!(contains_ignoring_case("Ticket-Classifier", "classif"));
        assert!(contains_ignoring_case("mini-03", ""));
        assert!(!contains_ignoring_case("mini", "mini-03"));
        assert!(contains_ignoring_case("HR-Extractor", "hr-ex"));
    }
}
