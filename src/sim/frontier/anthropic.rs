//! Simulated Anthropic `POST /v1/messages`: header checks, non-streamed and streamed replies, error shapes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::sim::faults::FaultKind;
use crate::sim::frontier::log::FrontierRequest;
use crate::sim::frontier::{CACHE_MIN_TOKENS, FrontierState, paced_sse, random_id, tool_use};
use crate::sim::respond;
use crate::sim::text::estimate_tokens;
use crate::wire::anthropic::{
    BlockDelta, CacheCreation, ContentBlock, DeltaUsage, ErrorResponse, MessageDeltaBody, MessageResponse,
    MessagesRequest, StreamEvent, Usage,
};
use crate::wire::sse::encode_event;

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut body = ErrorResponse::new(kind, message);
    body.request_id = Some(format!("req_011{}", random_id(21)));
    respond::json(status, &body)
}

/// The injected failure, as Anthropic reports it.
fn fault_response(fault: Option<FaultKind>) -> Option<Response> {
    match fault? {
        FaultKind::Error500 => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "Internal server error",
        )),
        FaultKind::RateLimited => Some(respond::with_retry_after(
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "Number of requests has exceeded your per-minute rate limit",
            ),
            1,
        )),
        FaultKind::Overloaded => {
            let status = StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Some(respond::with_retry_after(
                error(status, "overloaded_error", "Overloaded"),
                1,
            ))
        }
        FaultKind::Down
        | FaultKind::Slow
        | FaultKind::Drop
        | FaultKind::Garbage
        | FaultKind::Hang
        | FaultKind::Echo => None,
    }
}

fn validate(headers: &HeaderMap, body: &Bytes) -> Result<MessagesRequest, Box<Response>> {
    let invalid = |message: &str| Box::new(error(StatusCode::BAD_REQUEST, "invalid_request_error", message));
    if headers.get("anthropic-version").is_none() {
        return Err(invalid("anthropic-version: header is required"));
    }
    if headers.get("x-api-key").is_some_and(|key| key.is_empty()) {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        )));
    }
    let request: MessagesRequest = respond::parse_body(body).map_err(|message| invalid(&message))?;
    if request.model.is_empty() {
        return Err(invalid("model: Field required"));
    }
    if request.max_tokens.is_none() {
        return Err(invalid("max_tokens: Field required"));
    }
    if request.messages.is_empty() {
        return Err(invalid("messages: at least one message is required"));
    }
    tool_use::validate(&request).map_err(|message| invalid(&message))?;
    Ok(request)
}

