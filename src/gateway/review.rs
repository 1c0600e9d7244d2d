//! The on-farm privacy reviewer: before a request leaves, the review model on a farm node is
//! asked whether it holds private data. Nothing leaves in order to be reviewed, and only a clear
//! "no" within `policy.review_timeout_ms` clears the request.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Gateway;
use super::upstream::{self, UpstreamReply};
use crate::router::review::{MAX_REVIEW_BYTES, REVIEW_INSTRUCTION, REVIEW_MAX_TOKENS, ReviewAnswer};
use crate::wire::openai::{ChatCompletion, ChatCompletionRequest, ChatMessage, MessageContent};

/// Why the reviewer did not clear a request (for logs; the record says `review_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotCleared {
    /// The reviewer answered yes or something unclear.
    Answered(ReviewAnswer),
    /// The request is larger than the reviewer is given.
    TooLarge,
    /// No active node has the review model.
    NoNode,
    /// The node failed or sent no readable completion.
    Failed,
    /// No answer within the timeout.
    Late,
}

impl NotCleared {
    fn as_str(self) -> &'static str {
        match self {
            NotCleared::Answered(answer) => answer.as_str(),
            NotCleared::TooLarge => "too_large",
            NotCleared::NoNode => "no_node",
            NotCleared::Failed => "failed",
            NotCleared::Late => "late",
        }
    }
}

impl Gateway {
    /// Asks `model` on a farm node about `body`; `Ok` only for a clear "no".
    pub(super) async fn review(&self, model: &str, body: &Value, request_id: &str) -> Result<(), NotCleared> {
        let started = Instant::now();
        let verdict = self.ask_reviewer(model, body).await;
        tracing::debug!(
            request_id,
            model,
            outcome = verdict.err().map_or("clear", NotCleared::as_str),
            ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "privacy review"
        );
        verdict
    }

    async fn ask_reviewer(&self, model: &str, body: &Value) -> Result<(), NotCleared> {
        let reviewed = serde_json::to_string(body).map_err(|_| NotCleared::Failed)?;
        if reviewed.len() > MAX_REVIEW_BYTES {
            return Err(NotCleared::TooLarge);
        }
        let (name, url) = self.review_node(model).ok_or(NotCleared::NoNode)?;
        let request = ChatCompletionRequest {
            model: model.into(),
            messages: vec![message("system", REVIEW_INSTRUCTION.into()), message("user", reviewed)],
            max_tokens: Some(REVIEW_MAX_TOKENS),
            temperature: Some(0.0),
            ..ChatCompletionRequest::default()
        };
        let timeout = Duration::from_millis(self.config.policy.review_timeout_ms);
        let _slot = self.in_flight.enter(&name);
        let call = upstream::local::call(&self.node_client, &url, model, &request, self.timeouts);
        let reply = match tokio::time::timeout(timeout, call).await {
            Err(_) => return Err(NotCleared::Late),
            Ok(Err(_)) => return Err(NotCleared::Failed),
            Ok(Ok(reply)) => reply,
        };
        let UpstreamReply::Complete { body, .. } = reply else {
            return Err(NotCleared::Failed);
        };
        let completion: ChatCompletion = serde_json::from_slice(&body).map_err(|_| NotCleared::Failed)?;
        let answer = completion
            .choices
            .first()
            .and_then(|c| c.message.content.as_deref())
            .map_or(ReviewAnswer::Unclear, ReviewAnswer::read);
        match answer {
            ReviewAnswer::Clear => Ok(()),
            other => Err(NotCleared::Answered(other)),
        }
    }

    /// The best active node that has `model`, as placement ranks them (name and Ollama URL).
    fn review_node(&self, model: &str) -> Option<(String, String)> {
        let control = self.control.borrow().clone();
        let overrides = self.overrides_of(&control);
        let fleet = self.fleet_view(&control);
        let best = crate::router::rank(&fleet, model, &overrides).first()?.name.to_string();
        let url = self.nodes.get(&best)?.ollama_url.clone();
        Some((best, url))
    }
}

fn message(role: &str, text: String) -> ChatMessage {
    ChatMessage {
        role: role.into(),
        content: Some(MessageContent::Text(text)),
        ..ChatMessage::default()
    }
}
