//! Producing a reply on a node: wait for the model, prefill, then tokens at the node's pace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::sim::node::NodeRuntime;
use crate::sim::node::slot::Slot;
use crate::sim::text::{LOCAL_VERBOSITY, TextGenerator, local_drift};
use crate::wire::ollama::Metrics;

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Prompt size in tokens.
    pub(crate) prompt_tokens: u64,
    /// Cap on generated tokens (`num_predict`, `max_tokens`).
    pub(crate) max_tokens: Option<u64>,
    /// When the request arrived (for `total_duration`).
    pub(crate) received: Instant,
    /// The last prompt text, when the reply may echo it (see [`crate::sim::text::ECHO_CUE`]).
    pub(crate) prompt: Option<String>,
    /// The tokens to generate instead of prose (JSON, or tool calls as the model writes them).
    pub(crate) script: Option<Vec<String>>,
}

/// The end of a reply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finish {
    /// `stop` or `length`.
    pub(crate) done_reason: &'static str,
    /// Ollama's counters.
    pub(crate) metrics: Metrics,
}

/// One step of a reply.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    /// A generated token.
    Token(String),
    /// The last step.
    Done(Finish),
}

/// Prefill speed in tokens per second, before scaling.
const PREFILL_TOKENS_PER_SEC: f64 = 600.0;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Starts generating on `slot`; pieces arrive on the receiver. Dropping the receiver stops the work and frees the slot.
pub(crate) fn start(node: &Arc<NodeRuntime>, slot: Slot, plan: Plan) -> mpsc::Receiver<Piece> {
    let (tx, rx) = mpsc::channel(32);
    let pace = node.pace;
    let mut source = match plan.script {
        Some(tokens) => Source::Script(tokens.into_iter()),
        None => {
            let prompt = plan.prompt.as_deref().unwrap_or_default();
            Source::Prose(Box::new(TextGenerator::answering(
                prompt,
                node.next_seed(),
                local_drift(prompt),
                LOCAL_VERBOSITY,
            )))
        }
    };
    tokio::spawn(async move {
        let load = slot.wait_ready().await;
        let prefill = Instant::now();
        let prefill_time = pace.scale(Duration::from_secs_f64(
            plan.prompt_tokens as f64 / PREFILL_TOKENS_PER_SEC,
        ));
        crate::sim::sleep_until(prefill + prefill_time).await;
        let prompt_eval = prefill.elapsed();
        let natural = source.natural_length();
        let (count, done_reason) = match plan.max_tokens {
            Some(max) if max < natural => (max, "length"),
            _ => (natural, "stop"),
        };
        let decode = Instant::now();
        let per_token = pace.per_token();
        for i in 0..count {
            crate::sim::sleep_until(decode + per_token.mul_f64((i + 1) as f64)).await;
            if tx.send(Piece::Token(source.next_token())).await.is_err() {
                return;
            }
        }
        let eval = decode.elapsed();
        // Free the slot first, so a client that sees the final chunk sees the node idle.
        drop(slot);
        let metrics = Metrics {
            total_duration: Some(nanos(plan.received.elapsed())),
            load_duration: Some(nanos(load)),
            prompt_eval_count: Some(plan.prompt_tokens),
            prompt_eval_duration: Some(nanos(prompt_eval)),
            eval_count: Some(count),
            eval_duration: Some(nanos(eval)),
        };
        let _ = tx.send(Piece::Done(Finish { done_reason, metrics })).await;
    });
    rx
}

/// Where a reply's tokens come from.
enum Source {
    /// Generated prose (boxed: the generator is large, a script is not).
    Prose(Box<TextGenerator>),
    /// A fixed script.
    Script(std::vec::IntoIter<String>),
}

impl Source {
    /// Tokens the reply has when nothing cuts it short.
    fn natural_length(&mut self) -> u64 {
        match self {
            Source::Prose(text) => u64::from(text.natural_length()),
            Source::Script(tokens) => tokens.len() as u64,
        }
    }

    fn next_token(&mut self) -> String {
        match self {
            Source::Prose(text) => text.next_token(),
            Source::Script(tokens) => tokens.next().unwrap_or_default(),
        }
    }
}

/// Collects a whole reply (for `stream: false`); `None` if generation stopped early.
pub(crate) async fn collect(mut rx: mpsc::Receiver<Piece>) -> Option<(String, Finish)> {
    let mut text = String::new();
    while let Some(piece) = rx.recv().await {
        match piece {
            Piece::Token(token) => text.push_str(&token),
            Piece::Done(finish) => return Some((text, finish)),
        }
    }
    None
}
