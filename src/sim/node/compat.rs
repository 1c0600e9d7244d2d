//! Ollama's OpenAI-compatible layer on a node: `POST /v1/chat/completions` and `GET /v1/models`.
//!
//! A chat request is read as Ollama reads it ([`compat_input`]), refused where Ollama refuses it
//! (an unknown model, a capability the model lacks, images for a model that cannot see), and
//! answered with prose, JSON for a `response_format`, or tool calls ([`Answer`]), streamed the way
//! Ollama streams each.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt;
use rand::Rng;
use serde_json::Value;
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::Capability;
use crate::domain::valid_model_name;
use crate::router::review::REVIEW_INSTRUCTION;
use crate::sim::catalogue::CatalogueModel;
use crate::sim::node::NodeRuntime;
use crate::sim::node::answer::{Answer, ToolCall};
use crate::sim::node::compat_input::{self, CompatInput, Format};
use crate::sim::node::generation::{self, Piece, Plan};
use crate::sim::node::log::NodeRequest;
use crate::sim::node::slot::{Slot, refusal_status};
use crate::sim::node_model::Refusal;
use crate::sim::respond::{self, EVENT_STREAM};
use crate::sim::text::estimate_tokens;
use crate::sim::text::simulated_review;
use crate::wire::ollama::normalize_model_name;
use crate::wire::openai::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice, ChunkChoice, DONE, Delta, ModelEntry,
    ModelList, OBJECT_CHUNK, OBJECT_COMPLETION, ResponseMessage, Usage,
};
use crate::wire::sse::encode_event;

const FINGERPRINT: &str = "fp_ollama";

pub(crate) async fn models(State(node): State<Arc<NodeRuntime>>) -> Response {
    let data: Vec<ModelEntry> = node.with_model(|m, _| {
        m.installed()
            .values()
            .map(|i| ModelEntry {
                id: i.model.name.into(),
                object: "model".into(),
                created: i.modified_at.timestamp(),
                owned_by: "library".into(),
            })
            .collect()
    });
    let list = ModelList {
        object: "list".into(),
        data: (!data.is_empty()).then_some(data),
    };
    respond::json(StatusCode::OK, &list)
}

pub(crate) async fn chat_completions(State(node): State<Arc<NodeRuntime>>, body: Bytes) -> Response {
    let received = Instant::now();
    let request: ChatCompletionRequest = match respond::parse_body(&body) {
        Ok(request) => request,
        Err(message) => return respond::openai_error(StatusCode::BAD_REQUEST, message),
    };
    if request.messages.is_empty() {
        return respond::openai_error(StatusCode::BAD_REQUEST, "[] is too short - 'messages'");
    }
    let input = match compat_input::read(&request) {
        Ok(input) => input,
        Err(message) => return respond::openai_error(StatusCode::BAD_REQUEST, message),
    };
    if request.model.is_empty() || !valid_model_name(&request.model) {
        return respond::openai_error(StatusCode::BAD_REQUEST, "invalid model name");
    }
    node.record(NodeRequest {
        model: request.model.clone(),
        stream: request.is_stream(),
        tools: input.tools.len(),
        images: input.images,
        audio: input.audio,
        format: input.format.as_ref().map(|f| match f {
            Format::Json => "json_object",
            Format::Schema(_) => "json_schema",
        }),
        received,
    });
    let name = normalize_model_name(&request.model);
    let installed = node.with_model(|m, _| m.installed().get(&name).map(|i| i.model));
    let Some(model) = installed else {
        let (status, message) = refusal_status(&Refusal::NotFound, &request.model);
        return respond::openai_error(status, message);
    };
    if let Err(message) = check_capabilities(model, &input, &request.model) {
        return respond::openai_error(StatusCode::BAD_REQUEST, message);
    }
    let slot = match Slot::acquire(&node, &name, None).await {
        Ok(slot) => slot,
        Err(refusal) => {
            let (status, message) = refusal_status(&refusal, &request.model);
            return respond::openai_error(status, message);
        }
    };
    if let Some(message) = runner_refusal(model, &input) {
        return respond::openai_error(StatusCode::BAD_REQUEST, message);
    }
    let answer = match review_answer(&request) {
        Some(_) => Answer::Text,
        None => Answer::compose(&input, node.next_seed()),
    };
    let prompt_tokens = request.messages.iter().map(|m| estimate_tokens(&m.text())).sum();
    let plan = Plan {
        prompt_tokens,
        max_tokens: request.max_tokens.map(u64::from),
        received,
        prompt: request.messages.last().map(|m| m.text().into_owned()),
        script: answer.script(),
    };
    let pieces = generation::start(&node, slot, plan);
    let id = format!("chatcmpl-{}", rand::rng().random_range(0..999));
    let created = chrono::Utc::now().timestamp();
    let reply = Reply {
        id,
        created,
        model: request.model.clone(),
        calls: match answer {
            Answer::ToolCalls(calls) => calls,
            Answer::Text | Answer::Json(_) => Vec::new(),
        },
    };
    if request.is_stream() {
        return stream(pieces, reply, request.wants_usage_chunk());
    }
    let Some((text, finish)) = generation::collect(pieces).await else {
        return respond::openai_error(StatusCode::INTERNAL_SERVER_ERROR, "generation stopped");
    };
    let text = review_answer(&request).map_or(text, str::to_string);
    let usage = Usage::new(
        finish.metrics.prompt_eval_count.unwrap_or(0),
        finish.metrics.eval_count.unwrap_or(0),
    );
    let (message, finish_reason) = reply.message(text, finish.done_reason);
    let completion = ChatCompletion {
        id: reply.id,
        object: OBJECT_COMPLETION.into(),
        created,
        model: reply.model,
        system_fingerprint: Some(FINGERPRINT.into()),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish_reason.into()),
        }],
        usage: Some(usage),
        service_tier: None,
    };
    let response = respond::json(StatusCode::OK, &completion);
    node.answered();
    response
}

