//! `POST /v1/chat/completions`: authenticate → parse → features → `select` → walk the plan → relay → record.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::Gateway;
use super::body::read_body;
use super::edge::ConnectionCloser;
use super::errors::ApiError;
use super::inflight::InFlightGuard;
use super::job_ticket::JobTicket;
use super::limiter::Refusal;
use super::record::{PendingRecord, now_ms};
use super::relay::{self, StreamOptions};
use super::upstream::{UpstreamError, UpstreamReply};
use crate::domain::DeclaredClass;
use crate::quality::JsonExpectation;
use crate::router::{
    DataClass, Decision, LimitKind, LocalMiss, PlanStep, RejectCode, Rejection, RequestFeatures, RequestInput, Target,
    parse_data_class,
};
use crate::wire::openai::{ChatCompletionRequest, ChatMessage};

/// Header naming the task class when `model` does not.
pub const TASK_CLASS_HEADER: &str = "x-task-class";
/// Header naming the calling agent.
pub const AGENT_HEADER: &str = "x-agent-id";
/// Header labelling the request's data (`public`, `internal`, `restricted`, `confidential`, `secret`, `pii`, `phi`).
pub const DATA_CLASS_HEADER: &str = "x-data-class";

/// The handler. It takes the request whole, so that its headers are read where they are rather
/// than copied out by an extractor.
pub async fn chat_completions(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(&ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return ApiError::internal("no_peer_address", "the router was served without its peers' addresses")
            .into_response();
    };
    let connection = parts.extensions.get::<ConnectionCloser>().cloned();
    match handle(gateway, peer, connection, parts.headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn handle(
    gateway: Arc<Gateway>,
    peer: SocketAddr,
    connection: Option<ConnectionCloser>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let ts = Utc::now();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // The key is checked before a byte of the body is read.
    let key_agent = gateway
        .keys
        .authenticate(text(header::AUTHORIZATION.as_str()), peer)
        .inspect_err(|e| gateway.count_refused(e))?;
    let body = read_body(&gateway.config.router, &headers, body)
        .await
        .inspect_err(|e| gateway.count_refused(e))?;
    let (body, request) = parse_request(&body).inspect_err(|e| gateway.count_refused(e))?;
    let declared = declared_class(&request.model, text(TASK_CLASS_HEADER)).inspect_err(|e| gateway.count_refused(e))?;
    let data_class = parse_data_class(headers.get_all(DATA_CLASS_HEADER).iter().map(HeaderValue::as_bytes))
        .map_err(|e| ApiError::bad_request("unknown_data_class", e.to_string()))
        .inspect_err(|e| gateway.count_refused(e))?;
    let agent = key_agent
        .or(text(AGENT_HEADER))
        .or(request.user.as_deref())
        .unwrap_or("anonymous");
    let parsed = ParsedRequest {
        agent: sanitize_agent(agent),
        body,
        request,
        declared,
        data_class,
        started,
        ts,
    };
    gateway.live_request_arrived();
    serve(gateway, parsed, Origin::Live { connection }).await
}

/// A chat completion request that passed the HTTP checks, ready to be decided and served.
pub struct ParsedRequest {
    /// The calling agent.
    pub agent: String,
    /// The body as JSON (every string of it is scanned).
    pub body: Value,
    /// The typed request.
    pub request: ChatCompletionRequest,
    /// The class the agent declared.
    pub declared: DeclaredClass,
    /// The data label the agent sent, if any.
    pub data_class: Option<DataClass>,
    /// When the request arrived.
    pub started: Instant,
    /// When the request arrived, on the wall clock.
    pub ts: chrono::DateTime<Utc>,
}

impl ParsedRequest {
    /// A request read from a batch job's body (`model` is its task class); never streamed.
    pub fn from_job(agent: &str, body: &[u8]) -> Result<ParsedRequest, ApiError> {
        let (mut body, mut request) = parse_request(body)?;
        let declared = declared_class(&request.model, None)?;
        request.stream = None;
        request.stream_options = None;
        if let Some(object) = body.as_object_mut() {
            object.remove("stream");
            object.remove("stream_options");
        }
        Ok(ParsedRequest {
            agent: sanitize_agent(agent),
            body,
            request,
            declared,
            data_class: None,
            started: Instant::now(),
            ts: Utc::now(),
        })
    }
}

/// Where a request came from: an agent waiting on a connection, or a batch job on idle capacity.
pub enum Origin {
    /// An agent's request.
    Live {
        /// Closes the agent's connection when its stream must be cut.
        connection: Option<ConnectionCloser>,
    },
    /// A batch job's attempt.
    Job(JobTicket),
}

impl Origin {
    fn job(&self) -> Option<&JobTicket> {
        match self {
            Origin::Job(ticket) => Some(ticket),
            Origin::Live { .. } => None,
        }
    }

    /// The decision as this origin may act on it: a job keeps only the steps its ticket allows,
    /// and is told to wait when none is left.
    fn restrict(&self, mut decision: Decision) -> Result<Decision, ApiError> {
        let Some(ticket) = self.job() else {
            return Ok(decision);
        };
        if let crate::router::Outcome::Plan(steps) = &mut decision.outcome {
            steps.retain(|step| ticket.allows(step));
            if steps.is_empty() {
                return Err(ApiError::unavailable(
                    NO_BATCH_CAPACITY,
                    "no node has a slot batch work may take now".to_string(),
                    1,
                ));
            }
        }
        Ok(decision)
    }
}

/// The error code a job attempt gets when nothing it may use is free: it waits, uncounted.
pub const NO_BATCH_CAPACITY: &str = "no_batch_capacity";

/// Decides, walks the plan, relays the answer and records the decision.
pub async fn serve(gateway: Arc<Gateway>, parsed: ParsedRequest, origin: Origin) -> Result<Response, ApiError> {
    let ParsedRequest {
        agent,
        body,
        request,
        declared,
        data_class,
        started,
        ts,
    } = parsed;
    let texts: Vec<Cow<'_, str>> = request.messages.iter().map(ChatMessage::text).collect();
    let text_refs: Vec<&str> = texts.iter().map(Cow::as_ref).collect();
    let tool_count = request
        .extra
        .get("tools")
        .and_then(|t| t.as_array())
        .map_or(0, Vec::len);
    let input = RequestInput {
        declared,
        data_class,
        agent: &agent,
        messages: &text_refs,
        body: &body,
        tool_count,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
    };
    let mut features = RequestFeatures::from_request(&input, gateway.policy.detectors);
    drop(texts);
    // A job that finds nothing it may use waits for a slot: that is not an attempt, and not recorded.
    let (decision, queued) = decide_for(&gateway, &features, &origin).await;
    let mut decision = origin.restrict(decision)?;
    let mut pending = PendingRecord::new(gateway.clone(), &agent, &decision, started, ts);
    pending.queued_for(queued);
    pending.expect(JsonExpectation::of_response_format(
        request.extra.get("response_format"),
        &gateway.schemas,
    ));
    // After `expect`, which starts the answer's check afresh.
    let shadow_rate = gateway.config.quality.shadow_rate(decision.class);
    if origin.job().is_none() && shadow_rate > 0.0 && rand::random::<f64>() < shadow_rate {
        pending.shadow(request.clone(), decision.clone());
    }
    if let Some(ticket) = origin.job() {
        pending.for_job(ticket);
    }
    if let Some(rejection) = decision.rejection() {
        return Err(refuse(&decision, rejection, pending));
    }
    let max_tokens = request.max_completion_tokens.or(request.max_tokens).map(u64::from);
    let prompt_tokens = decision.est_tokens.saturating_sub(max_tokens.unwrap_or(0));
    pending.prompt_estimate(prompt_tokens);
    if let Err(refusal) = admit(&gateway, &agent, &decision, &mut pending, origin.job().is_some()) {
        let err = ApiError::too_many_requests(
            &refusal.kind.code(),
            limit_message(&agent, &refusal),
            refusal.retry_after_secs,
        );
        pending.finish(err.status.as_u16(), Some(err.code.clone()), None);
        return Err(err);
    }

    let mut plan: VecDeque<PlanStep> = decision.plan().iter().cloned().collect();
    let mut tried: Vec<Target> = Vec::with_capacity(plan.len());
    let mut reviewed = false;
    let mut failures: Vec<String> = Vec::new();
    let mut last_error: Option<UpstreamError> = None;
    while let Some(step) = plan.pop_front() {
        if matches!(step.target, Target::Frontier { .. }) {
            // Defence in depth: the plan already excludes it, and this gateway refuses to try.
            if decision.is_sensitive() {
                tracing::error!(
                    request_id = pending.request_id(),
                    "refused a frontier target for a sensitive request"
                );
                continue;
            }
            if let Some(model) = gateway.config.policy.review_model.as_deref()
                && !reviewed
            {
                reviewed = true;
                if gateway.review(model, &body, pending.request_id()).await.is_err() {
                    features.review_flagged = true;
                    decision = match origin.restrict(decide_for(&gateway, &features, &origin).await.0) {
                        Ok(decision) => decision,
                        Err(err) => return Err(pending.refused(err)),
                    };
                    pending.redecided(&decision);
                    if let Some(rejection) = decision.rejection() {
                        return Err(refuse(&decision, rejection, pending));
                    }
                    plan = decision
                        .plan()
                        .iter()
                        .filter(|s| !tried.contains(&s.target))
                        .cloned()
                        .collect();
                    continue;
                }
            }
        }
        if let Target::Frontier { model, .. } = &step.target {
            match gateway.reserve_frontier(model, prompt_tokens, max_tokens).await {
                Some(reservation) => pending.hold(reservation),
                None if origin.job().is_some() => {
                    // A job does not degrade past the budget: it waits for the next day.
                    let resets_in = super::spend::resets_in_secs(Utc::now());
                    let err = ApiError::unavailable(
                        "budget_exhausted",
                        "today's frontier budget is spent; the job waits for the next UTC day".to_string(),
                        resets_in,
                    );
                    return Err(pending.refused(err));
                }
                None => {
                    // Another request (here or on another router) spent the rest of the budget
                    // since the decision: do what policy does past it.
                    decision = gateway.decide_past_budget(&features);
                    pending.redecided(&decision);
                    if let Some(rejection) = decision.rejection() {
                        return Err(refuse(&decision, rejection, pending));
                    }
                    plan = decision
                        .plan()
                        .iter()
                        .filter(|s| !tried.contains(&s.target) && !matches!(s.target, Target::Frontier { .. }))
                        .cloned()
                        .collect();
                    continue;
                }
            }
        }
        tried.push(step.target.clone());
        let _slot = match &step.target {
            Target::Local { node, .. } if origin.job().is_some() => Some(gateway.in_flight.enter_batch(node)),
            Target::Local { node, .. } => Some(gateway.in_flight.enter(node)),
            Target::Frontier { .. } => None,
        };
        // Noted before the call: if every target fails, the record names the last one tried.
        pending.serving(&step);
        let frontier_model = match &step.target {
            Target::Frontier { model, .. } => Some(model.clone()),
            Target::Local { .. } => None,
        };
        let call = gateway.call(&step.target, &request, |err, wait| {
            if let Some(model) = &frontier_model {
                pending.charge_failed(model, err.usage.as_deref().copied());
            }
            pending.attempt_retried(err.outcome, wait)
        });
        match call.await {
            Ok(reply) => {
                pending.first_byte();
                let connection = match &origin {
                    Origin::Live { connection } => connection.clone(),
                    Origin::Job(_) => None,
                };
                let stream = StreamOptions {
                    wants_usage: request.wants_usage_chunk(),
                    write_timeout: Duration::from_secs(gateway.config.router.client_write_timeout_secs.max(1)),
                    connection,
                };
                return Ok(respond(&gateway, reply, stream, &decision, &step, pending, _slot));
            }
            Err(UpstreamError {
                untranslatable: Some(refusal),
                outcome,
                ..
            }) => {
                pending.attempt_failed(outcome);
                // The agent's request is at fault, not the upstream: no other route is tried.
                let err = ApiError::unsupported_field(
                    &refusal.field,
                    format!("{refusal} (route {})", step.target.route_label()),
                );
                pending.finish(err.status.as_u16(), Some(err.code.clone()), None);
                return Err(err);
            }
            Err(err) => {
                if let Some(model) = &frontier_model {
                    pending.charge_failed(model, err.usage.as_deref().copied());
                }
                pending.attempt_failed(err.outcome);
                tracing::warn!(request_id = pending.request_id(), route = %step.target.route_label(), error = %err, "upstream failed before the first byte");
                failures.push(format!("{}: {}", step.target.route_label(), err.message));
                last_error = Some(err);
            }
        }
    }
    let err = if decision.is_sensitive() {
        let tried = if failures.is_empty() {
            "no node was left to try".to_string()
        } else {
            failures.join("; ")
        };
        ApiError::unavailable(
            "no_local_capacity",
            format!("sensitive work stays on the farm and no node could take it ({tried}); retry later"),
            retry_after_secs(last_error.as_ref()),
        )
    } else {
        ApiError::bad_gateway(
            last_error
                .as_ref()
                .map(UpstreamError::code)
                .as_deref()
                .unwrap_or("upstream_failed"),
            format!("every upstream in the plan failed: {}", failures.join("; ")),
        )
    };
    pending.finish(err.status.as_u16(), Some(err.code.clone()), None);
    Err(err)
}

/// Checks the agent's limits before its request is served: its daily frontier spend (fleet-wide,
/// when the plan starts at the frontier), then its per-router counters, which then hold the
/// request until its record is finished. A batch job counts against the daily spend only: its
/// rate and concurrency are the scheduler's, so that it never takes a live request's turn.
fn admit(
    gateway: &Gateway,
    agent: &str,
    decision: &Decision,
    pending: &mut PendingRecord,
    job: bool,
) -> Result<(), Refusal> {
    let limits = gateway.limits_of(agent);
    if limits.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let to_frontier = decision
        .plan()
        .first()
        .is_some_and(|s| matches!(s.target, Target::Frontier { .. }));
    if let Some(daily) = limits.daily_usd
        && to_frontier
        && gateway.spend().agent_today(agent, now) >= daily
    {
        return Err(Refusal {
            kind: LimitKind::DailyUsd,
            limit: daily,
            retry_after_secs: super::spend::resets_in_secs(now),
        });
    }
    if job {
        return Ok(());
    }
    // The decision's estimate is the prompt's plus `max_tokens`.
    let admission = gateway
        .limiter()
        .admit(agent, &limits, decision.est_tokens, now_ms(now))?;
    pending.admitted(admission);
    Ok(())
}

/// What an agent over a limit is told: which limit, its value, and when to retry.
fn limit_message(agent: &str, refusal: &Refusal) -> String {
    let what = match refusal.kind {
        LimitKind::Rpm => format!("{:.0} requests per minute", refusal.limit),
        LimitKind::Tpm => format!("{:.0} tokens per minute", refusal.limit),
        LimitKind::MaxInFlight => format!("{:.0} requests in flight", refusal.limit),
        LimitKind::DailyUsd => format!("${:.2} of frontier spend per UTC day", refusal.limit),
    };
    format!(
        "agent `{agent}` is over its limit of {what} (agent.{agent}.{}); retry after {} s",
        refusal.kind, refusal.retry_after_secs
    )
}

/// The agent's error for a decision that refused the request; the refusal is recorded.
fn refuse(decision: &Decision, rejection: &Rejection, pending: PendingRecord) -> ApiError {
    let err = match rejection.code {
        RejectCode::Unservable(miss) => ApiError {
            param: Some(miss.field()),
            ..ApiError::bad_request(rejection.code.as_str(), unservable_message(decision, miss))
        },
        code => ApiError::unavailable(
            code.as_str(),
            rejection_message(decision, code.as_str()),
            rejection.retry_after_secs.unwrap_or(1),
        ),
    };
    pending.finish(err.status.as_u16(), Some(err.code.clone()), None);
    err
}

/// Why a request that must stay on the farm cannot be served there, naming what it needs.
fn unservable_message(decision: &Decision, miss: LocalMiss) -> String {
    let class = decision.class;
    let model = &decision.local_model;
    let why = match miss {
        LocalMiss::Capability(capability) => format!(
            "`{}` needs the `{capability}` capability and the `{class}` class's local model `{model}` does not have it (fleet.toml [models.capabilities] lists what each model can do)",
            miss.field()
        ),
        LocalMiss::Gap(gap) => format!(
            "`{}` cannot be sent to the farm's Ollama nodes: {}",
            gap.field(),
            gap.reason()
        ),
    };
    let stays = if decision.is_sensitive() {
        "sensitive work never leaves the farm".to_string()
    } else {
        format!("an operator keeps `{class}` work on the farm (class.{class}.target = local)")
    };
    format!("{why}; {stays}")
}

/// Decides for `origin`, with how long the request waited for a node slot: a live request may
/// wait for capacity, a job never does (its worker waits).
async fn decide_for(gateway: &Gateway, features: &RequestFeatures, origin: &Origin) -> (Decision, Duration) {
    match origin {
        Origin::Live { .. } => decide_waiting_for_capacity(gateway, features).await,
        Origin::Job(_) => (gateway.decide(features), Duration::ZERO),
    }
}

/// Decides; a sensitive request with no local capacity may wait up to `router.sensitive_wait_secs`
/// for a node to free up (it never goes to the frontier instead). While it waits, batch work takes
/// no new slot.
async fn decide_waiting_for_capacity(gateway: &Gateway, features: &RequestFeatures) -> (Decision, Duration) {
    let since = Instant::now();
    let deadline = since + Duration::from_secs(gateway.config.router.sensitive_wait_secs);
    loop {
        let decision = gateway.decide(features);
        let waiting = decision.is_sensitive()
            && decision
                .rejection()
                .is_some_and(|r| r.code == RejectCode::NoLocalCapacity)
            && Instant::now() < deadline;
        if !waiting {
            return (decision, since.elapsed());
        }
        let _waiting = gateway.live_waiting();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Turns an upstream reply into the agent's response and records the decision when it ends.
fn respond(
    gateway: &Gateway,
    reply: UpstreamReply,
    options: StreamOptions,
    decision: &Decision,
    step: &PlanStep,
    mut pending: PendingRecord,
    slot: Option<InFlightGuard>,
) -> Response {
    let mut response = match reply {
        UpstreamReply::Complete { body, usage, answer } => {
            pending.observe_answer(answer, &body);
            let mut response = Response::new(Body::from(body));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            put_route_headers(response.headers_mut(), decision, step, pending.request_id());
            pending.finish(200, None, Some(usage));
            drop(slot);
            return response;
        }
        UpstreamReply::Stream(chunks) => {
            let mut response = Response::new(Body::empty());
            put_route_headers(response.headers_mut(), decision, step, pending.request_id());
            *response.body_mut() = relay::spawn(&gateway.streams, chunks, pending, slot, options);
            response
        }
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `X-Farmhand-Route`: where the request went.
static ROUTE_HEADER: HeaderName = HeaderName::from_static("x-farmhand-route");
/// `X-Farmhand-Decision`: why it went there.
static DECISION_HEADER: HeaderName = HeaderName::from_static("x-farmhand-decision");
/// `X-Request-Id`: the decision's id, for feedback and support.
static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Adds the route, decision and request id headers to `headers`.
fn put_route_headers(headers: &mut HeaderMap, decision: &Decision, step: &PlanStep, request_id: &str) {
    let mut decision_value = decision.header_value();
    for (key, value) in [(";fallback=", step.fallback.as_str()), (";id=", request_id)] {
        decision_value.push_str(key);
        decision_value.push_str(value);
    }
    for (name, value) in [
        (&ROUTE_HEADER, step.target.route_label()),
        (&DECISION_HEADER, decision_value),
        (&REQUEST_ID_HEADER, request_id.to_string()),
    ] {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name.clone(), value);
        }
    }
}

/// A chat completion request body as JSON (every string of it is scanned) and as the typed
/// request, both from one parse; a 400 in OpenAI's shape when it is not one.
pub fn parse_request(body: &[u8]) -> Result<(Value, ChatCompletionRequest), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "missing_body",
            "the request body is empty; send a JSON chat completion request",
        ));
    }
    let invalid = |e: serde_json::Error| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not a valid chat completion request: {e}"),
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(invalid)?;
    let request = ChatCompletionRequest::deserialize(&value).map_err(invalid)?;
    if request.messages.is_empty() {
        return Err(ApiError::bad_request(
            "empty_messages",
            "`messages` must hold at least one message",
        ));
    }
    Ok((value, request))
}

