//! OpenAI Chat Completions (`/v1/chat/completions`, `/v1/models`), as OpenAI and Ollama's compatibility layer speak it.
//!
//! Requests keep fields they do not model in `extra`, so a gateway can forward them unchanged.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `object` of a non-streamed completion.
pub const OBJECT_COMPLETION: &str = "chat.completion";
/// `object` of a streamed chunk.
pub const OBJECT_CHUNK: &str = "chat.completion.chunk";
/// The SSE data of the last event of a stream.
pub const DONE: &str = "[DONE]";

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamOptions {
    /// Send a final chunk with `usage` and no choices.
    pub include_usage: bool,
}

/// A message's content: a string or an array of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// `{"type":"text"}` / `{"type":"image_url"}` parts.
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text of the content (text parts joined by newlines), borrowed unless parts are joined.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            MessageContent::Text(text) => Cow::Borrowed(text),
            MessageContent::Parts(parts) => {
                let mut texts = parts.iter().filter_map(|p| p.text.as_deref());
                match (texts.next(), texts.next()) {
                    (None, _) => Cow::Borrowed(""),
                    (Some(only), None) => Cow::Borrowed(only),
                    (Some(first), Some(second)) => {
                        Cow::Owned([first, second].into_iter().chain(texts).collect::<Vec<_>>().join("\n"))
                    }
                }
            }
        }
    }
}

/// One content part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    /// `text`, `image_url`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Other fields of the part.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One request message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `developer`, `system`, `user`, `assistant` or `tool`.
    #[serde(default)]
    pub role: String,
    /// Content (absent on assistant tool-call messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// Other fields (`name`, `tool_calls`, `tool_call_id`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatMessage {
    /// The message's text ("" without content), borrowed unless content parts are joined.
    pub fn text(&self) -> Cow<'_, str> {
        self.content.as_ref().map_or(Cow::Borrowed(""), MessageContent::text)
    }
}

/// `POST /v1/chat/completions` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// Model id (a task class when sent to the farmhand router).
    #[serde(default)]
    pub model: String,
    /// Conversation.
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// Stream SSE chunks (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Streaming options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Output cap (the field Ollama reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Output cap (OpenAI's newer field; Ollama ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// End-user id (the router reads it as the agent name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, kept for forwarding.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatCompletionRequest {
    /// True when the client asked for SSE.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// True when the client asked for a final usage chunk.
    pub fn wants_usage_chunk(&self) -> bool {
        self.stream_options.as_ref().is_some_and(|o| o.include_usage)
    }
}

/// `prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptTokensDetails {
    /// Prompt tokens read from the cache (included in `prompt_tokens`).
    pub cached_tokens: u64,
}

/// `completion_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompletionTokensDetails {
    /// Hidden reasoning tokens (included in `completion_tokens`).
    pub reasoning_tokens: u64,
}

/// Token usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens, reasoning included.
    pub completion_tokens: u64,
    /// Sum of both.
    pub total_tokens: u64,
    /// Cache detail (OpenAI; Ollama omits it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Reasoning detail (OpenAI; Ollama omits it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
}

impl Usage {
    /// Usage with the total filled in (saturating, as upstream counts are untrusted) and no detail objects.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            ..Usage::default()
        }
    }
}

/// The assistant message of a non-streamed completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// `assistant`.
    #[serde(default)]
    pub role: String,
    /// Text (null when the reply is only tool calls).
    #[serde(default)]
    pub content: Option<String>,
    /// Thinking text (Ollama's non-standard field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
}

/// One choice of a non-streamed completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position among the `n` choices (0 when one was asked for).
    #[serde(default)]
    pub index: u32,
    /// The reply.
    #[serde(default)]
    pub message: ResponseMessage,
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// Just what the router reads of a `chat.completion` while its bytes pass through, in one parse:
/// its shape, how each choice ended and what it said (borrowed where the text has no escapes),
/// and the usage it is priced by.
#[derive(Debug, Deserialize)]
pub struct CompletionEnvelope<'a> {
    /// The replies.
    #[serde(borrow)]
    pub choices: Vec<EnvelopeChoice<'a>>,
    /// Token usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One choice of a [`CompletionEnvelope`].
#[derive(Debug, Deserialize)]
pub struct EnvelopeChoice<'a> {
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    #[serde(borrow, default)]
    pub finish_reason: Option<Cow<'a, str>>,
    /// The reply.
    #[serde(borrow, default)]
    pub message: Option<EnvelopeMessage<'a>>,
}

/// The message of an [`EnvelopeChoice`]: its text, and whether it called tools.
#[derive(Debug, Deserialize)]
pub struct EnvelopeMessage<'a> {
    /// Text (null when the reply is only tool calls).
    #[serde(borrow, default)]
    pub content: Option<Cow<'a, str>>,
    /// Tool calls, not looked into.
    #[serde(default)]
    pub tool_calls: Option<Vec<serde::de::IgnoredAny>>,
}

/// Non-streamed `chat.completion`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// Completion id (not unique on Ollama).
    #[serde(default)]
    pub id: String,
    /// `chat.completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// Model that answered.
    #[serde(default)]
    pub model: String,
    /// Backend fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// The reply.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Service tier (OpenAI only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
}

