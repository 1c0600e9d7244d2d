//! Ollama's native API (`/api/*`): request and response bodies as the server reads and writes them.
//!
//! Input types are lenient (missing fields default, unknown fields are ignored); output types
//! serialise exactly what Ollama sends, e.g. metric fields are absent, not 0, on intermediate chunks.

mod keep_alive;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use keep_alive::{KeepAlive, KeepAliveError};

/// The `Content-Type` of Ollama's streamed responses.
pub const NDJSON: &str = "application/x-ndjson";
/// The plain-text body of `GET /`.
pub const RUNNING_TEXT: &str = "Ollama is running";
/// The 503 text when a node's queue is full (the two spaces are Ollama's).
pub const BUSY_TEXT: &str = "server busy, please try again.  maximum pending requests exceeded";

/// `{"error": "..."}`: every native error body, and the last line of a failed stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable error text.
    pub error: String,
}

impl ErrorBody {
    /// An error body with this text.
    pub fn new(error: impl Into<String>) -> Self {
        ErrorBody { error: error.into() }
    }

    /// The text Ollama sends for a model it does not have.
    pub fn model_not_found(model: &str) -> Self {
        ErrorBody::new(format!("model '{model}' not found"))
    }
}

/// `GET /api/version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResponse {
    /// Server version, e.g. `0.33.0`.
    #[serde(default)]
    pub version: String,
}

/// Model metadata shared by tags, ps and show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelDetails {
    /// Parent model (always `""` in `/api/ps`).
    pub parent_model: String,
    /// File format, `gguf`.
    pub format: String,
    /// Model family, e.g. `qwen3`.
    pub family: String,
    /// All families.
    pub families: Vec<String>,
    /// Parameter count for display, e.g. `8.2B`.
    pub parameter_size: String,
    /// Quantisation, e.g. `Q4_K_M`.
    pub quantization_level: String,
}

/// One installed model in `/api/tags`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagModel {
    /// Normalised name (`llama3.2:latest`).
    pub name: String,
    /// Same as `name`.
    #[serde(default)]
    pub model: String,
    /// Last modification, in the server's local offset.
    pub modified_at: DateTime<FixedOffset>,
    /// On-disk size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Manifest sha256 in hex, without the `sha256:` prefix.
    #[serde(default)]
    pub digest: String,
    /// Metadata.
    #[serde(default)]
    pub details: ModelDetails,
    /// Capabilities, when the server reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

/// `GET /api/tags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagsResponse {
    /// Installed models (an empty array, never null).
    #[serde(default)]
    pub models: Vec<TagModel>,
}

/// One loaded model in `/api/ps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsModel {
    /// Normalised name.
    pub name: String,
    /// Same as `name`.
    #[serde(default)]
    pub model: String,
    /// Memory of the loaded runner in bytes (weights, KV cache, graph); not the file size.
    #[serde(default)]
    pub size: u64,
    /// Manifest digest (hex, no prefix).
    #[serde(default)]
    pub digest: String,
    /// Metadata.
    #[serde(default)]
    pub details: ModelDetails,
    /// When the idle timer unloads it, in the server's local offset.
    pub expires_at: DateTime<FixedOffset>,
    /// The part of `size` on the GPU (equal to `size` on Apple Silicon when it fits).
    #[serde(default)]
    pub size_vram: u64,
    /// Context size the runner started with (absent before Ollama 0.9.7).
    #[serde(default)]
    pub context_length: Option<u32>,
}

/// `GET /api/ps`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PsResponse {
    /// Loaded models, latest expiry first.
    #[serde(default)]
    pub models: Vec<PsModel>,
}

/// `POST /api/show` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShowRequest {
    /// Model name (`name` is accepted too).
    #[serde(alias = "name")]
    pub model: String,
    /// Include large token arrays and tensors.
    pub verbose: bool,
}

