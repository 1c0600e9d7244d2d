//! OpenAI Chat Completions: the request passes through with a few fields adjusted, the reply
//! passes back, and usage is normalised.

use serde_json::Value;

use super::stream::{Decoder, StreamFailure};
use super::{ApiKey, http, stream};
use crate::gateway::upstream::error_token;
use crate::gateway::upstream::openai_sse::token_usage;
use crate::gateway::upstream::{StreamItem, Timeouts, UpstreamError, UpstreamReply, body_stream};
use crate::wire::openai::{ChatCompletionChunk, ChatCompletionRequest, StreamOptions};
use crate::wire::sse::SseEvent;

/// Calls `POST {base_url}/v1/chat/completions`.
pub(super) async fn call(
    client: &reqwest::Client,
    provider_name: &str,
    base_url: &str,
    key: Option<&ApiKey>,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
) -> Result<UpstreamReply, UpstreamError> {
    let url = format!("{}/v1/chat/completions", base_url.trim_end_matches('/'));
    let mut builder = client.post(url).json(&request_body(request, model));
    if let Some(key) = key {
        builder = builder.header(
            reqwest::header::AUTHORIZATION,
            key.header_value(provider_name, "Bearer ")?,
        );
    }
    let response = http::send(builder, timeouts.first_byte).await?;
    if !response.status().is_success() {
        return Err(http::status_error(provider_name, response, timeouts.idle).await);
    }
    if request.is_stream() {
        let chunks = stream::relay(
            provider_name,
            body_stream::from_reqwest(response),
            OpenAiStream::default(),
            timeouts,
        )
        .await?;
        return Ok(UpstreamReply::Stream(chunks));
    }
    http::read_completion(provider_name, body_stream::from_reqwest(response), timeouts.idle).await
}

/// The body sent: the agent's request for `model`, with usage always streamed and the output cap
/// in `max_completion_tokens` (reasoning models refuse `max_tokens`).
pub(super) fn request_body(request: &ChatCompletionRequest, model: &str) -> ChatCompletionRequest {
    let mut body = request.clone();
    body.model = model.into();
    if body.is_stream() {
        body.stream_options = Some(StreamOptions { include_usage: true });
    }
    if body.max_completion_tokens.is_none() {
        body.max_completion_tokens = body.max_tokens.take();
    }
    body
}

/// OpenAI's stream: chunks as they are, until `[DONE]`.
#[derive(Debug, Default)]
pub(crate) struct OpenAiStream {
    complete: bool,
}

impl Decoder for OpenAiStream {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamItem>, StreamFailure> {
        if event.is_done() {
            self.complete = true;
            return Ok(Vec::new());
        }
        let value: Value =
            serde_json::from_str(&event.data).map_err(|_| StreamFailure::new("sent an unreadable stream chunk"))?;
        if let Some(error) = value.get("error").filter(|e| e.is_object()) {
            let text = |field: &str| error.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
            let kind = Some(text("type"))
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "error".into());
            return Err(StreamFailure::new(format!("stream error {}", error_token(&kind))));
        }
        let chunk: ChatCompletionChunk =
            serde_json::from_value(value).map_err(|_| StreamFailure::new("sent an unreadable stream chunk"))?;
        let usage = chunk.usage().as_ref().map(token_usage);
        Ok(vec![StreamItem { chunk, usage }])
    }

    fn is_complete(&self) -> bool {
        self.complete
    }

    fn truncated(&self) -> StreamFailure {
        StreamFailure::new("stream ended without [DONE]")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::TokenUsage;

    fn request(json: Value) -> ChatCompletionRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn body_forces_streamed_usage_and_the_new_output_cap() {
        let streamed = request(
            json!({"model":"reasoning","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":50,"tool_choice":"auto"}),
        );
        let body = serde_json::to_value(request_body(&streamed, "gpt-5.4")).unwrap();
        assert_eq!(body["model"], "gpt-5.4");
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert_eq!(body["max_completion_tokens"], 50);
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["tool_choice"], "auto", "unknown fields pass through");

        let both = request(json!({"model":"m","messages":[],"max_tokens":50,"max_completion_tokens":80}));
        let body = serde_json::to_value(request_body(&both, "gpt-5.4")).unwrap();
        assert_eq!(
            (body["max_tokens"].clone(), body["max_completion_tokens"].clone()),
            (json!(50), json!(80))
        );
        assert!(
            body.get("stream_options").is_none(),
            "no stream options without a stream"
        );
    }

    fn event(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.into(),
            id: None,
        }
    }

    #[test]
    fn stream_reports_usage_and_stops_at_done() {
        let mut decoder = OpenAiStream::default();
        let first = decoder
            .decode(&event(r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}"#))
            .unwrap();
        assert_eq!(first[0].chunk.choices[0].delta.content.as_deref(), Some("Hi"));
        assert_eq!(first[0].usage, None);
        let last = decoder
            .decode(&event(r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4}}}"#))
            .unwrap();
        assert_eq!(
            last[0].usage,
            Some(TokenUsage {
                uncached_in: 6,
                cache_read: 4,
                out: 2,
                ..TokenUsage::default()
            })
        );
        assert!(!decoder.is_complete());
        assert!(decoder.decode(&event("[DONE]")).unwrap().is_empty());
        assert!(decoder.is_complete());
    }

    #[test]
    fn stream_chunks_keep_every_field_they_carry() {
        let sent = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","obfuscation":"x1",
            "choices":[{"index":0,"delta":{"content":"Hi","refusal":null},"logprobs":{"content":[{"token":"Hi","logprob":-0.1,"bytes":[72,105],"top_logprobs":[]}]},"finish_reason":null}]});
        let mut decoder = OpenAiStream::default();
        let items = decoder.decode(&event(&sent.to_string())).unwrap();
        let relayed = serde_json::to_value(&items[0].chunk).unwrap();
        assert_eq!(relayed, sent, "nothing of a chunk is dropped on the way to the agent");
    }

    #[test]
    fn stream_errors_end_the_stream() {
        let mut decoder = OpenAiStream::default();
        let failure = decoder
            .decode(&event(
                r#"{"error":{"message":"The server had an error","type":"server_error"}}"#,
            ))
            .unwrap_err();
        assert_eq!(
            failure.message, "stream error server_error",
            "the provider's text is not kept"
        );
        assert!(decoder.decode(&event("not json")).is_err());
        assert_eq!(decoder.truncated().message, "stream ended without [DONE]");
    }
}
