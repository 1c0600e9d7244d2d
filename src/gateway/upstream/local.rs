//! A farm node: Ollama's OpenAI-compatible `/v1/chat/completions`, passed through.
//!
//! Tools, images, `response_format`, `reasoning_effort` and the sampling fields reach the node as
//! the agent sent them. [`select`](crate::router::select) never places a request on a node whose
//! model lacks what it needs, or that Ollama could not carry ([`crate::router::OllamaGap`]).

use super::frontier::http;
use super::node_client::NodeClient;
use super::{Timeouts, UpstreamError, UpstreamReply};
use crate::wire::openai::{ChatCompletionRequest, ErrorEnvelope, StreamOptions};

/// Sends `request` to the node at `base_url` as `model`. Streams ask for usage so it is always known.
pub async fn call(
    client: &NodeClient,
    base_url: &str,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
) -> Result<UpstreamReply, UpstreamError> {
    let body = node_body(request, model);
    let json = serde_json::to_vec(&body)
        .map_err(|e| UpstreamError::malformed(format!("the request cannot be written for the node: {e}")))?;
    let url = format!("{base_url}/v1/chat/completions");
    let response = client.post_json(&url, json, timeouts.first_byte).await?;
    if !response.status.is_success() {
        let retry_after = http::retry_after(&response.headers, std::time::SystemTime::now());
        let text = http::read_error_body(response.body, timeouts.idle).await;
        let detail = serde_json::from_slice::<ErrorEnvelope>(&text)
            .map(|e| e.error.message)
            .unwrap_or_default();
        let status = response.status.as_u16();
        return Err(UpstreamError::status(
            status,
            retry_after,
            format!("node answered {status} ({})", node_error_kind(&detail)),
        ));
    }
    if body.is_stream() {
        let decoder = super::frontier::openai::OpenAiStream::default();
        return super::frontier::stream::relay("node", response.body, decoder, timeouts)
            .await
            .map(UpstreamReply::Stream);
    }
    http::read_completion("node", response.body, timeouts.idle).await
}

/// The body a node gets: the agent's request for `model`, with what Ollama reads differently
/// put its way. `max_completion_tokens` becomes `max_tokens` (the only cap Ollama reads);
/// `tool_choice: "none"` withholds the tools (Ollama would ignore the choice and offer them);
/// `user` names the agent to the router and is not sent.
fn node_body(request: &ChatCompletionRequest, model: &str) -> ChatCompletionRequest {
    let mut body = request.clone();
    body.model = model.to_string();
    body.user = None;
    if body.is_stream() {
        body.stream_options = Some(StreamOptions { include_usage: true });
    }
    if body.max_tokens.is_none() {
        body.max_tokens = body.max_completion_tokens;
    }
    if body.extra.get("tool_choice").and_then(|c| c.as_str()) == Some("none") {
        for field in ["tools", "tool_choice", "parallel_tool_calls"] {
            body.extra.remove(field);
        }
    }
    body
}

/// What an Ollama error says, as a fixed phrase: its text is never passed on, because Ollama
/// quotes model output in some errors (a tool call it could not parse, for one).
fn node_error_kind(detail: &str) -> &'static str {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("not found") {
        "model not found"
    } else if lower.contains("does not support tools") {
        "model does not support tools"
    } else if lower.contains("does not support") {
        "model does not support a requested feature"
    } else if lower.contains("busy") || lower.contains("server overloaded") || lower.contains("max queue") {
        "node busy"
    } else if lower.contains("context") && lower.contains("length") {
        "request longer than the model's context"
    } else if detail.is_empty() {
        "no error text"
    } else {
        "error text withheld"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{node_body, node_error_kind};

    fn body(request: Value) -> Value {
        let request = serde_json::from_value(request).expect("a chat request");
        serde_json::to_value(node_body(&request, "qwen3:14b")).expect("serialises")
    }

    #[test]
    fn tools_images_and_formats_reach_the_node_as_sent() {
        let request = json!({
            "model": "routine", "user": "crawler", "stream": true, "max_completion_tokens": 64,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "look", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
            ],
            "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
            "tool_choice": "auto", "parallel_tool_calls": true,
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
            "reasoning_effort": "low", "stop": ["\n\n"], "seed": 7
        });
        let sent = body(request.clone());
        for field in [
            "messages",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "response_format",
            "reasoning_effort",
            "stop",
            "seed",
        ] {
            assert_eq!(sent[field], request[field], "{field}");
        }
        assert_eq!(sent["model"], "qwen3:14b");
        assert_eq!((sent["max_tokens"].clone(), sent.get("user")), (json!(64), None));
        assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn tool_choice_none_withholds_the_tools() {
        let sent = body(
            json!({"model": "routine", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"}),
        );
        assert!(
            sent.get("tools").is_none() && sent.get("tool_choice").is_none(),
            "{sent}"
        );
    }

    #[test]
    fn node_errors_become_fixed_phrases() {
        assert_eq!(
            node_error_kind("model \"qwen3:99b\" not found, try pulling it first"),
            "model not found"
        );
        assert_eq!(
            node_error_kind("registry.ollama.ai/library/gemma:2b does not support tools"),
            "model does not support tools"
        );
        let echo = "error parsing tool call: raw='{\"card\": \"4111 1111 1111 1111\"}', err=unexpected end";
        assert_eq!(node_error_kind(echo), "error text withheld");
        assert_eq!(node_error_kind(""), "no error text");
    }
}
