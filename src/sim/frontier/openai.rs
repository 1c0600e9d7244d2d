//! Simulated OpenAI `POST /v1/chat/completions`: non-streamed and streamed replies (`n` choices
//! each), error envelopes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::sim::faults::FaultKind;
use crate::sim::frontier::log::FrontierRequest;
use crate::sim::frontier::openai_answer;
use crate::sim::frontier::{CACHE_MIN_TOKENS, Composition, FrontierState, paced_sse, random_id};
use crate::sim::node::answer::Answer;
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

/// Most choices OpenAI answers one request with.
const MAX_CHOICES: u64 = 128;

/// The choices a request asks for (`n`, 1 when absent), or OpenAI's complaint about its value.
fn choice_count(request: &ChatCompletionRequest) -> Result<usize, String> {
    let n = match request.extra.get("n") {
        None | Some(Value::Null) => return Ok(1),
        Some(n) => n,
    };
    match n.as_u64() {
        Some(0) => Err("Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.".into()),
        Some(count) if count > MAX_CHOICES => Err(format!(
            "Invalid 'n': integer above maximum value. Expected a value <= {MAX_CHOICES}, but got {count} instead."
        )),
        Some(count) => Ok(count as usize),
        None => Err(format!(
            "Invalid type for 'n': expected an integer, but got {n} instead."
        )),
    }
}

fn validate(headers: &HeaderMap, body: &Bytes) -> Result<(ChatCompletionRequest, usize), Box<Response>> {
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
    let choices = choice_count(&request).map_err(|message| invalid(&message))?;
    Ok((request, choices))
}

pub(crate) async fn chat_completions(
    State(state): State<Arc<FrontierState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.sight(&body);
    let (request, choices) = match validate(&headers, &body) {
        Ok(valid) => valid,
        Err(response) => return *response,
    };
    let texts: Vec<String> = request.messages.iter().map(|m| m.text().into_owned()).collect();
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
    let max_tokens = request.max_completion_tokens.or(request.max_tokens).map(u64::from);
    let seed: u64 = rand::random();
    let answers: Vec<Answer> = (0..choices as u64)
        .map(|i| openai_answer::compose(&request, seed ^ i))
        .collect();
    let replies: Vec<Composition> = answers
        .iter()
        .map(|answer| match answer.script() {
            Some(tokens) => Composition {
                tokens,
                hit_limit: false,
            },
            None => state.compose(max_tokens, texts.last().map_or("", String::as_str)),
        })
        .collect();
    let completion_tokens = replies.iter().map(Composition::len).sum();
    let usage = Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: cached }),
        completion_tokens_details: Some(CompletionTokensDetails::default()),
    };
    let id = format!("chatcmpl-{}", random_id(29));
    let created = chrono::Utc::now().timestamp();
    let response = if request.is_stream() {
        paced_sse(stream_events(&state, &request, &answers, &replies, usage, id, created))
    } else {
        // The choices are generated side by side: the reply takes as long as the longest.
        if let Some(longest) = replies.iter().max_by_key(|r| r.len()) {
            state.wait_whole(longest).await;
        }
        let completion = ChatCompletion {
            id,
            object: OBJECT_COMPLETION.into(),
            created,
            model: request.model.clone(),
            system_fingerprint: Some("fp_4c2a".into()),
            choices: (0u32..)
                .zip(answers.iter().zip(&replies))
                .map(|(index, (answer, reply))| Choice {
                    index,
                    message: match answer {
                        Answer::ToolCalls(calls) => ResponseMessage {
                            role: "assistant".into(),
                            tool_calls: Some(openai_answer::message_calls(calls)),
                            ..ResponseMessage::default()
                        },
                        _ => ResponseMessage {
                            role: "assistant".into(),
                            content: Some(reply.text()),
                            ..ResponseMessage::default()
                        },
                    },
                    finish_reason: Some(finish_reason(answer, reply).into()),
                })
                .collect(),
            usage: Some(usage),
            service_tier: Some("default".into()),
        };
        respond::json(StatusCode::OK, &completion)
    };
    state.maybe_truncate(response)
}

fn finish_reason(answer: &Answer, reply: &Composition) -> &'static str {
    match answer {
        Answer::ToolCalls(_) => "tool_calls",
        _ if reply.hit_limit => "length",
        _ => "stop",
    }
}

/// The chunks of a streamed reply: each choice in turn (its role, its tokens, its finish), then
/// the usage chunk when asked for, then `[DONE]`.
fn stream_events(
    state: &FrontierState,
    request: &ChatCompletionRequest,
    answers: &[Answer],
    replies: &[Composition],
    usage: Usage,
    id: String,
    created: i64,
) -> Vec<(Duration, String)> {
    let include_usage = request.wants_usage_chunk();
    let chunk = |choices: Vec<ChunkChoice>, usage: Option<Usage>| {
        let chunk = ChatCompletionChunk {
            extra: Default::default(),
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
    let choice = |index: u32, delta: Delta, finish: Option<&str>| {
        vec![ChunkChoice {
            extra: Default::default(),
            index,
            delta,
            finish_reason: finish.map(Into::into),
        }]
    };
    let mut events = Vec::new();
    for (index, (answer, reply)) in (0u32..).zip(answers.iter().zip(replies)) {
        let wait = if index == 0 { state.first_byte() } else { Duration::ZERO };
        let deltas: Vec<Delta> = match answer {
            // Tool calls: the role, then each call opened and its arguments in fragments.
            Answer::ToolCalls(calls) => std::iter::once(Delta {
                role: Some("assistant".into()),
                ..Delta::default()
            })
            .chain(openai_answer::stream_deltas(calls).into_iter().map(|calls| Delta {
                tool_calls: Some(calls),
                ..Delta::default()
            }))
            .collect(),
            _ => std::iter::once(Delta {
                role: Some("assistant".into()),
                content: Some(String::new()),
                ..Delta::default()
            })
            .chain(reply.tokens.iter().map(|token| Delta {
                content: Some(token.clone()),
                ..Delta::default()
            }))
            .collect(),
        };
        for (i, delta) in deltas.into_iter().enumerate() {
            let pause = if i == 0 { wait } else { state.per_token() };
            events.push((pause, chunk(choice(index, delta, None), None)));
        }
        events.push((
            Duration::ZERO,
            chunk(
                choice(index, Delta::default(), Some(finish_reason(answer, reply))),
                None,
            ),
        ));
    }
    if include_usage {
        events.push((Duration::ZERO, chunk(Vec::new(), Some(usage))));
    }
    events.push((Duration::ZERO, encode_event(None, DONE)));
    events
}