/// `POST /api/show` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowResponse {
    /// Generated Modelfile.
    #[serde(default)]
    pub modelfile: String,
    /// Parameters, one per line.
    #[serde(default)]
    pub parameters: String,
    /// Prompt template.
    #[serde(default)]
    pub template: String,
    /// Metadata.
    #[serde(default)]
    pub details: ModelDetails,
    /// GGUF metadata; `<arch>.context_length` is the model's maximum context.
    #[serde(default)]
    pub model_info: Map<String, Value>,
    /// `completion`, `tools`, `thinking`, `embedding`, `vision`, …
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Last modification.
    pub modified_at: DateTime<FixedOffset>,
}

/// `POST /api/pull` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PullRequest {
    /// Model to pull (`name` is accepted too).
    #[serde(alias = "name")]
    pub model: String,
    /// Stream progress (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Deprecated and ignored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// One `/api/pull` progress line (`api.ProgressResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullProgress {
    /// `pulling manifest`, `pulling <12 hex>`, `verifying sha256 digest`, `writing manifest`, `success`, …
    #[serde(default)]
    pub status: String,
    /// Layer digest with the `sha256:` prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Layer size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Bytes of the layer present so far (absent while 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
}

impl PullProgress {
    /// A line with only a status.
    pub fn status(status: impl Into<String>) -> Self {
        PullProgress {
            status: status.into(),
            ..PullProgress::default()
        }
    }
}

/// `DELETE /api/delete` request (a body on DELETE).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteRequest {
    /// Model to delete (`name` is accepted too).
    #[serde(alias = "name")]
    pub model: String,
}

/// Runtime options (`options` on generate and chat); unknown keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelOptions {
    /// Most tokens to generate; negative means no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_predict: Option<i64>,
    /// Context size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Random seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

/// `POST /api/generate` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateRequest {
    /// Model name, echoed as sent.
    pub model: String,
    /// Prompt; empty means load only.
    pub prompt: String,
    /// System prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Stream NDJSON chunks (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Idle time before unload; absent keeps the loaded runner's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
    /// Runtime options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<ModelOptions>,
    /// `"json"` or a JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// Thinking switch: bool or `"low"|"medium"|"high"|"max"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<Value>,
    /// Skip the template.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw: bool,
}

impl GenerateRequest {
    /// The request that unloads `model` at once (`keep_alive: 0`, no prompt, one answer).
    pub fn unload(model: &str) -> Self {
        GenerateRequest {
            model: model.to_string(),
            stream: Some(false),
            keep_alive: Some(KeepAlive::For(std::time::Duration::ZERO)),
            ..GenerateRequest::default()
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text.
    pub content: String,
    /// Reasoning text (assistant messages of thinking models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// Base64 images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Tool calls (arguments are a JSON object on the native API).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<Value>,
    /// Name of the tool a `tool` message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
}

impl ChatMessage {
    /// An assistant message with this text.
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "assistant".into(),
            content: content.into(),
            ..ChatMessage::default()
        }
    }
}

/// `POST /api/chat` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatRequest {
    /// Model name, echoed as sent.
    pub model: String,
    /// Conversation; empty means load only (or unload with `keep_alive: 0`).
    pub messages: Vec<ChatMessage>,
    /// Tool definitions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
    /// Stream NDJSON chunks (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Idle time before unload; absent keeps the loaded runner's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
    /// Runtime options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<ModelOptions>,
    /// `"json"` or a JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// Thinking switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<Value>,
}

/// Timing and token counters of a final chunk; every field is absent on other chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metrics {
    /// Wall time of the whole request in ns, queue wait and load included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_duration: Option<u64>,
    /// Time spent loading or scheduling the model, in ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_duration: Option<u64>,
    /// Prompt tokens (the whole prompt, cached tokens included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_count: Option<u64>,
    /// Prefill time in ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_duration: Option<u64>,
    /// Generated tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_count: Option<u64>,
    /// Decode time in ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_duration: Option<u64>,
}

