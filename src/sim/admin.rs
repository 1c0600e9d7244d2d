//! The sim's admin API on the frontier port: faults, node states and the frontier log.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::faults::{FaultError, FaultKind};
use crate::sim::frontier::FrontierState;
use crate::sim::node::NodeRuntime;
use crate::sim::respond;

/// The admin API's routes, served beside the simulated frontier.
pub(crate) fn routes() -> Router<Arc<FrontierState>> {
    Router::new()
        .route("/_sim/faults", get(faults).post(set_fault))
        .route("/_sim/nodes", get(nodes))
        .route("/_sim/memory", post(set_memory))
        .route("/_sim/frontier/log", get(log))
        .route("/_sim/frontier/seen", post(seen))
}

/// One active fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFault {
    /// A node name or `frontier`.
    pub target: String,
    /// The fault.
    pub kind: FaultKind,
}

/// `POST /_sim/faults` body; `kind: "none"` clears the target's fault.
#[derive(Debug, Clone, Deserialize)]
struct FaultChange {
    target: String,
    kind: String,
}

/// A loaded model in a node summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedSummary {
    /// Model name.
    pub name: String,
    /// Bytes in memory.
    pub size: u64,
    /// When it unloads if idle.
    pub expires_at: DateTime<Utc>,
    /// Requests using it.
    pub in_flight: u32,
}

/// The state of one simulated node (`GET /_sim/nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// Node name.
    pub name: String,
    /// Base URL of its Ollama API and agent.
    pub url: String,
    /// Unified memory.
    pub memory_total_bytes: u64,
    /// Memory in use (base, other applications and loaded models).
    pub memory_used_bytes: u64,
    /// Parallel slots.
    pub parallel: u32,
    /// Requests holding a slot.
    pub in_flight: usize,
    /// Requests waiting.
    pub queued: usize,
    /// Resident models.
    pub loaded: Vec<LoadedSummary>,
    /// Installed model names.
    pub installed: Vec<String>,
    /// Active fault.
    pub fault: Option<FaultKind>,
}

/// A summary of `node` now.
pub(crate) fn summarize(node: &NodeRuntime) -> NodeSummary {
    let (loaded, installed, in_flight, queued, model_bytes) = node.with_model(|m, now| {
        let loaded = m.loaded(now);
        (
            loaded,
            m.installed().keys().cloned().collect(),
            m.in_flight(),
            m.queued(),
            m.model_bytes(),
        )
    });
    NodeSummary {
        name: node.spec.name.clone(),
        url: node.url.clone(),
        memory_total_bytes: node.spec.memory_bytes,
        memory_used_bytes: node.memory_wanted(model_bytes).min(node.spec.memory_bytes),
        parallel: node.spec.parallel,
        in_flight,
        queued,
        loaded: loaded
            .into_iter()
            .map(|l| LoadedSummary {
                name: l.model.name.into(),
                size: l.model.loaded_bytes,
                expires_at: l.expires_at,
                in_flight: l.in_flight,
            })
            .collect(),
        installed,
        fault: node.fault(),
    }
}

fn active(state: &FrontierState) -> serde_json::Value {
    let faults: Vec<ActiveFault> = state
        .faults
        .active()
        .into_iter()
        .map(|(target, kind)| ActiveFault { target, kind })
        .collect();
    serde_json::json!({ "faults": faults })
}

async fn faults(State(state): State<Arc<FrontierState>>) -> Response {
    respond::json(StatusCode::OK, &active(&state))
}

async fn set_fault(State(state): State<Arc<FrontierState>>, body: Bytes) -> Response {
    let change: FaultChange = match respond::parse_body(&body) {
        Ok(change) => change,
        Err(message) => return respond::ollama_error(StatusCode::BAD_REQUEST, message),
    };
    let kind = match change.kind.as_str() {
        "none" => None,
        other => match other.parse::<FaultKind>() {
            Ok(kind) => Some(kind),
            Err(error) => return respond::ollama_error(StatusCode::BAD_REQUEST, error.to_string()),
        },
    };
    match state.faults.set(&change.target, kind) {
        Ok(()) => {
            tracing::info!(target = %change.target, kind = %change.kind, "fault changed");
            respond::json(StatusCode::OK, &active(&state))
        }
        Err(error @ FaultError::Target(_)) => respond::ollama_error(StatusCode::NOT_FOUND, error.to_string()),
        Err(error) => respond::ollama_error(StatusCode::BAD_REQUEST, error.to_string()),
    }
}

async fn nodes(State(state): State<Arc<FrontierState>>) -> Response {
    let nodes: Vec<NodeSummary> = state.nodes.iter().map(|n| summarize(n)).collect();
    respond::json(StatusCode::OK, &serde_json::json!({ "nodes": nodes }))
}

/// `POST /_sim/memory` body: the memory other applications hold on a node.
#[derive(Debug, Clone, Deserialize)]
struct MemoryChange {
    node: String,
    other_apps_bytes: u64,
}

/// `POST /_sim/memory`: `{"node": "mini-09", "other_apps_bytes": 4000000000}` makes other
/// applications hold that much of the node's memory (0 closes them), so pressure rises as on a
/// Mac mini someone is also using.
async fn set_memory(State(state): State<Arc<FrontierState>>, body: Bytes) -> Response {
    let change: MemoryChange = match respond::parse_body(&body) {
        Ok(change) => change,
        Err(message) => return respond::ollama_error(StatusCode::BAD_REQUEST, message),
    };
    match state.nodes.iter().find(|n| n.spec.name == change.node) {
        Some(node) => {
            node.set_other_apps(change.other_apps_bytes);
            tracing::info!(node = %change.node, bytes = change.other_apps_bytes, "other applications' memory changed");
            respond::json(StatusCode::OK, &summarize(node))
        }
        None => respond::ollama_error(
            StatusCode::NOT_FOUND,
            format!("no simulated node is named `{}`", change.node),
        ),
    }
}

async fn log(State(state): State<Arc<FrontierState>>) -> Response {
    let requests = state.with_log(|log| log.entries());
    respond::json(StatusCode::OK, &serde_json::json!({ "requests": requests }))
}

/// `POST /_sim/frontier/seen`: body `{"text": "..."}` (or the raw text) → `{"seen": bool}`: whether
/// a message with exactly this text arrived; with `"within": true`, whether any string of any
/// request body contained it.
async fn seen(State(state): State<Arc<FrontierState>>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    struct Probe {
        text: String,
        #[serde(default)]
        within: bool,
    }
    let probe = serde_json::from_slice::<Probe>(&body).unwrap_or_else(|_| Probe {
        text: String::from_utf8_lossy(&body).into_owned(),
        within: false,
    });
    let seen = state.with_log(|log| {
        if probe.within {
            log.received_containing(&probe.text)
        } else {
            log.saw(&probe.text)
        }
    });
    respond::json(StatusCode::OK, &serde_json::json!({ "seen": seen }))
}
