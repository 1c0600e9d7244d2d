//! Getting a request a slot on a node: admission, waiting in the queue, and giving the slot back on drop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};

use crate::sim::node::NodeRuntime;
use crate::sim::node_model::{Admission, Refusal, Ticket, TicketState};
use crate::sim::respond;
use crate::wire::ollama::KeepAlive;

/// Longest a waiter sleeps before looking at the queue again, in case a wake-up was missed.
const RECHECK: Duration = Duration::from_millis(250);

/// A request's hold on a node slot; dropping it (done, failed, or the client left) frees the slot.
#[derive(Debug)]
pub(crate) struct Slot {
    node: Arc<NodeRuntime>,
    ticket: Ticket,
    /// When the model is ready to generate.
    pub(crate) ready_at: DateTime<Utc>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let ticket = self.ticket;
        self.node.change(|model, now| model.finish(now, ticket));
    }
}

impl Slot {
    /// Waits for a slot for `model` (queueing if the node is busy).
    pub(crate) async fn acquire(
        node: &Arc<NodeRuntime>,
        model: &str,
        keep_alive: Option<KeepAlive>,
    ) -> Result<Slot, Refusal> {
        let admission = node.with_model(|m, now| m.request(now, model, keep_alive))?;
        let (ticket, ready_at) = match admission {
            Admission::Running(start) => {
                return Ok(Slot {
                    node: node.clone(),
                    ticket: start.ticket,
                    ready_at: start.ready_at,
                });
            }
            Admission::Queued(ticket) => (ticket, Utc::now()),
        };
        // From here the slot guard owns the ticket, so a client that leaves the queue frees its place.
        let mut slot = Slot {
            node: node.clone(),
            ticket,
            ready_at,
        };
        loop {
            let notified = node.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match node.with_model(|m, now| m.state(now, ticket)) {
                TicketState::Running(start) => {
                    slot.ready_at = start.ready_at;
                    return Ok(slot);
                }
                TicketState::Gone => return Err(Refusal::NotFound),
                TicketState::Queued => {
                    let _ = tokio::time::timeout(RECHECK, notified).await;
                }
            }
        }
    }

    /// Sleeps until the model is loaded; returns how long that took.
    pub(crate) async fn wait_ready(&self) -> Duration {
        let started = Instant::now();
        if let Ok(wait) = (self.ready_at - Utc::now()).to_std() {
            crate::sim::sleep_until(started + wait).await;
        }
        started.elapsed()
    }
}

/// The status and text Ollama answers a refusal with.
pub(crate) fn refusal_status(refusal: &Refusal, model: &str) -> (StatusCode, String) {
    match refusal {
        Refusal::NotFound => (StatusCode::NOT_FOUND, format!("model '{model}' not found")),
        Refusal::TooLarge { .. } => (StatusCode::INTERNAL_SERVER_ERROR, refusal.to_string()),
        Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, refusal.to_string()),
    }
}

/// A refusal as a native `/api` error.
pub(crate) fn native_refusal(refusal: &Refusal, model: &str) -> Response {
    let (status, message) = refusal_status(refusal, model);
    respond::ollama_error(status, message)
}
