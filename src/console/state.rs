//! Everything the console shows, as plain data. Sources write it through [`super::update`];
//! views only read it.

use super::fleet_order::{FleetOrder, NodeFacts, NodeGroup};
use std::collections::HashMap;
use std::sync::Arc;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::command::Command;
use super::ring::{DecisionRing, HeldDecision};
use super::theme::Theme;
use crate::actions::{DrainStatus, PullOutcome};
use crate::control::ControlSnapshot;
use crate::fleet::FleetSnapshot;
use crate::store::{AgentLimitLine, AuditRow, SpendSummary};

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
    /// Batch jobs: progress, queue depth, running attempts, failures.
    Jobs,
    /// Answer quality per class and route, feedback and objectives.
    Quality,
}

impl View {
    /// Every view in tab order.
    pub const ALL: [View; 6] = [
        View::Fleet,
        View::Decisions,
        View::Spend,
        View::Policy,
        View::Jobs,
        View::Quality,
    ];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Fleet => "Fleet",
            View::Decisions => "Decisions",
            View::Spend => "Spend",
            View::Policy => "Policy",
            View::Jobs => "Jobs",
            View::Quality => "Quality",
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
    /// Keys edit the `:` command line.
    Command,
}

/// A dialog that owns the keyboard until it is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    /// A yes/no question before anything changes.
    Confirm(Confirm),
    /// A line of text to type.
    Prompt(Prompt),
}

/// A confirmation: what will happen, and the commands sent on `y`.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// The question.
    pub title: String,
    /// What will happen, line by line.
    pub lines: Vec<String>,
    /// Sent when confirmed.
    pub commands: Vec<Command>,
}

/// What a prompt's text is for.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptFor {
    /// A model to pull onto one node.
    Pull {
        /// The node.
        node: String,
    },
    /// A model to pull onto several nodes.
    PullAll {
        /// The active nodes.
        nodes: Vec<String>,
    },
    /// A new value for an override.
    Override {
        /// The override key.
        key: String,
    },
}

/// A one-line text prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// What is asked.
    pub title: String,
    /// What it is for.
    pub purpose: PromptFor,
    /// The text typed so far.
    pub input: String,
    /// Why the last Enter was refused.
    pub error: Option<String>,
}

/// A drain the console started, followed to its end.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainView {
    /// The latest status.
    pub status: DrainStatus,
    /// Set when the drain stopped waiting short of `drained`: what to do.
    pub stuck: Option<String>,
    /// When the console started it.
    pub since: DateTime<Utc>,
}

/// A pull the console started.
#[derive(Debug, Clone, PartialEq)]
pub struct PullView {
    /// The model.
    pub model: String,
    /// Ollama's latest status line.
    pub status: String,
    /// Overall fraction done, when known.
    pub fraction: Option<f64>,
    /// How it ended, once it has.
    pub outcome: Option<PullOutcome>,
    /// When it started.
    pub since: DateTime<Utc>,
}

/// The last action result or refusal, shown in the status bar for a while.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// False for refusals and failures.
    pub ok: bool,
    /// When it arrived.
    pub at: DateTime<Utc>,
}

/// The store connection as the console's probe last saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum StoreStatus {
    /// Not read yet.
    #[default]
    Connecting,
    /// The last probe was answered.
    Connected,
    /// The store stopped answering; the console keeps reconnecting.
    Down(StoreOutage),
}

/// An outage of the store as the console lives it: since when, and where reconnecting stands.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreOutage {
    /// The last time the store answered (everything read from it is this old), or when the
    /// console gave up waiting for a first answer.
    pub since: DateTime<Utc>,
    /// Reconnection attempts made so far (the one under way included).
    pub attempt: u32,
    /// When the next attempt starts; `None` while one is under way.
    pub retry_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, short.
    pub error: String,
}

impl StoreStatus {
    /// The outage under way, if the store is down.
    pub fn outage(&self) -> Option<&StoreOutage> {
        match self {
            StoreStatus::Down(outage) => Some(outage),
            _ => None,
        }
    }
}

/// What one router says it holds for the store, as read from its status endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterHold {
    /// The router's id (host and process).
    pub router_id: String,
    /// Its report, or why it could not be read.
    pub report: Result<crate::wire::RouterStatus, String>,
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
    /// The last 30 days.
    pub month: SpendSummary,
    /// Each limited agent's use of its limits now.
    pub limits: Vec<AgentLimitLine>,
    /// Answer quality over the last hour, 24 hours and 7 days.
    pub quality: QualityWindows,
}

