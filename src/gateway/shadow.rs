//! Shadow twins: for a sampled answered request (`quality.shadow.<class>.rate`), the same
//! request is run again on the other side once the agent has its answer: a farm answer's twin at
//! the class's frontier model, a frontier answer's twin on the farm (on an idle slot, as batch
//! work), a sensitive answer's twin only on the farm with a second model. The twin is recorded
//! as its own decision (agent `shadow:<agent>`, reason `shadow`), and only the agreement score
//! of the two answers is stored; neither text leaves memory.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::Gateway;
use super::inflight::InFlightGuard;
use super::record::PendingRecord;
use super::upstream::UpstreamReply;
use crate::domain::{DeclaredClass, Endpoint, Fallback, TaskClass};
use crate::quality::{AnswerCheck, JsonExpectation, agreement, quality_route};
use crate::router::{Decision, Outcome, PlanStep, Reason, Sensitivity, Target};
use crate::store::QualitySample;
use crate::wire::openai::ChatCompletionRequest;

pub use crate::domain::SHADOW_AGENT_PREFIX;

/// A sampled request whose answer is to be twinned.
pub struct ShadowJob {
    /// The agent's decision.
    pub request_id: String,
    /// The agent.
    pub agent: String,
    /// Its declared and effective class, sensitivity and policy version.
    pub declared: DeclaredClass,
    /// The effective class.
    pub class: TaskClass,
    /// Why it is sensitive, if it is.
    pub sensitivity: Option<Sensitivity>,
    /// The policy version it was decided under.
    pub policy_version: i64,
    /// Its estimated tokens.
    pub est_tokens: u64,
    /// Where it was answered, and with which model.
    pub endpoint: Endpoint,
    /// The model that answered.
    pub model: String,
    /// The request, made non-streamed.
    pub request: ChatCompletionRequest,
    /// The answer's text.
    pub answer: String,
}

/// Runs the twin of `job` and stores the agreement; gives up quietly (a debug line) when no
/// target may take it now: no idle farm slot, the budget spent, no second model.
pub async fn run(gateway: Arc<Gateway>, mut job: ShadowJob) {
    let Some((target, slot)) = twin_target(&gateway, &job) else {
        tracing::debug!(request_id = %job.request_id, "shadow twin skipped: no target may take it now");
        return;
    };
    job.request.stream = None;
    job.request.stream_options = None;
    let step = PlanStep {
        target: target.clone(),
        fallback: Fallback::None,
    };
    let local_model = gateway.config.models.for_class(job.class).into();
    let decision = Decision {
        declared: job.declared,
        class: job.class,
        local_model,
        sensitivity: job.sensitivity,
        outcome: Outcome::Plan(vec![step.clone()]),
        reason: Reason::Shadow,
        policy_version: job.policy_version,
        est_tokens: job.est_tokens,
    };
    let reservation = match &target {
        Target::Frontier { model, .. } => {
            let max_tokens = job
                .request
                .max_completion_tokens
                .or(job.request.max_tokens)
                .map(u64::from);
            let prompt = job.est_tokens.saturating_sub(max_tokens.unwrap_or(0));
            match gateway.reserve_frontier(model, prompt, max_tokens).await {
                Some(reservation) => Some(reservation),
                None => {
                    tracing::debug!(request_id = %job.request_id, "shadow twin skipped: today's frontier budget is spent");
                    return;
                }
            }
        }
        Target::Local { .. } => None,
    };
    let agent = format!("{SHADOW_AGENT_PREFIX}{}", job.agent);
    let mut pending = PendingRecord::new(gateway.clone(), &agent, &decision, Instant::now(), Utc::now());
    if let Some(reservation) = reservation {
        pending.hold(reservation);
    }
    pending.expect(JsonExpectation::of_response_format(
        job.request.extra.get("response_format"),
        &gateway.schemas,
    ));
    pending.serving(&step);
    let twin_request_id = pending.request_id().to_string();
    let reply = gateway.call(&target, &job.request, |_, _| {}).await;
    drop(slot);
    let body = match reply {
        Ok(UpstreamReply::Complete { body, usage, answer }) => {
            pending.first_byte();
            pending.observe_answer(answer, &body);
            pending.finish(200, None, Some(usage));
            body
        }
        Ok(UpstreamReply::Stream(_)) => {
            pending.finish(502, Some("unexpected_stream".into()), None);
            return;
        }
        Err(err) => {
            pending.attempt_failed(err.outcome);
            pending.finish(502, Some(err.code()), None);
            return;
        }
    };
    let mut twin = AnswerCheck::default();
    twin.keep_text();
    twin.observe_completion(&body);
    let Some(twin_text) = twin.text().filter(|t| !t.trim().is_empty()) else {
        return;
    };
    let (method, score) = agreement(&job.answer, twin_text);
    let (endpoint, provider, model) = match &target {
        Target::Local { model, .. } => (Endpoint::Local, None, model.to_string()),
        Target::Frontier { provider, model } => (Endpoint::Frontier, Some(provider.to_string()), model.to_string()),
    };
    let sample = QualitySample {
        request_id: job.request_id,
        twin_request_id,
        twin_route: quality_route(endpoint, provider.as_deref(), Some(&model)).unwrap_or_default(),
        score,
        method: method.as_str(),
        ts: Utc::now(),
    };
    if let Err(err) = gateway.store.record_quality_sample(&sample).await {
        tracing::warn!(request_id = %sample.request_id, error = %err, "a shadow agreement sample could not be stored");
    }
}

/// Where the twin of `job` runs: the frontier for a farm answer (never for sensitive work), else
/// a farm node with an idle slot and the twin model, holding that slot.
fn twin_target(gateway: &Gateway, job: &ShadowJob) -> Option<(Target, Option<InFlightGuard>)> {
    let shadow = gateway.config.quality.shadow.get(job.class.as_str());
    let sensitive = job.class == TaskClass::Sensitive || job.sensitivity.is_some();
    if job.endpoint == Endpoint::Local && !sensitive {
        // The kill switch, or an operator's explicit `local` pin, keeps twins off the frontier too.
        if gateway.frontier_disabled() || gateway.pinned_local(job.class) {
            return None;
        }
        let frontier = gateway.config.frontier.for_class(job.class)?;
        return Some((
            Target::Frontier {
                provider: frontier.provider.as_str().into(),
                model: frontier.model.as_str().into(),
            },
            None,
        ));
    }
    let model = match shadow.and_then(|s| s.model.as_deref()) {
        Some(model) => model.to_string(),
        None if sensitive => return None,
        None => gateway.config.models.for_class(job.class).to_string(),
    };
    if job.endpoint == Endpoint::Local && crate::router::same_model(&model, &job.model) {
        return None;
    }
    let node = gateway.idle_node_with(&model)?;
    let slot = gateway.in_flight.enter_batch(&node);
    Some((
        Target::Local {
            node: node.as_str().into(),
            model: model.as_str().into(),
        },
        Some(slot),
    ))
}
