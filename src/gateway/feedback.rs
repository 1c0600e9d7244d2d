//! `POST /v1/feedback`: an agent rates one of its own answers, `{request_id, metric, value}`,
//! where `request_id` is the id the router gave the answer (`X-Request-Id`, and `id=` in
//! `X-Farmhand-Decision`). Metrics are declared in `[quality.feedback.<metric>]`, boolean or
//! float. Only the number is kept, joined to the decision when quality is summed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Gateway;
use super::body::read_body;
use super::chat::{AGENT_HEADER, sanitize_agent};
use super::errors::ApiError;
use crate::config::{FeedbackKind, FeedbackMetric};

/// A rating as agents send it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackRequest {
    request_id: String,
    metric: String,
    value: Value,
}

/// What the router answers once the rating is stored.
#[derive(Debug, Serialize)]
struct FeedbackAck {
    object: &'static str,
    request_id: String,
    metric: String,
    value: f64,
}

/// The handler.
pub async fn feedback(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&gateway, peer, &headers, body).await {
        Ok(ack) => (StatusCode::OK, Json(ack)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn handle(gateway: &Gateway, peer: SocketAddr, headers: &HeaderMap, body: Body) -> Result<FeedbackAck, ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key_agent = gateway.keys.authenticate(text(header::AUTHORIZATION.as_str()), peer)?;
    let agent = sanitize_agent(key_agent.or(text(AGENT_HEADER)).unwrap_or("anonymous"));
    let body = read_body(&gateway.config.router, headers, body).await?;
    let request: FeedbackRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not a feedback request {{request_id, metric, value}}: {e}"),
        )
    })?;
    let declared = gateway.config.quality.feedback.get(&request.metric).ok_or_else(|| {
        unknown_metric(
            &request.metric,
            gateway.config.quality.feedback.keys().map(String::as_str),
        )
    })?;
    let value = value_of(&request.metric, *declared, &request.value)?;
    let owner = decision_owner(gateway, &request.request_id).await?;
    if owner != agent {
        return Err(ApiError::forbidden(
            "not_your_decision",
            format!(
                "request `{}` was made by another agent; an agent may rate only its own decisions",
                request.request_id
            ),
        )
        .with_param("request_id"));
    }
    gateway
        .store
        .record_feedback(&request.request_id, &request.metric, value, &agent, Utc::now())
        .await
        .map_err(|e| store_unavailable(&e))?;
    Ok(FeedbackAck {
        object: "feedback",
        request_id: request.request_id,
        metric: request.metric,
        value,
    })
}

/// The agent that made `request_id`. A decision this router made may still be on its way to the
/// store, so a miss waits for this router's recorder once before it is final.
async fn decision_owner(gateway: &Gateway, request_id: &str) -> Result<String, ApiError> {
    if request_id.is_empty() || request_id.len() > 128 {
        return Err(unknown_request(request_id));
    }
    for attempt in 0..2 {
        match gateway.store.decision_agent(request_id).await {
            Ok(Some(agent)) => return Ok(agent),
            Ok(None) if attempt == 0 => gateway.flush().await,
            Ok(None) => return Err(unknown_request(request_id)),
            Err(e) => return Err(store_unavailable(&e)),
        }
    }
    Err(unknown_request(request_id))
}

/// The stored number of `value` for a metric declared as `metric`.
fn value_of(name: &str, metric: FeedbackMetric, value: &Value) -> Result<f64, ApiError> {
    let number = match (metric.kind, value) {
        (FeedbackKind::Boolean, Value::Bool(b)) => Some(f64::from(u8::from(*b))),
        (FeedbackKind::Float, Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    };
    number.ok_or_else(|| {
        let wanted = match metric.kind {
            FeedbackKind::Boolean => "true or false",
            FeedbackKind::Float => "a finite number",
        };
        ApiError::bad_request(
            "invalid_feedback_value",
            format!("metric `{name}` takes {wanted}, not {}", shown(value)),
        )
        .with_param("value")
    })
}

fn unknown_metric<'a>(name: &str, declared: impl Iterator<Item = &'a str>) -> ApiError {
    let declared: Vec<&str> = declared.collect();
    let known = if declared.is_empty() {
        "none is declared".to_string()
    } else {
        format!("declared: {}", declared.join(", "))
    };
    let shown: String = name.chars().take(64).collect();
    ApiError::bad_request(
        "unknown_metric",
        format!("metric `{shown}` is not declared in [quality.feedback] ({known})"),
    )
    .with_param("metric")
}

fn unknown_request(request_id: &str) -> ApiError {
    let shown: String = request_id.chars().take(128).collect();
    ApiError::not_found(
        "unknown_request_id",
        format!(
            "no decision has request id `{shown}` (the X-Request-Id of an answer; a decision made on another router reaches the store within a second)"
        ),
    )
    .with_param("request_id")
}

fn store_unavailable(err: &crate::store::StoreError) -> ApiError {
    tracing::warn!(error = %err, "feedback: the store cannot be reached");
    ApiError {
        retry_after: Some(5),
        ..ApiError::not_offered("store_unavailable", "the store cannot be reached; retry shortly")
    }
}

/// A value as shown in an error: its JSON type, never its content (it could be anything).
fn shown(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Optimize;
    use serde_json::json;

    const BOOLEAN: FeedbackMetric = FeedbackMetric {
        kind: FeedbackKind::Boolean,
        optimize: Optimize::Max,
    };
    const FLOAT: FeedbackMetric = FeedbackMetric {
        kind: FeedbackKind::Float,
        optimize: Optimize::Max,
    };

    #[test]
    fn values_must_have_their_metric_type() {
        assert_eq!(value_of("ok", BOOLEAN, &json!(true)).expect("bool"), 1.0);
        assert_eq!(value_of("ok", BOOLEAN, &json!(false)).expect("bool"), 0.0);
        assert_eq!(value_of("score", FLOAT, &json!(0.75)).expect("float"), 0.75);
        let err = value_of("ok", BOOLEAN, &json!(1)).expect_err("a number is not a boolean");
        assert_eq!(err.code, "invalid_feedback_value");
        assert!(
            err.message.contains("takes true or false, not a number"),
            "{}",
            err.message
        );
        let err = value_of("score", FLOAT, &json!("secret text")).expect_err("a string is not a float");
        assert!(!err.message.contains("secret"), "{}", err.message);
    }
}
