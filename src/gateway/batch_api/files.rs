//! `POST /v1/files` (a batch input file, multipart, sealed before it is stored),
//! `GET /v1/files/{id}` and `GET /v1/files/{id}/content` (input files, and each batch's output
//! and error files assembled from its jobs' results).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{BatchBackend, admit, read_pause, store_error};
use crate::gateway::Gateway;
use crate::gateway::errors::ApiError;
use crate::jobs::ids::{FileRef, ResultFile, new_file_id, parse_file_id};
use crate::jobs::{Binding, input, objects, output};
use crate::store::{BatchFileRow, BatchRow};

/// Longest `purpose` value read.
const MAX_PURPOSE_BYTES: usize = 256;
/// Longest file name kept.
const MAX_FILENAME_CHARS: usize = 255;

/// `POST /v1/files`: `purpose=batch` and a `file` part of JSONL, at most `jobs.max_file_bytes`.
pub async fn upload(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    match store_upload(&gateway, peer, request).await {
        Ok(file) => Json(file).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn store_upload(gateway: &Gateway, peer: SocketAddr, request: Request) -> Result<objects::FileObject, ApiError> {
    let (agent, backend) = admit(gateway, peer, request.headers())?;
    let limit = gateway.config.jobs.max_file_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.saturating_add(super::FORM_SLACK)) {
        return Err(too_large(limit));
    }
    let mut form = Multipart::from_request(request, &()).await.map_err(|rejection| {
        ApiError::bad_request(
            "invalid_multipart",
            format!("send the file as multipart/form-data with a `purpose` and a `file` part: {rejection}"),
        )
    })?;
    let pause = read_pause(gateway);
    let mut purpose: Option<String> = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = tokio::time::timeout(pause, form.next_field())
            .await
            .map_err(|_| stalled(pause))?
            .map_err(|e| form_error(e, limit))?;
        let Some(field) = field else { break };
        match field.name() {
            Some("purpose") => {
                let value = read_field(field, MAX_PURPOSE_BYTES as u64, pause)
                    .await
                    .map_err(|e| e.unwrap_or_else(|| bad_purpose("(too long)")))?;
                let value = String::from_utf8_lossy(&value).trim().to_string();
                if value != "batch" {
                    return Err(bad_purpose(&value));
                }
                purpose = Some(value);
            }
            Some("file") => {
                let filename = field
                    .file_name()
                    .map(|n| n.chars().filter(|c| !c.is_control()).take(MAX_FILENAME_CHARS).collect())
                    .filter(|n: &String| !n.trim().is_empty())
                    .unwrap_or_else(|| "input.jsonl".to_string());
                let content = read_field(field, limit, pause)
                    .await
                    .map_err(|e| e.unwrap_or_else(|| too_large(limit)))?;
                file = Some((filename, content));
            }
            _ => {}
        }
    }
    if purpose.is_none() {
        return Err(missing("purpose", "`purpose` is required: send purpose=batch"));
    }
    let Some((filename, content)) = file else {
        return Err(missing(
            "file",
            "`file` is required: send the JSONL input as a file part",
        ));
    };
    let lines = input::lines(&content).count();
    let id = new_file_id();
    let sealed = backend.sealer.seal_for(Binding::File { id: &id }, &content);
    let row = BatchFileRow {
        id,
        agent,
        filename,
        bytes: content.len() as i64,
        lines: lines as i64,
        created_at: Utc::now(),
        content: Some(sealed),
    };
    drop(content);
    backend.store.create_batch_file(&row).await.map_err(store_error)?;
    tracing::info!(file = %row.id, agent = %row.agent, bytes = row.bytes, lines = row.lines, "batch input file stored");
    Ok(objects::input_file(&row))
}

/// A part's bytes, at most `limit` of them (`Err(None)` past it), each chunk within `pause`.
async fn read_field(mut field: Field<'_>, limit: u64, pause: std::time::Duration) -> Result<Vec<u8>, Option<ApiError>> {
    let mut bytes = Vec::new();
    loop {
        let chunk = tokio::time::timeout(pause, field.chunk())
            .await
            .map_err(|_| Some(stalled(pause)))?
            .map_err(|e| Some(form_error(e, limit)))?;
        let Some(chunk) = chunk else { return Ok(bytes) };
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(None);
        }
        bytes.extend_from_slice(&chunk);
    }
}

