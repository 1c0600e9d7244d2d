//! How Ollama's compatibility layer reads a chat request (`openai.FromChatRequest`): content
//! parts, images, audio, tool-call history, tools, `response_format` and `reasoning_effort`, with
//! the 400 messages Ollama answers when it cannot. Pure: no I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::wire::openai::{ChatCompletionRequest, MessageContent};

/// Image data URL prefixes Ollama decodes; `data:;base64,` is the bare form `/api/chat` takes.
const IMAGE_PREFIXES: &[&str] = &[
    "data:image/jpeg;base64,",
    "data:image/jpg;base64,",
    "data:image/png;base64,",
    "data:image/webp;base64,",
    "data:;base64,",
];

/// A function the request offers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FunctionTool {
    /// The function's name.
    pub(crate) name: String,
    /// Its parameters' JSON Schema (`{}` when absent).
    pub(crate) parameters: Value,
}

/// The structured output a request asks for (Ollama's `format`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    /// `json_object`: any JSON object.
    Json,
    /// `json_schema`: a value of this schema.
    Schema(Value),
}

/// What the node's model is asked for, as Ollama's native request would carry it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct CompatInput {
    /// Tools offered (`tool_choice` and `parallel_tool_calls` are not read).
    pub(crate) tools: Vec<FunctionTool>,
    /// Images across all messages.
    pub(crate) images: usize,
    /// Audio clips across all messages.
    pub(crate) audio: usize,
    /// Structured output, if asked for.
    pub(crate) format: Option<Format>,
    /// `reasoning_effort` (or `reasoning.effort`) turns thinking on.
    pub(crate) think: bool,
    /// The last message is a tool result: the model answers it in text.
    pub(crate) answering_tool: bool,
}

/// Reads `request` as Ollama does; the error is the message of Ollama's 400.
pub(crate) fn read(request: &ChatCompletionRequest) -> Result<CompatInput, String> {
    let invalid_format = || "invalid message format".to_string();
    let mut input = CompatInput::default();
    for message in &request.messages {
        match &message.content {
            Some(MessageContent::Text(_)) => {}
            Some(MessageContent::Parts(parts)) => {
                for part in parts {
                    match part.kind.as_str() {
                        "text" if part.text.is_some() => {}
                        "image_url" => {
                            let url = part
                                .extra
                                .get("image_url")
                                .and_then(|i| i.get("url").or(Some(i)))
                                .and_then(Value::as_str)
                                .ok_or_else(invalid_format)?;
                            decode_image(url)?;
                            input.images += 1;
                        }
                        "input_audio" => {
                            let audio = part
                                .extra
                                .get("input_audio")
                                .filter(|a| a.is_object())
                                .ok_or("invalid input_audio format")?;
                            let data = audio
                                .get("data")
                                .and_then(Value::as_str)
                                .ok_or("invalid input_audio format: missing data")?;
                            STANDARD
                                .decode(data)
                                .map_err(|e| format!("invalid input_audio base64 data: {}", go_base64_error(&e)))?;
                            input.audio += 1;
                        }
                        _ => return Err(invalid_format()),
                    }
                }
            }
            None if message.extra.get("tool_calls").is_none_or(Value::is_null) => {
                return Err("invalid message content type: <nil>".into());
            }
            None => {}
        }
        let calls = message.extra.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            let arguments = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or_default();
            serde_json::from_str::<Value>(arguments).map_err(|_| "invalid tool call arguments".to_string())?;
        }
    }
    input.answering_tool = request.messages.last().is_some_and(|m| m.role == "tool");
    let tools = request.extra.get("tools").and_then(Value::as_array);
    input.tools = tools
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            let function = tool.get("function")?;
            Some(FunctionTool {
                name: function.get("name")?.as_str()?.to_string(),
                parameters: function
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
            })
        })
        .collect();
    input.format = request.extra.get("response_format").and_then(|format| {
        let kind = format.get("type").and_then(Value::as_str)?.trim().to_ascii_lowercase();
        match kind.as_str() {
            "json_object" => Some(Format::Json),
            "json_schema" => format.pointer("/json_schema/schema").cloned().map(Format::Schema),
            _ => None,
        }
    });
    let effort = match request.extra.get("reasoning").filter(|r| r.is_object()) {
        Some(reasoning) => reasoning.get("effort"),
        None => request.extra.get("reasoning_effort"),
    };
    let effort = effort.and_then(Value::as_str).unwrap_or_default();
    input.think = match effort {
        "" | "none" => false,
        "minimal" | "low" | "medium" | "high" | "max" | "xhigh" | "ultra" => true,
        other => {
            return Err(format!(
                "invalid reasoning value: {other:?} (must be \"minimal\", \"low\", \"medium\", \"high\", \"xhigh\", \"ultra\", \"max\", or \"none\")"
            ));
        }
    };
    Ok(input)
}

