//! Errors in OpenAI's shape, so official clients raise the right exception.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::wire::openai::{ApiError as WireError, ErrorEnvelope};

/// An error answered to an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// OpenAI `type`: `invalid_request_error`, `authentication_error`, `api_error`, …
    pub kind: &'static str,
    /// Short machine code, also recorded in the decision.
    pub code: String,
    /// What went wrong and what to do, for a human.
    pub message: String,
    /// Seconds to wait before retrying (503).
    pub retry_after: Option<u32>,
    /// The request field at fault, when one is.
    pub param: Option<String>,
}

impl ApiError {
    /// 400: the request itself is wrong.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", code, message)
    }

    /// 400 `unsupported_field`: the route cannot carry this field of the request.
    pub fn unsupported_field(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            param: Some(field.to_string()),
            ..Self::bad_request("unsupported_field", message)
        }
    }

    /// 401: missing or wrong key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            message,
        )
    }

    /// 403: the caller may not act on this object (another agent's).
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", code, message)
    }

    /// 404: no such object, or one the caller may not see (never says which).
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", code, message)
    }

    /// 409: the object is not in a state that allows the change.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_request_error", code, message)
    }

    /// 500: the router could not do its part (a payload does not open, a row is missing).
    pub fn internal(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "api_error", code, message)
    }

    /// 503 without a retry hint: this router is not configured to offer the route.
    pub fn not_offered(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", code, message)
    }

    /// 413 with its own code and message (a limit other than `router.max_body_bytes`).
    pub fn payload_too_large(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", code, message)
    }

    /// The same error, naming the request field at fault.
    pub fn with_param(self, param: &str) -> Self {
        ApiError {
            param: Some(param.to_string()),
            ..self
        }
    }

    /// 413: body over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("request body is larger than the router's limit of {limit} bytes (router.max_body_bytes)"),
        )
    }

    /// 408: the client took too long to send its request.
    pub fn request_timeout(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request_timeout",
            message,
        )
    }

    /// 429: the agent is over one of its limits; retry after `retry_after` seconds.
    pub fn too_many_requests(code: &str, message: impl Into<String>, retry_after: u32) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", code, message)
        }
    }

    /// 503: no capacity; retry later.
    pub fn unavailable(code: &str, message: impl Into<String>, retry_after: u32) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", code, message)
        }
    }

    /// 502: every upstream in the plan failed.
    pub fn bad_gateway(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "api_error", code, message)
    }

    fn new(status: StatusCode, kind: &'static str, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            code: code.to_string(),
            message: message.into(),
            retry_after: None,
            param: None,
        }
    }
}

impl ApiError {
    /// The JSON body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            error: WireError {
                message: self.message.clone(),
                kind: self.kind.to_string(),
                param: self.param.clone(),
                code: Some(self.code.clone().into()),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.envelope())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