/// `GET /v1/files/{id}`: the `File` object of an input, output or error file.
pub async fn retrieve(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let found = async {
        let (agent, backend) = admit(&gateway, peer, &headers)?;
        match parse_file_id(&id).ok_or_else(|| no_such_file(&id))? {
            FileRef::Input(id) => Ok::<_, ApiError>(objects::input_file(&own_input(backend, &agent, &id).await?)),
            FileRef::Results { batch_id, kind } => {
                let batch = own_results(backend, &agent, &id, &batch_id, kind).await?;
                let content = result_content(backend, &batch, kind).await?;
                Ok(objects::result_file(&batch, kind, content.len()))
            }
        }
    };
    match found.await {
        Ok(file) => Json(file).into_response(),
        Err(err) => err.into_response(),
    }
}

/// `GET /v1/files/{id}/content`: the JSONL of an input, output or error file.
pub async fn content(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let found = async {
        let (agent, backend) = admit(&gateway, peer, &headers)?;
        match parse_file_id(&id).ok_or_else(|| no_such_file(&id))? {
            FileRef::Input(id) => {
                let row = own_input(backend, &agent, &id).await?;
                let sealed = row.content.ok_or_else(|| purged(&id))?;
                backend
                    .sealer
                    .open_for(Binding::File { id: &id }, &sealed)
                    .map_err(|err| -> ApiError {
                        tracing::error!(file = %id, %err, "a stored input file does not open");
                        ApiError::internal("unreadable_file", format!("{id} cannot be read back: {err}"))
                    })
            }
            FileRef::Results { batch_id, kind } => {
                let batch = own_results(backend, &agent, &id, &batch_id, kind).await?;
                result_content(backend, &batch, kind).await
            }
        }
    };
    match found.await {
        Ok(bytes) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/jsonl")], bytes).into_response(),
        Err(err) => err.into_response(),
    }
}

/// The input file `id`, when `agent` uploaded it.
async fn own_input(backend: &BatchBackend, agent: &str, id: &str) -> Result<BatchFileRow, ApiError> {
    match backend.store.batch_file(id).await.map_err(store_error)? {
        Some(row) if row.agent == agent => Ok(row),
        _ => Err(no_such_file(id)),
    }
}

/// The batch behind output or error file `id`, when `agent` created it and the file exists.
async fn own_results(
    backend: &BatchBackend,
    agent: &str,
    id: &str,
    batch_id: &str,
    kind: ResultFile,
) -> Result<BatchRow, ApiError> {
    match backend.store.batch(batch_id).await.map_err(store_error)? {
        Some(batch) if batch.agent == agent && objects::result_file_of(&batch, kind).is_some() => Ok(batch),
        _ => Err(no_such_file(id)),
    }
}

/// The output or error file of `batch`, assembled from its jobs' sealed results.
async fn result_content(backend: &BatchBackend, batch: &BatchRow, kind: ResultFile) -> Result<Vec<u8>, ApiError> {
    let rows = backend
        .store
        .job_results(&batch.id, kind == ResultFile::Errors)
        .await
        .map_err(store_error)?;
    output::assemble(&batch.id, &rows, &backend.sealer).map_err(|err| match err {
        output::OutputError::Purged { .. } => ApiError::not_found("file_deleted", err.to_string()),
        output::OutputError::Unreadable { .. } => {
            tracing::error!(batch = %batch.id, %err, "a stored job result does not open");
            ApiError::internal("unreadable_result", err.to_string())
        }
    })
}

fn no_such_file(id: &str) -> ApiError {
    let shown: String = id.chars().filter(|c| !c.is_control()).take(64).collect();
    ApiError::not_found("file_not_found", format!("no such file: {shown}"))
}

fn purged(id: &str) -> ApiError {
    ApiError::not_found(
        "file_deleted",
        format!("the content of {id} was deleted after jobs.retention_hours"),
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::payload_too_large(
        "file_too_large",
        format!("the file is larger than this router's limit of {limit} bytes (jobs.max_file_bytes)"),
    )
    .with_param("file")
}

fn bad_purpose(value: &str) -> ApiError {
    let shown: String = value.chars().filter(|c| !c.is_control()).take(64).collect();
    ApiError::bad_request(
        "invalid_purpose",
        format!("purpose `{shown}` is not supported here: this router takes batch input files only (purpose=batch)"),
    )
    .with_param("purpose")
}

fn missing(param: &str, message: &str) -> ApiError {
    ApiError::bad_request("missing_required_parameter", message).with_param(param)
}

fn stalled(pause: std::time::Duration) -> ApiError {
    ApiError::request_timeout(format!(
        "the upload paused for more than {} s (router.body_read_timeout_secs)",
        pause.as_secs()
    ))
}

/// A multipart failure: over the body limit is the file's limit; anything else is a bad form.
fn form_error(err: MultipartError, limit: u64) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limit);
    }
    ApiError::bad_request(
        "invalid_multipart",
        format!("the multipart form could not be read: {}", err.body_text()),
    )
}
