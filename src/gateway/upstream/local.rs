//! A farm node: Ollama's OpenAI-compatible `/v1/chat/completions`, passed through.

use super::{Timeouts, UpstreamError, UpstreamReply, describe};
use crate::wire::openai::{ChatCompletionRequest, ErrorEnvelope, StreamOptions};

/// Sends `request` to the node at `base_url` as `model`. Streams ask for usage so it is always known.
pub async fn call(
    client: &reqwest::Client,
    base_url: &str,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
) -> Result<UpstreamReply, UpstreamError> {
    let mut body = request.clone();
    body.model = model.to_string();
    body.user = None;
    if body.is_stream() {
        body.stream_options = Some(StreamOptions { include_usage: true });
    }
    if body.max_tokens.is_none() {
        // Ollama reads only `max_tokens`; a client sending just the newer field would get unbounded output.
        body.max_tokens = body.max_completion_tokens;
    }
    let send = client
        .post(format!("{base_url}/v1/chat/completions"))
        .json(&body)
        .send();
    let response = match tokio::time::timeout(timeouts.first_byte, send).await {
        Err(_) => {
            return Err(UpstreamError::transport(format!(
                "no answer within {}s",
                timeouts.first_byte.as_secs()
            )));
        }
        Ok(Err(err)) => return Err(UpstreamError::transport(describe(&err))),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let retry_after = super::frontier::http::retry_after(response.headers(), std::time::SystemTime::now());
        let text = tokio::time::timeout(timeouts.idle, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let detail = serde_json::from_str::<ErrorEnvelope>(&text)
            .map(|e| e.error.message)
            .unwrap_or_default();
        return Err(UpstreamError {
            status: Some(status.as_u16()),
            retry_after,
            message: format!("node answered {} ({})", status.as_u16(), node_error_kind(&detail)),
            untranslatable: None,
        });
    }
    if body.is_stream() {
        let decoder = super::frontier::openai::OpenAiStream::default();
        return super::frontier::stream::relay("node", response, decoder, timeouts)
            .await
            .map(UpstreamReply::Stream);
    }
    super::frontier::http::read_completion("node", response, timeouts.idle).await
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
    use super::node_error_kind;

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
