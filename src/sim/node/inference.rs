//! `POST /api/chat` and `POST /api/generate`: load, unload, and streamed or whole replies.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::valid_model_name;
use crate::sim::catalogue::CatalogueModel;
use crate::sim::node::generation::{self, Piece, Plan};
use crate::sim::node::slot::{Slot, native_refusal};
use crate::sim::node::{NodeRuntime, parse_native};
use crate::sim::respond;
use crate::sim::text::estimate_tokens;
use crate::wire::ollama::{
    ChatChunk, ChatMessage, ChatRequest, GenerateChunk, GenerateRequest, KeepAlive, Metrics, ModelOptions,
    normalize_model_name,
};

/// Which endpoint is answering, for the shape of its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    Generate,
}

impl Endpoint {
    fn verb(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Generate => "generate",
        }
    }

    /// One chunk of this endpoint's shape.
    fn chunk(self, model: &str, text: String, done_reason: Option<&str>, metrics: Metrics) -> Chunk {
        let done = done_reason.is_some();
        let done_reason = done_reason.map(str::to_string);
        let created_at = Utc::now();
        match self {
            Endpoint::Chat => Chunk::Chat(ChatChunk {
                model: model.into(),
                created_at,
                message: ChatMessage::assistant(text),
                done,
                done_reason,
                metrics,
            }),
            Endpoint::Generate => Chunk::Generate(GenerateChunk {
                model: model.into(),
                created_at,
                response: text,
                thinking: None,
                done,
                done_reason,
                context: None,
                metrics,
            }),
        }
    }
}

/// A chunk of either endpoint, serialised in the field order Ollama uses.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Chunk {
    Chat(ChatChunk),
    Generate(GenerateChunk),
}

/// The parts of a chat or generate request the node acts on.
struct Job {
    endpoint: Endpoint,
    model: String,
    prompt_tokens: Option<u64>,
    stream: bool,
    keep_alive: Option<KeepAlive>,
    options: Option<ModelOptions>,
}

pub(crate) async fn chat(State(node): State<Arc<NodeRuntime>>, body: Bytes) -> Response {
    let received = Instant::now();
    let request: ChatRequest = match parse_native(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let prompt_tokens =
        (!request.messages.is_empty()).then(|| request.messages.iter().map(|m| estimate_tokens(&m.content)).sum());
    let job = Job {
        endpoint: Endpoint::Chat,
        model: request.model,
        prompt_tokens,
        stream: request.stream.unwrap_or(true),
        keep_alive: request.keep_alive,
        options: request.options,
    };
    serve(node, job, received).await
}

pub(crate) async fn generate(State(node): State<Arc<NodeRuntime>>, body: Bytes) -> Response {
    let received = Instant::now();
    let request: GenerateRequest = match parse_native(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let system = request.system.as_deref().map(estimate_tokens).unwrap_or(0);
    let prompt_tokens = (!request.prompt.is_empty()).then(|| estimate_tokens(&request.prompt) + system);
    let job = Job {
        endpoint: Endpoint::Generate,
        model: request.model,
        prompt_tokens,
        stream: request.stream.unwrap_or(true),
        keep_alive: request.keep_alive,
        options: request.options,
    };
    serve(node, job, received).await
}

/// Finds an installed model able to answer, or the error Ollama gives.
fn resolve(node: &NodeRuntime, job: &Job) -> Result<(String, &'static CatalogueModel), Box<Response>> {
    if job.model.is_empty() {
        return Err(Box::new(respond::ollama_error(
            StatusCode::BAD_REQUEST,
            "model is required",
        )));
    }
    if !valid_model_name(&job.model) {
        return Err(Box::new(respond::ollama_error(
            StatusCode::BAD_REQUEST,
            "invalid model name",
        )));
    }
    let name = normalize_model_name(&job.model);
    let Some(model) = node.with_model(|m, _| m.installed().get(&name).map(|i| i.model)) else {
        return Err(Box::new(respond::ollama_error(
            StatusCode::NOT_FOUND,
            format!("model '{}' not found", job.model),
        )));
    };
    if !model.can_complete() {
        return Err(Box::new(respond::ollama_error(
            StatusCode::BAD_REQUEST,
            format!("\"{}\" does not support {}", job.model, job.endpoint.verb()),
        )));
    }
    Ok((name, model))
}

async fn serve(node: Arc<NodeRuntime>, job: Job, received: Instant) -> Response {
    let (name, _) = match resolve(&node, &job) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let Some(prompt_tokens) = job.prompt_tokens else {
        return load_or_unload(&node, &job, &name).await;
    };
    let slot = match Slot::acquire(&node, &name, job.keep_alive).await {
        Ok(slot) => slot,
        Err(refusal) => return native_refusal(&refusal, &job.model),
    };
    let max_tokens = job
        .options
        .as_ref()
        .and_then(|o| o.num_predict)
        .and_then(|n| u64::try_from(n).ok());
    let pieces = generation::start(
        &node,
        slot,
        Plan {
            prompt_tokens,
            max_tokens,
            received,
            prompt: None,
            script: None,
        },
    );
    let (endpoint, model) = (job.endpoint, job.model);
    if job.stream {
        let lines = ReceiverStream::new(pieces).map(move |piece| match piece {
            Piece::Token(token) => respond::ndjson_line(&endpoint.chunk(&model, token, None, Metrics::default())),
            Piece::Done(finish) => {
                respond::ndjson_line(&endpoint.chunk(&model, String::new(), Some(finish.done_reason), finish.metrics))
            }
        });
        return respond::ndjson(lines);
    }
    match generation::collect(pieces).await {
        Some((text, finish)) => respond::json(
            StatusCode::OK,
            &endpoint.chunk(&model, text, Some(finish.done_reason), finish.metrics),
        ),
        None => respond::ollama_error(StatusCode::INTERNAL_SERVER_ERROR, "generation stopped"),
    }
}

/// Empty prompt or messages: load the model (or unload it with `keep_alive: 0`) and say so.
async fn load_or_unload(node: &Arc<NodeRuntime>, job: &Job, name: &str) -> Response {
    let reason = if job.keep_alive.is_some_and(|k| k.is_unload()) {
        if let Err(refusal) = node.change(|m, now| m.unload(now, name)) {
            return native_refusal(&refusal, &job.model);
        }
        "unload"
    } else {
        match Slot::acquire(node, name, job.keep_alive).await {
            Ok(slot) => {
                slot.wait_ready().await;
            }
            Err(refusal) => return native_refusal(&refusal, &job.model),
        }
        "load"
    };
    respond::json(
        StatusCode::OK,
        &job.endpoint
            .chunk(&job.model, String::new(), Some(reason), Metrics::default()),
    )
}
