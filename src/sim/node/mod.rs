//! One simulated node over HTTP: Ollama's API, its `/v1` compatibility layer and the agent's metrics.

pub(crate) mod answer;
mod compat;
pub(crate) mod compat_input;
mod generation;
mod inference;
pub(crate) mod log;
mod native;
mod pull;
mod slot;
mod telemetry;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Router, body::Bytes};
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::sim::Pace;
use crate::sim::catalogue::{NodeSpec, splitmix};
use crate::sim::faults::{FaultBoard, FaultKind};
use crate::sim::node_model::{NodeLimits, NodeModel};
use crate::sim::respond;
use crate::wire::ollama::BUSY_TEXT;

/// The shared state of one running simulated node.
#[derive(Debug)]
pub(crate) struct NodeRuntime {
    pub(crate) spec: NodeSpec,
    pub(crate) addr: SocketAddr,
    pub(crate) url: String,
    pub(crate) pace: Pace,
    model: Mutex<NodeModel>,
    changed: Notify,
    seed: u64,
    requests: AtomicU64,
    faults: Arc<FaultBoard>,
    started: Instant,
    log: Mutex<log::NodeLog>,
    /// Memory other applications hold now (a browser, Xcode): set through the admin API.
    other_apps: AtomicU64,
}

impl NodeRuntime {
    pub(crate) fn new(
        spec: NodeSpec,
        addr: SocketAddr,
        pace: Pace,
        max_queue: u32,
        seed: u64,
        faults: Arc<FaultBoard>,
        log_entries: usize,
    ) -> Self {
        let limits = NodeLimits {
            model_budget: spec.model_budget,
            parallel: spec.parallel,
            max_queue,
            load_per_gb: pace.scale(Duration::from_millis(1500)),
        };
        let model = Mutex::new(NodeModel::new(limits, &spec.installed, Utc::now()));
        NodeRuntime {
            spec,
            addr,
            url: format!("http://{addr}"),
            pace,
            model,
            changed: Notify::new(),
            seed,
            requests: AtomicU64::new(0),
            faults,
            started: Instant::now(),
            log: Mutex::new(log::NodeLog::new(log_entries)),
            other_apps: AtomicU64::new(0),
        }
    }

    /// Memory the machine wants with `model_bytes` of models loaded: the OS, other applications
    /// and the models (it can exceed the memory there is: that is what pressure measures).
    pub(crate) fn memory_wanted(&self, model_bytes: u64) -> u64 {
        self.spec.base_used + self.other_apps.load(Ordering::Relaxed) + model_bytes
    }

    /// Makes other applications hold `bytes` of memory, as if an operator opened them.
    pub(crate) fn set_other_apps(&self, bytes: u64) {
        self.other_apps.store(bytes, Ordering::Relaxed);
    }

    /// Notes a chat request the compatibility endpoint read.
    pub(crate) fn record(&self, request: log::NodeRequest) {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).push(request);
    }

    /// Notes that a whole answer was handed to the server now.
    pub(crate) fn answered(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .answered(std::time::Instant::now());
    }

    /// When recent whole answers were handed to the server, oldest first.
    pub(crate) fn answers(&self) -> Vec<std::time::Instant> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).answers()
    }

    /// The chat requests read so far, oldest first.
    pub(crate) fn requests(&self) -> Vec<log::NodeRequest> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).entries()
    }

    /// Runs `f` on the node's state at the current time.
    pub(crate) fn with_model<R>(&self, f: impl FnOnce(&mut NodeModel, DateTime<Utc>) -> R) -> R {
        let mut model = self.model.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut model, Utc::now())
    }

    /// Runs `f` on the state, then wakes the requests waiting for a slot.
    pub(crate) fn change<R>(&self, f: impl FnOnce(&mut NodeModel, DateTime<Utc>) -> R) -> R {
        let result = self.with_model(f);
        self.changed.notify_waiters();
        result
    }

    /// A fresh seed for one request's text.
    pub(crate) fn next_seed(&self) -> u64 {
        splitmix(
            self.seed
                ^ self
                    .requests
                    .fetch_add(1, Ordering::Relaxed)
                    .wrapping_mul(0x2545_F491_4F6C_DD1D),
        )
    }

    /// The node's fault now.
    pub(crate) fn fault(&self) -> Option<FaultKind> {
        self.faults.get(&self.spec.name)
    }

    /// Time since the node started.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// The node's HTTP routes, with fault injection in front of the Ollama ones.
