//! Building the decision record for one request, finished exactly once on every path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::shadow::ShadowJob;
use crate::config::TokenUsage;
use crate::domain::{AnswerQuality, Attempt, AttemptOutcome, DecisionRecord, Endpoint, Fallback, FinishReason};
use crate::quality::{AnswerCheck, AnswerSignals, JsonExpectation};
use crate::router::{Decision, PlanStep, Target};
use crate::wire::openai::{ChatCompletionChunk, ChatCompletionRequest};

use super::Gateway;
use super::errors::ApiError;
use super::job_ticket::{JobEvent, JobTicket};
use super::limiter::Admission;
use super::spend::Reservation;

/// A decision on its way to the recorder; dropping it unfinished records the request as abandoned.
pub struct PendingRecord {
    gateway: Arc<Gateway>,
    record: Option<DecisionRecord>,
    started: Instant,
    /// The attempt under way: its target and when it started.
    attempt: Option<(String, Instant)>,
    /// The expected cost held against the budget while a frontier attempt runs.
    reservation: Option<Reservation>,
    /// What failed frontier attempts that reported usage cost.
    failed_cost_usd: f64,
    /// The request's hold on its agent's limit counters.
    admission: Option<Admission>,
    /// Estimated prompt tokens: what a frontier stream cut before its usage is charged for input.
    prompt_estimate: u64,
    /// The batch job this request is an attempt at, if any.
    job: Option<JobTicket>,
    /// The answer's quality signals, read as it passes through.
    check: AnswerCheck,
    /// When the serving attempt started, and when its first token arrived (streams).
    served_since: Option<Instant>,
    first_token: Option<Instant>,
    /// Time the request waited in the router for a node slot.
    queued: Duration,
    /// Set when the request was sampled for a shadow twin: what the twin needs.
    shadow: Option<Box<ShadowSeed>>,
}

/// What a sampled request's shadow twin needs besides the answer's text.
pub struct ShadowSeed {
    /// The request.
    pub request: ChatCompletionRequest,
    /// The decision the request was served under.
    pub decision: Decision,
}

impl PendingRecord {
    /// Starts the record for a request that reached a decision.
    pub fn new(gateway: Arc<Gateway>, agent: &str, decision: &Decision, started: Instant, ts: DateTime<Utc>) -> Self {
        let record = DecisionRecord {
            request_id: new_request_id(ts),
            ts,
            agent: agent.to_string(),
            declared_class: decision.declared,
            effective_class: decision.class,
            sensitive: decision.is_sensitive(),
            sensitivity_reason: decision.sensitivity.map(|s| s.as_str().to_string()),
            endpoint: Endpoint::Rejected,
            provider: None,
            node: None,
            model: None,
            est_tokens: i64::try_from(decision.est_tokens).unwrap_or(i64::MAX),
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            ttfb_ms: None,
            latency_ms: 0,
            fallback: Fallback::None,
            policy_version: decision.policy_version,
            status: 0,
            error: None,
            attempts: Vec::new(),
            job_id: None,
            quality: Default::default(),
        };
        PendingRecord {
            gateway,
            record: Some(record),
            started,
            attempt: None,
            reservation: None,
            failed_cost_usd: 0.0,
            admission: None,
            prompt_estimate: 0,
            job: None,
            check: AnswerCheck::default(),
            served_since: None,
            first_token: None,
            queued: Duration::ZERO,
            shadow: None,
        }
    }

    /// Marks the request as an attempt at a batch job (so spend and history join), which hears
    /// where it is served and what was recorded.
    pub fn for_job(&mut self, ticket: &JobTicket) {
        self.job = Some(ticket.clone());
    }

    /// Records the request as refused with `err` and hands the error back.
    pub fn refused(self, err: ApiError) -> ApiError {
        self.finish(err.status.as_u16(), Some(err.code.clone()), None);
        err
    }

