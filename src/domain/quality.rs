//! The quality of one answer, measured in flight from what passed through the router: how it
//! ended, whether it was empty or (when JSON was asked for) valid, and how fast it came. Only
//! these numbers are kept, never the answer's text.

use serde::{Deserialize, Serialize};

use super::wire_enum;

/// How an answer ended, as OpenAI names it, or `error` when the upstream failed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FinishReason {
    /// The model finished on its own.
    Stop,
    /// The answer was cut at `max_tokens` (or the context length): truncated.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The provider filtered the answer.
    ContentFilter,
    /// The upstream failed the request, or its stream broke off.
    Error,
}

wire_enum!(FinishReason, "finish reason", {
    Stop => "stop",
    Length => "length",
    ToolCalls => "tool_calls",
    ContentFilter => "content_filter",
    Error => "error",
});

impl FinishReason {
    /// Reads an upstream's `finish_reason`; Ollama's `function_call` and unknown reasons count as
    /// `stop` unless they name a cut or a filter.
    pub fn from_upstream(reason: &str) -> FinishReason {
        match reason {
            "length" | "max_tokens" => FinishReason::Length,
            "tool_calls" | "function_call" | "tool_use" => FinishReason::ToolCalls,
            "content_filter" | "refusal" => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        }
    }
}

/// The quality signals of one decision; every field is empty for a request never answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerQuality {
    /// How the answer ended (`None`: the agent went away before it did, or nothing was served).
    pub finish_reason: Option<FinishReason>,
    /// Whether the answer had neither text nor tool calls.
    pub empty_answer: Option<bool>,
    /// For requests that asked for `response_format` `json_object` or `json_schema`: whether the
    /// answer parsed as JSON (and matched the schema).
    pub json_valid: Option<bool>,
    /// Milliseconds from arrival to the first token of a streamed answer.
    pub ttft_ms: Option<i64>,
    /// Completion tokens per second of generation (after the first token when streamed).
    pub tokens_per_sec: Option<f64>,
    /// Milliseconds the request waited in the router for a node slot.
    pub queued_ms: i64,
}

/// The agent prefix of shadow decisions: their spend is quality spend, apart from the agents'.
pub const SHADOW_AGENT_PREFIX: &str = "shadow:";

/// Whether `agent` names the shadow twins of some agent's requests.
pub fn is_shadow_agent(agent: &str) -> bool {
    agent.starts_with(SHADOW_AGENT_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_reasons_map_to_the_five_kinds() {
        assert_eq!(FinishReason::from_upstream("stop"), FinishReason::Stop);
        assert_eq!(FinishReason::from_upstream("length"), FinishReason::Length);
        assert_eq!(FinishReason::from_upstream("max_tokens"), FinishReason::Length);
        assert_eq!(FinishReason::from_upstream("tool_calls"), FinishReason::ToolCalls);
        assert_eq!(
            FinishReason::from_upstream("content_filter"),
            FinishReason::ContentFilter
        );
        assert_eq!(FinishReason::from_upstream("end_turn"), FinishReason::Stop);
    }

    #[test]
    fn quality_reads_back_from_json_without_the_fields() {
        let quality: AnswerQuality = serde_json::from_str("{}").expect("defaults");
        assert_eq!(quality, AnswerQuality::default());
        let quality = AnswerQuality {
            finish_reason: Some(FinishReason::Length),
            empty_answer: Some(false),
            json_valid: Some(true),
            ttft_ms: Some(120),
            tokens_per_sec: Some(42.5),
            queued_ms: 3,
        };
        let text = serde_json::to_string(&quality).expect("serialises");
        assert!(text.contains("\"finish_reason\":\"length\""), "{text}");
        assert_eq!(serde_json::from_str::<AnswerQuality>(&text).expect("parses"), quality);
    }
}
