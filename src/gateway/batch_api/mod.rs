//! The OpenAI Batch API on the router: `/v1/files` (batch input files, and each batch's output
//! and error files) and `/v1/batches`. The same bearer keys as the chat route apply, checked
//! before a byte of the body is read; an agent sees only its own files and batches (another's id
//! is a 404, as if it did not exist). Payloads reach the store sealed, and no log line holds
//! their text.

mod batches;
mod files;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use std::sync::Arc;

use super::Gateway;
use super::chat::{AGENT_HEADER, sanitize_agent};
use super::errors::ApiError;
use crate::jobs::Sealer;
use crate::store::{Store, StoreError};

/// What the Batch API works with: the store that holds files, batches and jobs, and the sealer
/// of their payloads. A router without `jobs.encryption_key` has none, and the API is off.
#[derive(Debug, Clone)]
pub struct BatchBackend {
    /// Where files, batches and jobs live.
    pub store: Store,
    /// Seals and opens their payloads.
    pub sealer: Sealer,
}

/// Room for the multipart framing and the `purpose` field around an input file.
const FORM_SLACK: u64 = 64 * 1024;

/// The Batch API's routes, for the gateway's router.
pub fn routes(max_file_bytes: u64) -> Router<Arc<Gateway>> {
    let upload_limit = usize::try_from(max_file_bytes.saturating_add(FORM_SLACK)).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/v1/files",
            post(files::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/v1/files/{id}", get(files::retrieve))
        .route("/v1/files/{id}/content", get(files::content))
        .route("/v1/batches", post(batches::create).get(batches::list))
        .route("/v1/batches/{id}", get(batches::retrieve))
        .route("/v1/batches/{id}/cancel", post(batches::cancel))
}

/// The calling agent (from its key; without keys, a trusted loopback client's `X-Agent-Id`) and
/// the backend, or why the request is refused. Called before any body is read.
fn admit<'g>(
    gateway: &'g Gateway,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(String, &'g BatchBackend), ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key_agent = gateway
        .keys
        .authenticate(text(header::AUTHORIZATION.as_str()), peer)
        .inspect_err(|e| gateway.count_refused(e))?;
    let agent = sanitize_agent(key_agent.or(text(AGENT_HEADER)).unwrap_or("anonymous"));
    let backend = gateway.batch.as_ref().ok_or_else(|| {
        ApiError::not_offered(
            "batch_api_off",
            "the Batch API is off on this router: set jobs.encryption_key (a secret reference to 32 random bytes in base64) to turn it on",
        )
    })?;
    Ok((agent, backend))
}

/// The error answered for a store call that failed.
fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound(what) => ApiError::not_found("not_found", format!("{what} not found")),
        StoreError::Conflict(why) => ApiError::conflict("conflict", why),
        other => {
            tracing::warn!(error = %other, "batch API store call failed");
            ApiError::unavailable(
                "store_unavailable",
                "the router's store did not answer; retry shortly",
                2,
            )
        }
    }
}

/// How long a client may pause while sending a body before it is cut off.
fn read_pause(gateway: &Gateway) -> Duration {
    Duration::from_secs(gateway.config.router.body_read_timeout_secs.max(1))
}