/// Checks an image URL as `openai.decodeImageURL` does.
fn decode_image(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Err("image URLs are not currently supported, please use base64 encoded data instead".into());
    }
    let data = IMAGE_PREFIXES
        .iter()
        .find_map(|prefix| url.strip_prefix(prefix))
        .ok_or("invalid image input")?;
    STANDARD.decode(data).map_err(|_| "invalid image input")?;
    Ok(())
}

/// Go's `base64.CorruptInputError` text for a decoding error.
fn go_base64_error(err: &base64::DecodeError) -> String {
    let at = match err {
        base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => *at,
        base64::DecodeError::InvalidLength(at) => *at,
        base64::DecodeError::InvalidPadding => 0,
    };
    format!("illegal base64 data at input byte {at}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PNG: &str = "data:image/png;base64,iVBORw0KGgo=";

    fn read_json(request: Value) -> Result<CompatInput, String> {
        read(&serde_json::from_value(request).expect("a chat request"))
    }

    fn with_parts(parts: Value) -> Result<CompatInput, String> {
        read_json(json!({"model": "m", "messages": [{"role": "user", "content": parts}]}))
    }

    #[test]
    fn images_are_base64_data_urls_of_known_types() {
        let ok = with_parts(
            json!([{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": PNG}},
            {"type": "image_url", "image_url": "data:;base64,iVBORw0KGgo="}]),
        );
        assert_eq!(ok.map(|i| i.images), Ok(2));
        assert_eq!(
            with_parts(json!([{"type": "image_url", "image_url": {"url": "https://x/y.png"}}])),
            Err("image URLs are not currently supported, please use base64 encoded data instead".into())
        );
        for bad in ["data:image/gif;base64,R0lGOD=", "data:image/png;base64,@@@"] {
            assert_eq!(
                with_parts(json!([{"type": "image_url", "image_url": {"url": bad}}])),
                Err("invalid image input".into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn parts_ollama_does_not_know_are_refused() {
        assert_eq!(
            with_parts(json!([{"type": "file", "file": {"file_id": "f"}}])),
            Err("invalid message format".into())
        );
        let audio = with_parts(json!([{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]));
        assert_eq!(audio.map(|i| i.audio), Ok(1));
        assert_eq!(
            with_parts(json!([{"type": "input_audio", "input_audio": {"format": "wav"}}])),
            Err("invalid input_audio format: missing data".into())
        );
        assert_eq!(
            with_parts(json!([{"type": "input_audio", "input_audio": {"data": "ab!d"}}])),
            Err("invalid input_audio base64 data: illegal base64 data at input byte 2".into())
        );
    }

    #[test]
    fn tools_format_and_thinking_are_read() {
        let input = read_json(json!({"model": "m", "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "done"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}, {"type": "function", "function": {"name": "g"}}],
            "tool_choice": "required",
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "reasoning_effort": "low"}))
        .expect("readable");
        assert_eq!(
            input.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["f", "g"]
        );
        assert_eq!(input.tools[1].parameters, json!({}));
        assert_eq!(input.format, Some(Format::Schema(json!({"type": "object"}))));
        assert!(input.think && input.answering_tool);
        let json_mode = read_json(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}),
        );
        assert_eq!(json_mode.map(|i| i.format), Ok(Some(Format::Json)));
    }

    #[test]
    fn malformed_history_is_refused() {
        assert_eq!(
            read_json(
                json!({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}]})
            ),
            Err("invalid tool call arguments".into())
        );
        assert_eq!(
            read_json(json!({"model": "m", "messages": [{"role": "user", "content": null}]})),
            Err("invalid message content type: <nil>".into())
        );
        assert!(
            read_json(
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"})
            )
            .is_err_and(|e| e.starts_with("invalid reasoning value: \"extreme\""))
        );
    }
}
