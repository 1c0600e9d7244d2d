//! Anthropic Messages: the OpenAI request is translated on the way out and the reply on the way
//! back (see [`super::translate`]).

use super::translate::{self, AnthropicStream};
use super::{ApiKey, http, stream};
use crate::gateway::upstream::{Timeouts, UpstreamError, UpstreamReply, body_stream};
use crate::quality::AnswerSignals;
use crate::wire::anthropic::{API_VERSION, MessageResponse};
use crate::wire::openai::{ChatCompletionRequest, CompletionEnvelope};

/// Calls `POST {base_url}/v1/messages`.
pub(super) async fn call(
    client: &reqwest::Client,
    provider_name: &str,
    base_url: &str,
    key: Option<&ApiKey>,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
) -> Result<UpstreamReply, UpstreamError> {
    let translation = translate::translate(request, model).map_err(UpstreamError::untranslatable)?;
    let url = format!("{}/v1/messages", base_url.trim_end_matches('/'));
    let mut builder = client
        .post(url)
        .header("anthropic-version", API_VERSION)
        .json(&translation.request);
    if let Some(key) = key {
        builder = builder.header("x-api-key", key.header_value(provider_name, "")?);
    }
    let response = http::send(builder, timeouts.first_byte).await?;
    if !response.status().is_success() {
        return Err(http::status_error(provider_name, response, timeouts.idle).await);
    }
    let created = chrono::Utc::now().timestamp();
    if request.is_stream() {
        let chunks = stream::relay(
            provider_name,
            body_stream::from_reqwest(response),
            AnthropicStream::new(created, translation.json_tool),
            timeouts,
        )
        .await?;
        return Ok(UpstreamReply::Stream(chunks));
    }
    let reply: MessageResponse = http::read_json(provider_name, response, timeouts.idle).await?;
    if reply.kind != "message" {
        return Err(UpstreamError::malformed(format!(
            "{provider_name} sent a malformed answer"
        )));
    }
    let (completion, usage) = translate::completion(reply, created, translation.json_tool.as_deref());
    let body = serde_json::to_vec(&completion)
        .map_err(|_| UpstreamError::transport(format!("{provider_name} answer could not be translated")))?;
    let answer = serde_json::from_slice::<CompletionEnvelope<'_>>(&body)
        .map(|envelope| AnswerSignals::of(&envelope))
        .unwrap_or_default();
    Ok(UpstreamReply::Complete {
        body: body.into(),
        usage,
        answer,
    })
}