pub(crate) async fn messages(State(state): State<Arc<FrontierState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.sight(&body);
    let request = match validate(&headers, &body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let system = request.system.as_ref().map(|s| s.text());
    let mut texts: Vec<String> = system.iter().cloned().collect();
    texts.extend(request.messages.iter().map(|m| m.content.text()));
    let stream = request.stream.unwrap_or(false);
    state.record(FrontierRequest::new("anthropic", &request.model, stream, &texts));
    if let Some(response) = fault_response(state.fault()) {
        return response;
    }
    if state.fault() == Some(FaultKind::Echo) {
        let quoted = texts.last().map_or("", String::as_str);
        let message = format!("messages.0.content: unexpected content `{quoted}`");
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
    }
    state.delay_if_slow().await;

    let total_input: u64 = texts.iter().map(|t| estimate_tokens(t)).sum();
    let system_tokens = system.as_deref().map(estimate_tokens).unwrap_or(0);
    let cache_read = if system_tokens >= CACHE_MIN_TOKENS {
        system_tokens
    } else {
        0
    };
    let reply = state.compose(
        request.max_tokens.map(u64::from),
        texts.last().map_or("", String::as_str),
    );
    let calls = tool_use::tool_calls(&request);
    let (content, stop_reason, output_tokens) = match calls {
        Some(calls) => {
            let json: String = calls
                .iter()
                .map(|c| serde_json::to_string(c).unwrap_or_default())
                .collect();
            (calls, "tool_use", estimate_tokens(&json).max(1))
        }
        None => {
            let stop_reason = if reply.hit_limit { "max_tokens" } else { "end_turn" };
            (vec![ContentBlock::text(reply.text())], stop_reason, reply.len())
        }
    };
    let usage = Usage {
        input_tokens: total_input - cache_read,
        cache_creation_input_tokens: Some(0),
        cache_read_input_tokens: Some(cache_read),
        cache_creation: Some(CacheCreation::default()),
        output_tokens,
        service_tier: Some("standard".into()),
    };
    let message = MessageResponse {
        id: format!("msg_01{}", random_id(22)),
        kind: "message".into(),
        role: "assistant".into(),
        model: request.model.clone(),
        content,
        stop_reason: Some(stop_reason.into()),
        stop_sequence: None,
        usage,
    };
    let mut response = if stream {
        paced_sse(stream_events(&state, message, &reply.tokens))
    } else {
        state.wait_whole(&reply).await;
        respond::json(StatusCode::OK, &message)
    };
    if let Ok(id) = HeaderValue::from_str(&format!("req_011{}", random_id(21))) {
        response.headers_mut().insert("request-id", id);
    }
    state.maybe_truncate(response)
}

/// How many `input_json_delta` events a tool call's input is streamed in (at most).
const JSON_FRAGMENTS: usize = 3;

/// `text` cut into up to `count` pieces of about equal length, at character boundaries.
fn fragments(text: &str, count: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(count.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// The exact event sequence of a streamed reply, with the delay before each event.
fn stream_events(state: &FrontierState, message: MessageResponse, tokens: &[String]) -> Vec<(Duration, String)> {
    let event = |e: &StreamEvent| encode_event(Some(e.name()), &serde_json::to_string(e).unwrap_or_default());
    let start = MessageResponse {
        content: Vec::new(),
        stop_reason: None,
        usage: Usage {
            output_tokens: 1,
            service_tier: None,
            cache_creation: None,
            ..message.usage.clone()
        },
        ..message.clone()
    };
    let mut events = vec![(state.first_byte(), event(&StreamEvent::MessageStart { message: start }))];
    for (index, block) in (0u32..).zip(&message.content) {
        let opening = match block {
            ContentBlock::ToolUse { id, name, .. } => ContentBlock::ToolUse {
                id: id.clone(),
                name: name.clone(),
                input: serde_json::json!({}),
            },
            _ => ContentBlock::text(""),
        };
        events.push((
            Duration::ZERO,
            event(&StreamEvent::ContentBlockStart {
                index,
                content_block: opening,
            }),
        ));
        events.push((Duration::ZERO, event(&StreamEvent::Ping)));
        match block {
            ContentBlock::ToolUse { input, .. } => {
                let json = input.to_string();
                for fragment in fragments(&json, JSON_FRAGMENTS) {
                    let delta = BlockDelta::InputJsonDelta { partial_json: fragment };
                    events.push((
                        state.per_token(),
                        event(&StreamEvent::ContentBlockDelta { index, delta }),
                    ));
                }
            }
            _ => {
                for group in tokens.chunks(3) {
                    let delta = BlockDelta::TextDelta { text: group.concat() };
                    events.push((
                        state.per_token().mul_f64(group.len() as f64),
                        event(&StreamEvent::ContentBlockDelta { index, delta }),
                    ));
                }
            }
        }
        events.push((Duration::ZERO, event(&StreamEvent::ContentBlockStop { index })));
    }
    let delta = MessageDeltaBody {
        stop_reason: message.stop_reason.clone(),
        stop_sequence: None,
    };
    let usage = DeltaUsage {
        output_tokens: message.usage.output_tokens,
        ..DeltaUsage::default()
    };
    events.push((Duration::ZERO, event(&StreamEvent::MessageDelta { delta, usage })));
    events.push((Duration::ZERO, event(&StreamEvent::MessageStop)));
    events
}
