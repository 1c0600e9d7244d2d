//! The router's HTTP gateway: OpenAI-compatible on the agents' side; Ollama nodes and frontier
//! APIs behind it. It gathers the inputs of [`crate::router::select`] (fleet view, live control,
//! today's spend), walks the decision's plan, relays the answer and records the decision.

mod args;
mod batch_api;
mod body;
mod chat;
mod control_health;
mod edge;
mod errors;
mod feedback;
pub mod fleet_spend;
mod fleet_view_cache;
mod inflight;
mod job_ticket;
mod keeper_rounds;
mod keys;
mod limiter;
mod metrics;
mod quality_window;
mod record;
mod relay;
pub mod relief;
mod review;
mod server;
mod shadow;
mod spend;
mod status;
pub mod upstream;
pub mod warmth;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use args::RouterArgs;
pub use batch_api::BatchBackend;
pub use chat::{
    AGENT_HEADER, DATA_CLASS_HEADER, NO_BATCH_CAPACITY, Origin, ParsedRequest, TASK_CLASS_HEADER, parse_request,
    serve as serve_chat,
};
pub use control_health::ControlHealth;
pub use errors::ApiError;
pub use inflight::{InFlight, InFlightGuard};
pub use job_ticket::{JobEvent, JobTicket};
pub use keys::AgentKeys;
pub use limiter::{Admission, AgentUsage, Limiter, Refusal};
pub use server::{app, run, serve};
pub use shadow::SHADOW_AGENT_PREFIX;
pub use spend::{FleetSpend, Reservation, SpendTracker};
pub use status::StatusAccess;

use crate::config::{FleetConfig, Node};
use crate::control::ControlSnapshot;
use crate::fleet::FleetSnapshot;
use crate::recorder::Recorder;
use crate::router::{AgentLimits, Decision, FleetView, Overrides, Policy, RequestFeatures, SpendState, Target, select};
use crate::wire::openai::ChatCompletionRequest;
use fleet_view_cache::FleetViewCache;
use metrics::GatewayMetrics;
use upstream::Timeouts;
use upstream::node_client::NodeClient;
use upstream::{UpstreamError, UpstreamReply};

/// The longest a frontier request waits for a refresh to grow this router's lease of the budget.
pub const LEASE_WAIT: Duration = Duration::from_millis(150);

/// Everything a request handler needs, shared by all of them.
pub struct Gateway {
    /// The fleet configuration.
    pub config: Arc<FleetConfig>,
    /// The base policy derived from it.
    pub policy: Policy,
    nodes: HashMap<String, Node>,
    control: watch::Receiver<Arc<ControlSnapshot>>,
    /// Requests in flight per node.
    pub in_flight: InFlight,
    /// Model lists shared between decisions until telemetry changes them.
    fleet_views: FleetViewCache,
    recorder: Recorder,
    spend: SpendTracker,
    /// Per-agent request, token and concurrency counters.
    limiter: Limiter,
    /// Each `[[agents]]` entry's own limits.
    agent_limits: HashMap<String, AgentLimits>,
    keys: AgentKeys,
    client: reqwest::Client,
    /// The lean HTTP/1.1 client for calls to the nodes.
    node_client: NodeClient,
    metrics: GatewayMetrics,
    timeouts: Timeouts,
    overrides: Mutex<ParsedOverrides>,
    /// Set when shutdown cuts the work still running: what it drops is recorded as cut.
    cutting: AtomicBool,
    /// Streams being relayed, each in a task of its own.
    streams: TaskTracker,
    /// Compiled `response_format` schemas, for judging JSON answers.
    schemas: crate::quality::SchemaCache,
    /// The last hour of answer quality, judged against `[quality.slo]` in `/metrics`.
    quality_window: quality_window::QualityWindow,
    status_access: StatusAccess,
    /// The Batch API's store and sealer; `None` without `jobs.encryption_key` (the API is off).
    batch: Option<BatchBackend>,
    /// The store, for feedback.
    store: crate::store::Store,
    /// When the last live request arrived, in milliseconds since the gateway started (0: none yet).
    last_live_ms: AtomicU64,
    /// Live requests waiting for local capacity now.
    live_waiting: Arc<AtomicUsize>,
    started: std::time::Instant,
}

/// Counts a live request as waiting for capacity until dropped.
pub struct LiveWaiting(Arc<AtomicUsize>);

impl Drop for LiveWaiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The overrides of the last control snapshot seen, parsed once per snapshot rather than once per
/// request (and warned about once, not on every request).
#[derive(Default)]
struct ParsedOverrides {
    from: Option<Arc<ControlSnapshot>>,
    overrides: Arc<Overrides>,
}

