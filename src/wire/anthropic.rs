//! Anthropic Messages API (`POST /v1/messages`): request, response, stream events and errors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `anthropic-version` header value clients send.
pub const API_VERSION: &str = "2023-06-01";

/// A content block of a request or a reply; the SSE `content_block_start` carries one too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text (never empty in a request: Anthropic refuses empty text blocks).
        text: String,
    },
    /// An image, inline or by URL.
    Image {
        /// Where the image is.
        source: ImageSource,
    },
    /// A tool call by the assistant.
    ToolUse {
        /// `toolu_…` (any `[A-Za-z0-9_-]+` in requests).
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments, a JSON object (`{}` in `content_block_start`).
        input: Value,
    },
    /// The result of a tool call, in a user turn.
    ToolResult {
        /// The `id` of the `tool_use` block it answers.
        tool_use_id: String,
        /// The result: a string or text/image blocks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Content>,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    /// Extended thinking (never shown to the agent).
    Thinking {
        /// The thinking text.
        thinking: String,
        /// Signature that lets the block be sent back.
        #[serde(default)]
        signature: String,
    },
    /// A block type this crate does not model (`redacted_thinking`, `server_tool_use`, …).
    #[serde(other)]
    Other,
}

impl ContentBlock {
    /// A `text` block.
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text { text: text.into() }
    }

    /// The block's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ContentBlock::Text { .. } => "text",
            ContentBlock::Image { .. } => "image",
            ContentBlock::ToolUse { .. } => "tool_use",
            ContentBlock::ToolResult { .. } => "tool_result",
            ContentBlock::Thinking { .. } => "thinking",
            ContentBlock::Other => "other",
        }
    }
}

/// `image.source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline bytes.
    Base64 {
        /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
        media_type: String,
        /// Base64 of the image.
        data: String,
    },
    /// An image Anthropic fetches.
    Url {
        /// `https://…`.
        url: String,
    },
}

/// Message content: a string or blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content blocks.
    Blocks(Vec<ContentBlock>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Text(String::new())
    }
}

impl Content {
    /// The text of the content: text blocks and tool results' text, joined by newlines.
    pub fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Blocks(blocks) => blocks
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text { text } => Some(text.clone()),
                    ContentBlock::ToolResult {
                        content: Some(content), ..
                    } => Some(content.text()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The blocks of the content (a string is one text block).
    pub fn blocks(&self) -> Vec<ContentBlock> {
        match self {
            Content::Text(text) => vec![ContentBlock::text(text.clone())],
            Content::Blocks(blocks) => blocks.clone(),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// `^[a-zA-Z0-9_-]{1,64}$`.
    pub name: String,
    /// What the tool does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the tool's `input`.
    pub input_schema: Value,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto {
        /// At most one tool call per reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call some tool.
    Any {
        /// At most one tool call per reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call this tool.
    Tool {
        /// The tool.
        name: String,
        /// At most one tool call per reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model calls no tool.
    None,
}

/// `thinking`: extended thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    /// Think with up to `budget_tokens` (≥ 1024 and below `max_tokens`).
    Enabled {
        /// Thinking budget.
        budget_tokens: u32,
    },
    /// No thinking.
    Disabled,
}

/// `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// An opaque id of the end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// One request message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant` (there is no system role).
    #[serde(default)]
    pub role: String,
    /// Content.
    #[serde(default)]
    pub content: Content,
}

/// `POST /v1/messages` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// Model id.
    #[serde(default)]
    pub model: String,
    /// Output cap (required by the API; `None` when the client left it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Conversation.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// System prompt: a string or text blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Content>,
    /// Stream SSE events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// How the model must use the tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Extended thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Every other field, kept for forwarding.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `usage.cache_creation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheCreation {
    /// Tokens written to the 5-minute cache.
    pub ephemeral_5m_input_tokens: u64,
    /// Tokens written to the 1-hour cache.
    pub ephemeral_1h_input_tokens: u64,
}

/// Token usage; total input = `input_tokens` + both cache fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Tokens written to the cache (None counts as 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Tokens read from the cache (None counts as 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Cache-write split by lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreation>,
    /// Output tokens, thinking included.
    pub output_tokens: u64,
    /// `standard`, `priority` or `batch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
}

/// A non-streamed reply, and `message_start.message`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageResponse {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// `message`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `assistant`.
    #[serde(default)]
    pub role: String,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Content blocks (empty in `message_start`).
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, …; null in `message_start`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The stop sequence that matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Token usage.
    #[serde(default)]
    pub usage: Usage,
}

/// `message_delta.delta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why the message stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The stop sequence that matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// `message_delta.usage`: cumulative; take the last `output_tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeltaUsage {
    /// Output tokens so far.
    pub output_tokens: u64,
    /// Input tokens, when repeated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Cache writes, when repeated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Cache reads, when repeated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// `content_block_delta.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// More text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// More tool-input JSON (concatenate, parse at `content_block_stop`).
    InputJsonDelta {
        /// A JSON fragment.
        partial_json: String,
    },
    /// More thinking text.
    ThinkingDelta {
        /// The thinking text.
        thinking: String,
    },
    /// Thinking signature.
    SignatureDelta {
        /// The signature.
        signature: String,
    },
    /// A delta type this crate does not know.
    #[serde(other)]
    Other,
}

