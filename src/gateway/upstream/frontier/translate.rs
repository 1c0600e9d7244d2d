//! Pure translation between OpenAI Chat Completions and Anthropic Messages: the request one way,
//! the reply (whole or streamed) the other way, and usage into [`TokenUsage`].
//!
//! Tools, tool results, images, JSON mode and extended thinking are carried; what cannot be is
//! refused with a [`TranslateError`] naming the field (see [`request`]).

mod request;

use std::collections::HashMap;

use serde_json::{Value, json};

use super::stream::{Decoder, StreamFailure};
use crate::config::TokenUsage;
use crate::gateway::upstream::{StreamItem, error_token};
use crate::wire::anthropic::{
    BlockDelta, CacheCreation, ContentBlock, MessageResponse, StreamEvent, Usage as AnthropicUsage,
};
use crate::wire::openai::{
    ChatCompletion, ChatCompletionChunk, Choice, ChunkChoice, Delta, OBJECT_CHUNK, OBJECT_COMPLETION,
    PromptTokensDetails, ResponseMessage, Usage,
};

use crate::wire::sse::SseEvent;
#[cfg(test)]
pub(crate) use request::{DEFAULT_JSON_TOOL, DEFAULT_MAX_TOKENS, OPENING_USER_TURN};
pub use request::{TranslateError, Translation, messages_request, translate};

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

/// OpenAI's `finish_reason` for a reply: a tool-use stop that only called the JSON answer tool is a `stop`.
fn reply_finish_reason(stop_reason: Option<&str>, called_tools: bool) -> &'static str {
    match finish_reason(stop_reason) {
        "tool_calls" if !called_tools => "stop",
        other => other,
    }
}

/// One OpenAI `tool_calls[]` entry.
fn tool_call(id: &str, name: &str, arguments: String) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

/// The completion for a whole Messages reply, stamped `created` (Unix seconds).
///
/// Text blocks become `content` (null when there is none), `tool_use` blocks `tool_calls` in
/// order, except the `json_tool` (see [`translate`]), whose input becomes the `content`; thinking
/// is never shown.
pub fn completion(reply: MessageResponse, created: i64, json_tool: Option<&str>) -> (ChatCompletion, TokenUsage) {
    let usage = token_usage(&reply.usage);
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in &reply.content {
        match block {
            ContentBlock::Text { text: t } => text.get_or_insert_with(String::new).push_str(t),
            ContentBlock::ToolUse { name, input, .. } if Some(name.as_str()) == json_tool => {
                text.get_or_insert_with(String::new).push_str(&input.to_string());
            }
            ContentBlock::ToolUse { id, name, input } => tool_calls.push(tool_call(id, name, input.to_string())),
            _ => {}
        }
    }
    let finish = reply_finish_reason(reply.stop_reason.as_deref(), !tool_calls.is_empty());
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
                content: text,
                tool_calls: (!tool_calls.is_empty()).then_some(Value::Array(tool_calls)),
                ..ResponseMessage::default()
            },
            finish_reason: Some(finish.into()),
        }],
        usage: Some(openai_usage(&usage)),
        service_tier: None,
    };
    (completion, usage)
}

/// What an open content block of a stream turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    /// Text, relayed as `content`.
    Text,
    /// A tool call, relayed as `tool_calls[index]`.
    Tool(u32),
    /// The JSON answer tool, whose input is relayed as `content`.
    Json,
    /// Thinking and blocks this crate does not model: not relayed.
    Hidden,
}

/// Anthropic's stream events in, OpenAI chunks out; `id`, `created` and `model` stay fixed.
///
/// Each event is translated as soon as it is decoded. Tool calls are numbered 0, 1, … in order
/// of appearance (OpenAI's `index` counts tool calls, not Anthropic's content blocks).
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
    json_tool: Option<String>,
    blocks: HashMap<u32, OpenBlock>,
    tool_calls: u32,
}

impl AnthropicStream {
    /// A translator whose chunks are stamped `created` (Unix seconds); `json_tool` carries a JSON answer.
    pub fn new(created: i64, json_tool: Option<String>) -> Self {
        AnthropicStream {
            id: String::new(),
            created,
            model: String::new(),
            started: false,
            complete: false,
            stop_reason: None,
            input: InputCounts::default(),
            output: 0,
            json_tool,
            blocks: HashMap::new(),
            tool_calls: 0,
        }
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            extra: Default::default(),
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
            extra: Default::default(),
            index: 0,
            delta,
            finish_reason: finish_reason.map(Into::into),
        };
        StreamItem {
            chunk: self.chunk(vec![choice], None),
            usage: None,
        }
    }

    fn content_chunk(&self, text: String) -> Vec<StreamItem> {
        if text.is_empty() {
            return Vec::new();
        }
        let delta = Delta {
            content: Some(text),
            ..Delta::default()
        };
        vec![self.delta_chunk(delta, None)]
    }

    fn tool_chunk(&self, call: Value) -> Vec<StreamItem> {
        let delta = Delta {
            tool_calls: Some(Value::Array(vec![call])),
            ..Delta::default()
        };
        vec![self.delta_chunk(delta, None)]
    }

    fn on_block_start(&mut self, index: u32, block: ContentBlock) -> Vec<StreamItem> {
        let (open, items) = match block {
            ContentBlock::Text { text } => (OpenBlock::Text, self.content_chunk(text)),
            ContentBlock::ToolUse { name, .. } if Some(&name) == self.json_tool.as_ref() => {
                (OpenBlock::Json, Vec::new())
            }
            ContentBlock::ToolUse { id, name, .. } => {
                let position = self.tool_calls;
                self.tool_calls += 1;
                let call = json!({"index": position, "id": id, "type": "function", "function": {"name": name, "arguments": ""}});
                (OpenBlock::Tool(position), self.tool_chunk(call))
            }
            _ => (OpenBlock::Hidden, Vec::new()),
        };
        self.blocks.insert(index, open);
        items
    }

    fn on_block_delta(&self, index: u32, delta: BlockDelta) -> Vec<StreamItem> {
        let open = self.blocks.get(&index).copied();
        match (open, delta) {
            (Some(OpenBlock::Hidden), _) => Vec::new(),
            (_, BlockDelta::TextDelta { text }) => self.content_chunk(text),
            (Some(OpenBlock::Json), BlockDelta::InputJsonDelta { partial_json }) => self.content_chunk(partial_json),
            (Some(OpenBlock::Tool(position)), BlockDelta::InputJsonDelta { partial_json })
                if !partial_json.is_empty() =>
            {
                self.tool_chunk(json!({"index": position, "function": {"arguments": partial_json}}))
            }
            _ => Vec::new(),
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
            StreamEvent::ContentBlockStart { index, content_block } => Ok(self.on_block_start(index, content_block)),
            StreamEvent::ContentBlockDelta { index, delta } => Ok(self.on_block_delta(index, delta)),
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
                let reason = reply_finish_reason(self.stop_reason.as_deref(), self.tool_calls > 0);
                let finish = self.delta_chunk(Delta::default(), Some(reason));
                let usage = self.input.token_usage(self.output);
                let usage_chunk = StreamItem {
                    chunk: self.chunk(Vec::new(), Some(openai_usage(&usage))),
                    usage: Some(usage),
                };
                Ok(vec![finish, usage_chunk])
            }
            StreamEvent::Error { error } => Err(stream_error(&error.kind)),
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Ping | StreamEvent::Unknown => Ok(Vec::new()),
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
