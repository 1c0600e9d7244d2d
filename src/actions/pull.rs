//! Model pulls: `ollama pull` over SSH on real farms, Ollama's `/api/pull` on the simulator.
//! One pull per node at a time (in this process and, through `pull_jobs`, across every console);
//! progress is streamed to the caller and kept in `pull_jobs`; the end leaves one audit row.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{ActionError, Operator};
use crate::config::{Node, PullTransport};
use crate::domain::valid_model_name;
use crate::fleet::ssh::{SshTarget, pull_over_ssh};
use crate::fleet::{PullEvent, PullProgress, PullTally};
use crate::store::StoreError;
use crate::wire::ndjson::NdjsonSplitter;
use crate::wire::ollama::PullRequest;

/// A pull over HTTP that sends nothing for this long has stalled.
const HTTP_IDLE: Duration = Duration::from_secs(60);
/// How often a pull job's row is written at most.
const JOB_WRITE_EVERY: Duration = Duration::from_secs(1);
/// How often it is written at least, so a live job never looks abandoned.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often a transport checks for cancellation.
const CANCEL_POLL: Duration = Duration::from_millis(100);
/// Longest one write of a pull's row may take: a store that stopped answering never stalls the pull.
const STORE_WRITE_TIMEOUT: Duration = Duration::from_millis(1500);
/// Waits between attempts at recording a pull's end while the store is away (doubling, clamped).
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(500);
const RECORD_RETRY_MAX: Duration = Duration::from_secs(5);

/// How a pull ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "error", rename_all = "snake_case")]
pub enum PullOutcome {
    /// The model is installed.
    Succeeded,
    /// It failed; why, in one line.
    Failed(String),
    /// The operator cancelled it.
    Cancelled,
}

impl PullOutcome {
    /// The `pull_jobs.state` for this outcome.
    pub fn state(&self) -> &'static str {
        match self {
            PullOutcome::Succeeded => "succeeded",
            PullOutcome::Failed(_) => "failed",
            PullOutcome::Cancelled => "cancelled",
        }
    }
}

/// A running pull: its progress, a way to cancel it, and its end.
#[derive(Debug)]
pub struct PullHandle {
    /// The `pull_jobs` row.
    pub job_id: i64,
    /// The node pulling.
    pub node: String,
    /// The model.
    pub model: String,
    cancel: Arc<AtomicBool>,
    events: mpsc::Receiver<PullEvent>,
    done: JoinHandle<PullOutcome>,
}