/// The error object of error bodies and `error` events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `rate_limit_error`, `api_error`, `overloaded_error`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human-readable text.
    #[serde(default)]
    pub message: String,
}

/// One SSE event of a streamed reply (the SSE `event:` name equals `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// First event: the message with empty content and input usage.
    MessageStart {
        /// The message so far.
        message: MessageResponse,
    },
    /// A content block opens.
    ContentBlockStart {
        /// Block position.
        index: u32,
        /// The empty block.
        content_block: ContentBlock,
    },
    /// Keep-alive.
    Ping,
    /// More content for a block.
    ContentBlockDelta {
        /// Block position.
        index: u32,
        /// The delta.
        delta: BlockDelta,
    },
    /// A content block closes.
    ContentBlockStop {
        /// Block position.
        index: u32,
    },
    /// Stop reason and cumulative usage.
    MessageDelta {
        /// Stop reason.
        delta: MessageDeltaBody,
        /// Cumulative usage.
        usage: DeltaUsage,
    },
    /// Last event of a complete stream.
    MessageStop,
    /// A failure after the 200.
    Error {
        /// What failed.
        error: ErrorDetail,
    },
    /// An event type this crate does not know (clients must ignore it).
    #[serde(other)]
    Unknown,
}

impl StreamEvent {
    /// The SSE `event:` name of this event.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::Ping => "ping",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Error { .. } => "error",
            StreamEvent::Unknown => "unknown",
        }
    }
}

/// Body of every non-2xx answer: `{"type":"error","error":{…},"request_id":…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// `error`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The error.
    #[serde(default)]
    pub error: ErrorDetail,
    /// Request id to quote to support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorResponse {
    /// An error body of this type and message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorResponse {
            kind: "error".into(),
            error: ErrorDetail {
                kind: kind.into(),
                message: message.into(),
            },
            request_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_events_parse_and_unknown_types_are_tolerated() {
        let start = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":35,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#;
        let StreamEvent::MessageStart { message } = serde_json::from_str(start).unwrap() else {
            panic!()
        };
        assert_eq!(message.usage.input_tokens, 35);
        let delta: StreamEvent = serde_json::from_str(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"All"}}"#,
        )
        .unwrap();
        assert_eq!(
            delta,
            StreamEvent::ContentBlockDelta {
                index: 0,
                delta: BlockDelta::TextDelta { text: "All".into() }
            }
        );
        assert_eq!(
            serde_json::from_str::<StreamEvent>(r#"{"type":"brand_new","x":1}"#).unwrap(),
            StreamEvent::Unknown
        );
        assert_eq!(
            serde_json::from_str::<StreamEvent>(r#"{"type":"ping"}"#)
                .unwrap()
                .name(),
            "ping"
        );
    }

    #[test]
    fn events_serialise_with_their_type() {
        let event = StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: Some("end_turn".into()),
                stop_sequence: None,
            },
            usage: DeltaUsage {
                output_tokens: 9,
                ..DeltaUsage::default()
            },
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}"#
        );
        assert_eq!(
            serde_json::to_string(&StreamEvent::MessageStop).unwrap(),
            r#"{"type":"message_stop"}"#
        );
    }

    #[test]
    fn request_reads_string_and_block_content() {
        let body = r#"{"model":"m","max_tokens":10,"system":[{"type":"text","text":"be brief"}],"messages":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"text","text":"there"}]}],"metadata":{"user_id":"u"}}"#;
        let req: MessagesRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.system.unwrap().text(), "be brief");
        assert_eq!(req.messages[1].content.text(), "there");
        assert_eq!(req.metadata.unwrap().user_id.as_deref(), Some("u"));
    }

    #[test]
    fn content_blocks_keep_their_shapes_and_unknown_types_are_tolerated() {
        let blocks = serde_json::json!([
            {"type":"text","text":"a"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}},
            {"type":"image","source":{"type":"url","url":"https://e.com/a.png"}},
            {"type":"tool_use","id":"toolu_1","name":"f","input":{"x":1}},
            {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"r"}],"is_error":true},
            {"type":"thinking","thinking":"t","signature":"s"}
        ]);
        let parsed: Vec<ContentBlock> = serde_json::from_value(blocks.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), blocks);
        assert_eq!(Content::Blocks(parsed).text(), "a\nr");
        let other: ContentBlock = serde_json::from_str(r#"{"type":"server_tool_use","id":"x"}"#).unwrap();
        assert_eq!(other, ContentBlock::Other);
        assert!(serde_json::from_str::<ContentBlock>(r#"{"type":"tool_use","name":"f"}"#).is_err());
    }

    #[test]
    fn error_body_shape() {
        let json = serde_json::to_string(&ErrorResponse::new("overloaded_error", "Overloaded")).unwrap();
        assert_eq!(
            json,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        );
    }
}
