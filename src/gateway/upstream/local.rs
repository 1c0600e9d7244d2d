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
            message: format!(
                "node answered {}{}{}",
                status.as_u16(),
                if detail.is_empty() { "" } else { ": " },
                truncate(&detail)
            ),
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

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}
