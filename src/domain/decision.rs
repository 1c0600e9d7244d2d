//! The routing decision record: one per request, never any prompt or completion text.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AnswerQuality, Attempt, DeclaredClass, TaskClass, wire_enum};

/// Where a request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// A node of the farm.
    Local,
    /// A frontier API (Anthropic, OpenAI).
    Frontier,
    /// Nowhere: refused before any upstream call.
    Rejected,
}

wire_enum!(Endpoint, "endpoint", {
    Local => "local",
    Frontier => "frontier",
    Rejected => "rejected",
});

/// Which fallback, if any, the request took before its final endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Fallback {
    /// Served by the first choice.
    #[default]
    None,
    /// A local node failed before the first byte; another node served it.
    NodeRetry,
    /// Every local candidate failed; a frontier API served it (never for sensitive work).
    ToFrontier,
    /// The frontier failed or was unavailable; a local node served it.
    ToLocal,
}

wire_enum!(Fallback, "fallback", {
    None => "none",
    NodeRetry => "node_retry",
    ToFrontier => "to_frontier",
    ToLocal => "to_local",
});

/// One routing decision as the router records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Router-assigned unique id; makes journal replays idempotent.
    pub request_id: String,
    /// When the request arrived.
    pub ts: DateTime<Utc>,
    /// The calling agent (`user` field or `X-Agent-Id`).
    pub agent: String,
    /// The class the agent asked for.
    pub declared_class: DeclaredClass,
    /// The class the request was routed as.
    pub effective_class: TaskClass,
    /// Whether the sensitive rule applied.
    pub sensitive: bool,
    /// Why it was sensitive: `declared`, `header`, or `detector:<name>`.
    pub sensitivity_reason: Option<String>,
    /// Where it went.
    pub endpoint: Endpoint,
    /// `ollama`, `anthropic`, `openai`; `None` when rejected.
    pub provider: Option<String>,
    /// The farm node that served it, for local requests.
    pub node: Option<String>,
    /// The upstream model name.
    pub model: Option<String>,
    /// The router's token estimate before the call.
    pub est_tokens: i64,
    /// Input tokens reported by the upstream.
    pub prompt_tokens: i64,
    /// Output tokens reported by the upstream.
    pub completion_tokens: i64,
    /// Price of the call in USD (0 for local).
    pub cost_usd: f64,
    /// Time to first byte from the upstream, in milliseconds.
    pub ttfb_ms: Option<i64>,
    /// Total time in the router, in milliseconds.
    pub latency_ms: i64,
    /// The fallback taken, if any.
    pub fallback: Fallback,
    /// Policy version in force when the decision was made.
    pub policy_version: i64,
    /// HTTP status returned to the agent.
    pub status: i32,
    /// Error code or short message for failed requests (never request content).
    pub error: Option<String>,
    /// Every target tried, in order, with its outcome; empty when nothing was tried. Journal lines
    /// written before attempts were recorded have none.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The batch job this request was an attempt at; `None` for live traffic. Journal lines
    /// written before batch jobs have none.
    #[serde(default)]
    pub job_id: Option<i64>,
    /// How the answer ended and how fast it came (empty for requests never answered).
    #[serde(default)]
    pub quality: AnswerQuality,
}

/// A decision as read back from the store, with its store-assigned cursor id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDecision {
    /// Monotonic store id; consoles tail by it.
    pub id: i64,
    /// The decision itself.
    #[serde(flatten)]
    pub record: DecisionRecord,
}

impl DecisionRecord {
    /// Total tokens moved by the request.
    pub fn total_tokens(&self) -> i64 {
        self.prompt_tokens + self.completion_tokens
    }
}
