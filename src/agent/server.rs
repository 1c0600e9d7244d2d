//! The agent's HTTP routes and bearer check.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;

use crate::bearer;
use crate::wire::AgentMetrics;

#[derive(Clone)]
struct AgentState {
    metrics: watch::Receiver<AgentMetrics>,
    token: Option<Arc<str>>,
}

/// The agent's routes over a stream of samples; `token` (when set) is required as a bearer token.
pub fn router(metrics: watch::Receiver<AgentMetrics>, token: Option<String>) -> Router {
    let state = AgentState {
        metrics,
        token: token.map(Arc::from),
    };
    Router::new()
        .route("/v1/metrics", get(metrics_json))
        .route("/metrics", get(metrics_prometheus))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

async fn require_token(State(state): State<AgentState>, headers: HeaderMap, request: Request, next: Next) -> Response {
    if let Some(expected) = &state.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer::token_from_header);
        if !presented.is_some_and(|p| bearer::tokens_match(p, expected)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "missing or wrong bearer token\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn metrics_json(State(state): State<AgentState>) -> Json<AgentMetrics> {
    Json(state.metrics.borrow().clone())
}

async fn metrics_prometheus(State(state): State<AgentState>) -> impl IntoResponse {
    let body = state.metrics.borrow().to_prometheus();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
