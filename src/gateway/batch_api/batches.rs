//! `POST /v1/batches` (checks the input file and queues one sealed job per line, or records the
//! batch as failed with OpenAI's `errors`), `GET /v1/batches/{id}`, `GET /v1/batches` and
//! `POST /v1/batches/{id}/cancel`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::{BatchBackend, admit, store_error};
use crate::gateway::Gateway;
use crate::gateway::body::read_body;
use crate::gateway::errors::ApiError;
use crate::jobs::ids::{FileRef, is_batch_id, new_batch_id, parse_file_id};
use crate::jobs::input::{self, ENDPOINT};
use crate::jobs::{Binding, Sealer, objects, window};
use crate::store::{BatchRow, BatchStatus, NewBatch, NewJob, StoreError};

/// Batches listed when the client gives no `limit`.
const DEFAULT_LIMIT: u32 = 20;
/// Most batches one page lists.
const MAX_LIMIT: u32 = 100;
/// Most metadata pairs, and the longest key and value, as OpenAI allows.
const METADATA_PAIRS: usize = 16;
const METADATA_KEY_CHARS: usize = 64;
const METADATA_VALUE_CHARS: usize = 512;

/// The body of `POST /v1/batches`.
#[derive(Deserialize)]
struct CreateBatch {
    input_file_id: Option<String>,
    endpoint: Option<String>,
    completion_window: Option<String>,
    metadata: Option<Value>,
}

/// The query of `GET /v1/batches`.
#[derive(Deserialize)]
pub struct ListQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// `POST /v1/batches`.
pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(create_batch(&gateway, peer, &headers, body).await)
}

async fn create_batch(
    gateway: &Gateway,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<objects::BatchObject, ApiError> {
    let (agent, backend) = admit(gateway, peer, headers)?;
    let body = read_body(&gateway.config.router, headers, body).await?;
    let asked: CreateBatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not a batch to create: {e}"),
        )
    })?;
    let input_file_id = asked.input_file_id.ok_or_else(|| missing("input_file_id"))?;
    let endpoint = asked.endpoint.ok_or_else(|| missing("endpoint"))?;
    if endpoint != ENDPOINT {
        return Err(ApiError::bad_request(
            "invalid_value",
            format!(
                "this router runs batches of {ENDPOINT} only, not `{}`",
                shown(&endpoint)
            ),
        )
        .with_param("endpoint"));
    }
    let windows = &gateway.config.jobs.completion_windows;
    let completion_window = asked.completion_window.ok_or_else(|| missing("completion_window"))?;
    if !windows.contains(&completion_window) {
        return Err(ApiError::bad_request(
            "invalid_value",
            format!(
                "completion_window `{}` is not offered here; use one of {} (jobs.completion_windows)",
                shown(&completion_window),
                windows.join(", ")
            ),
        )
        .with_param("completion_window"));
    }
    let window = window::parse(&completion_window).ok_or_else(|| {
        ApiError::internal(
            "invalid_config",
            format!(
                "jobs.completion_windows lists `{completion_window}`, which is not a number of minutes, hours or days (e.g. 24h)"
            ),
        )
    })?;
    let metadata = check_metadata(asked.metadata)?;
    let file_ref = parse_file_id(&input_file_id);
    let Some(FileRef::Input(file_id)) = file_ref else {
        return Err(no_such_input(&input_file_id));
    };
    let file = match backend.store.batch_file(&file_id).await.map_err(store_error)? {
        Some(file) if file.agent == agent => file,
        _ => return Err(no_such_input(&file_id)),
    };
    let sealed = file.content.ok_or_else(|| {
        ApiError::bad_request(
            "file_deleted",
            format!("the content of {file_id} was deleted after jobs.retention_hours; upload it again"),
        )
        .with_param("input_file_id")
    })?;
    let id = new_batch_id();
    let now = Utc::now();
    let mut batch = NewBatch {
        id: id.clone(),
        agent,
        input_file_id: file_id.clone(),
        endpoint,
        completion_window,
        created_at: now,
        expires_at: now + window,
        metadata,
        status: BatchStatus::InProgress,
        errors: None,
    };
    let (sealer, max_bytes) = (backend.sealer.clone(), gateway.config.jobs.max_file_bytes);
    let prepared = tokio::task::spawn_blocking(move || queue_lines(&sealer, &id, &file_id, &sealed, max_bytes))
        .await
        .map_err(|_| ApiError::internal("internal", "reading the input file stopped unexpectedly"))??;
    let jobs = match prepared {
        Ok(jobs) => jobs,
        Err(errors) => {
            batch.status = BatchStatus::Failed;
            batch.errors = Some(serde_json::to_value(&errors).unwrap_or(Value::Null));
            Vec::new()
        }
    };
    backend.store.create_batch(&batch, &jobs).await.map_err(store_error)?;
    tracing::info!(batch = %batch.id, agent = %batch.agent, status = batch.status.as_str(), requests = jobs.len(), "batch created");
    let row = own_batch(backend, &batch.agent, &batch.id).await?;
    Ok(objects::batch(&row))
}

