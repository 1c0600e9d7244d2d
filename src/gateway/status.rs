//! `GET /v1/status`: the counts a console needs while the store is away (decisions held in
//! memory and in the journal). Read with `router.status_token` as a bearer token, or from
//! loopback when no token is configured. Counts only: nothing of any request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::Gateway;
use super::errors::ApiError;
use crate::bearer;
use crate::config::SecretRef;
use crate::wire::RouterStatus;

/// Who may read the status: holders of the token, or loopback clients when there is none.
#[derive(Default)]
pub struct StatusAccess {
    token: Option<String>,
}

impl StatusAccess {
    /// Access guarded by `token` (loopback only when `None`).
    pub fn new(token: Option<String>) -> Self {
        StatusAccess { token }
    }

    /// Resolves `router.status_token` (blocking: `op` may run). An unresolvable reference leaves
    /// the endpoint to loopback clients, and says so.
    pub fn from_config(token: Option<&SecretRef>) -> Self {
        match token.map(SecretRef::resolve) {
            None => StatusAccess::default(),
            Some(Ok(token)) => StatusAccess::new(Some(token)),
            Some(Err(err)) => {
                tracing::warn!(reference = %token.map(ToString::to_string).unwrap_or_default(), %err,
                    "router.status_token is unavailable: /v1/status answers loopback clients only");
                StatusAccess::default()
            }
        }
    }

    /// Whether a request with this `Authorization` header from `peer` may read the status.
    pub fn check(&self, authorization: Option<&str>, peer: SocketAddr) -> Result<(), ApiError> {
        let Some(expected) = &self.token else {
            return if peer.ip().is_loopback() {
                Ok(())
            } else {
                Err(ApiError::unauthorized(
                    "this router has no router.status_token configured and shows its status to loopback clients only",
                ))
            };
        };
        match authorization.and_then(bearer::token_from_header) {
            Some(presented) if bearer::tokens_match(presented, expected) => Ok(()),
            Some(_) => Err(ApiError::unauthorized("wrong status token")),
            None => Err(ApiError::unauthorized(
                "missing bearer token: send `Authorization: Bearer <router.status_token>`",
            )),
        }
    }
}

/// The handler of `GET /v1/status`.
pub async fn router_status(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Err(err) = gateway.status_access.check(authorization, peer) {
        return err.into_response();
    }
    Json(gateway.router_status()).into_response()
}

impl Gateway {
    /// What this router holds for the store, as `/v1/status` reports it.
    pub fn router_status(&self) -> RouterStatus {
        let stats = self.recorder.stats();
        let control = self.control_health();
        RouterStatus {
            router_id: crate::presence::router_id(),
            store_up: stats.store_up.load(Ordering::Relaxed),
            buffered: stats.buffered.load(Ordering::Relaxed),
            journaled: stats.journal_pending.load(Ordering::Relaxed),
            written: stats.written.load(Ordering::Relaxed),
            dropped: stats.dropped.load(Ordering::Relaxed),
            in_flight: self.in_flight.all().iter().map(|(_, n)| u64::from(*n)).sum(),
            policy_version: control.policy_version,
            control_age_ms: control.age_secs.map(|secs| (secs * 1000.0) as u64),
            control_store_reachable: control.store_reachable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: &str) -> SocketAddr {
        format!("{ip}:40000").parse().expect("address")
    }

    #[test]
    fn without_a_token_only_loopback_reads_the_status() {
        let open = StatusAccess::default();
        assert!(open.check(None, peer("127.0.0.1")).is_ok());
        assert!(open.check(None, peer("100.64.0.7")).is_err());
    }

    #[test]
    fn with_a_token_everyone_must_present_it() {
        let guarded = StatusAccess::new(Some("s3cret".into()));
        assert!(guarded.check(Some("Bearer s3cret"), peer("100.64.0.7")).is_ok());
        assert!(guarded.check(None, peer("127.0.0.1")).is_err(), "loopback needs it too");
        assert!(guarded.check(Some("Bearer s3cre"), peer("100.64.0.7")).is_err());
        assert!(guarded.check(Some("Basic s3cret"), peer("100.64.0.7")).is_err());
    }
}
