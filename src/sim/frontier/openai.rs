//! Simulated OpenAI `POST /v1/chat/completions`: non-streamed and streamed replies, error envelopes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::sim::faults::FaultKind;
use crate::sim::frontier::log::FrontierRequest;
use crate::sim::frontier::{CACHE_MIN_TOKENS, Composition, FrontierState, paced_sse, random_id};
use crate::sim::respond;
use crate::sim::text::estimate_tokens;
use crate::wire::openai::{
    ApiError, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice, ChunkChoice, CompletionTokensDetails,
    DONE, Delta, ErrorEnvelope, OBJECT_CHUNK, OBJECT_COMPLETION, PromptTokensDetails, ResponseMessage, Usage,
};
use crate::wire::sse::encode_event;

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let envelope = ErrorEnvelope {
        error: ApiError {
            message: message.into(),
            kind: kind.into(),
            param: None,
            code: code.map(Into::into),
        },
    };
    respond::json(status, &envelope)
}

/// The injected failure, as OpenAI reports it (its overload is a 503).
fn fault_response(fault: Option<FaultKind>) -> Option<Response> {
    match fault? {
        FaultKind::Error500 => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            "The server had an error while processing your request. Sorry about that!",
        )),
        FaultKind::RateLimited => Some(respond::with_retry_after(
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests",
            ),
            1,
        )),
        FaultKind::Overloaded => Some(respond::with_retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                None,
                "The engine is currently overloaded, please try again later.",
            ),
            1,
        )),
        FaultKind::Down
        | FaultKind::Slow
        | FaultKind::Drop
        | FaultKind::Garbage
        | FaultKind::Hang
        | FaultKind::Echo => None,
    }
}

fn validate(headers: &HeaderMap, body: &Bytes) -> Result<ChatCompletionRequest, Box<Response>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").trim_start_matches("Bearer").trim());
    if bearer.is_some_and(str::is_empty) {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided.",
        )));
    }
    let invalid = |message: &str| Box::new(error(StatusCode::BAD_REQUEST, "invalid_request_error", None, message));
    let request: ChatCompletionRequest = respond::parse_body(body).map_err(|message| invalid(&message))?;
    if request.model.is_empty() {
        return Err(invalid("you must provide a model parameter"));
    }
    if request.messages.is_empty() {
        return Err(invalid("[] is too short - 'messages'"));
    }
    Ok(request)
}

pub(crate) async fn chat_completions(
    State(state): State<Arc<FrontierState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.sight(&body);
    let request = match validate(&headers, &body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let texts: Vec<String> = request.messages.iter().map(|m| m.text()).collect();
    state.record(FrontierRequest::new(
        "openai",
        &request.model,
        request.is_stream(),
        &texts,
    ));
    if let Some(response) = fault_response(state.fault()) {
        return response;
    }
    if state.fault() == Some(FaultKind::Echo) {
        let quoted = texts.last().map_or("", String::as_str);
        let message = format!("Invalid value for 'content': '{quoted}' could not be parsed.");
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", None, &message);
    }
    state.delay_if_slow().await;

    let prompt_tokens: u64 = texts.iter().map(|t| estimate_tokens(t)).sum();
    let system_tokens: u64 = request
        .messages
        .iter()
        .filter(|m| m.role == "system" || m.role == "developer")
        .map(|m| estimate_tokens(&m.text()))
        .sum();
    let cached = if system_tokens >= CACHE_MIN_TOKENS {
        system_tokens / 128 * 128
    } else {
        0
    };
    let reply = state.compose(
        request.max_completion_tokens.or(request.max_tokens).map(u64::from),
        texts.last().map_or("", String::as_str),
    );
    let usage = Usage {
        prompt_tokens,
        completion_tokens: reply.len(),
        total_tokens: prompt_tokens + reply.len(),
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: cached }),
        completion_tokens_details: Some(CompletionTokensDetails::default()),
    };
    let id = format!("chatcmpl-{}", random_id(29));
    let created = chrono::Utc::now().timestamp();
    let response = if request.is_stream() {
        paced_sse(stream_events(&state, &request, &reply, usage, id, created))
    } else {
        state.wait_whole(&reply).await;
        let completion = ChatCompletion {
            id,
            object: OBJECT_COMPLETION.into(),
            created,
            model: request.model.clone(),
            system_fingerprint: Some("fp_4c2a".into()),
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    role: "assistant".into(),
                    content: Some(reply.text()),
                    ..ResponseMessage::default()
                },
                finish_reason: Some(finish_reason(&reply).into()),
            }],
            usage: Some(usage),
            service_tier: Some("default".into()),
        };
        respond::json(StatusCode::OK, &completion)
    };
    state.maybe_truncate(response)
}

fn finish_reason(reply: &Composition) -> &'static str {
    if reply.hit_limit { "length" } else { "stop" }
}

fn stream_events(
    state: &FrontierState,
    request: &ChatCompletionRequest,
    reply: &Composition,
    usage: Usage,
    id: String,
    created: i64,
) -> Vec<(Duration, String)> {
    let include_usage = request.wants_usage_chunk();
    let chunk = |choices: Vec<ChunkChoice>, usage: Option<Usage>| {
        let chunk = ChatCompletionChunk {
            id: id.clone(),
            object: OBJECT_CHUNK.into(),
            created,
            model: request.model.clone(),
            system_fingerprint: Some("fp_4c2a".into()),
            choices,
            usage: include_usage.then_some(usage),
        };
        encode_event(None, &serde_json::to_string(&chunk).unwrap_or_default())
    };
    let choice = |delta: Delta, finish: Option<&str>| {
        vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(Into::into),
        }]
    };
    let first = Delta {
        role: Some("assistant".into()),
        content: Some(String::new()),
        ..Delta::default()
    };
    let mut events = vec![(state.first_byte(), chunk(choice(first, None), None))];
    for token in &reply.tokens {
        let delta = Delta {
            content: Some(token.clone()),
            ..Delta::default()
        };
        events.push((state.per_token(), chunk(choice(delta, None), None)));
    }
    events.push((
        Duration::ZERO,
        chunk(choice(Delta::default(), Some(finish_reason(reply))), None),
    ));
    if include_usage {
        events.push((Duration::ZERO, chunk(Vec::new(), Some(usage))));
    }
    events.push((Duration::ZERO, encode_event(None, DONE)));
    events
}