/// The jobs of an input file (each body sealed to its job), or the file's faults as OpenAI lists them.
fn queue_lines(
    sealer: &Sealer,
    batch_id: &str,
    file_id: &str,
    sealed: &[u8],
    max_bytes: u64,
) -> Result<Result<Vec<NewJob>, Vec<input::LineError>>, ApiError> {
    let plain = sealer.open_for(Binding::File { id: file_id }, sealed).map_err(|err| {
        tracing::error!(file = %file_id, %err, "a stored input file does not open");
        ApiError::internal("unreadable_file", format!("{file_id} cannot be read back: {err}"))
    })?;
    let lines = match input::read(&plain, max_bytes) {
        Ok(lines) => lines,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut aad = Vec::new();
    let jobs = lines
        .into_iter()
        .map(|line| {
            Binding::Job {
                batch_id,
                custom_id: &line.custom_id,
            }
            .write_aad(&mut aad);
            let request = sealer.seal(&aad, line.body);
            NewJob {
                line: line.line,
                class: line.class.as_str().to_string(),
                request,
                custom_id: line.custom_id,
            }
        })
        .collect();
    Ok(Ok(jobs))
}

/// `GET /v1/batches/{id}`.
pub async fn retrieve(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let found = async {
        let (agent, backend) = admit(&gateway, peer, &headers)?;
        Ok::<_, ApiError>(objects::batch(&own_batch(backend, &agent, &id).await?))
    };
    answer(found.await)
}

/// `GET /v1/batches?after=…&limit=…`: the agent's batches, newest first.
pub async fn list(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let found = async {
        let (agent, backend) = admit(&gateway, peer, &headers)?;
        let Query(query): Query<ListQuery> =
            query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(
                ApiError::bad_request("invalid_value", format!("limit must be between 1 and {MAX_LIMIT}"))
                    .with_param("limit"),
            );
        }
        let rows = backend
            .store
            .batches(Some(&agent), query.after.as_deref(), limit + 1)
            .await
            .map_err(store_error)?;
        Ok(objects::batch_page(rows, limit as usize))
    };
    answer(found.await)
}

/// `POST /v1/batches/{id}/cancel`: queued jobs are cancelled at once; running ones finish.
pub async fn cancel(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let done = async {
        let (agent, backend) = admit(&gateway, peer, &headers)?;
        let batch = own_batch(backend, &agent, &id).await?;
        match backend.store.cancel_batch(&batch.id, Utc::now()).await {
            Ok(row) => {
                tracing::info!(batch = %row.id, agent = %row.agent, "batch cancel asked");
                Ok(objects::batch(&row))
            }
            Err(StoreError::Conflict(_)) => Err(ApiError::conflict(
                "batch_not_cancellable",
                format!(
                    "{} is already {}: only a batch that is still running can be cancelled",
                    batch.id,
                    batch.status.as_str()
                ),
            )),
            Err(err) => Err(store_error(err)),
        }
    };
    answer(done.await)
}

/// Batch `id`, when `agent` created it.
async fn own_batch(backend: &BatchBackend, agent: &str, id: &str) -> Result<BatchRow, ApiError> {
    if !is_batch_id(id) {
        return Err(no_such_batch(id));
    }
    match backend.store.batch(id).await.map_err(store_error)? {
        Some(batch) if batch.agent == agent => Ok(batch),
        _ => Err(no_such_batch(id)),
    }
}

/// OpenAI's metadata rules: at most 16 string pairs, keys up to 64 and values up to 512 characters.
fn check_metadata(metadata: Option<Value>) -> Result<Option<Value>, ApiError> {
    let invalid = |why: String| ApiError::bad_request("invalid_value", why).with_param("metadata");
    match metadata {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(pairs)) => {
            if pairs.len() > METADATA_PAIRS {
                return Err(invalid(format!("metadata holds at most {METADATA_PAIRS} pairs")));
            }
            for (key, value) in &pairs {
                let Value::String(text) = value else {
                    return Err(invalid(format!("metadata `{}` must be a string", shown(key))));
                };
                if key.chars().count() > METADATA_KEY_CHARS || text.chars().count() > METADATA_VALUE_CHARS {
                    return Err(invalid(format!(
                        "metadata keys are at most {METADATA_KEY_CHARS} characters and values at most {METADATA_VALUE_CHARS}"
                    )));
                }
            }
            Ok(Some(Value::Object(pairs)))
        }
        Some(_) => Err(invalid("metadata must be an object of string pairs".into())),
    }
}

fn answer<T: serde::Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(object) => Json(object).into_response(),
        Err(err) => err.into_response(),
    }
}

fn missing(param: &str) -> ApiError {
    ApiError::bad_request("missing_required_parameter", format!("`{param}` is required")).with_param(param)
}

fn no_such_batch(id: &str) -> ApiError {
    ApiError::not_found("batch_not_found", format!("no such batch: {}", shown(id)))
}

fn no_such_input(id: &str) -> ApiError {
    ApiError::not_found("file_not_found", format!("no such input file: {}", shown(id))).with_param("input_file_id")
}

/// A client-given value for a message: printable and at most 64 characters.
fn shown(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn metadata_follows_openai_rules() {
        assert_eq!(check_metadata(None).unwrap(), None);
        assert_eq!(check_metadata(Some(Value::Null)).unwrap(), None);
        let fine = json!({"run": "nightly", "owner": "support"});
        assert_eq!(check_metadata(Some(fine.clone())).unwrap(), Some(fine));
        let too_many: serde_json::Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
        for bad in [
            Value::Object(too_many),
            json!({"n": 1}),
            json!({"k": "v".repeat(513)}),
            json!({"k".repeat(65): "v"}),
            json!(["not", "an", "object"]),
        ] {
            let err = check_metadata(Some(bad)).unwrap_err();
            assert_eq!((err.status.as_u16(), err.param.as_deref()), (400, Some("metadata")));
        }
    }
}
