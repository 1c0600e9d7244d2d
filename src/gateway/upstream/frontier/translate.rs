//! Pure translation between OpenAI Chat Completions and Anthropic Messages: the request one way,
//! the reply (whole or streamed) the other way, and usage into [`TokenUsage`].
//!
//! The translation carries text only: tools, images and other content parts are not translated.

use serde_json::Value;

use super::stream::{Decoder, StreamFailure};
use crate::config::TokenUsage;
use crate::gateway::upstream::{StreamItem, error_token};
use crate::wire::anthropic::{
    BlockDelta, CacheCreation, Content, Message, MessageResponse, MessagesRequest, StreamEvent, Usage as AnthropicUsage,
};
use crate::wire::openai::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice, ChunkChoice, Delta, OBJECT_CHUNK,
    OBJECT_COMPLETION, PromptTokensDetails, ResponseMessage, Usage,
};
use crate::wire::sse::SseEvent;

/// The output cap sent when the agent set none; Anthropic requires one.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;
/// The user turn put first when a conversation opens with the assistant, which Anthropic refuses.
const OPENING_USER_TURN: &str = "Continue.";
/// Anthropic accepts temperatures up to 1; OpenAI's go to 2.
const MAX_TEMPERATURE: f64 = 1.0;

/// The Messages request for an OpenAI request, sent to `model`.
pub fn messages_request(request: &ChatCompletionRequest, model: &str) -> MessagesRequest {
    let mut system = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for message in &request.messages {
        let text = message.text();
        let role = match message.role.as_str() {
            "system" | "developer" => {
                system.push(text);
                continue;
            }
            "assistant" => "assistant",
            // Tool results come back as user turns: Anthropic has no `tool` role.
            _ => "user",
        };
        if text.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last.role == role => {
                if let Content::Text(previous) = &mut last.content {
                    previous.push_str("\n\n");
                    previous.push_str(&text);
                }
            }
            _ => messages.push(Message {
                role: role.into(),
                content: Content::Text(text),
            }),
        }
    }
    if messages.first().is_none_or(|m| m.role != "user") {
        messages.insert(
            0,
            Message {
                role: "user".into(),
                content: Content::Text(OPENING_USER_TURN.into()),
            },
        );
    }
    let system: Vec<String> = system.into_iter().filter(|s| !s.is_empty()).collect();
    let mut extra = serde_json::Map::new();
    if let Some(top_p) = request.extra.get("top_p").filter(|v| v.is_number()) {
        extra.insert("top_p".into(), top_p.clone());
    }
    MessagesRequest {
        model: model.into(),
        max_tokens: Some(
            request
                .max_completion_tokens
                .or(request.max_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS),
        ),
        messages,
        system: (!system.is_empty()).then(|| Content::Text(system.join("\n\n"))),
        stream: request.is_stream().then_some(true),
        temperature: request.temperature.map(|t| t.clamp(0.0, MAX_TEMPERATURE)),
        stop_sequences: stop_sequences(request.extra.get("stop")),
        extra,
    }
}

/// OpenAI's `stop`: a string, an array of strings, or null.
fn stop_sequences(stop: Option<&Value>) -> Vec<String> {
    match stop {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// The HTTP status an Anthropic error type stands for (an `error` event arrives after a 200).
pub(crate) fn error_status(kind: &str) -> Option<u16> {
    match kind {
        "invalid_request_error" => Some(400),
        "authentication_error" => Some(401),
        "billing_error" => Some(402),
        "permission_error" => Some(403),
        "not_found_error" => Some(404),
        "request_too_large" => Some(413),
        "rate_limit_error" => Some(429),
        "api_error" => Some(500),
        "timeout_error" => Some(504),
        "overloaded_error" => Some(529),
        _ => None,
    }
}

/// Anthropic's input-side counts; total input is the sum of the three.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct InputCounts {
    uncached: u64,
    cache_write: u64,
    cache_read: u64,
    split: Option<CacheCreation>,
}

impl InputCounts {
    fn of(usage: &AnthropicUsage) -> Self {
        InputCounts {
            uncached: usage.input_tokens,
            cache_write: usage.cache_creation_input_tokens.unwrap_or(0),
            cache_read: usage.cache_read_input_tokens.unwrap_or(0),
            split: usage.cache_creation,
        }
    }

    /// Normalised counts; cache writes without a lifetime split count as 5-minute writes.
    fn token_usage(&self, out: u64) -> TokenUsage {
        let one_hour = self
            .split
            .map_or(0, |s| s.ephemeral_1h_input_tokens.min(self.cache_write));
        TokenUsage {
            uncached_in: self.uncached,
            cache_write_5m: self.cache_write - one_hour,
            cache_write_1h: one_hour,
            cache_read: self.cache_read,
            out,
        }
    }
}

/// OpenAI's usage for normalised counts: every input token is a prompt token, cache reads are `cached_tokens`.
pub(crate) fn openai_usage(usage: &TokenUsage) -> Usage {
    Usage {
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: usage.cache_read,
        }),
        ..Usage::new(usage.input_total(), usage.out)
    }
}

