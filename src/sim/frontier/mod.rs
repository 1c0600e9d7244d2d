//! The simulated frontier: Anthropic Messages and OpenAI Chat Completions, served on one port
//! beside the sim's admin API (the farm puts the two together).

mod anthropic;
pub mod log;
mod openai;
mod openai_answer;
mod tool_use;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::response::Response;
use axum::routing::post;
use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::sim::Pace;
use crate::sim::catalogue::splitmix;
use crate::sim::faults::{FRONTIER, FaultBoard, FaultKind};
use crate::sim::listener::Refuse;
use crate::sim::node::NodeRuntime;
use crate::sim::respond::{self, EVENT_STREAM};
use crate::sim::text::{FRONTIER_DRIFT, TextGenerator};

use self::log::{FrontierLog, FrontierRequest};
use crate::sim::LogLimits;

/// Time to first byte of a frontier reply, before scaling.
const FIRST_BYTE: Duration = Duration::from_millis(350);
/// Frontier decoding is this many times faster than a node.
const SPEEDUP: f64 = 2.0;
/// Extra latency of the `slow` fault, before scaling.
const SLOW_DELAY: Duration = Duration::from_secs(3);
/// System prompts at least this long (in tokens) are served from the prompt cache.
pub(crate) const CACHE_MIN_TOKENS: u64 = 1024;

/// Shared state of the frontier and admin server.
#[derive(Debug)]
pub(crate) struct FrontierState {
    pub(crate) pace: Pace,
    pub(crate) faults: Arc<FaultBoard>,
    pub(crate) nodes: Vec<Arc<NodeRuntime>>,
    log: Mutex<FrontierLog>,
    seed: u64,
    requests: AtomicU64,
}

impl FrontierState {
    pub(crate) fn new(
        pace: Pace,
        faults: Arc<FaultBoard>,
        nodes: Vec<Arc<NodeRuntime>>,
        seed: u64,
        limits: LogLimits,
    ) -> Self {
        FrontierState {
            pace,
            faults,
            nodes,
            log: Mutex::new(FrontierLog::new(limits)),
            seed,
            requests: AtomicU64::new(0),
        }
    }

    /// Records a request that reached a provider endpoint.
    pub(crate) fn record(&self, entry: FrontierRequest) {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).record(entry);
    }

    /// Keeps keyed hashes of every string of a raw request body (see [`FrontierLog::sight`]).
    pub(crate) fn sight(&self, body: &[u8]) {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).sight(body);
    }

    /// Runs `f` on the log.
    pub(crate) fn with_log<R>(&self, f: impl FnOnce(&mut FrontierLog) -> R) -> R {
        f(&mut self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The frontier's fault now.
    pub(crate) fn fault(&self) -> Option<FaultKind> {
        self.faults.get(FRONTIER)
    }

    /// Waits out a `slow` fault, and a `hang` fault until it is cleared.
    pub(crate) async fn delay_if_slow(&self) {
        if self.fault() == Some(FaultKind::Slow) {
            tokio::time::sleep(self.pace.scale(SLOW_DELAY)).await;
        }
        while self.fault() == Some(FaultKind::Hang) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Applies a `drop` or `garbage` fault to a finished response.
    pub(crate) fn maybe_truncate(&self, response: Response) -> Response {
        match self.fault() {
            Some(FaultKind::Drop) => respond::truncate(response),
            Some(FaultKind::Garbage) => respond::garbage(),
            _ => response,
        }
    }

    /// The text of one reply to `prompt` (the last message), capped at `max_tokens`.
    pub(crate) fn compose(&self, max_tokens: Option<u64>, prompt: &str) -> Composition {
        let seed = splitmix(self.seed ^ 0xF00D ^ self.requests.fetch_add(1, Ordering::Relaxed));
        let mut text = TextGenerator::answering(prompt, seed, FRONTIER_DRIFT, 1.0);
        let natural = u64::from(text.natural_length());
        let count = max_tokens.map_or(natural, |max| max.min(natural));
        Composition {
            tokens: (0..count).map(|_| text.next_token()).collect(),
            hit_limit: max_tokens.is_some_and(|max| max < natural),
        }
    }

    /// Time to first byte.
    pub(crate) fn first_byte(&self) -> Duration {
        self.pace.scale(FIRST_BYTE)
    }

    /// Time per generated token.
    pub(crate) fn per_token(&self) -> Duration {
        self.pace.per_token().div_f64(SPEEDUP)
    }

    /// Waits as long as a whole (not streamed) reply of `reply` takes.
    pub(crate) async fn wait_whole(&self, reply: &Composition) {
        let takes = self.first_byte() + self.per_token().mul_f64(reply.len() as f64);
        crate::sim::sleep_until(std::time::Instant::now() + takes).await;
    }
}

/// A generated reply.
#[derive(Debug, Clone)]
pub(crate) struct Composition {
    /// Tokens in order.
    pub(crate) tokens: Vec<String>,
    /// True when `max_tokens` cut it short.
    pub(crate) hit_limit: bool,
}

impl Composition {
    /// The whole text.
    pub(crate) fn text(&self) -> String {
        self.tokens.concat()
    }

    /// Token count.
    pub(crate) fn len(&self) -> u64 {
        self.tokens.len() as u64
    }
}

/// An SSE response whose events go out after the given delays (each measured from the previous event).
pub(crate) fn paced_sse(events: Vec<(Duration, String)>) -> Response {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut at = std::time::Instant::now();
        for (delay, event) in events {
            at += delay;
            crate::sim::sleep_until(at).await;
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
        }
    });
    respond::streamed(EVENT_STREAM, ReceiverStream::new(rx))
}

/// A random id suffix of `len` letters and digits.
pub(crate) fn random_id(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The providers' routes: Anthropic Messages and OpenAI Chat Completions.
pub(crate) fn routes() -> Router<Arc<FrontierState>> {
    Router::new()
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/chat/completions", post(openai::chat_completions))
}

/// With the frontier `down`, provider requests get their connection closed; the admin API stays up.
pub(crate) fn refuse_when_down(faults: Arc<FaultBoard>) -> Refuse {
    Arc::new(move |request| {
        faults.get(FRONTIER) == Some(FaultKind::Down) && !request.uri().path().starts_with("/_sim/")
    })
}