/// The checks Ollama makes before it schedules the model (`ChatHandler`, `CheckCapabilities`).
fn check_capabilities(model: &CatalogueModel, input: &CompatInput, asked: &str) -> Result<(), String> {
    let has = |c: Capability| model.capabilities.contains(&c);
    if input.think && !has(Capability::Thinking) {
        return Err(format!("{asked:?} does not support thinking"));
    }
    if !has(Capability::Completion) {
        return Err(format!("{asked:?} does not support chat"));
    }
    if !input.tools.is_empty() && !has(Capability::Tools) {
        return Err(format!("{} does not support tools", full_name(model.name)));
    }
    Ok(())
}

/// The runner's refusal of images or audio its model cannot take. Ollama does not check these
/// itself: llama-server refuses the prompt with a 400, whose whole body Ollama passes on as the
/// error message.
fn runner_refusal(model: &CatalogueModel, input: &CompatInput) -> Option<String> {
    let has = |c: Capability| model.capabilities.contains(&c);
    let multimodal = has(Capability::Vision) || has(Capability::Audio);
    let message = if (input.images > 0 || input.audio > 0) && !multimodal {
        "Multimodal data provided, but model does not support multimodal requests."
    } else if (input.images > 0 && !has(Capability::Vision)) || (input.audio > 0 && !has(Capability::Audio)) {
        "Failed to load image or audio file"
    } else {
        return None;
    };
    Some(serde_json::json!({"error": {"code": 400, "message": message, "type": "invalid_request_error"}}).to_string())
}

/// A model's full name as Ollama prints it in errors: `registry.ollama.ai/library/qwen3:8b`.
fn full_name(name: &str) -> String {
    if name.contains('/') {
        format!("registry.ollama.ai/{name}")
    } else {
        format!("registry.ollama.ai/library/{name}")
    }
}

/// The parts of a reply every chunk or completion repeats, and the tool calls it ends with.
struct Reply {
    id: String,
    created: i64,
    model: String,
    calls: Vec<ToolCall>,
}

impl Reply {
    /// The tool calls on the wire, when the model finished writing them (a reply cut short by
    /// `max_tokens` leaves its raw text as content, as Ollama's parser does).
    fn tool_calls(&self, done_reason: &str) -> Option<Value> {
        (!self.calls.is_empty() && done_reason == "stop")
            .then(|| Value::Array(self.calls.iter().enumerate().map(|(i, c)| c.to_openai(i)).collect()))
    }