/// The live inputs a gateway reads on every request.
pub struct GatewaySources {
    /// Telemetry of every node.
    pub fleet: watch::Receiver<FleetSnapshot>,
    /// Node states and overrides from the store.
    pub control: watch::Receiver<Arc<ControlSnapshot>>,
    /// Where decisions go.
    pub recorder: Recorder,
    /// Resolved agent keys.
    pub keys: AgentKeys,
    /// The Batch API's store and sealer; `None` turns the API off.
    pub batch: Option<BatchBackend>,
    /// The store, read back for feedback (which decision is whose) and written with ratings.
    pub store: crate::store::Store,
}

impl Gateway {
    /// A gateway over `config` reading the given live sources.
    pub fn new(config: FleetConfig, sources: GatewaySources) -> Arc<Self> {
        let nodes: HashMap<String, Node> = config
            .resolved_nodes()
            .into_iter()
            .map(|n| (n.name.clone(), n))
            .collect();
        let in_flight = InFlight::new(nodes.keys().map(String::as_str));
        let timeouts = Timeouts {
            first_byte: Duration::from_secs(config.router.first_byte_timeout_secs.max(1)),
            idle: Duration::from_secs(config.router.idle_timeout_secs.max(1)),
        };
        let client = crate::net::http_client()
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        let warm_models = vec![config.models.routine.clone(), config.models.sensitive.clone()];
        let status_access = StatusAccess::from_config(config.router.status_token.as_ref());
        let fleet_views = FleetViewCache::watching(sources.fleet.clone());
        let keeping = keeper_rounds::Keeping {
            client: client.clone(),
            nodes: nodes.values().cloned().collect(),
            relieved: relief::Relieved::new(nodes.keys().map(String::as_str)),
            fleet: sources.fleet.clone(),
            control: sources.control.clone(),
        };
        warmth::spawn(&keeping, warm_models, config.router.warm_nodes as usize);
        relief::spawn(
            &keeping,
            Duration::from_secs(config.router.unload_idle_on_critical_secs),
        );
        let agent_limits = config
            .agents
            .iter()
            .map(|a| (a.name.clone(), AgentLimits::of(a)))
            .collect();
        Arc::new(Gateway {
            policy: Policy::from_config(&config),
            limiter: Limiter::default(),
            agent_limits,
            config: Arc::new(config),
            nodes,
            control: sources.control,
            in_flight,
            fleet_views,
            recorder: sources.recorder,
            spend: SpendTracker::default(),
            keys: sources.keys,
            client,
            node_client: NodeClient::new(),
            metrics: GatewayMetrics::default(),
            timeouts,
            overrides: Mutex::default(),
            cutting: AtomicBool::new(false),
            streams: TaskTracker::new(),
            schemas: crate::quality::SchemaCache::default(),
            quality_window: quality_window::QualityWindow::default(),
            status_access,
            batch: sources.batch,
            store: sources.store,
            last_live_ms: AtomicU64::new(0),
            live_waiting: Arc::default(),
            started: std::time::Instant::now(),
        })
    }

    /// The Batch API's store and sealer, when the API is on.
    pub fn batch_backend(&self) -> Option<&BatchBackend> {
        self.batch.as_ref()
    }

    /// The live control state (node states, overrides) as this router last read it.
    pub fn control_snapshot(&self) -> Arc<ControlSnapshot> {
        self.control.borrow().clone()
    }

    /// Notes that a live request arrived (batch work takes every slot only after a quiet spell).
    pub fn live_request_arrived(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.last_live_ms.store(ms, Ordering::Relaxed);
    }

    /// How long since the last live request arrived (since the gateway started, when none has).
    pub fn live_quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_live_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// Counts a live request as waiting for local capacity while the guard lives.
    pub fn live_waiting(&self) -> LiveWaiting {
        self.live_waiting.fetch_add(1, Ordering::AcqRel);
        LiveWaiting(self.live_waiting.clone())
    }

    /// Free batch slots per node now, on the nodes `wanted` keeps: batch work holds at most
    /// `max_share` of a node's slots while live traffic runs, all of them once it has been quiet
    /// for `idle_after`, and none while a live request waits for capacity.
    pub fn free_batch_slots(
        &self,
        max_share: f64,
        idle_after: Duration,
        wanted: impl Fn(&crate::router::NodeView) -> bool,
    ) -> Vec<(String, u32)> {
        use crate::jobs::worker::capacity::{self, NodeSlots};
        let control = self.control_snapshot();
        let fleet = self.fleet_view(&control);
        let slots: Vec<NodeSlots> = fleet
            .nodes
            .iter()
            .filter(|n| wanted(n))
            .map(|n| NodeSlots {
                name: n.name.to_string(),
                usable: n.health == crate::fleet::Health::Up && n.drain == crate::domain::DrainState::Active,
                parallel: n.parallel,
                in_flight: n.in_flight,
                batch: self.in_flight.batch(&n.name),
            })
            .collect();
        let share = capacity::share(max_share, self.live_quiet_for(), idle_after);
        capacity::free_batch_slots(&slots, share, self.live_waiters())
    }

