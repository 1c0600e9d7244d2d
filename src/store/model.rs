//! Rows the store hands back, shared by both backends.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{AnswerQuality, Attempt, DecisionRecord, DrainState, StoredDecision};

use super::StoreError;

/// A node's operator-set state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeStateRow {
    /// Node name (`mini-03`).
    pub name: String,
    /// Whether the router may place new work on it.
    pub state: DrainState,
    /// Why the operator changed it.
    pub reason: Option<String>,
    /// Who changed it.
    pub changed_by: String,
    /// When it was changed.
    pub changed_at: DateTime<Utc>,
}

/// One live policy override.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverrideRow {
    /// Override key, e.g. `frontier.enabled`.
    pub key: String,
    /// Its value, as the router validated it.
    pub value: String,
    /// Why it was set.
    pub reason: Option<String>,
    /// Who set it.
    pub set_by: String,
    /// When it was set.
    pub set_at: DateTime<Utc>,
}

/// One policy version: the overrides in force after a change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyVersionRow {
    /// The monotonic policy version.
    pub version: i64,
    /// When the change was made.
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// Every override after the change, as a JSON object `{key: value}`.
    pub snapshot: serde_json::Value,
}

/// One audited operator action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// Monotonic id.
    pub id: i64,
    /// When it happened.
    pub ts: DateTime<Utc>,
    /// Who did it.
    pub actor: String,
    /// What was done, e.g. `node.draining` or `policy.set`.
    pub action: String,
    /// What it was done to: a node name or an override key.
    pub target: String,
    /// `old -> new (reason)` or a free-form description.
    pub detail: String,
}

/// A model pull and its progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullJobRow {
    /// Job id.
    pub id: i64,
    /// The node pulling.
    pub node: String,
    /// The model being pulled.
    pub model: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Fraction done, 0.0 to 1.0.
    pub progress: f64,
    /// When the job was created.
    pub started_at: DateTime<Utc>,
    /// When it reached a terminal state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One router's frontier spend by one agent on one UTC day, as it last reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouterSpendRow {
    /// The reporting router's id.
    pub router_id: String,
    /// The calling agent.
    pub agent: String,
    /// USD spent on frontier calls.
    pub cost_usd: f64,
    /// The router's lease of the day's budget (USD, on its row with the empty agent; else 0).
    pub leased_usd: f64,
    /// What the router counted for the agent and the limits it enforces.
    pub usage: AgentUsageRow,
    /// When the router last reported.
    pub reported_at: DateTime<Utc>,
}

/// What one router counts for one agent now, and the limits it enforces (`None`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AgentUsageRow {
    /// Requests in the last minute.
    pub requests_1m: i64,
    /// Tokens in the last minute, in-flight estimates included.
    pub tokens_1m: i64,
    /// Requests in flight.
    pub in_flight: i64,
    /// Requests per minute allowed.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute allowed.
    pub tpm_limit: Option<i64>,
    /// Requests in flight allowed.
    pub max_in_flight_limit: Option<i64>,
    /// Frontier USD per day allowed.
    pub daily_usd_limit: Option<f64>,
}

/// One agent's line in a router's spend report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentReport {
    /// The agent.
    pub agent: String,
    /// Its frontier spend today on this router.
    pub cost_usd: f64,
    /// Its limit counters and limits on this router.
    pub usage: AgentUsageRow,
}

/// What one router last reported about one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresenceRow {
    /// The reporting router's id (host and process).
    pub router_id: String,
    /// The node.
    pub node: String,
    /// The node's state as that router knows it.
    pub state_seen: DrainState,
    /// Requests that router still has in flight on the node.
    pub in_flight: u32,
    /// The router has seen the node leave `active` and had nothing in flight there for two reports in a row.
    pub quiet: bool,
    /// When the report was written.
    pub reported_at: DateTime<Utc>,
    /// Where the router serves `/v1/status`, when it says.
    pub status_url: Option<String>,
}

/// A router as its newest presence report describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterEndpoint {
    /// The router's id (host and process).
    pub router_id: String,
    /// Where it serves `/v1/status`, when it says.
    pub status_url: Option<String>,
}

/// A pull job silent for this long is taken as abandoned (its console or CLI died).
pub const PULL_ABANDONED_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(120);

/// The pull job states after which nothing changes.
pub const TERMINAL_PULL_STATES: &[&str] = &["succeeded", "failed", "cancelled"];

/// A decision row as read from either backend, before its names are parsed.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawDecision<T> {
    pub id: i64,
    pub request_id: String,
    pub ts: T,
    pub agent: String,
    pub declared_class: String,
    pub effective_class: String,
    pub sensitive: bool,
    pub sensitivity_reason: Option<String>,
    pub endpoint: String,
    pub provider: Option<String>,
    pub node: Option<String>,
    pub model: Option<String>,
    pub est_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub ttfb_ms: Option<i64>,
    pub latency_ms: i64,
    pub fallback: String,
    pub policy_version: i64,
    pub status: i32,
    pub error: Option<String>,
    pub job_id: Option<i64>,
    pub finish_reason: Option<String>,
    pub empty_answer: Option<bool>,
    pub json_valid: Option<bool>,
    pub ttft_ms: Option<i64>,
    pub tokens_per_sec: Option<f64>,
    pub queued_ms: i64,
    /// The attempts as JSON text (PostgreSQL's `jsonb` is read as `attempts::text`).
    pub attempts: String,
}

