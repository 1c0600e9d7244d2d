//! `POST /api/pull`: NDJSON progress over simulated download time, then the model is installed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::valid_model_name;
use crate::sim::catalogue::{self, CatalogueModel};
use crate::sim::node::{NodeRuntime, parse_native};
use crate::sim::respond;
use crate::wire::ollama::{ErrorBody, PullProgress, PullRequest, normalize_model_name};

/// What a registry answers for a name it does not have.
pub(crate) const MANIFEST_MISSING: &str = "pull model manifest: file does not exist";
/// Download speed before scaling, bytes per second.
const BYTES_PER_SEC: f64 = 250e6;
/// Time to fetch the manifest, before scaling.
const MANIFEST_DELAY: Duration = Duration::from_millis(300);

pub(crate) async fn pull(State(node): State<Arc<NodeRuntime>>, body: Bytes) -> Response {
    let request: PullRequest = match parse_native(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if request.model.is_empty() {
        return respond::ollama_error(StatusCode::BAD_REQUEST, "model is required");
    }
    if !valid_model_name(&request.model) {
        return respond::ollama_error(StatusCode::BAD_REQUEST, "invalid model name");
    }
    let model = catalogue::find(&normalize_model_name(&request.model));
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(run_pull(node, model, tx));
    if request.stream.unwrap_or(true) {
        return respond::ndjson(ReceiverStream::new(rx));
    }
    drop(rx);
    match task.await {
        Ok(true) => respond::json(StatusCode::OK, &PullProgress::status("success")),
        _ => respond::ollama_error(StatusCode::INTERNAL_SERVER_ERROR, MANIFEST_MISSING),
    }
}

/// Sends progress lines; true when the model was installed. A closed receiver only silences the lines.
async fn run_pull(node: Arc<NodeRuntime>, model: Option<&'static CatalogueModel>, tx: mpsc::Sender<Bytes>) -> bool {
    let send = |line: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(line).await;
        }
    };
    send(respond::ndjson_line(&PullProgress::status("pulling manifest"))).await;
    tokio::time::sleep(node.pace.scale(MANIFEST_DELAY)).await;
    let Some(model) = model else {
        send(respond::ndjson_line(&ErrorBody::new(MANIFEST_MISSING))).await;
        return false;
    };
    let present = node.with_model(|m, _| m.installed().contains_key(model.name));
    let mut rng = StdRng::seed_from_u64(node.next_seed());
    for (digest, total) in model.layers() {
        let line = |completed: u64| PullProgress {
            status: format!("pulling {}", &digest[..12]),
            digest: Some(format!("sha256:{digest}")),
            total: Some(total),
            completed: (completed > 0).then_some(completed),
        };
        if present {
            send(respond::ndjson_line(&line(total))).await;
            continue;
        }
        send(respond::ndjson_line(&line(0))).await;
        let mut completed = 0u64;
        while completed < total {
            let tick = Duration::from_millis(rng.random_range(60..=100));
            tokio::time::sleep(node.pace.scale(tick)).await;
            completed = (completed + (BYTES_PER_SEC * tick.as_secs_f64()) as u64).min(total);
            send(respond::ndjson_line(&line(completed))).await;
        }
    }
    for status in ["verifying sha256 digest", "writing manifest"] {
        send(respond::ndjson_line(&PullProgress::status(status))).await;
        tokio::time::sleep(node.pace.scale(Duration::from_millis(50))).await;
    }
    node.change(|m, now| m.install(model, now));
    send(respond::ndjson_line(&PullProgress::status("success"))).await;
    true
}
