//! One attempt at one job: open its request, send it through the gateway as a job (so `select`,
//! the sensitive rule, detectors, overrides and drains apply as to live traffic), and turn the
//! answer into the job's outcome and its run row. Never logs or keeps text but sealed.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::disposition::{self, Disposition};
use crate::domain::Endpoint;
use crate::gateway::{Gateway, JobEvent, JobTicket, Origin, ParsedRequest, serve_chat};
use crate::jobs::{Binding, JobReply, Sealer};
use crate::store::{ClaimedJob, JobEnd, JobOutcome, JobRunRow};

/// Largest answer a job keeps (a completion is far smaller; a bigger one is refused, not cut).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// How an attempt ended: the job's outcome, and the run row to record (none when the attempt
/// found no slot and was not made).
#[derive(Debug)]
pub struct Ended {
    /// What happens to the job.
    pub outcome: JobOutcome,
    /// The attempt, for `job_runs`.
    pub run: Option<JobRunRow>,
}

impl Ended {
    /// The end of `job_id`'s attempt, as the store takes it.
    pub fn into_end(self, job_id: i64) -> JobEnd {
        JobEnd {
            job_id,
            outcome: self.outcome,
            run: self.run,
        }
    }
}

/// What an attempt needs besides its job.
pub struct AttemptContext<'a> {
    /// The gateway it goes through.
    pub gateway: &'a Arc<Gateway>,
    /// Opens the request and seals the answer.
    pub sealer: &'a Sealer,
    /// This router, for the run row.
    pub router_id: &'a str,
    /// Attempts a job gets before a retryable failure is final.
    pub max_attempts: u32,
}

/// Runs one attempt at `job` on the nodes in `nodes` (or the frontier, where policy sends its
/// class first); `serving` hears the target as soon as the gateway picks it.
pub async fn run(cx: AttemptContext<'_>, job: &ClaimedJob, nodes: Vec<String>, serving: impl Fn(&str)) -> Ended {
    let started_at = Utc::now();
    let request = match cx.sealer.open_for(
        Binding::Job {
            batch_id: &job.batch_id,
            custom_id: &job.custom_id,
        },
        &job.request,
    ) {
        Ok(plain) => plain,
        Err(err) => {
            tracing::error!(job = job.id, batch = %job.batch_id, %err, "a queued request does not open; failing the job");
            let body = error_body(
                "payload_unreadable",
                "the queued request could not be opened with jobs.encryption_key",
            );
            return fail(&cx, job, started_at, 500, "payload_unreadable", &body, None, None);
        }
    };
    let parsed = match ParsedRequest::from_job(&job.agent, &request) {
        Ok(parsed) => parsed,
        Err(err) => {
            let body = serde_json::to_vec(&err.envelope()).unwrap_or_default();
            return fail(&cx, job, started_at, err.status.as_u16(), &err.code, &body, None, None);
        }
    };
    drop(request);
    let (events, mut heard) = mpsc::unbounded_channel();
    let ticket = JobTicket {
        job_id: job.id,
        nodes,
        events,
    };
    let answer = serve_chat(cx.gateway.clone(), parsed, Origin::Job(ticket));
    tokio::pin!(answer);
    let mut target: Option<String> = None;
    let response = loop {
        tokio::select! {
            response = &mut answer => break response.unwrap_or_else(IntoResponse::into_response),
            Some(event) = heard.recv() => {
                if let JobEvent::Serving(t) = event {
                    serving(&t);
                    target = Some(t);
                }
            }
        }
    };
    let mut record = None;
    while let Ok(event) = heard.try_recv() {
        match event {
            JobEvent::Serving(t) => target = Some(t),
            JobEvent::Recorded(r) => record = Some(r),
        }
    }
    let status = response.status().as_u16();
    let body = match to_bytes(response.into_body(), MAX_ANSWER_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let body = error_body("answer_too_large", "the answer was larger than a job keeps (16 MiB)");
            return fail(&cx, job, started_at, 502, "answer_too_large", &body, target, record);
        }
    };
    let code = error_code(&body);
    let run = |outcome: &str| {
        run_row(
            &cx,
            job,
            started_at,
            outcome,
            status,
            code.clone(),
            target.clone(),
            record.as_deref(),
        )
    };
    match disposition::classify(status, code.as_deref()) {
        Disposition::Done => {
            let request_id = record.as_ref().map(|r| r.request_id.clone()).unwrap_or_default();
            match JobReply::new(request_id, &body) {
                Ok(reply) => Ended {
                    outcome: JobOutcome::Succeeded {
                        status_code: i32::from(status),
                        result: reply.seal(cx.sealer, &job.batch_id, &job.custom_id),
                    },
                    run: Some(run("ok")),
                },
                Err(_) => {
                    let body = error_body("malformed_answer", "the answer was not JSON");
                    fail(&cx, job, started_at, 502, "malformed_answer", &body, target, record)
                }
            }
        }
        Disposition::Permanent => {
            let code = code.clone().unwrap_or_else(|| format!("http_{status}"));
            fail(&cx, job, started_at, status, &code, &body, target, record)
        }
        Disposition::Retryable if u32::try_from(job.attempt).unwrap_or(u32::MAX) >= cx.max_attempts => {
            let code = code.clone().unwrap_or_else(|| format!("http_{status}"));
            fail(&cx, job, started_at, status, &code, &body, target, record)
        }
        Disposition::Retryable => Ended {
            outcome: JobOutcome::Retry {
                not_before: Utc::now()
                    + chrono::Duration::from_std(disposition::backoff(job.attempt, &mut rand::rng()))
                        .unwrap_or_default(),
                error_code: code.clone().unwrap_or_else(|| format!("http_{status}")),
            },
            run: Some(run("retry")),
        },
        Disposition::NoSlot => Ended {
            outcome: JobOutcome::Release { not_before: None },
            run: None,
        },
        Disposition::BudgetSpent => Ended {
            outcome: JobOutcome::Release {
                not_before: Some(disposition::next_utc_day(Utc::now())),
            },
            run: Some(run("deferred")),
        },
    }
}