impl PullHandle {
    /// A flag that cancels this pull when set (for callers that hand the handle to a task).
    pub fn canceller(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Asks the pull to stop; it ends `Cancelled` shortly.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The next progress event; `None` once the transport has finished.
    pub async fn next_event(&mut self) -> Option<PullEvent> {
        self.events.recv().await
    }

    /// Waits for the end (after the events are drained or dropped).
    pub async fn finish(self) -> PullOutcome {
        drop(self.events);
        self.done
            .await
            .unwrap_or_else(|e| PullOutcome::Failed(format!("pull task failed: {e}")))
    }
}

/// Why a transport stopped short.
enum Stopped {
    Cancelled,
    Failed(String),
}

impl Operator {
    /// Starts pulling `model` onto `node`. Refused for a bad model name, an unknown node, or a
    /// node already pulling.
    pub async fn start_pull(&self, node_name: &str, model: &str) -> Result<PullHandle, ActionError> {
        self.require_write("node pull")?;
        if !valid_model_name(model) {
            let shown: String = model.chars().take(48).collect();
            return Err(ActionError::Refused(format!(
                "{shown:?} is not a model name: use [host/][namespace/]name[:tag] of letters, digits, `.`, `_` \
                 and `-` (each part starting with a letter or digit), at most 160 characters"
            )));
        }
        let node = self.node(node_name)?.clone();
        if !lock(&self.pulls).insert(node.name.clone()) {
            return Err(ActionError::Refused(format!(
                "{node_name} is already pulling a model; one pull per node at a time"
            )));
        }
        let job_id = match self.store.create_pull_job(&node.name, model).await {
            Ok(id) => id,
            Err(err) => {
                lock(&self.pulls).remove(&node.name);
                return Err(match err {
                    StoreError::Conflict(why) => ActionError::Refused(why),
                    other => other.into(),
                });
            }
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let (events_tx, events) = mpsc::channel(256);
        let done =
            tokio::spawn(
                self.clone()
                    .run_pull(job_id, node.clone(), model.to_string(), cancel.clone(), events_tx),
            );
        Ok(PullHandle {
            job_id,
            node: node.name,
            model: model.to_string(),
            cancel,
            events,
            done,
        })
    }

    async fn run_pull(
        self,
        job_id: i64,
        node: Node,
        model: String,
        cancel: Arc<AtomicBool>,
        events: mpsc::Sender<PullEvent>,
    ) -> PullOutcome {
        if let Err(err) = bounded(self.store.update_pull_job(job_id, "running", 0.0, None)).await {
            tracing::warn!(%err, job_id, "cannot mark the pull job running");
        }
        let (raw_tx, mut raw) = mpsc::channel(256);
        let transport = self.spawn_transport(&node, &model, cancel, raw_tx);
        let mut tally = PullTally::default();
        let mut learned = Vec::new();
        // While the store fails, progress is written at the heartbeat only, so a store that does
        // not answer costs the pull one bounded wait every few seconds, not one per event.
        let mut next_write = Instant::now() + JOB_WRITE_EVERY;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                event = raw.recv() => match event {
                    Some(event) => {
                        match &event {
                            PullEvent::Progress(progress) => tally.add(progress),
                            PullEvent::HostKeyLearned { host, fingerprint } => {
                                learned.push(format!("trusted new host key {fingerprint} for {host}"));
                            }
                        }
                        let _ = events.try_send(event);
                    }
                    None => break,
                },
                _ = heartbeat.tick() => {}
            }
            if Instant::now() < next_write {
                continue;
            }
            let progress = tally.fraction().unwrap_or(0.0);
            next_write = match bounded(self.store.update_pull_job(job_id, "running", progress, None)).await {
                Ok(()) => Instant::now() + JOB_WRITE_EVERY,
                Err(err) => {
                    tracing::warn!(%err, job_id, "cannot record pull progress; the pull carries on");
                    Instant::now() + HEARTBEAT
                }
            };
        }
        let outcome = match transport.await {
            Ok(Ok(())) => PullOutcome::Succeeded,
            Ok(Err(Stopped::Cancelled)) => PullOutcome::Cancelled,
            Ok(Err(Stopped::Failed(why))) => PullOutcome::Failed(why),
            Err(err) => PullOutcome::Failed(format!("pull task failed: {err}")),
        };
        self.record_pull_end(
            job_id,
            &node.name,
            &model,
            &outcome,
            tally.fraction().unwrap_or(0.0),
            &learned,
        )
        .await;
        lock(&self.pulls).remove(&node.name);
        outcome
    }

    async fn record_pull_end(
        &self,
        job_id: i64,
        node: &str,
        model: &str,
        outcome: &PullOutcome,
        fraction: f64,
        learned: &[String],
    ) {
        let (progress, error) = match outcome {
            PullOutcome::Succeeded => (1.0, None),
            PullOutcome::Failed(why) => (fraction, Some(why.as_str())),
            PullOutcome::Cancelled => (fraction, Some("cancelled by the operator")),
        };
        let store = &self.store;
        until_stored("the end of a pull job", job_id, || {
            store.update_pull_job(job_id, outcome.state(), progress, error)
        })
        .await;
        let mut detail = format!("{model}: {}", outcome.state());
        if let Some(why) = error {
            detail.push_str(&format!(" ({why})"));
        }
        for note in learned {
            detail.push_str(&format!("; {note}"));
        }
        let (store, actor, detail) = (&self.store, self.actor.as_str(), detail.as_str());
        until_stored("the audit row of a pull", job_id, || async move {
            store.audit(actor, "node.pull", node, detail).await.map(|_| ())
        })
        .await;
    }

