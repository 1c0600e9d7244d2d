//! Relaying a streamed answer: a task of its own reads the upstream and hands the agent's
//! connection server-sent events through a short queue.
//!
//! The task, not the agent's reading, paces the upstream only up to that queue: an agent that
//! stops reading for `router.client_write_timeout_secs` has its stream cut, its connection
//! closed and its node slot freed, and the decision is recorded with what was known (status 200,
//! the error `client_write_timeout`, the tokens relayed so far).

use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::edge::ConnectionCloser;
use super::inflight::InFlightGuard;
use super::record::PendingRecord;
use super::upstream::ChunkStream;
use crate::config::TokenUsage;

/// Events waiting for the agent to read them.
const QUEUE_EVENTS: usize = 16;

/// How a streamed answer is relayed.
pub struct StreamOptions {
    /// Whether the agent asked for the final usage chunk.
    pub wants_usage: bool,
    /// How long the agent may stop reading before the stream is cut.
    pub write_timeout: Duration,
    /// Closes the agent's connection when its stream is cut.
    pub connection: Option<ConnectionCloser>,
}

/// Starts relaying `chunks` on `tasks`; returns the response body the agent reads.
pub fn spawn(
    tasks: &TaskTracker,
    chunks: ChunkStream,
    pending: PendingRecord,
    slot: Option<InFlightGuard>,
    options: StreamOptions,
) -> Body {
    let (events, queue) = mpsc::channel::<Bytes>(QUEUE_EVENTS);
    let relay = Relay {
        pending: Some(pending),
        usage: None,
        relayed: 0,
        _slot: slot,
    };
    tasks.spawn(pump(chunks, relay, events, options));
    let body = futures::stream::unfold(queue, |mut queue| async move {
        let event = queue.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(event), queue))
    });
    Body::from_stream(body)
}

/// What a relayed stream needs to record itself when it ends, however it ends.
struct Relay {
    pending: Option<PendingRecord>,
    usage: Option<TokenUsage>,
    /// Chunks with content relayed so far: the tokens known when no usage arrived.
    relayed: u64,
    _slot: Option<InFlightGuard>,
}

impl Relay {
    /// The usage reported, or else the tokens relayed so far.
    fn known_usage(&self) -> Option<TokenUsage> {
        self.usage.or((self.relayed > 0).then(|| TokenUsage {
            out: self.relayed,
            ..TokenUsage::default()
        }))
    }

    fn finish(&mut self, error: Option<String>) {
        let usage = self.known_usage();
        if let Some(pending) = self.pending.take() {
            pending.finish(200, error, usage);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The agent went away (or shutdown cut the stream) before the end: charge what arrived.
        let usage = self.known_usage();
        if let Some(pending) = self.pending.take() {
            pending.abandon(usage);
        }
    }
}

async fn pump(mut chunks: ChunkStream, mut relay: Relay, events: mpsc::Sender<Bytes>, options: StreamOptions) {
    loop {
        let next = tokio::select! {
            next = chunks.next() => next,
            () = events.closed() => return,
        };
        let event = match next {
            Some(Ok(item)) => {
                if item.usage.is_some() {
                    relay.usage = item.usage;
                }
                let usage_only = item.chunk.choices.is_empty() && item.chunk.usage().is_some();
                if usage_only && !options.wants_usage {
                    continue;
                }
                if !item.chunk.choices.is_empty() {
                    relay.relayed += 1;
                    if let Some(pending) = relay.pending.as_mut() {
                        pending.observe_chunk(&item.chunk);
                    }
                }
                let mut chunk = item.chunk;
                if !options.wants_usage {
                    chunk.usage = None;
                }
                let json = serde_json::to_string(&chunk).unwrap_or_default();
                Bytes::from(format!("data: {json}\n\n"))
            }
            Some(Err(err)) => {
                relay.finish(Some(format!("upstream_dropped: {}", err.0)));
                // Ending without [DONE] tells OpenAI clients the stream failed.
                return;
            }
            None => {
                relay.finish(None);
                Bytes::from_static(b"data: [DONE]\n\n")
            }
        };
        match tokio::time::timeout(options.write_timeout, events.send(event)).await {
            Ok(Ok(())) if relay.pending.is_some() => {}
            Ok(_) => return,
            Err(_) => {
                tracing::warn!(
                    request_id = relay.pending.as_ref().map(PendingRecord::request_id).unwrap_or("-"),
                    timeout_secs = options.write_timeout.as_secs(),
                    "agent stopped reading its stream; cutting it (router.client_write_timeout_secs)"
                );
                relay.finish(Some("client_write_timeout".into()));
                if let Some(connection) = &options.connection {
                    connection.close();
                }
                return;
            }
        }
    }
}