impl SpendWindows {
    /// The objectives of `config` that the last hour breaches.
    pub fn slo_breaches(&self, config: &crate::config::QualityConfig) -> Vec<crate::quality::SloCheck> {
        self.quality
            .of(QualitySpan::Hour)
            .slo_checks(config)
            .into_iter()
            .filter(|check| check.breached)
            .collect()
    }
}

/// The window the Spend view's breakdowns cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpendSpan {
    /// Since UTC midnight.
    Today,
    /// The last 24 hours.
    #[default]
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
}

impl SpendSpan {
    /// How the view names it.
    pub fn label(self) -> &'static str {
        match self {
            SpendSpan::Today => "today",
            SpendSpan::Day => "24 h",
            SpendSpan::Week => "7 d",
            SpendSpan::Month => "30 d",
        }
    }

    /// The next window, wrapping around.
    pub fn next(self) -> SpendSpan {
        match self {
            SpendSpan::Today => SpendSpan::Day,
            SpendSpan::Day => SpendSpan::Week,
            SpendSpan::Week => SpendSpan::Month,
            SpendSpan::Month => SpendSpan::Today,
        }
    }
}

impl SpendWindows {
    /// The summary of one window.
    pub fn of(&self, span: SpendSpan) -> &SpendSummary {
        match span {
            SpendSpan::Today => &self.today,
            SpendSpan::Day => &self.day,
            SpendSpan::Week => &self.week,
            SpendSpan::Month => &self.month,
        }
    }
}

/// The window the Quality view shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QualitySpan {
    /// The hours overlapping the last one.
    #[default]
    Hour,
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
}

impl QualitySpan {
    /// How the view names it.
    pub fn label(self) -> &'static str {
        match self {
            QualitySpan::Hour => "1 h",
            QualitySpan::Day => "24 h",
            QualitySpan::Week => "7 d",
        }
    }

    /// The next window, wrapping around.
    pub fn next(self) -> QualitySpan {
        match self {
            QualitySpan::Hour => QualitySpan::Day,
            QualitySpan::Day => QualitySpan::Week,
            QualitySpan::Week => QualitySpan::Hour,
        }
    }
}

/// Answer quality for each window the Quality view offers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityWindows {
    /// The hours overlapping the last one.
    pub hour: QualityFigures,
    /// The last 24 hours.
    pub day: QualityFigures,
    /// The last 7 days.
    pub week: QualityFigures,
}

impl QualityWindows {
    /// The figures of `span`.
    pub fn of(&self, span: QualitySpan) -> &QualityFigures {
        match span {
            QualitySpan::Hour => &self.hour,
            QualitySpan::Day => &self.day,
            QualitySpan::Week => &self.week,
        }
    }
}

/// One window's quality: signals per class and route, and feedback means.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityFigures {
    /// Signals per class and route.
    pub rows: Vec<crate::store::QualityRow>,
    /// Feedback means per class, route and metric.
    pub feedback: Vec<crate::store::FeedbackRow>,
    /// Shadow agreement per class and answering route.
    pub agreement: Vec<crate::store::AgreementRow>,
}

