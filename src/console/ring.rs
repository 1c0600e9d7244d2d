//! The decisions the console holds: a bounded ring of compact rows.
//!
//! A console holds 10,000 decisions by default. Each [`StoredDecision`] read from the store owns
//! its agent, node, model and provider names, though a farm has a handful of each: held as they
//! come, they cost about 600 bytes a row. A [`HeldDecision`] keeps only what the console shows, and
//! shares every repeated name through the ring's [`Names`].

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{AttemptOutcome, DeclaredClass, Endpoint, Fallback, StoredDecision, TaskClass};

/// One decision as the console holds it: what its views show, repeated names shared.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldDecision {
    /// The store's cursor id.
    pub id: i64,
    /// When the request arrived.
    pub ts: DateTime<Utc>,
    /// The router-assigned request id.
    pub request_id: Box<str>,
    /// The calling agent.
    pub agent: Arc<str>,
    /// The class the agent asked for.
    pub declared_class: DeclaredClass,
    /// The class the request was routed as.
    pub effective_class: TaskClass,
    /// Whether the sensitive rule applied.
    pub sensitive: bool,
    /// Why it was sensitive.
    pub sensitivity_reason: Option<Arc<str>>,
    /// Where it went.
    pub endpoint: Endpoint,
    /// The provider that served it.
    pub provider: Option<Arc<str>>,
    /// The farm node that served it.
    pub node: Option<Arc<str>>,
    /// The upstream model.
    pub model: Option<Arc<str>>,
    /// The router's token estimate before the call.
    pub est_tokens: i64,
    /// Input tokens reported by the upstream.
    pub prompt_tokens: i64,
    /// Output tokens reported by the upstream.
    pub completion_tokens: i64,
    /// Price of the call in USD.
    pub cost_usd: f64,
    /// Time to first byte from the upstream, in milliseconds.
    pub ttfb_ms: Option<i64>,
    /// Total time in the router, in milliseconds.
    pub latency_ms: i64,
    /// The fallback taken, if any.
    pub fallback: Fallback,
    /// Policy version in force.
    pub policy_version: i64,
    /// HTTP status returned to the agent.
    pub status: i32,
    /// Error code or short message.
    pub error: Option<Arc<str>>,
    /// Every target tried, in order.
    pub attempts: Box<[HeldAttempt]>,
}

impl HeldDecision {
    /// Input plus output tokens.
    pub fn total_tokens(&self) -> i64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// One attempt of a held decision.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldAttempt {
    /// The node, or `provider/model`.
    pub target: Arc<str>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// Milliseconds until its outcome was known.
    pub ms: i64,
}

/// The names held decisions share: one copy of each agent, node, model, provider, reason and
/// error text, however many rows carry it.
#[derive(Debug, Clone, Default)]
pub struct Names {
    names: HashSet<Arc<str>>,
    /// The size past which names no row holds any more are let go.
    prune_at: usize,
}

/// Names held before the first pruning: more than a farm's agents, nodes and models together.
const NAMES_BEFORE_PRUNING: usize = 1024;

impl Names {
    /// The shared copy of `name`.
    pub fn share(&mut self, name: &str) -> Arc<str> {
        if let Some(held) = self.names.get(name) {
            return held.clone();
        }
        if self.names.len() >= self.prune_at.max(NAMES_BEFORE_PRUNING) {
            // Error texts and hostile agent names can vary without end: keep only names a row
            // still holds, and let the set grow again to twice what is left.
            self.names.retain(|held| Arc::strong_count(held) > 1);
            self.prune_at = self.names.len() * 2;
        }
        let held: Arc<str> = Arc::from(name);
        self.names.insert(held.clone());
        held
    }

    fn share_opt(&mut self, name: Option<&str>) -> Option<Arc<str>> {
        name.map(|name| self.share(name))
    }

    /// How many distinct names are held.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// A decision read from the store, made compact.
    pub fn hold(&mut self, decision: StoredDecision) -> HeldDecision {
        let StoredDecision { id, record: r } = decision;
        HeldDecision {
            id,
            ts: r.ts,
            request_id: r.request_id.into_boxed_str(),
            agent: self.share(&r.agent),
            declared_class: r.declared_class,
            effective_class: r.effective_class,
            sensitive: r.sensitive,
            sensitivity_reason: self.share_opt(r.sensitivity_reason.as_deref()),
            endpoint: r.endpoint,
            provider: self.share_opt(r.provider.as_deref()),
            node: self.share_opt(r.node.as_deref()),
            model: self.share_opt(r.model.as_deref()),
            est_tokens: r.est_tokens,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cost_usd: r.cost_usd,
            ttfb_ms: r.ttfb_ms,
            latency_ms: r.latency_ms,
            fallback: r.fallback,
            policy_version: r.policy_version,
            status: r.status,
            error: self.share_opt(r.error.as_deref()),
            attempts: r
                .attempts
                .iter()
                .map(|a| HeldAttempt {
                    target: self.share(&a.target),
                    outcome: a.outcome,
                    ms: a.ms,
                })
                .collect(),
        }
    }
}

/// The newest decisions, oldest first, never more than its capacity.
#[derive(Debug, Clone)]
pub struct DecisionRing {
    rows: VecDeque<HeldDecision>,
    names: Names,
    capacity: usize,
    dropped: u64,
}

impl DecisionRing {
    /// An empty ring holding at most `capacity` decisions (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        DecisionRing {
            rows: VecDeque::with_capacity(capacity.min(1024)),
            names: Names::default(),
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
            } else if self.rows.len() == self.rows.capacity() {
                // Doubling, but never past the ring's size: a full ring wraps through every
                // slot it has, so each slot past `capacity` would be memory held for nothing.
                let len = self.rows.len();
                self.rows.reserve_exact(len.max(1).min(self.capacity - len));
            }
            let held = self.names.hold(decision);
            self.rows.push_back(held);
        }
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &HeldDecision> {
        self.rows.iter()
    }

    /// Decisions the ring has room for without allocating.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        self.rows.capacity()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_of_each_name_however_many_rows_carry_it() {
        let mut names = Names::default();
        let a = names.share("ticket-classifier");
        let b = names.share("ticket-classifier");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn names_no_row_holds_are_let_go_once_the_set_is_full() {
        let mut names = Names::default();
        let kept = names.share("kept");
        for i in 0..NAMES_BEFORE_PRUNING * 3 {
            drop(names.share(&format!("error {i}")));
        }
        assert!(names.len() <= NAMES_BEFORE_PRUNING, "{} names held", names.len());
        assert!(Arc::ptr_eq(&kept, &names.share("kept")));
    }
}