    /// Judges the answer's JSON against `expectation` (from the request's `response_format`).
    pub fn expect(&mut self, expectation: JsonExpectation) {
        self.check = AnswerCheck::new(expectation);
    }

    /// Samples the request for a shadow twin, run once its answer is complete (the answer's
    /// text is then held in memory until it is compared).
    pub fn shadow(&mut self, request: ChatCompletionRequest, decision: Decision) {
        self.check.keep_text();
        self.shadow = Some(Box::new(ShadowSeed { request, decision }));
    }

    /// Notes how long the request waited for a node slot.
    pub fn queued_for(&mut self, waited: Duration) {
        self.queued = waited;
    }

    /// Reads a streamed chunk on its way to the agent (its first token sets the time to first token).
    pub fn observe_chunk(&mut self, chunk: &ChatCompletionChunk) {
        if self.check.observe_chunk(chunk) && self.first_token.is_none() {
            self.first_token = Some(Instant::now());
        }
    }

    /// Takes the signals of a whole completion its relay already read (`body` is read again only
    /// when the answer's text must be held).
    pub fn observe_answer(&mut self, answer: AnswerSignals, body: &[u8]) {
        self.check.observe_answer(answer, body);
    }

    /// Notes the request's estimated prompt tokens (its estimate less `max_tokens`).
    pub fn prompt_estimate(&mut self, tokens: u64) {
        self.prompt_estimate = tokens;
    }

    /// Holds the agent's limit counters until the record is finished (then its tokens count).
    pub fn admitted(&mut self, admission: Admission) {
        self.admission = Some(admission);
    }

    /// Holds `reservation` against the budget until the record is finished.
    pub fn hold(&mut self, reservation: Reservation) {
        if let Some(previous) = self.reservation.replace(reservation) {
            self.gateway.spend.release(previous);
        }
    }

    /// Charges the usage a failed attempt on frontier `model` reported (the provider bills it).
    pub fn charge_failed(&mut self, model: &str, usage: Option<TokenUsage>) {
        let Some(usage) = usage else { return };
        let now = Utc::now();
        match self.gateway.config.price_for(model, now.date_naive()) {
            Some(price) => self.failed_cost_usd += price.cost(&usage),
            None => tracing::warn!(
                model,
                "no price for frontier model; a failed attempt's usage is not charged"
            ),
        }
    }

    /// The request id (for logs and the `X-Request-Id` header).
    pub fn request_id(&self) -> &str {
        self.record.as_ref().map(|r| r.request_id.as_str()).unwrap_or_default()
    }

    /// Takes the class and sensitivity of a decision made again (after the privacy reviewer's answer).
    pub fn redecided(&mut self, decision: &Decision) {
        if let Some(r) = self.record.as_mut() {
            r.effective_class = decision.class;
            r.sensitive = decision.is_sensitive();
            r.sensitivity_reason = decision.sensitivity.map(|s| s.as_str().to_string());
            r.policy_version = decision.policy_version;
        }
    }

    /// Notes which target is serving the request, and starts its attempt.
    pub fn serving(&mut self, step: &PlanStep) {
        self.end_attempt(AttemptOutcome::Cancelled);
        let now = Instant::now();
        self.attempt = Some((attempt_target(&step.target), now));
        self.served_since = Some(now);
        if let Some(ticket) = &self.job {
            ticket.tell(JobEvent::Serving(attempt_target(&step.target)));
        }
        if let Some(r) = self.record.as_mut() {
            r.endpoint = step.target.endpoint();
            r.fallback = step.fallback;
            match &step.target {
                Target::Local { node, model } => {
                    r.provider = Some("ollama".into());
                    r.node = Some(node.to_string());
                    r.model = Some(model.to_string());
                }
                Target::Frontier { provider, model } => {
                    r.provider = Some(provider.to_string());
                    r.node = None;
                    r.model = Some(model.to_string());
                }
            }
        }
    }

