//! Reading OpenAI-shaped SSE chunk streams (Ollama's `/v1` and OpenAI itself speak the same).

use std::time::Duration;

use futures::StreamExt;

use super::{ChunkStream, MidStreamError, StreamItem, describe};
use crate::config::TokenUsage;
use crate::wire::SseParser;
use crate::wire::openai::{ChatCompletionChunk, Usage};

/// Normalises OpenAI usage for pricing: cached prompt tokens are read from the cache.
pub fn token_usage(usage: &Usage) -> TokenUsage {
    let cached = usage
        .prompt_tokens_details
        .map(|d| d.cached_tokens)
        .unwrap_or(0)
        .min(usage.prompt_tokens);
    TokenUsage {
        uncached_in: usage.prompt_tokens - cached,
        cache_read: cached,
        out: usage.completion_tokens,
        ..Default::default()
    }
}

/// Turns an SSE response body into chunks; `idle` bounds the silence between reads.
/// The stream must end with `data: [DONE]`; anything else is a mid-stream failure.
pub fn chunk_stream(response: reqwest::Response, idle: Duration) -> ChunkStream {
    let body = response.bytes_stream();
    let stream = async_stream(body, idle);
    Box::pin(stream)
}

fn async_stream(
    body: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + Unpin + 'static,
    idle: Duration,
) -> impl futures::Stream<Item = Result<StreamItem, MidStreamError>> + Send {
    struct State<B> {
        body: B,
        parser: SseParser,
        pending: std::collections::VecDeque<StreamItem>,
        finished: bool,
    }
    let state = State {
        body,
        parser: SseParser::new(),
        pending: Default::default(),
        finished: false,
    };
    futures::stream::unfold(state, move |mut state| async move {
        loop {
            if let Some(item) = state.pending.pop_front() {
                return Some((Ok(item), state));
            }
            if state.finished {
                return None;
            }
            let next = match tokio::time::timeout(idle, state.body.next()).await {
                Err(_) => Err(MidStreamError(format!("no data for {}s", idle.as_secs()))),
                Ok(None) => Err(MidStreamError("stream ended without [DONE]".into())),
                Ok(Some(Err(err))) => Err(MidStreamError(describe(&err))),
                Ok(Some(Ok(bytes))) => Ok(bytes),
            };
            let bytes = match next {
                Ok(bytes) => bytes,
                Err(err) => {
                    state.finished = true;
                    return Some((Err(err), state));
                }
            };
            let events = match state.parser.feed(&bytes) {
                Ok(events) => events,
                Err(err) => {
                    state.finished = true;
                    return Some((Err(MidStreamError(err.to_string())), state));
                }
            };
            for event in events {
                if event.is_done() {
                    state.finished = true;
                    break;
                }
                match parse_chunk(&event.data) {
                    Ok(item) => state.pending.push_back(item),
                    Err(err) => {
                        state.finished = true;
                        state.pending.clear();
                        return Some((Err(err), state));
                    }
                }
            }
        }
    })
}

/// One `data:` payload: a chunk, or an error object sent after the stream started.
fn parse_chunk(data: &str) -> Result<StreamItem, MidStreamError> {
    let value: serde_json::Value =
        serde_json::from_str(data).map_err(|_| MidStreamError("malformed chunk from upstream".into()))?;
    if let Some(error) = value.get("error") {
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("upstream error");
        return Err(MidStreamError(format!(
            "upstream error mid-stream: {}",
            truncate(message, 200)
        )));
    }
    let chunk: ChatCompletionChunk =
        serde_json::from_value(value).map_err(|_| MidStreamError("malformed chunk from upstream".into()))?;
    let usage = chunk.usage().as_ref().map(token_usage);
    Ok(StreamItem { chunk, usage })
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tokens_are_cache_reads() {
        let mut usage = Usage::new(1200, 40);
        usage.prompt_tokens_details = Some(crate::wire::openai::PromptTokensDetails { cached_tokens: 1024 });
        let t = token_usage(&usage);
        assert_eq!((t.uncached_in, t.cache_read, t.out), (176, 1024, 40));
    }

    #[test]
    fn error_objects_and_garbage_end_the_stream() {
        assert!(
            parse_chunk(r#"{"error":{"message":"overloaded","type":"api_error"}}"#)
                .unwrap_err()
                .0
                .contains("overloaded")
        );
        assert!(parse_chunk("not json").is_err());
        let item = parse_chunk(r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#).unwrap();
        assert_eq!(item.usage.map(|u| u.out), Some(2));
    }
}