    /// The completion's message and finish reason (`tool_calls` for a stop that called tools).
    fn message(&self, text: String, done_reason: &'static str) -> (ResponseMessage, &'static str) {
        match self.tool_calls(done_reason) {
            Some(calls) => (
                ResponseMessage {
                    role: "assistant".into(),
                    content: Some(String::new()),
                    tool_calls: Some(calls),
                    ..ResponseMessage::default()
                },
                "tool_calls",
            ),
            None => (
                ResponseMessage {
                    role: "assistant".into(),
                    content: Some(text),
                    ..ResponseMessage::default()
                },
                done_reason,
            ),
        }
    }
}

/// farmhand's privacy review gets a deterministic answer, so that the reviewer can be tested and demoed.
fn review_answer(request: &ChatCompletionRequest) -> Option<&'static str> {
    let [system, reviewed] = request.messages.as_slice() else {
        return None;
    };
    (system.role == "system" && system.text() == REVIEW_INSTRUCTION).then(|| simulated_review(&reviewed.text()))
}

/// The SSE reply: content deltas as tokens come, or, for tool calls, one delta with every call
/// once the model has written them (Ollama's parser holds the text until a call is whole); then
/// the finish chunk, the usage chunk when asked, and `[DONE]`.
fn stream(pieces: tokio::sync::mpsc::Receiver<Piece>, reply: Reply, include_usage: bool) -> Response {
    let chunk = {
        let (id, created, model) = (reply.id.clone(), reply.created, reply.model.clone());
        move |choices: Vec<ChunkChoice>, usage: Option<Usage>| ChatCompletionChunk {
            extra: Default::default(),
            id: id.clone(),
            object: OBJECT_CHUNK.into(),
            created,
            model: model.clone(),
            system_fingerprint: Some(FINGERPRINT.into()),
            choices,
            usage: usage.map(Some),
        }
    };
    let data = |chunk: &ChatCompletionChunk| {
        Bytes::from(encode_event(None, &serde_json::to_string(chunk).unwrap_or_default()))
    };
    let delta = |delta: Delta, finish_reason: Option<&str>| {
        vec![ChunkChoice {
            extra: Default::default(),
            index: 0,
            delta,
            finish_reason: finish_reason.map(Into::into),
        }]
    };
    let holding = !reply.calls.is_empty();
    let mut held = String::new();
    let mut first = true;
    let mut role = move || std::mem::take(&mut first).then(|| "assistant".to_string());
    let events = ReceiverStream::new(pieces).flat_map(move |piece| {
        let events: Vec<Bytes> = match piece {
            Piece::Token(token) if holding => {
                held.push_str(&token);
                Vec::new()
            }
            Piece::Token(token) => {
                let content = Delta {
                    role: role(),
                    content: Some(token),
                    ..Delta::default()
                };
                vec![data(&chunk(delta(content, None), None))]
            }
            Piece::Done(finish) => {
                let calls = reply.tool_calls(finish.done_reason);
                let reason = if calls.is_some() {
                    "tool_calls"
                } else {
                    finish.done_reason
                };
                let mut events = Vec::new();
                if holding {
                    let content = if calls.is_some() {
                        String::new()
                    } else {
                        std::mem::take(&mut held)
                    };
                    let message = Delta {
                        role: role(),
                        content: Some(content),
                        tool_calls: calls,
                        ..Delta::default()
                    };
                    events.push(data(&chunk(delta(message, None), None)));
                }
                events.push(data(&chunk(delta(Delta::default(), Some(reason)), None)));
                if include_usage {
                    let usage = Usage::new(
                        finish.metrics.prompt_eval_count.unwrap_or(0),
                        finish.metrics.eval_count.unwrap_or(0),
                    );
                    events.push(data(&chunk(Vec::new(), Some(usage))));
                }
                events.push(Bytes::from(encode_event(None, DONE)));
                events
            }
        };
        futures::stream::iter(events)
    });
    respond::streamed(EVENT_STREAM, events)
}