/// The declared class: `model` or `X-Task-Class`; if either says sensitive, it is sensitive.
fn declared_class(model: &str, header: Option<&str>) -> Result<DeclaredClass, ApiError> {
    let from_model = model.trim().parse::<DeclaredClass>().ok();
    let from_header = match header {
        Some(h) => Some(
            h.trim()
                .parse::<DeclaredClass>()
                .map_err(|e| ApiError::bad_request("unknown_task_class", format!("X-Task-Class: {e}")))?,
        ),
        None => None,
    };
    if from_model == Some(DeclaredClass::Sensitive) || from_header == Some(DeclaredClass::Sensitive) {
        return Ok(DeclaredClass::Sensitive);
    }
    from_model.or(from_header).ok_or_else(|| {
        let shown: String = model.chars().take(64).collect();
        ApiError::bad_request(
            "unknown_task_class",
            format!(
                "`model` must name a task class (routine, reasoning, orchestration, sensitive or auto), not `{shown}`: agents declare the kind of thinking they need and the router picks the model"
            ),
        )
    })
}

/// Agent names go into logs and the store: keep them short and printable.
pub(super) fn sanitize_agent(agent: &str) -> String {
    let clean: String = agent
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect();
    if clean.trim().is_empty() {
        "anonymous".into()
    } else {
        clean.trim().to_string()
    }
}