    fn spawn_transport(
        &self,
        node: &Node,
        model: &str,
        cancel: Arc<AtomicBool>,
        events: mpsc::Sender<PullEvent>,
    ) -> JoinHandle<Result<(), Stopped>> {
        match node.pull {
            PullTransport::Http => {
                let client = self.client.clone();
                let url = format!("{}/api/pull", node.ollama_url.trim_end_matches('/'));
                let model = model.to_string();
                tokio::spawn(async move { http_pull(&client, &url, &model, &cancel, &events).await })
            }
            PullTransport::Ssh => {
                let target = SshTarget::new(node, &self.ssh);
                let model = model.to_string();
                tokio::task::spawn_blocking(move || ssh_pull(&target, &model, &cancel, &events))
            }
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `ollama pull` over SSH (blocking; runs on the blocking pool).
fn ssh_pull(
    target: &SshTarget,
    model: &str,
    cancel: &AtomicBool,
    events: &mpsc::Sender<PullEvent>,
) -> Result<(), Stopped> {
    let mut forward = |event: PullEvent| {
        let _ = events.blocking_send(event);
    };
    match pull_over_ssh(target, model, cancel, &mut forward) {
        Ok(()) => Ok(()),
        Err(err) if cancel.load(Ordering::Relaxed) => {
            tracing::debug!(%err, "ssh pull ended after cancel");
            Err(Stopped::Cancelled)
        }
        Err(err) => Err(Stopped::Failed(err.to_string())),
    }
}

/// Ollama's `/api/pull`, streamed as NDJSON progress lines.
async fn http_pull(
    client: &reqwest::Client,
    url: &str,
    model: &str,
    cancel: &AtomicBool,
    events: &mpsc::Sender<PullEvent>,
) -> Result<(), Stopped> {
    let failed = |what: String| Stopped::Failed(format!("{what} ({url})"));
    let request = PullRequest {
        model: model.to_string(),
        stream: Some(true),
        insecure: false,
    };
    let response = client
        .post(url)
        .json(&request)
        .send()
        .await
        .map_err(|e| failed(format!("cannot reach Ollama: {e}")))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(failed(format!("Ollama answered {status}: {}", ollama_error(&body))));
    }
    let mut body = response.bytes_stream();
    let mut lines = NdjsonSplitter::new();
    let mut idle_since = Instant::now();
    let mut succeeded = false;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(Stopped::Cancelled);
        }
        let chunk = match tokio::time::timeout(CANCEL_POLL, body.next()).await {
            Err(_) if idle_since.elapsed() > HTTP_IDLE => {
                return Err(failed(format!("no progress for {} s", HTTP_IDLE.as_secs())));
            }
            Err(_) => continue,
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(failed(format!("the progress stream broke: {e}"))),
            Ok(Some(Ok(chunk))) => chunk,
        };
        idle_since = Instant::now();
        let parsed = lines
            .feed(&chunk)
            .map_err(|_| failed("a progress line is too long".into()))?;
        for line in parsed {
            let progress = parse_http_line(&line).map_err(failed)?;
            succeeded |= progress.status == "success";
            let _ = events.send(PullEvent::Progress(progress)).await;
        }
    }
    if succeeded {
        Ok(())
    } else {
        Err(failed("the pull ended without `success`".into()))
    }
}

/// One `/api/pull` line as progress, or the error it carries.
fn parse_http_line(line: &str) -> Result<PullProgress, String> {
    if let Ok(error) = serde_json::from_str::<crate::wire::ollama::ErrorBody>(line) {
        return Err(format!("Ollama: {}", error.error));
    }
    let wire: crate::wire::ollama::PullProgress =
        serde_json::from_str(line).map_err(|e| format!("unreadable progress line: {e}"))?;
    Ok(PullProgress {
        status: wire.status,
        completed: wire.completed,
        total: wire.total,
    })
}

/// The message of an Ollama error body, or the body itself, shortened.
fn ollama_error(body: &str) -> String {
    serde_json::from_str::<crate::wire::ollama::ErrorBody>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| body.chars().take(200).collect())
}

/// A store write that gives up after [`STORE_WRITE_TIMEOUT`].
async fn bounded(write: impl std::future::Future<Output = Result<(), StoreError>>) -> Result<(), String> {
    match tokio::time::timeout(STORE_WRITE_TIMEOUT, write).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {:.1} s", STORE_WRITE_TIMEOUT.as_secs_f64())),
    }
}

/// Writes `what` until the store takes it: a pull that ends during a store outage is recorded
/// when the store returns, not lost.
async fn until_stored<F, W>(what: &str, job_id: i64, mut write: F)
where
    F: FnMut() -> W,
    W: std::future::Future<Output = Result<(), StoreError>>,
{
    let mut delay = RECORD_RETRY_FIRST;
    let mut warned = false;
    loop {
        match bounded(write()).await {
            Ok(()) => {
                if warned {
                    tracing::info!(job_id, "recorded {what} now that the store is back");
                }
                return;
            }
            Err(err) => {
                if !warned {
                    tracing::warn!(%err, job_id, "cannot record {what} yet; retrying until the store answers");
                    warned = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RECORD_RETRY_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_lines_give_progress_or_the_error() {
        let ok =
            parse_http_line(r#"{"status":"pulling 500a1f067a9f","digest":"sha256:500a","total":10,"completed":4}"#);
        assert_eq!(
            ok,
            Ok(PullProgress {
                status: "pulling 500a1f067a9f".into(),
                completed: Some(4),
                total: Some(10)
            })
        );
        assert_eq!(
            parse_http_line(r#"{"error":"pull model manifest: file does not exist"}"#),
            Err("Ollama: pull model manifest: file does not exist".into())
        );
        assert!(parse_http_line("not json").is_err());
    }
}