/// One `/api/generate` chunk, or the whole reply with `stream: false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateChunk {
    /// Model name as the request sent it.
    pub model: String,
    /// UTC time of the chunk.
    pub created_at: DateTime<Utc>,
    /// Text of this chunk.
    #[serde(default)]
    pub response: String,
    /// Reasoning text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// True only on the last chunk.
    #[serde(default)]
    pub done: bool,
    /// `stop`, `length`, `load` or `unload` on the last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    /// Deprecated token context (final chunk only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<i64>>,
    /// Counters (final chunk only).
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// One `/api/chat` chunk, or the whole reply with `stream: false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    /// Model name as the request sent it.
    pub model: String,
    /// UTC time of the chunk.
    pub created_at: DateTime<Utc>,
    /// The assistant message delta (empty content on the final chunk).
    #[serde(default)]
    pub message: ChatMessage,
    /// True only on the last chunk.
    #[serde(default)]
    pub done: bool,
    /// `stop`, `length`, `load` or `unload` on the last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    /// Counters (final chunk only).
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// Normalises a model name the way `/api/tags` shows it: the tag defaults to `latest`.
pub fn normalize_model_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intermediate_chunks_have_no_metric_keys() {
        let chunk = ChatChunk {
            model: "qwen3:8b".into(),
            created_at: Utc::now(),
            message: ChatMessage::assistant("Hi"),
            done: false,
            done_reason: None,
            metrics: Metrics::default(),
        };
        let json = serde_json::to_value(&chunk).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["created_at", "done", "message", "model"]);
        assert_eq!(json["message"], serde_json::json!({"role":"assistant","content":"Hi"}));
    }

    #[test]
    fn final_chunk_round_trips_with_counters() {
        let line = r#"{"model":"qwen3:8b","created_at":"2026-08-20T21:03:11.2Z","response":"","done":true,"done_reason":"stop","context":[1,2],"total_duration":812345678,"load_duration":20456789,"prompt_eval_count":14,"prompt_eval_duration":45678901,"eval_count":31,"eval_duration":701234567,"extra":1}"#;
        let chunk: GenerateChunk = serde_json::from_str(line).unwrap();
        assert_eq!(chunk.metrics.eval_count, Some(31));
        assert_eq!(chunk.done_reason.as_deref(), Some("stop"));
        let back = serde_json::to_value(&chunk).unwrap();
        assert_eq!(back["total_duration"], 812345678);
        assert!(back.get("extra").is_none());
    }

    #[test]
    fn ps_parses_local_offsets_and_missing_context_length() {
        let body = r#"{"models":[{"name":"qwen3:8b","model":"qwen3:8b","size":6654289920,"digest":"500a","details":{"family":"qwen3"},"expires_at":"2026-08-20T14:08:11.512093-07:00","size_vram":6654289920}]}"#;
        let ps: PsResponse = serde_json::from_str(body).unwrap();
        assert_eq!(ps.models[0].context_length, None);
        assert_eq!(ps.models[0].expires_at.offset().local_minus_utc(), -7 * 3600);
        assert_eq!(ps.models[0].details.format, "");
    }

    #[test]
    fn pull_progress_omits_absent_fields_and_accepts_name_alias() {
        assert_eq!(
            serde_json::to_string(&PullProgress::status("success")).unwrap(),
            r#"{"status":"success"}"#
        );
        let req: PullRequest = serde_json::from_str(r#"{"name":"qwen3:8b"}"#).unwrap();
        assert_eq!(req.model, "qwen3:8b");
        assert_eq!(req.stream, None);
    }

    #[test]
    fn requests_are_lenient() {
        let req: ChatRequest = serde_json::from_str(r#"{"model":"m","messages":[{"role":"user","content":"hi","x":1}],"keep_alive":"10m","options":{"num_predict":5,"mirostat":2}}"#).unwrap();
        assert_eq!(req.options.unwrap().num_predict, Some(5));
        assert_eq!(
            req.keep_alive,
            Some(KeepAlive::For(std::time::Duration::from_secs(600)))
        );
        assert!(serde_json::from_str::<GenerateRequest>(r#"{"model":"m","keep_alive":"300"}"#).is_err());
    }

    #[test]
    fn names_normalise_to_latest() {
        assert_eq!(normalize_model_name("nomic-embed-text"), "nomic-embed-text:latest");
        assert_eq!(normalize_model_name("qwen3:8b"), "qwen3:8b");
        assert_eq!(normalize_model_name("localhost:5000/m"), "localhost:5000/m:latest");
    }
}