    /// Whether an operator keeps work off the frontier now (the kill switch).
    pub fn frontier_disabled(&self) -> bool {
        self.overrides_of(&self.control_snapshot()).kill_switch
    }

    /// Whether an operator pinned `class` to the farm (`class.<class>.target = local`).
    pub fn pinned_local(&self, class: crate::domain::TaskClass) -> bool {
        self.overrides_of(&self.control_snapshot()).target(class) == Some(crate::router::ClassTarget::Local)
    }

    /// A node that may take batch work now and has `model` on disk, one with it loaded first;
    /// never a node under critical memory pressure.
    pub fn idle_node_with(&self, model: &str) -> Option<String> {
        let jobs = &self.config.jobs;
        let control = self.control_snapshot();
        let fleet = self.fleet_view(&control);
        let overrides = self.overrides_of(&control);
        let free = self.free_batch_slots(jobs.max_share, Duration::from_secs(jobs.idle_after_secs), |n| {
            n.has_installed(model)
                && n.pressure < crate::domain::MemoryPressure::Critical
                && !overrides.is_excluded(&n.name)
        });
        let loaded = |name: &str| fleet.nodes.iter().any(|n| &*n.name == name && n.has_loaded(model));
        free.into_iter().map(|(name, _)| name).max_by_key(|name| loaded(name))
    }

    /// Live requests waiting for local capacity now: while any does, batch work takes no slot.
    pub fn live_waiters(&self) -> usize {
        self.live_waiting.load(Ordering::Acquire)
    }

    /// Today's frontier spend, as the budget check sees it.
    pub fn spend(&self) -> &SpendTracker {
        &self.spend
    }

    /// The limits of `agent` in force: its `[[agents]]` entry's, with live overrides applied.
    pub fn limits_of(&self, agent: &str) -> AgentLimits {
        let control = self.control.borrow().clone();
        let base = self.agent_limits.get(agent).copied().unwrap_or_default();
        self.overrides_of(&control).agent_limits(agent, base)
    }

    /// The agents that may have limits: `[[agents]]` entries and agents with a live override.
    pub fn limited_agents(&self) -> Vec<String> {
        let control = self.control.borrow().clone();
        let overrides = self.overrides_of(&control);
        let mut agents: Vec<String> = self.agent_limits.keys().cloned().collect();
        agents.extend(overrides.agents_with_limits().map(str::to_string));
        agents.sort();
        agents.dedup();
        agents
    }

    /// Per-agent counters on this router.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The decision for a request with these features, from the live fleet, control and spend.
    pub fn decide(&self, features: &RequestFeatures) -> Decision {
        let control = self.control.borrow().clone();
        let overrides = self.overrides_of(&control);
        let fleet = self.fleet_view(&control);
        select(
            features,
            &self.policy,
            &overrides,
            &fleet,
            &self.spend.state(Utc::now()),
        )
    }

    /// The decision for a request whose frontier step found the budget spent: what policy does
    /// past the budget (degrade to local, or refuse).
    pub fn decide_past_budget(&self, features: &RequestFeatures) -> Decision {
        let control = self.control.borrow().clone();
        let overrides = self.overrides_of(&control);
        let fleet = self.fleet_view(&control);
        let now = Utc::now();
        let spent = SpendState {
            frontier_usd_today: f64::INFINITY,
            resets_in_secs: spend::resets_in_secs(now),
        };
        select(features, &self.policy, &overrides, &fleet, &spent)
    }

    /// The fleet's daily frontier budget in force (the override, else the config; 0 for none).
    pub fn daily_budget_usd(&self) -> f64 {
        let control = self.control.borrow().clone();
        self.overrides_of(&control)
            .daily_budget_usd
            .unwrap_or(self.policy.daily_frontier_budget_usd)
    }