/// A streamed delta.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Delta {
    /// `assistant`, on the first delta only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// New text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// New thinking text (Ollama).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Tool-call fragments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
    /// Any other field (`refusal`, …), relayed as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One choice of a streamed chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Position among the `n` choices (0 when one was asked for).
    #[serde(default)]
    pub index: u32,
    /// The delta (`{}` on the finish chunk).
    #[serde(default)]
    pub delta: Delta,
    /// Null until the finish chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Any other field (`logprobs`, …), relayed as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `chat.completion.chunk`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// Completion id, the same on every chunk.
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds, the same on every chunk.
    #[serde(default)]
    pub created: i64,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Backend fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Zero or one choice (none on the usage chunk).
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// `None`: key absent (Ollama); `Some(None)`: `"usage": null` (OpenAI); `Some(Some(_))`: the usage chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<Usage>>,
    /// Any other field (`service_tier`, `obfuscation`, …), relayed as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatCompletionChunk {
    /// The usage this chunk carries, if any.
    pub fn usage(&self) -> Option<Usage> {
        self.usage.flatten()
    }
}

/// The error object inside the envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
    /// `invalid_request_error`, `not_found_error`, `api_error`, `rate_limit_error`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Offending parameter.
    #[serde(default)]
    pub param: Option<String>,
    /// Machine code (a string on OpenAI; kept as any JSON value on input).
    #[serde(default)]
    pub code: Option<Value>,
}

/// `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ApiError,
}

impl ErrorEnvelope {
    /// An envelope with this message and type, `param` and `code` null.
    pub fn new(message: impl Into<String>, kind: impl Into<String>) -> Self {
        ErrorEnvelope {
            error: ApiError {
                message: message.into(),
                kind: kind.into(),
                param: None,
                code: None,
            },
        }
    }

    /// The envelope Ollama's compatibility layer sends for an HTTP status.
    pub fn ollama(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            400 => "invalid_request_error",
            404 => "not_found_error",
            _ => "api_error",
        };
        ErrorEnvelope::new(message, kind)
    }
}

/// One model of `GET /v1/models`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Model id.
    #[serde(default)]
    pub id: String,
    /// `model`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// Owner (`library` for Ollama's official models).
    #[serde(default)]
    pub owned_by: String,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    #[serde(default)]
    pub object: String,
    /// Models; Ollama sends `null` when none are installed.
    #[serde(default)]
    pub data: Option<Vec<ModelEntry>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_usage_is_absent_null_or_present() {
        let mut chunk = ChatCompletionChunk {
            id: "c".into(),
            object: OBJECT_CHUNK.into(),
            ..Default::default()
        };
        assert!(!serde_json::to_string(&chunk).unwrap().contains("usage"));
        chunk.usage = Some(None);
        assert!(serde_json::to_string(&chunk).unwrap().contains(r#""usage":null"#));
        chunk.usage = Some(Some(Usage::new(3, 4)));
        let json = serde_json::to_value(&chunk).unwrap();
        assert_eq!(
            json["usage"],
            serde_json::json!({"prompt_tokens":3,"completion_tokens":4,"total_tokens":7})
        );
        let back: ChatCompletionChunk = serde_json::from_value(json).unwrap();
        assert_eq!(back.usage(), Some(Usage::new(3, 4)));
    }

    #[test]
    fn finish_reason_serialises_as_null_until_set() {
        let choice = ChunkChoice::default();
        assert_eq!(
            serde_json::to_string(&choice).unwrap(),
            r#"{"index":0,"delta":{},"finish_reason":null}"#
        );
    }

    #[test]
    fn message_text_is_borrowed_unless_parts_are_joined() {
        let message = |content: Value| -> ChatMessage {
            serde_json::from_value(serde_json::json!({"role": "user", "content": content})).unwrap()
        };
        let plain = message("hello".into());
        assert!(matches!(plain.text(), Cow::Borrowed("hello")));
        let one_part = message(serde_json::json!([{"type": "text", "text": "a"}, {"type": "image_url"}]));
        assert!(matches!(one_part.text(), Cow::Borrowed("a")));
        let two_parts = message(
            serde_json::json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}, {"type": "text", "text": "c"}]),
        );
        assert_eq!(two_parts.text(), "a\nb\nc");
        assert_eq!(message(serde_json::json!([{"type": "image_url"}])).text(), "");
    }

    #[test]
    fn request_keeps_unknown_fields_and_reads_parts() {
        let body = r#"{"model":"routine","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"stream":true,"stream_options":{"include_usage":true},"tool_choice":"auto"}"#;
        let req: ChatCompletionRequest = serde_json::from_str(body).unwrap();
        assert!(req.is_stream() && req.wants_usage_chunk());
        assert_eq!(req.messages[0].text(), "a\nb");
        assert_eq!(req.extra["tool_choice"], "auto");
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(back["tool_choice"], "auto");
    }

    #[test]
    fn error_envelope_shape() {
        let json = serde_json::to_string(&ErrorEnvelope::ollama(404, "model 'x' not found")).unwrap();
        assert_eq!(
            json,
            r#"{"error":{"message":"model 'x' not found","type":"not_found_error","param":null,"code":null}}"#
        );
    }

    #[test]
    fn empty_model_list_is_null() {
        let list = ModelList {
            object: "list".into(),
            data: None,
        };
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"{"object":"list","data":null}"#
        );
    }
}