    /// Notes the time to first byte, once, and that the attempt under way answered.
    pub fn first_byte(&mut self) {
        self.end_attempt(AttemptOutcome::Ok);
        if let Some(r) = self.record.as_mut().filter(|r| r.ttfb_ms.is_none()) {
            r.ttfb_ms = Some(self.started.elapsed().as_millis() as i64);
        }
    }

    /// Ends the attempt under way as failed with `outcome`.
    pub fn attempt_failed(&mut self, outcome: AttemptOutcome) {
        self.end_attempt(outcome);
    }

    /// Ends the attempt under way as failed with `outcome`; the same target is tried again after `wait`.
    pub fn attempt_retried(&mut self, outcome: AttemptOutcome, wait: Duration) {
        if let Some((target, _)) = self.attempt.clone() {
            self.end_attempt(outcome);
            self.attempt = Some((target, Instant::now() + wait));
        }
    }

    fn end_attempt(&mut self, outcome: AttemptOutcome) {
        let Some((target, since)) = self.attempt.take() else {
            return;
        };
        if let Some(r) = self.record.as_mut() {
            let ms = Instant::now().saturating_duration_since(since).as_millis();
            r.attempts.push(Attempt {
                target,
                outcome,
                ms: i64::try_from(ms).unwrap_or(i64::MAX),
            });
        }
    }

    /// Finishes and records: status returned to the agent, an error code if any, token usage.
    pub fn finish(mut self, status: u16, error: Option<String>, usage: Option<TokenUsage>) {
        self.complete(status, error, usage);
    }

    fn complete(&mut self, status: u16, error: Option<String>, usage: Option<TokenUsage>) {
        // An attempt still under way ends with the request: the agent went away during it.
        self.end_attempt(AttemptOutcome::Cancelled);
        let Some(mut record) = self.record.take() else { return };
        let now = Utc::now();
        record.status = i32::from(status);
        record.error = error;
        record.latency_ms = self.started.elapsed().as_millis() as i64;
        record.job_id = self.job.as_ref().map(|ticket| ticket.job_id);
        if let Some(mut usage) = usage {
            if record.endpoint == Endpoint::Frontier && usage.input_total() == 0 {
                // A stream cut before its usage arrived: the provider read the whole prompt.
                usage.uncached_in = self.prompt_estimate;
            }
            record.prompt_tokens = i64::try_from(usage.input_total()).unwrap_or(i64::MAX);
            record.completion_tokens = i64::try_from(usage.out).unwrap_or(i64::MAX);
            if record.endpoint == Endpoint::Frontier {
                let model = record.model.as_deref().unwrap_or_default();
                match self.gateway.config.price_for(model, now.date_naive()) {
                    Some(price) => record.cost_usd = price.cost(&usage),
                    None => tracing::warn!(
                        model,
                        "no price for frontier model; recording cost 0 (add a [[pricing]] row)"
                    ),
                }
            }
        }
        record.cost_usd += self.failed_cost_usd;
        record.quality = self.quality(&record);
        self.gateway.spend.add(&record.agent, record.cost_usd, now);
        if let Some(reservation) = self.reservation.take() {
            self.gateway.spend.release(reservation);
        }
        if let Some(admission) = self.admission.take() {
            let tokens = u64::try_from(record.prompt_tokens.saturating_add(record.completion_tokens)).unwrap_or(0);
            self.gateway.limiter.finish(admission, tokens, now_ms(now));
        }
        tracing::debug!(
            request_id = %record.request_id, agent = %record.agent, class = %record.effective_class,
            endpoint = %record.endpoint, node = record.node.as_deref().unwrap_or("-"),
            model = record.model.as_deref().unwrap_or("-"), status = record.status,
            latency_ms = record.latency_ms, fallback = %record.fallback, "decision"
        );
        self.gateway.metrics.observe(&record);
        self.gateway.quality_window.add(&record, now.timestamp().div_euclid(60));
        if let Some(ticket) = &self.job {
            ticket.tell(JobEvent::Recorded(Box::new(record.clone())));
        }
        if let Some(seed) = self.shadow.take() {
            self.start_shadow(*seed, &record);
        }
        self.gateway.recorder.record(record);
    }

