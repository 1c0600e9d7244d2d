//! Frontier providers (OpenAI Chat Completions, Anthropic Messages) behind one OpenAI-shaped call.
//!
//! Layers: `translate` is the pure OpenAI⇄Anthropic mapping, [`retry`] the pure retry policy,
//! `stream` turns an SSE body into chunks through a provider's pure decoder, `http` is the shared
//! HTTP edge, and `openai` / `anthropic` put them together per provider. Keys are resolved at
//! call time and only ever live in a sensitive header.

mod anthropic;
pub(crate) mod http;
pub(crate) mod openai;
pub mod retry;
pub mod stream;
pub mod translate;

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::config::{ProviderConfig, ProviderKind};
use crate::gateway::upstream::{Timeouts, UpstreamError, UpstreamReply};
use crate::wire::openai::ChatCompletionRequest;

/// A resolved API key; its `Debug` never shows it.
pub(crate) struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

impl ApiKey {
    /// The key after `prefix` as a header value marked sensitive (kept out of logs and HPACK tables).
    fn header_value(&self, provider_name: &str, prefix: &str) -> Result<HeaderValue, UpstreamError> {
        let mut value = HeaderValue::from_str(&format!("{prefix}{}", self.0)).map_err(|_| {
            UpstreamError::unconfigured(format!(
                "frontier key for {provider_name} is not a valid HTTP header value"
            ))
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// The provider's key, from the process's secret cache (read within `secrets.timeout_secs`
/// when not cached); `None` when it has none. A failure names the reference, never a value.
async fn resolve_key(provider_name: &str, provider: &ProviderConfig) -> Result<Option<ApiKey>, UpstreamError> {
    let Some(reference) = provider.api_key.as_ref() else {
        return Ok(None);
    };
    match crate::secrets::shared().get(reference).await {
        Ok(key) => Ok(Some(ApiKey(key.to_string()))),
        Err(err) => Err(UpstreamError::unconfigured(format!(
            "frontier key for {provider_name} ({reference}) unavailable: {err}"
        ))),
    }
}

/// One attempt with a resolved key.
async fn attempt(
    client: &reqwest::Client,
    provider_name: &str,
    provider: &ProviderConfig,
    key: Option<&ApiKey>,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
) -> Result<UpstreamReply, UpstreamError> {
    let base_url = provider.base_url.as_str();
    let reply = match provider.kind {
        ProviderKind::Openai => openai::call(client, provider_name, base_url, key, model, request, timeouts).await,
        ProviderKind::Anthropic => {
            anthropic::call(client, provider_name, base_url, key, model, request, timeouts).await
        }
    };
    // A whole completion's headers come only once it is done: a timeout may follow billed work.
    let streamed = request.stream.unwrap_or(false);
    reply.map_err(|err| if streamed { err } else { err.possibly_charged() })
}

/// Calls a frontier provider with an OpenAI-shaped request for `model`; the reply is OpenAI-shaped.
///
/// One attempt, no retry. [`Timeouts::first_byte`] bounds the wait for the answer's headers, which
/// for a non-streamed reply come only once the whole completion is done. A streamed reply is returned once its first chunk arrived, so a
/// provider failing before that is still an [`UpstreamError`]. Usage is always known: OpenAI
/// streams are asked for their usage chunk (the gateway strips it if the agent did not ask).
pub async fn call(
    client: &reqwest::Client,
    provider_name: &str,
    provider: &ProviderConfig,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
) -> Result<UpstreamReply, UpstreamError> {
    let key = resolve_key(provider_name, provider).await?;
    attempt(client, provider_name, provider, key.as_ref(), model, request, timeouts).await
}

/// [`call`], retried on the same provider as [`retry::retry_delay`] allows (at most twice; a 429
/// `insufficient_quota` or a server delay above 10 s is not retried); returns the last error.
/// The key is resolved once: a missing key is not worth retrying.
pub async fn call_with_retry(
    client: &reqwest::Client,
    provider_name: &str,
    provider: &ProviderConfig,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
) -> Result<UpstreamReply, UpstreamError> {
    call_with_retry_observed(client, provider_name, provider, model, request, timeouts, |_, _| {}).await
}

/// [`call_with_retry`], telling `retrying` about every failed attempt that is retried, with the
/// wait before the next one, so that each attempt can be recorded.
pub async fn call_with_retry_observed(
    client: &reqwest::Client,
    provider_name: &str,
    provider: &ProviderConfig,
    model: &str,
    request: &ChatCompletionRequest,
    timeouts: Timeouts,
    mut retrying: impl FnMut(&UpstreamError, Duration) + Send,
) -> Result<UpstreamReply, UpstreamError> {
    let key = resolve_key(provider_name, provider).await?;
    let mut failures = 0;
    loop {
        let err = match attempt(client, provider_name, provider, key.as_ref(), model, request, timeouts).await {
            Ok(reply) => return Ok(reply),
            Err(err) => err,
        };
        let Some(wait) = retry::retry_delay(&err, failures) else {
            return Err(err);
        };
        tracing::debug!(
            provider = provider_name,
            status = err.status,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            retry = failures + 1,
            "retrying frontier call"
        );
        retrying(&err, wait);
        tokio::time::sleep(wait).await;
        failures += 1;
    }
}
