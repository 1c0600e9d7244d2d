//! Response building shared by the simulated servers: JSON, NDJSON and SSE bodies, error shapes, truncation.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::ollama::{ErrorBody, NDJSON};
use crate::wire::openai::ErrorEnvelope;

/// `Content-Type` of SSE streams.
pub(crate) const EVENT_STREAM: &str = "text/event-stream";

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// Ollama's native error: `{"error": "..."}`.
pub(crate) fn ollama_error(status: StatusCode, message: impl Into<String>) -> Response {
    json(status, &ErrorBody::new(message))
}

/// Ollama's `/v1` error: the OpenAI envelope with the type Ollama picks for the status.
pub(crate) fn openai_error(status: StatusCode, message: impl Into<String>) -> Response {
    json(status, &ErrorEnvelope::ollama(status.as_u16(), message))
}

/// One NDJSON line.
pub(crate) fn ndjson_line<T: Serialize>(value: &T) -> Bytes {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// The text of the last message of a chat request body (OpenAI, Anthropic or Ollama shaped), or "".
pub(crate) fn last_message_text(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let content = value
        .get("messages")
        .and_then(|m| m.as_array())
        .and_then(|m| m.last())
        .and_then(|m| m.get("content"));
    match content {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A streamed body with this content type; each item is flushed as it comes.
pub(crate) fn streamed<S>(content_type: &'static str, stream: S) -> Response
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let body = Body::from_stream(stream.map(Ok::<_, Infallible>));
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An NDJSON stream response.
pub(crate) fn ndjson<S: Stream<Item = Bytes> + Send + 'static>(stream: S) -> Response {
    streamed(NDJSON, stream)
}

/// Parses a JSON request body the way Ollama reports problems with it.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("missing request body".into());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// Adds `Retry-After: secs`.
pub(crate) fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// The connection-closing error a truncated body ends with.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub(crate) struct Dropped;

/// Ends a body with an error once the bytes before it had time to reach the socket
/// (hyper drops unflushed bytes when a body fails).
fn cut_after_flush() -> impl Stream<Item = Result<Bytes, Dropped>> {
    futures::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(Dropped)
    })
}

/// Frames of a streamed body forwarded before a `drop` fault cuts the connection.
const FRAMES_BEFORE_DROP: usize = 3;

/// Cuts the body short: a stream after a few chunks, a whole body halfway; the client sees the connection close.
/// A 200 whose body is an HTML error page, not the JSON the API promises.
pub(crate) fn garbage() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>",
    )
        .into_response()
}

pub(crate) fn truncate(response: Response) -> Response {
    let is_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(NDJSON) || v.starts_with(EVENT_STREAM));
    let (parts, body) = response.into_parts();
    let data = body.into_data_stream();
    let cut: futures::stream::BoxStream<'static, Result<Bytes, Dropped>> = if is_stream {
        data.take(FRAMES_BEFORE_DROP)
            .map(|frame| frame.map_err(|_| Dropped))
            .chain(cut_after_flush())
            .boxed()
    } else {
        futures::stream::once(async move {
            let frames: Vec<Result<Bytes, axum::Error>> = data.collect().await;
            let whole: Vec<u8> = frames.into_iter().filter_map(Result::ok).flatten().collect();
            Ok(Bytes::copy_from_slice(&whole[..whole.len() / 2]))
        })
        .chain(cut_after_flush())
        .boxed()
    };
    Response::from_parts(parts, Body::from_stream(cut))
}