/// The column list matching [`RawDecision`], but for `attempts`, which each backend reads its own
/// way (JSON text in SQLite, `jsonb` cast to text in PostgreSQL).
pub(crate) const DECISION_COLUMNS: &str = "id, request_id, ts, agent, declared_class, effective_class, sensitive, \
     sensitivity_reason, endpoint, provider, node, model, est_tokens, prompt_tokens, completion_tokens, cost_usd, \
     ttfb_ms, latency_ms, fallback, policy_version, status, error, job_id, finish_reason, empty_answer, json_valid, \
     ttft_ms, tokens_per_sec, queued_ms";

/// The attempts of a decision as the store keeps them: a JSON array.
pub(crate) fn attempts_json(attempts: &[Attempt]) -> String {
    serde_json::to_string(attempts).unwrap_or_else(|_| "[]".into())
}

impl<T> RawDecision<T> {
    /// Parses the names into the domain types, with `ts` already decoded.
    pub(crate) fn into_stored(self, ts: DateTime<Utc>) -> Result<StoredDecision, StoreError> {
        let parse = |column: &'static str, value: &str| StoreError::corrupt(column, format!("`{value}`"));
        Ok(StoredDecision {
            id: self.id,
            record: DecisionRecord {
                request_id: self.request_id,
                ts,
                agent: self.agent,
                declared_class: self
                    .declared_class
                    .parse()
                    .map_err(|_| parse("routing_decisions.declared_class", &self.declared_class))?,
                effective_class: self
                    .effective_class
                    .parse()
                    .map_err(|_| parse("routing_decisions.effective_class", &self.effective_class))?,
                sensitive: self.sensitive,
                sensitivity_reason: self.sensitivity_reason,
                endpoint: self
                    .endpoint
                    .parse()
                    .map_err(|_| parse("routing_decisions.endpoint", &self.endpoint))?,
                provider: self.provider,
                node: self.node,
                model: self.model,
                est_tokens: self.est_tokens,
                prompt_tokens: self.prompt_tokens,
                completion_tokens: self.completion_tokens,
                cost_usd: self.cost_usd,
                ttfb_ms: self.ttfb_ms,
                latency_ms: self.latency_ms,
                fallback: self
                    .fallback
                    .parse()
                    .map_err(|_| parse("routing_decisions.fallback", &self.fallback))?,
                policy_version: self.policy_version,
                status: self.status,
                error: self.error,
                attempts: serde_json::from_str(&self.attempts)
                    .map_err(|e| StoreError::corrupt("routing_decisions.attempts", e.to_string()))?,
                job_id: self.job_id,
                quality: AnswerQuality {
                    finish_reason: self
                        .finish_reason
                        .as_deref()
                        .map(|reason| {
                            reason
                                .parse()
                                .map_err(|_| parse("routing_decisions.finish_reason", reason))
                        })
                        .transpose()?,
                    empty_answer: self.empty_answer,
                    json_valid: self.json_valid,
                    ttft_ms: self.ttft_ms,
                    tokens_per_sec: self.tokens_per_sec,
                    queued_ms: self.queued_ms,
                },
            },
        })
    }
}

/// Parses a stored node state.
pub(crate) fn parse_drain_state(value: &str) -> Result<DrainState, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::corrupt("nodes.state", format!("`{value}`")))
}

/// The refusal when `node` already has a pull queued or running (`running`: its id, model and start).
pub(crate) fn pull_conflict(node: &str, running: Option<(i64, String, DateTime<Utc>)>) -> StoreError {
    StoreError::Conflict(match running {
        Some((id, model, since)) => format!(
            "{node} is already pulling {model} (job {id}, since {} UTC); one pull per node at a time",
            since.format("%H:%M:%S")
        ),
        None => format!("{node} is already pulling a model; one pull per node at a time"),
    })
}

/// The audit detail for a change: `old -> new` or `old -> new (reason)`.
pub(crate) fn change_detail(old: &str, new: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) if !reason.is_empty() => format!("{old} -> {new} ({reason})"),
        _ => format!("{old} -> {new}"),
    }
}

/// How an absent override reads in audit details.
pub(crate) const UNSET: &str = "(unset)";

/// Now, truncated to the microsecond both backends store.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Summed in-flight reports per node as counts (a sum past `u32` reads as `u32::MAX`).
pub(crate) fn in_flight_counts(rows: Vec<(String, i64)>) -> Vec<(String, u32)> {
    rows.into_iter()
        .map(|(node, n)| (node, u32::try_from(n).unwrap_or(u32::MAX)))
        .collect()
}

/// A row count read from the database, as a `usize`.
pub(crate) fn count(table: &'static str, n: i64) -> Result<usize, StoreError> {
    usize::try_from(n).map_err(|_| StoreError::corrupt(table, format!("row count {n}")))
}