    /// Starts the shadow twin of a request answered whole with text, after its answer.
    fn start_shadow(&self, seed: ShadowSeed, record: &DecisionRecord) {
        let answered = record.status == 200
            && record.error.is_none()
            && matches!(
                record.quality.finish_reason,
                Some(FinishReason::Stop | FinishReason::Length)
            );
        let Some(answer) = self.check.text().filter(|t| answered && !t.trim().is_empty()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let job = ShadowJob {
            request_id: record.request_id.clone(),
            agent: record.agent.clone(),
            declared: seed.decision.declared,
            class: seed.decision.class,
            sensitivity: seed.decision.sensitivity,
            policy_version: seed.decision.policy_version,
            est_tokens: seed.decision.est_tokens,
            endpoint: record.endpoint,
            model: record.model.clone().unwrap_or_default(),
            request: seed.request,
            answer: answer.to_string(),
        };
        runtime.spawn(super::shadow::run(self.gateway.clone(), job));
    }
}

impl PendingRecord {
    /// The quality signals of the finished `record`: how its answer ended and how fast it came.
    /// An answer the agent or a shutdown cut short has no verdict, only its timings.
    fn quality(&self, record: &DecisionRecord) -> AnswerQuality {
        let now = Instant::now();
        let mut quality = AnswerQuality {
            queued_ms: millis(self.queued),
            ttft_ms: self
                .first_token
                .map(|at| millis(at.saturating_duration_since(self.started))),
            ..AnswerQuality::default()
        };
        if record.endpoint == Endpoint::Rejected {
            return quality;
        }
        let generating_since = self.first_token.or(self.served_since);
        if let Some(since) = generating_since.filter(|_| record.completion_tokens > 0) {
            let secs = now.saturating_duration_since(since).as_secs_f64();
            if secs > 0.0 {
                quality.tokens_per_sec = Some(record.completion_tokens as f64 / secs);
            }
        }
        quality.finish_reason = match (record.status, record.error.as_deref()) {
            (200, None) => {
                quality.empty_answer = Some(self.check.empty());
                quality.json_valid = self.check.json_valid();
                Some(self.check.finish_reason())
            }
            (200, Some(error)) if error.starts_with("upstream_dropped") => Some(FinishReason::Error),
            (499, _) | (_, Some("cut_at_shutdown")) => None,
            (status, _) if status >= 500 => Some(FinishReason::Error),
            _ => None,
        };
        quality
    }

    /// Records a request that ended before its answer did, charging `usage` if any arrived: cut
    /// by shutdown (503 `cut_at_shutdown`), or else abandoned by the agent (499, as Ollama logs it).
    pub fn abandon(mut self, usage: Option<TokenUsage>) {
        self.abandoned(usage);
    }

    fn abandoned(&mut self, usage: Option<TokenUsage>) {
        if self.gateway.is_cutting() {
            self.complete(503, Some("cut_at_shutdown".into()), usage);
        } else {
            self.complete(499, Some("client_disconnected".into()), usage);
        }
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        self.abandoned(None);
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `now` in milliseconds since the epoch, as the limiter counts time.
pub fn now_ms(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_millis()).unwrap_or(0)
}

/// How an attempt names its target: the node, or `provider/model` for a frontier API.
fn attempt_target(target: &Target) -> String {
    match target {
        Target::Local { node, .. } => node.to_string(),
        Target::Frontier { provider, model } => format!("{provider}/{model}"),
    }
}

/// A unique, time-ordered request id: `fh-<unix ms hex>-<random>`.
pub fn new_request_id(ts: DateTime<Utc>) -> String {
    format!(
        "fh-{:011x}-{:016x}",
        ts.timestamp_millis().max(0),
        rand::random::<u64>()
    )
}
