//! The HTTP edge shared by both providers: sending under a first-byte timeout, reading bodies
//! under an idle timeout, and turning non-2xx answers into [`UpstreamError`]s.

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::gateway::upstream::body_stream::{self, ByteStream};
use crate::gateway::upstream::error_token;
use crate::gateway::upstream::openai_sse::token_usage;
use crate::gateway::upstream::{UpstreamError, UpstreamReply};
use crate::quality::AnswerSignals;
use crate::wire::openai::{CompletionEnvelope, ErrorEnvelope, Usage};

/// The largest whole reply read (a completion, not a stream).
const MAX_REPLY_BYTES: usize = 16 << 20;
/// The most of an error body read; the rest is not needed to name the error.
const MAX_ERROR_BYTES: usize = 64 << 10;

/// Sends `request`, waiting at most `first_byte` for the answer's status and headers.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    first_byte: Duration,
) -> Result<reqwest::Response, UpstreamError> {
    match tokio::time::timeout(first_byte, request.send()).await {
        Err(_) => Err(UpstreamError::timeout(format!(
            "timed out after {} ms waiting for an answer",
            first_byte.as_millis()
        ))),
        Ok(Err(e)) => Err(UpstreamError::from_reqwest(&e)),
        Ok(Ok(response)) => Ok(response),
    }
}

/// Reads a body of at most `limit` bytes (`keep_start`: keep the start; else fail), with at most
/// `idle` between two reads.
async fn read_body(
    mut body: ByteStream,
    idle: Duration,
    limit: usize,
    keep_start: bool,
) -> Result<Vec<u8>, UpstreamError> {
    let mut read = Vec::new();
    loop {
        match tokio::time::timeout(idle, body.next()).await {
            Err(_) => {
                return Err(UpstreamError::timeout(format!(
                    "answer stalled for {} ms",
                    idle.as_millis()
                )));
            }
            Ok(None) => return Ok(read),
            Ok(Some(Err(e))) => return Err(e),
            Ok(Some(Ok(bytes))) => {
                if read.len() + bytes.len() > limit {
                    if keep_start {
                        read.extend_from_slice(&bytes[..limit - read.len()]);
                        return Ok(read);
                    }
                    return Err(UpstreamError::malformed(format!(
                        "answer larger than {} MiB",
                        limit >> 20
                    )));
                }
                read.extend_from_slice(&bytes);
            }
        }
    }
}

/// Reads the start of an error body: enough to name the error, never more.
pub(crate) async fn read_error_body(body: ByteStream, idle: Duration) -> Vec<u8> {
    read_body(body, idle, MAX_ERROR_BYTES, true).await.unwrap_or_default()
}

/// Reads and parses a whole JSON reply; anything unreadable is a "malformed answer".
pub(crate) async fn read_json<T: DeserializeOwned>(
    provider_name: &str,
    response: reqwest::Response,
    idle: Duration,
) -> Result<T, UpstreamError> {
    let body = read_body(body_stream::from_reqwest(response), idle, MAX_REPLY_BYTES, false).await?;
    serde_json::from_slice(&body).map_err(|_| malformed(provider_name))
}

/// Reads a whole OpenAI-shaped completion, checks its shape and usage, and keeps its bytes as
/// they came, so every field the upstream sent reaches the agent.
pub(crate) async fn read_completion(
    upstream_name: &str,
    body: ByteStream,
    idle: Duration,
) -> Result<UpstreamReply, UpstreamError> {
    let body = read_body(body, idle, MAX_REPLY_BYTES, false).await?;
    let (usage, answer) = match serde_json::from_slice::<CompletionEnvelope<'_>>(&body) {
        Ok(envelope) => (
            envelope.usage,
            (!envelope.choices.is_empty()).then(|| AnswerSignals::of(&envelope)),
        ),
        // A choice this reading cannot follow (content that is not text) still passes when the
        // body has a completion's shape: only its quality signals are unknown.
        Err(_) => {
            let shape: CompletionShape = serde_json::from_slice(&body).map_err(|_| malformed(upstream_name))?;
            (
                shape.usage,
                (!shape.choices.is_empty()).then_some(AnswerSignals::default()),
            )
        }
    };
    let Some(answer) = answer else {
        return Err(UpstreamError {
            usage: usage.as_ref().map(|u| Box::new(token_usage(u))),
            ..UpstreamError::malformed(format!("{upstream_name} sent a completion without choices"))
        });
    };
    Ok(UpstreamReply::Complete {
        body: body.into(),
        usage: usage.as_ref().map(token_usage).unwrap_or_default(),
        answer,
    })
}

/// A completion's shape, whatever its choices hold.
#[derive(Deserialize)]
struct CompletionShape {
    choices: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: Option<Usage>,
}

fn malformed(upstream_name: &str) -> UpstreamError {
    UpstreamError::malformed(format!("{upstream_name} sent a malformed answer"))
}

