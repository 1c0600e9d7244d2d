//! Ollama's OpenAI-compatible layer on a node: `POST /v1/chat/completions` and `GET /v1/models`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt;
use rand::Rng;
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::valid_model_name;
use crate::router::review::REVIEW_INSTRUCTION;
use crate::sim::node::NodeRuntime;
use crate::sim::node::generation::{self, Piece, Plan};
use crate::sim::node::slot::{Slot, refusal_status};
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
    if request.model.is_empty() || !valid_model_name(&request.model) {
        return respond::openai_error(StatusCode::BAD_REQUEST, "invalid model name");
    }
    let name = normalize_model_name(&request.model);
    let slot = match Slot::acquire(&node, &name, None).await {
        Ok(slot) => slot,
        Err(refusal) => {
            let (status, message) = refusal_status(&refusal, &request.model);
            return respond::openai_error(status, message);
        }
    };
    let prompt_tokens = request.messages.iter().map(|m| estimate_tokens(&m.text())).sum();
    let plan = Plan {
        prompt_tokens,
        max_tokens: request.max_tokens.map(u64::from),
        received,
        prompt: request.messages.last().map(|m| m.text()),
    };
    let pieces = generation::start(&node, slot, plan);
    let id = format!("chatcmpl-{}", rand::rng().random_range(0..999));
    let created = chrono::Utc::now().timestamp();
    if request.is_stream() {
        return stream(pieces, id, created, request.model.clone(), request.wants_usage_chunk());
    }
    let Some((text, finish)) = generation::collect(pieces).await else {
        return respond::openai_error(StatusCode::INTERNAL_SERVER_ERROR, "generation stopped");
    };
    let text = review_answer(&request).map_or(text, str::to_string);
    let usage = Usage::new(
        finish.metrics.prompt_eval_count.unwrap_or(0),
        finish.metrics.eval_count.unwrap_or(0),
    );
    let completion = ChatCompletion {
        id,
        object: OBJECT_COMPLETION.into(),
        created,
        model: request.model,
        system_fingerprint: Some(FINGERPRINT.into()),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: Some(text),
                ..ResponseMessage::default()
            },
            finish_reason: Some(finish.done_reason.into()),
        }],
        usage: Some(usage),
        service_tier: None,
    };
    respond::json(StatusCode::OK, &completion)
}

/// farmhand's privacy review gets a deterministic answer, so that the reviewer can be tested and demoed.
fn review_answer(request: &ChatCompletionRequest) -> Option<&'static str> {
    let [system, reviewed] = request.messages.as_slice() else {
        return None;
    };
    (system.role == "system" && system.text() == REVIEW_INSTRUCTION).then(|| simulated_review(&reviewed.text()))
}

fn stream(
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
) -> Response {
    let chunk = move |choices: Vec<ChunkChoice>, usage: Option<Usage>| ChatCompletionChunk {
        id: id.clone(),
        object: OBJECT_CHUNK.into(),
        created,
        model: model.clone(),
        system_fingerprint: Some(FINGERPRINT.into()),
        choices,
        usage: usage.map(Some),
    };
    let data = |chunk: &ChatCompletionChunk| {
        Bytes::from(encode_event(None, &serde_json::to_string(chunk).unwrap_or_default()))
    };
    let mut first = true;
    let events = ReceiverStream::new(pieces).flat_map(move |piece| {
        let events: Vec<Bytes> = match piece {
            Piece::Token(token) => {
                let role = first.then(|| "assistant".to_string());
                first = false;
                let delta = Delta {
                    role,
                    content: Some(token),
                    ..Delta::default()
                };
                vec![data(&chunk(
                    vec![ChunkChoice {
                        index: 0,
                        delta,
                        finish_reason: None,
                    }],
                    None,
                ))]
            }
            Piece::Done(finish) => {
                let stop = ChunkChoice {
                    index: 0,
                    delta: Delta::default(),
                    finish_reason: Some(finish.done_reason.into()),
                };
                let mut events = vec![data(&chunk(vec![stop], None))];
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