/// Normalised counts of a whole Messages reply.
pub(crate) fn token_usage(usage: &AnthropicUsage) -> TokenUsage {
    InputCounts::of(usage).token_usage(usage.output_tokens)
}

/// The completion for a whole Messages reply, stamped `created` (Unix seconds).
pub fn completion(reply: MessageResponse, created: i64) -> (ChatCompletion, TokenUsage) {
    let usage = token_usage(&reply.usage);
    let text: String = reply
        .content
        .iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text.as_deref())
        .collect();
    let completion = ChatCompletion {
        id: reply.id,
        object: OBJECT_COMPLETION.into(),
        created,
        model: reply.model,
        system_fingerprint: None,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: Some(text),
                ..ResponseMessage::default()
            },
            finish_reason: Some(finish_reason(reply.stop_reason.as_deref()).into()),
        }],
        usage: Some(openai_usage(&usage)),
        service_tier: None,
    };
    (completion, usage)
}

/// Anthropic's stream events in, OpenAI chunks out; `id`, `created` and `model` stay fixed.
#[derive(Debug, Clone)]
pub struct AnthropicStream {
    id: String,
    created: i64,
    model: String,
    started: bool,
    complete: bool,
    stop_reason: Option<String>,
    input: InputCounts,
    output: u64,
}

impl AnthropicStream {
    /// A translator whose chunks are stamped `created` (Unix seconds).
    pub fn new(created: i64) -> Self {
        AnthropicStream {
            id: String::new(),
            created,
            model: String::new(),
            started: false,
            complete: false,
            stop_reason: None,
            input: InputCounts::default(),
            output: 0,
        }
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: OBJECT_CHUNK.into(),
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: None,
            choices,
            usage: Some(usage),
        }
    }

    fn delta_chunk(&self, delta: Delta, finish_reason: Option<&str>) -> StreamItem {
        let choice = ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish_reason.map(Into::into),
        };
        StreamItem {
            chunk: self.chunk(vec![choice], None),
            usage: None,
        }
    }

    fn on_event(&mut self, event: StreamEvent) -> Result<Vec<StreamItem>, StreamFailure> {
        let opening = matches!(
            event,
            StreamEvent::MessageStart { .. } | StreamEvent::Ping | StreamEvent::Unknown
        );
        if !self.started && !opening && !matches!(event, StreamEvent::Error { .. }) {
            return Err(StreamFailure::new(format!(
                "stream sent {} before message_start",
                event.name()
            )));
        }
        match event {
            StreamEvent::MessageStart { message } => {
                self.started = true;
                self.id = message.id;
                self.model = message.model;
                self.input = InputCounts::of(&message.usage);
                self.output = message.usage.output_tokens;
                let delta = Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..Delta::default()
                };
                Ok(vec![self.delta_chunk(delta, None)])
            }
            StreamEvent::ContentBlockDelta {
                delta: BlockDelta::TextDelta { text },
                ..
            } => Ok(vec![self.delta_chunk(
                Delta {
                    content: Some(text),
                    ..Delta::default()
                },
                None,
            )]),
            StreamEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                self.output = usage.output_tokens;
                self.input.uncached = usage.input_tokens.unwrap_or(self.input.uncached);
                self.input.cache_write = usage.cache_creation_input_tokens.unwrap_or(self.input.cache_write);
                self.input.cache_read = usage.cache_read_input_tokens.unwrap_or(self.input.cache_read);
                Ok(Vec::new())
            }
            StreamEvent::MessageStop => {
                self.complete = true;
                let finish = self.delta_chunk(Delta::default(), Some(finish_reason(self.stop_reason.as_deref())));
                let usage = self.input.token_usage(self.output);
                let usage_chunk = StreamItem {
                    chunk: self.chunk(Vec::new(), Some(openai_usage(&usage))),
                    usage: Some(usage),
                };
                Ok(vec![finish, usage_chunk])
            }
            StreamEvent::Error { error } => Err(stream_error(&error.kind)),
            StreamEvent::ContentBlockStart { .. }
            | StreamEvent::ContentBlockDelta { .. }
            | StreamEvent::ContentBlockStop { .. }
            | StreamEvent::Ping
            | StreamEvent::Unknown => Ok(Vec::new()),
        }
    }
}

/// An `error` event, with the status it stands for (its message is not kept: it can quote the request).
fn stream_error(kind: &str) -> StreamFailure {
    StreamFailure {
        status: error_status(kind),
        message: format!("stream error {}", error_token(kind)),
    }
}

impl Decoder for AnthropicStream {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamItem>, StreamFailure> {
        let parsed: StreamEvent = serde_json::from_str(&event.data).map_err(|_| {
            StreamFailure::new(format!(
                "sent an unreadable {} event",
                event.event.as_deref().map_or("stream", error_token)
            ))
        })?;
        self.on_event(parsed)
    }

    fn is_complete(&self) -> bool {
        self.complete
    }

    fn truncated(&self) -> StreamFailure {
        StreamFailure::new("stream ended without message_stop")
    }
}

#[cfg(test)]
mod tests;