fn rejection_message(decision: &Decision, code: &str) -> String {
    match code {
        "no_local_capacity" if decision.is_sensitive() => {
            "sensitive work stays on the farm and no node can take it now; retry after the indicated delay".into()
        }
        "no_local_capacity" => {
            "no node can take this request now and policy keeps it off the frontier; retry later".into()
        }
        "budget_exhausted" => "today's frontier budget is spent and policy refuses frontier work past it".into(),
        "frontier_disabled" => "the frontier kill switch is on and no node can take this request".into(),
        other => format!("request refused by policy ({other})"),
    }
}

fn retry_after_secs(err: Option<&UpstreamError>) -> u32 {
    err.and_then(|e| e.retry_after)
        .map(|d| d.as_secs().clamp(1, 60) as u32)
        .unwrap_or(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_comes_from_model_or_header_and_sensitive_wins() {
        assert_eq!(declared_class("routine", None), Ok(DeclaredClass::Routine));
        assert_eq!(
            declared_class("gpt-4o", Some("reasoning")),
            Ok(DeclaredClass::Reasoning)
        );
        assert_eq!(
            declared_class("routine", Some("sensitive")),
            Ok(DeclaredClass::Sensitive)
        );
        assert_eq!(
            declared_class("sensitive", Some("routine")),
            Ok(DeclaredClass::Sensitive)
        );
        assert_eq!(declared_class("gpt-4o", None).unwrap_err().code, "unknown_task_class");
        assert_eq!(
            declared_class("routine", Some("bogus")).unwrap_err().code,
            "unknown_task_class"
        );
    }

    #[test]
    fn bodies_are_checked() {
        assert_eq!(parse_request(b"").unwrap_err().code, "missing_body");
        assert_eq!(parse_request(b"{not json").unwrap_err().code, "invalid_json");
        assert_eq!(
            parse_request(br#"{"model":"routine","messages":[]}"#).unwrap_err().code,
            "empty_messages"
        );
        assert!(parse_request(br#"{"model":"routine","messages":[{"role":"user","content":"hi"}]}"#).is_ok());
    }

    #[test]
    fn agent_names_are_tamed() {
        assert_eq!(sanitize_agent("planner"), "planner");
        assert_eq!(sanitize_agent("a\nb\u{1b}[31m"), "ab[31m");
        assert_eq!(sanitize_agent("  "), "anonymous");
        assert_eq!(sanitize_agent(&"x".repeat(200)).len(), 64);
    }
}