pub(crate) fn router(node: Arc<NodeRuntime>) -> Router {
    let ollama = Router::new()
        .route("/", get(native::root))
        .route("/api/version", get(native::version))
        .route("/api/tags", get(native::tags))
        .route("/api/ps", get(native::ps))
        .route("/api/show", post(native::show))
        .route("/api/delete", delete(native::delete))
        .route("/api/pull", post(pull::pull))
        .route("/api/chat", post(inference::chat))
        .route("/api/generate", post(inference::generate))
        .route("/v1/chat/completions", post(compat::chat_completions))
        .route("/v1/models", get(compat::models))
        .route_layer(middleware::from_fn_with_state(node.clone(), inject_fault));
    Router::new()
        .route("/v1/metrics", get(telemetry::metrics_json))
        .route("/json", get(telemetry::macmon_json))
        .route("/metrics", get(telemetry::metrics_prometheus))
        .merge(ollama)
        .fallback(not_found)
        .with_state(node)
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "404 page not found")
}

/// Extra latency of the `slow` fault, before scaling.
const SLOW_DELAY: Duration = Duration::from_secs(3);
/// How often a hung request looks whether its fault was cleared.
const HANG_RECHECK: Duration = Duration::from_millis(100);

async fn inject_fault(State(node): State<Arc<NodeRuntime>>, request: Request, next: Next) -> Response {
    let Some(fault) = node.fault() else {
        return next.run(request).await;
    };
    let compat = request.uri().path().starts_with("/v1/");
    let error = |status: StatusCode, message: &str| {
        if compat {
            respond::openai_error(status, message)
        } else {
            respond::ollama_error(status, message)
        }
    };
    match fault {
        FaultKind::Down => next.run(request).await,
        FaultKind::Slow => {
            tokio::time::sleep(node.pace.scale(SLOW_DELAY)).await;
            next.run(request).await
        }
        FaultKind::Error500 => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "llama runner process has terminated: exit status 2",
        ),
        FaultKind::RateLimited => {
            respond::with_retry_after(error(StatusCode::TOO_MANY_REQUESTS, "too many requests"), 1)
        }
        FaultKind::Overloaded => respond::with_retry_after(error(StatusCode::SERVICE_UNAVAILABLE, BUSY_TEXT), 1),
        FaultKind::Drop => respond::truncate(next.run(request).await),
        FaultKind::Garbage => respond::garbage(),
        FaultKind::Hang => {
            while node.fault() == Some(FaultKind::Hang) {
                tokio::time::sleep(HANG_RECHECK).await;
            }
            next.run(request).await
        }
        FaultKind::Echo => {
            let body = axum::body::to_bytes(request.into_body(), ECHO_BODY_LIMIT)
                .await
                .unwrap_or_default();
            let quoted = respond::last_message_text(&body);
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("error parsing tool call: raw='{quoted}', err=unexpected end of JSON input"),
            )
        }
    }
}

/// Largest body the `echo` fault reads to quote from.
const ECHO_BODY_LIMIT: usize = 4 << 20;

/// Reads the body and answers Ollama's way when it is missing or not the expected JSON.
pub(crate) fn parse_native<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    respond::parse_body(body).map_err(|message| Box::new(respond::ollama_error(StatusCode::BAD_REQUEST, message)))
}
