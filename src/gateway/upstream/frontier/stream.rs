//! Turning a provider's SSE body into a [`ChunkStream`]: reads with an idle timeout, parses SSE
//! and hands each event to a provider's pure [`Decoder`].

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;

use crate::gateway::upstream::body_stream::ByteStream;
use crate::gateway::upstream::{ChunkStream, MidStreamError, StreamItem, Timeouts, UpstreamError};
use crate::wire::sse::{SseEvent, SseParser};

/// Why a stream failed, with the HTTP status the failure stands for when the provider says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFailure {
    /// The status this failure is equivalent to (Anthropic's `overloaded_error` event ~ 529).
    pub status: Option<u16>,
    /// Short description, never content.
    pub message: String,
}

impl StreamFailure {
    /// A failure that stands for no HTTP status.
    pub fn new(message: impl Into<String>) -> Self {
        StreamFailure {
            status: None,
            message: message.into(),
        }
    }
}

/// A provider's stream protocol: SSE events in, OpenAI-shaped chunks out. Pure.
pub trait Decoder: Send + 'static {
    /// The chunks one event produces (often none); an error ends the stream.
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamItem>, StreamFailure>;
    /// True once the provider's end marker (`[DONE]`, `message_stop`) arrived.
    fn is_complete(&self) -> bool;
    /// The failure of a body that ended before the end marker.
    fn truncated(&self) -> StreamFailure;
}

struct Reader<D> {
    body: ByteStream,
    parser: SseParser,
    decoder: D,
    idle: Duration,
    pending: VecDeque<Result<StreamItem, StreamFailure>>,
    ended: bool,
    /// Whether the stream ended because a read timed out.
    timed_out: bool,
}

impl<D: Decoder> Reader<D> {
    /// The next item, reading more of the body as needed; `None` once the stream is over.
    async fn next_item(&mut self) -> Option<Result<StreamItem, StreamFailure>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.is_err() {
                    self.ended = true;
                    self.pending.clear();
                }
                return Some(item);
            }
            if self.ended || self.decoder.is_complete() {
                return None;
            }
            match tokio::time::timeout(self.idle, self.body.next()).await {
                Err(_) => {
                    self.timed_out = true;
                    return self.fail(StreamFailure::new(format!(
                        "stream idle for {} ms",
                        self.idle.as_millis()
                    )));
                }
                Ok(Some(Err(e))) => return self.fail(StreamFailure::new(format!("stream cut off ({})", e.message))),
                Ok(None) => {
                    let failure = self.decoder.truncated();
                    return self.fail(failure);
                }
                Ok(Some(Ok(bytes))) => self.feed(&bytes),
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let events = match self.parser.feed(bytes) {
            Ok(events) => events,
            Err(e) => {
                self.pending.push_back(Err(StreamFailure::new(e.to_string())));
                return;
            }
        };
        for event in events {
            if self.decoder.is_complete() {
                break;
            }
            match self.decoder.decode(&event) {
                Ok(items) => self.pending.extend(items.into_iter().map(Ok)),
                Err(failure) => {
                    self.pending.push_back(Err(failure));
                    break;
                }
            }
        }
    }

    fn fail(&mut self, failure: StreamFailure) -> Option<Result<StreamItem, StreamFailure>> {
        self.ended = true;
        Some(Err(failure))
    }
}

/// Reads `body` as SSE through `decoder`. Waits for the first chunk (up to
/// `timeouts.first_byte`: providers may send headers before the model starts), so that a
/// provider failing before it (an `error` event right after the 200, a cut connection) is still
/// an [`UpstreamError`] the gateway can fall back from; later failures end the stream with a
/// [`MidStreamError`].
pub(crate) async fn relay<D: Decoder>(
    provider_name: &str,
    body: ByteStream,
    decoder: D,
    timeouts: Timeouts,
) -> Result<ChunkStream, UpstreamError> {
    let mut reader = Reader {
        body,
        parser: SseParser::new(),
        decoder,
        idle: timeouts.first_byte,
        pending: VecDeque::new(),
        ended: false,
        timed_out: false,
    };
    let first = reader.next_item().await;
    reader.idle = timeouts.idle;
    let first = match first {
        Some(Ok(item)) => item,
        Some(Err(failure)) => {
            let message = format!("{provider_name} {}", failure.message);
            return Err(match failure.status {
                Some(status) => UpstreamError::status(status, None, message),
                None if reader.timed_out => UpstreamError::timeout(message),
                None => UpstreamError::transport(message),
            });
        }
        None => {
            return Err(UpstreamError::transport(format!(
                "{provider_name} stream ended before any chunk"
            )));
        }
    };
    let provider = provider_name.to_string();
    let rest = futures::stream::unfold(reader, |mut reader| async move {
        reader.next_item().await.map(|item| (item, reader))
    })
    .map(move |item| item.map_err(|failure| MidStreamError(format!("{provider} {}", failure.message))));
    Ok(Box::pin(futures::stream::once(async move { Ok(first) }).chain(rest)))
}