impl QualityFigures {
    /// Every objective of `config` judged on this window, class by class.
    pub fn slo_checks(&self, config: &crate::config::QualityConfig) -> Vec<crate::quality::SloCheck> {
        let windows: Vec<_> = self.rows.iter().map(|row| (row.class, row.line)).collect();
        crate::quality::evaluate_config(config, &windows)
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
    /// The objectives answers are judged against (`[quality]`).
    pub quality: crate::config::QualityConfig,
    /// The window the Quality view shows.
    pub quality_span: QualitySpan,
    /// The window of the Spend view's breakdowns (`w`).
    pub spend_span: SpendSpan,
    /// Policy suggestions from the last week's evidence (the Quality view's panel).
    pub recommendations: Vec<crate::quality::recommend::Recommendation>,
    /// The selected suggestion.
    pub recommendation_row: usize,
    /// The store connection.
    pub store: StoreStatus,
    /// Every router known from the store's presence rows, with what it holds to write later.
    pub routers: Vec<RouterHold>,
    /// The store, as shown (password redacted).
    pub store_label: String,
    /// Requests in flight per node, when an in-process router reports them.
    pub in_flight: Option<HashMap<String, u32>>,
    /// The in-flight counts are read from the store (every router's reports), not from an
    /// in-process router: they go stale with the store.
    pub in_flight_from_store: bool,
    /// When set, the decision stream is frozen at this id.
    pub paused_at: Option<i64>,
    /// The current view.
    pub view: View,
    /// What keys do now.
    pub mode: Mode,
    /// Selected node row.
    pub fleet_row: usize,
    /// How the Fleet view filters, sorts and groups its nodes.
    pub fleet_order: FleetOrder,
    /// Selected decision row, counted from the newest shown.
    pub decision_row: usize,
    /// Decision filter: a substring of class, agent, endpoint or node.
    pub filter: String,
    /// Whether this console may change anything.
    pub read_only: bool,
    /// Colours.
    pub theme: Theme,
    /// The open dialog, if any.
    pub modal: Option<Modal>,
    /// Drains started here, by node.
    pub drains: BTreeMap<String, DrainView>,
    /// Pulls started here, by node.
    pub pulls: BTreeMap<String, PullView>,
    /// The last action result.
    pub notice: Option<Notice>,
    /// Confirmed commands waiting for the loop to hand them to the action runner.
    pub outbox: Vec<Command>,
    /// Selected row of the Policy view's settings.
    pub policy_row: usize,
    /// fleet.toml's value of each setting the Policy view can change.
    pub policy_base: BTreeMap<String, String>,
    /// Per class, the frontier (input, output) USD per million tokens, to price local volume.
    pub frontier_prices: BTreeMap<String, (f64, f64)>,
    /// Per-node request and token rates from the decision stream.
    pub rates: super::rates::NodeRates,
    /// Per-node memory-pressure history, from telemetry.
    pub pressure_history: super::pressure_history::PressureHistory,
    /// Keys in force (defaults plus `[console.keys]`).
    pub keymap: super::keys::KeyMap,
    /// The `:` command line being typed.
    pub command: String,
    /// Batch jobs as last read from the store, once read.
    pub jobs: Option<super::jobs::JobsBoard>,
    /// Why batch jobs could not be read although the store answers (an older schema), if so.
    pub jobs_error: Option<String>,
    /// Each running batch's throughput, from successive reads.
    pub batch_rates: super::jobs::BatchRates,
    /// Selected batch row, among those the Jobs view lists.
    pub batch_row: usize,
    /// Batch filter: a substring of id, agent or status.
    pub batch_filter: String,
    /// The help overlay's current binding: it scrolls to keep it shown when taller than the screen.
    pub help_row: usize,
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
            quality: crate::config::QualityConfig::default(),
            quality_span: QualitySpan::default(),
            spend_span: SpendSpan::default(),
            recommendations: Vec::new(),
            recommendation_row: 0,
            store: StoreStatus::default(),
            routers: Vec::new(),
            store_label: String::new(),
            in_flight: None,
            in_flight_from_store: false,
            paused_at: None,
            view: View::default(),
            mode: Mode::default(),
            fleet_row: 0,
            fleet_order: FleetOrder::default(),
            decision_row: 0,
            filter: String::new(),
            read_only: false,
            theme,
            modal: None,
            drains: BTreeMap::new(),
            pulls: BTreeMap::new(),
            notice: None,
            outbox: Vec::new(),
            policy_row: 0,
            policy_base: BTreeMap::new(),
            frontier_prices: BTreeMap::new(),
            rates: super::rates::NodeRates::default(),
            pressure_history: super::pressure_history::PressureHistory::default(),
            keymap: super::keys::KeyMap::default(),
            command: String::new(),
            jobs: None,
            jobs_error: None,
            batch_rates: super::jobs::BatchRates::default(),
            batch_row: 0,
            batch_filter: String::new(),
            help_row: 0,
        }
    }

    /// The decisions the Decisions view lists, newest first: not past the pause, matching the filter.
    pub fn visible_decisions(&self) -> impl Iterator<Item = &HeldDecision> {
        let needle = self.filter.to_lowercase();
        let paused_at = self.paused_at;
        self.decisions
            .iter()
            .rev()
            .filter(move |d| paused_at.is_none_or(|id| d.id <= id))
            .filter(move |d| needle.is_empty() || matches_filter(d, &needle))
    }

    /// The decision currently selected, if any.
    pub fn selected_decision(&self) -> Option<&HeldDecision> {
        self.visible_decisions().nth(self.decision_row)
    }

    /// The value of override `key` in force: the live override, else fleet.toml's.
    pub fn setting(&self, key: &str) -> (&str, bool) {
        match self.control.overrides.iter().find(|(k, _)| k == key) {
            Some((_, value)) => (value.as_str(), true),
            None => (self.policy_base.get(key).map(String::as_str).unwrap_or("–"), false),
        }
    }

    /// When the store stopped answering, while it is down: figures read from it are this old.
    pub fn store_lost_at(&self) -> Option<DateTime<Utc>> {
        self.store.outage().map(|o| o.since)
    }

    /// When the per-node rates are taken: now, or while the store is away, the end of the second
    /// it last answered in. The rates then freeze with every decision read by then, that last
    /// second included, and never fall to 0.
    pub fn rates_at(&self) -> DateTime<Utc> {
        match self.store_lost_at() {
            Some(lost) => lost + chrono::TimeDelta::seconds(1),
            None => self.now,
        }
    }

    /// Decisions the routers hold to write once the store is back: (in memory, in journals,
    /// routers that answered, routers known).
    pub fn held_by_routers(&self) -> (u64, u64, usize, usize) {
        let (mut buffered, mut journaled, mut answered) = (0, 0, 0);
        for report in self.routers.iter().filter_map(|r| r.report.as_ref().ok()) {
            buffered += report.buffered;
            journaled += report.journaled;
            answered += 1;
        }
        (buffered, journaled, answered, self.routers.len())
    }

    /// The batches the Jobs view lists, newest first: those matching the filter.
    pub fn visible_batches(&self) -> impl Iterator<Item = &crate::store::BatchRow> {
        let needle = self.batch_filter.to_lowercase();
        self.jobs
            .iter()
            .flat_map(|board| board.batches.iter())
            .filter(move |b| {
                needle.is_empty()
                    || [b.id.as_str(), b.agent.as_str(), crate::actions::status_word(b)]
                        .iter()
                        .any(|field| contains_ignoring_case(field, &needle))
            })
    }

    /// The batch currently selected, if any.
    pub fn selected_batch(&self) -> Option<&crate::store::BatchRow> {
        self.visible_batches().nth(self.batch_row)
    }

    /// The node currently selected, if any.
    pub fn selected_node(&self) -> Option<&crate::fleet::NodeSnapshot> {
        let listed = self.listed_nodes();
        self.fleet.nodes.get(*listed.get(self.fleet_row)?)
    }

    /// The nodes the Fleet view lists, as indexes into `fleet.nodes`, in its order.
    pub fn listed_nodes(&self) -> Vec<usize> {
        self.fleet_order.arrange(&self.node_facts())
    }

    /// Selects node `name` in the Fleet view, clearing a node filter that hides it; false when
    /// the fleet has no such node.
    pub fn select_node(&mut self, name: &str) -> bool {
        let Some(index) = self.fleet.nodes.iter().position(|n| n.name == name) else {
            return false;
        };
        if !self.listed_nodes().contains(&index) {
            self.fleet_order.filter.clear();
        }
        self.fleet_row = self.listed_nodes().iter().position(|&i| i == index).unwrap_or(0);
        true
    }

    /// What the Fleet view orders and filters each node by.
    pub fn node_facts(&self) -> Vec<NodeFacts<'_>> {
        // Rates freeze when the store goes away, as the view shows them.
        let rates_at = self.rates_at();
        let filtering = !self.fleet_order.filter.is_empty();
        self.fleet
            .nodes
            .iter()
            .map(|node| {
                let drain = self.control.node_state(&node.name);
                let group = NodeGroup::of(node.health, drain);
                let pressure = node.pressure();
                let in_flight = self
                    .in_flight
                    .as_ref()
                    .and_then(|counts| counts.get(&node.name))
                    .copied()
                    .unwrap_or(0);
                let mut words: Vec<&str> = Vec::new();
                if filtering {
                    words.extend(node.loaded.iter().map(|m| m.name.as_str()));
                    words.extend([group.label(), drain.as_str()]);
                    words.extend(pressure.map(|level| level.as_str()));
                }
                NodeFacts {
                    name: &node.name,
                    group,
                    pressure,
                    memory: node
                        .metrics
                        .as_ref()
                        .filter(|m| m.memory_total_bytes > 0)
                        .map(|m| m.memory_used_bytes as f64 / m.memory_total_bytes as f64),
                    load: f64::from(in_flight) / f64::from(node.parallel.max(1)),
                    tokens_per_sec: self.rates.mean(&node.name, rates_at, 10).1,
                    words,
                }
            })
            .collect()
    }
}

/// True when `needle` (lower case) is part of the decision's class, agent, endpoint or node.
fn matches_filter(r: &HeldDecision, needle: &str) -> bool {
    [
        r.effective_class.as_str(),
        r.declared_class.as_str(),
        r.endpoint.as_str(),
        &r.agent,
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