    /// Holds the expected cost of a call to frontier `model` against the fleet's daily budget, or
    /// `None` when the budget is spent. The estimate prices the request's estimated prompt tokens
    /// and its `max_tokens` (the dearest request seen today when that is more). When only this
    /// router's lease is spent and the fleet has budget left, it waits up to [`LEASE_WAIT`] for
    /// the refresh to grant more.
    pub async fn reserve_frontier(
        &self,
        model: &str,
        prompt_tokens: u64,
        max_tokens: Option<u64>,
    ) -> Option<Reservation> {
        let budget = self.daily_budget_usd();
        let usage = crate::config::TokenUsage {
            uncached_in: prompt_tokens,
            out: max_tokens.unwrap_or(0),
            ..Default::default()
        };
        let estimate = |now: chrono::DateTime<Utc>| {
            self.config
                .price_for(model, now.date_naive())
                .map_or(0.0, |price| price.cost(&usage))
        };
        let now = Utc::now();
        if let Some(held) = self.spend.try_reserve(estimate(now), budget, now) {
            return Some(held);
        }
        if !self.spend.lease_may_grow(budget, now) {
            return None;
        }
        tokio::time::sleep(LEASE_WAIT).await;
        let now = Utc::now();
        self.spend.try_reserve(estimate(now), budget, now)
    }

    /// The overrides of `control`, parsed only when they differ from the last ones seen.
    fn overrides_of(&self, control: &Arc<ControlSnapshot>) -> Arc<Overrides> {
        let mut parsed = self.overrides.lock().unwrap_or_else(|p| p.into_inner());
        let same = |seen: &Arc<ControlSnapshot>| {
            Arc::ptr_eq(seen, control) || (seen.version == control.version && seen.overrides == control.overrides)
        };
        if !parsed.from.as_ref().is_some_and(same) {
            let (overrides, warnings) = Overrides::from_rows(&control.overrides, control.version);
            for warning in warnings {
                tracing::warn!(%warning, "ignoring an invalid override");
            }
            *parsed = ParsedOverrides {
                from: Some(control.clone()),
                overrides: Arc::new(overrides),
            };
        }
        parsed.overrides.clone()
    }

    /// What placement sees now: telemetry, drain states and the router's in-flight counts.
    pub fn fleet_view(&self, control: &ControlSnapshot) -> FleetView {
        self.fleet_views.current(control, &self.in_flight)
    }

    /// Calls one plan target; `retrying` hears of each failed frontier attempt that is retried.
    async fn call(
        &self,
        target: &Target,
        request: &ChatCompletionRequest,
        retrying: impl FnMut(&UpstreamError, Duration) + Send,
    ) -> Result<UpstreamReply, UpstreamError> {
        match target {
            Target::Local { node, model } => {
                let Some(node) = self.nodes.get(&**node) else {
                    return Err(UpstreamError::unconfigured(format!(
                        "node {node} is not in the fleet config"
                    )));
                };
                upstream::local::call(&self.node_client, &node.ollama_url, model, request, self.timeouts).await
            }
            Target::Frontier { provider, model } => {
                let Some(config) = self.config.frontier.providers.get(&**provider) else {
                    return Err(UpstreamError::unconfigured(format!(
                        "frontier provider {provider} is not configured"
                    )));
                };
                let timeouts = self.timeouts;
                upstream::frontier::call_with_retry_observed(
                    &self.client,
                    provider,
                    config,
                    model,
                    request,
                    timeouts,
                    retrying,
                )
                .await
            }
        }
    }

    /// Counts a request refused before any decision (bad key, bad body, unknown class).
    fn count_refused(&self, err: &ApiError) {
        tracing::debug!(status = err.status.as_u16(), code = %err.code, "request refused");
        self.metrics.count_refused(err.status.as_u16());
    }

    /// Prometheus text for `/metrics`.
    pub fn metrics_text(&self) -> String {
        let mut text = self.metrics.render(&self.in_flight, self.recorder.stats());
        text.push_str(&self.control_health().metrics());
        text.push_str(
            &self
                .quality_window
                .metrics(&self.config.quality, epoch_minute(Utc::now())),
        );
        text
    }

    /// How current this router's view of node states and overrides is.
    pub fn control_health(&self) -> ControlHealth {
        ControlHealth::of(&self.control.borrow(), Utc::now())
    }

    /// Marks the work still running as cut by shutdown (the grace ran out).
    pub fn cut_remaining(&self) {
        self.cutting.store(true, Ordering::Release);
    }

    /// Whether shutdown is cutting the work still running.
    fn is_cutting(&self) -> bool {
        self.cutting.load(Ordering::Acquire)
    }

    /// Waits, at most `wait`, for the streams being relayed to end and record themselves.
    pub async fn finish_streams(&self, wait: Duration) {
        self.streams.close();
        if tokio::time::timeout(wait, self.streams.wait()).await.is_err() {
            tracing::warn!(streams = self.streams.len(), "streams still relaying at exit");
        }
    }

    /// Waits until every decision so far is in the store or the journal.
    pub async fn flush(&self) {
        self.recorder.flush().await;
    }
}

/// Minutes since the epoch: the quality window's clock.
fn epoch_minute(now: chrono::DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(60)
}