/// The job failed for good: the answer (or an error envelope) goes to the error file.
#[allow(clippy::too_many_arguments)]
fn fail(
    cx: &AttemptContext<'_>,
    job: &ClaimedJob,
    started_at: DateTime<Utc>,
    status: u16,
    code: &str,
    body: &[u8],
    target: Option<String>,
    record: Option<Box<crate::domain::DecisionRecord>>,
) -> Ended {
    let request_id = record.as_ref().map(|r| r.request_id.clone()).unwrap_or_default();
    let reply = JobReply::new(request_id, body)
        .or_else(|_| JobReply::new("", &error_body(code, "the answer was not JSON")))
        .expect("an error envelope is JSON");
    Ended {
        outcome: JobOutcome::Failed {
            status_code: i32::from(status),
            error_code: code.to_string(),
            result: reply.seal(cx.sealer, &job.batch_id, &job.custom_id),
        },
        run: Some(run_row(
            cx,
            job,
            started_at,
            "failed",
            status,
            Some(code.to_string()),
            target,
            record.as_deref(),
        )),
    }
}

/// The attempt's row in `job_runs`: where it went, how it ended, its tokens and cost; no text.
#[allow(clippy::too_many_arguments)]
fn run_row(
    cx: &AttemptContext<'_>,
    job: &ClaimedJob,
    started_at: DateTime<Utc>,
    outcome: &str,
    status: u16,
    error_code: Option<String>,
    target: Option<String>,
    record: Option<&crate::domain::DecisionRecord>,
) -> JobRunRow {
    let target = target.or_else(|| {
        record.and_then(|r| match r.endpoint {
            Endpoint::Local => r.node.clone(),
            Endpoint::Frontier => r.provider.clone(),
            Endpoint::Rejected => None,
        })
    });
    JobRunRow {
        job_id: job.id,
        batch_id: job.batch_id.clone(),
        attempt: job.attempt,
        router_id: cx.router_id.to_string(),
        target,
        started_at,
        ended_at: Some(Utc::now()),
        outcome: outcome.to_string(),
        status_code: Some(i32::from(status)),
        error_code,
        prompt_tokens: record.map_or(0, |r| r.prompt_tokens),
        completion_tokens: record.map_or(0, |r| r.completion_tokens),
        cost_usd: record.map_or(0.0, |r| r.cost_usd),
        request_id: record.map(|r| r.request_id.clone()),
    }
}

/// The `error.code` of an OpenAI error envelope, if the body is one.
fn error_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        code: Option<String>,
    }
    serde_json::from_slice::<Envelope>(body).ok().and_then(|e| e.error.code)
}

/// An OpenAI error envelope with `code` and `message`.
fn error_body(code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "error": {"message": message, "type": "server_error", "param": null, "code": code}
    }))
    .unwrap_or_default()
}