/// The error for a non-2xx answer, named from either provider's error envelope.
pub(crate) async fn status_error(provider_name: &str, response: reqwest::Response, idle: Duration) -> UpstreamError {
    let status = response.status();
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let body = read_error_body(body_stream::from_reqwest(response), idle).await;
    UpstreamError::status(
        status.as_u16(),
        retry_after,
        error_message(provider_name, status, &body),
    )
}

/// `<provider> <status> <error type>`; OpenAI's `insufficient_quota` code wins over its type, so
/// that the retry policy can tell billing from load. The provider's message is never kept: it can
/// quote the request.
fn error_message(provider_name: &str, status: reqwest::StatusCode, body: &[u8]) -> String {
    let code = status.as_u16();
    let Ok(ErrorEnvelope { error }) = serde_json::from_slice::<ErrorEnvelope>(body) else {
        return format!(
            "{provider_name} {code} {}",
            status.canonical_reason().unwrap_or("error")
        );
    };
    let code_text = error.code.as_ref().and_then(|c| c.as_str()).unwrap_or_default();
    let kind = if code_text == "insufficient_quota" || error.kind.is_empty() {
        code_text
    } else {
        error.kind.as_str()
    };
    let kind = if kind.is_empty() { "error" } else { kind };
    format!("{provider_name} {code} {}", error_token(kind))
}

/// The wait a provider asked for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = SystemTime::from(chrono::DateTime::parse_from_rfc2822(value).ok()?);
    at.duration_since(now).ok()
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (reqwest::header::HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn retry_after_reads_milliseconds_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "soon"), ("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0.5")]), now),
            Some(Duration::from_millis(500))
        );
        // 2015-10-21T07:28:00Z is 1_445_412_480.
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]), now),
            Some(Duration::from_secs(10))
        );
        let later = now + Duration::from_secs(60);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]), later),
            None,
            "past dates ask for no wait"
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "1e30")]), now), None);
        assert_eq!(retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn error_messages_name_both_envelopes_but_never_keep_their_text() {
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        assert_eq!(
            error_message("anthropic", StatusCode::from_u16(529).unwrap(), anthropic),
            "anthropic 529 overloaded_error"
        );
        let quota = br#"{"error":{"message":"You exceeded your current quota.","type":"requests","param":null,"code":"insufficient_quota"}}"#;
        assert_eq!(
            error_message("openai", StatusCode::TOO_MANY_REQUESTS, quota),
            "openai 429 insufficient_quota"
        );
        let code_only = br#"{"error":{"message":"no","code":"model_not_found"}}"#;
        assert_eq!(
            error_message("openai", StatusCode::NOT_FOUND, code_only),
            "openai 404 model_not_found"
        );
        assert_eq!(
            error_message("openai", StatusCode::BAD_GATEWAY, b"<html>proxy</html>"),
            "openai 502 Bad Gateway"
        );
        let echo = br#"{"error":{"type":"invalid_request_error","message":"tool arguments {\"card\":\"4111 1111 1111 1111\"} are invalid"}}"#;
        assert_eq!(
            error_message("openai", StatusCode::BAD_REQUEST, echo),
            "openai 400 invalid_request_error"
        );
        let hostile = br#"{"error":{"type":"the card 4111 1111 1111 1111 was refused","message":"x"}}"#;
        assert_eq!(
            error_message("anthropic", StatusCode::BAD_REQUEST, hostile),
            "anthropic 400 unrecognised"
        );
    }

    async fn read(body: &'static str) -> Result<UpstreamReply, UpstreamError> {
        let chunks = futures::stream::iter([Ok(bytes::Bytes::from_static(body.as_bytes()))]);
        read_completion("node", Box::pin(chunks), Duration::from_secs(1)).await
    }

    #[tokio::test]
    async fn a_completion_is_read_once_for_its_usage_and_its_answer() {
        let body = r#"{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"length"}],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#;
        let Ok(UpstreamReply::Complete {
            body: kept,
            usage,
            answer,
        }) = read(body).await
        else {
            panic!("a whole completion");
        };
        assert_eq!(kept, body.as_bytes(), "the bytes pass through as they came");
        assert_eq!((usage.uncached_in, usage.out), (7, 3));
        let mut check = crate::quality::AnswerCheck::default();
        check.observe_answer(answer, &kept);
        assert_eq!(
            (check.empty(), check.finish_reason()),
            (true, crate::domain::FinishReason::Length)
        );
    }

    #[tokio::test]
    async fn content_that_is_not_text_passes_with_unknown_signals_and_no_choices_is_refused() {
        let parts = r#"{"choices":[{"message":{"content":[{"type":"text","text":"hi"}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
        let Ok(UpstreamReply::Complete { usage, answer, .. }) = read(parts).await else {
            panic!("a completion whose content is parts still passes");
        };
        assert_eq!((usage.out, answer), (1, AnswerSignals::default()));
        let Err(err) = read(r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":0}}"#).await else {
            panic!("no choices is malformed");
        };
        assert!(err.message.contains("without choices"), "{}", err.message);
        assert_eq!(
            err.usage.map(|u| u.uncached_in),
            Some(5),
            "the usage it reported is charged"
        );
        assert!(read("{\"choices\": 3}").await.is_err());
    }
}
