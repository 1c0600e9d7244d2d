//! Upstream calls: a farm node's OpenAI-compatible endpoint, or a frontier provider.
//!
//! Every upstream answers in OpenAI's shape (translated where needed), so the gateway has one
//! code path for relaying, usage accounting and recording. A failure *before the first byte*
//! reaches the agent is retryable on the next plan step; a failure mid-stream is not.

pub mod body_stream;
pub mod frontier;
pub mod local;
pub mod node_client;
pub mod openai_sse;

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;

use self::frontier::translate::TranslateError;
use crate::config::TokenUsage;
use crate::domain::AttemptOutcome;
use crate::quality::AnswerSignals;
use crate::wire::openai::ChatCompletionChunk;

/// A stream of OpenAI-shaped chunks; it ends after the last chunk, and ending any other way
/// (no finish, no `[DONE]`, no `message_stop`) is a [`MidStreamError`].
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<StreamItem, MidStreamError>> + Send>>;

/// One relayed chunk, with the normalised usage when this chunk is the one that reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamItem {
    /// The chunk in OpenAI's shape.
    pub chunk: ChatCompletionChunk,
    /// Token counts for pricing, on the chunk that carries the final usage.
    pub usage: Option<TokenUsage>,
}

/// Time limits of one upstream call (no total limit: long generations must not be cut).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Until the response headers arrive (Ollama sends nothing until the model is loaded).
    pub first_byte: Duration,
    /// Longest silence between two reads of a streamed body.
    pub idle: Duration,
}

/// What an upstream answered.
pub enum UpstreamReply {
    /// A whole completion.
    Complete {
        /// The completion as JSON in OpenAI's shape (`model` is the upstream model).
        body: bytes::Bytes,
        /// Normalised token counts for pricing.
        usage: TokenUsage,
        /// How the answer ended and whether it said anything, read in the same parse.
        answer: AnswerSignals,
    },
    /// A stream of chunks; the final usage arrives on one of its [`StreamItem`]s.
    Stream(ChunkStream),
}

/// An upstream failure before anything was sent to the agent: the next plan step may be tried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    /// The upstream's HTTP status, when it answered at all.
    pub status: Option<u16>,
    /// What the upstream asked us to wait before retrying.
    pub retry_after: Option<Duration>,
    /// Short description (never request content, never a key).
    pub message: String,
    /// Set when the request could not be translated for this upstream: the agent's error (a 400
    /// naming the field), not the upstream's, so no other route is tried.
    pub untranslatable: Option<TranslateError>,
    /// How the attempt ended, as the decision's attempts record it.
    pub outcome: AttemptOutcome,
    /// Token usage the upstream reported with the failure: charged like a success (boxed: it is
    /// rare, and keeps the error small).
    pub usage: Option<Box<TokenUsage>>,
}

impl UpstreamError {
    /// A failure with no HTTP answer that fits no narrower kind (a reset, a cut stream).
    pub fn transport(message: impl Into<String>) -> Self {
        Self::without_status(AttemptOutcome::Transport, message)
    }

    /// No connection to the upstream (refused, unreachable, or not within the connect timeout).
    pub fn connect(message: impl Into<String>) -> Self {
        Self::without_status(AttemptOutcome::Connect, message)
    }

    /// No answer within one of the router's timeouts.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::without_status(AttemptOutcome::Timeout, message)
    }

    /// An answer that could not be read as a completion.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::without_status(AttemptOutcome::Malformed, message)
    }

    /// A call the router could not make as configured (unknown node or provider, no key).
    pub fn unconfigured(message: impl Into<String>) -> Self {
        Self::without_status(AttemptOutcome::Unconfigured, message)
    }

    /// A failed HTTP exchange, named by kind (timeout, connect, malformed, other) without its URL.
    pub fn from_reqwest(err: &reqwest::Error) -> Self {
        let outcome = if err.is_timeout() {
            AttemptOutcome::Timeout
        } else if err.is_connect() {
            AttemptOutcome::Connect
        } else if err.is_decode() || err.is_body() {
            AttemptOutcome::Malformed
        } else {
            AttemptOutcome::Transport
        };
        Self::without_status(outcome, describe(err))
    }

    /// An HTTP answer with a failing status.
    pub fn status(status: u16, retry_after: Option<Duration>, message: impl Into<String>) -> Self {
        UpstreamError {
            status: Some(status),
            retry_after,
            message: message.into(),
            untranslatable: None,
            outcome: AttemptOutcome::Status(status),
            usage: None,
        }
    }

    fn without_status(outcome: AttemptOutcome, message: impl Into<String>) -> Self {
        UpstreamError {
            status: None,
            retry_after: None,
            message: message.into(),
            untranslatable: None,
            outcome,
            usage: None,
        }
    }

    /// This timeout as a possible charge: a non-streamed frontier call that may have been done
    /// and billed, so it is not retried; other errors are returned as they are.
    pub fn possibly_charged(self) -> Self {
        if self.outcome != AttemptOutcome::Timeout {
            return self;
        }
        UpstreamError {
            outcome: AttemptOutcome::TimeoutPossibleCharge,
            message: format!("{} (the provider may have done and billed the work)", self.message),
            ..self
        }
    }

    /// A request this upstream cannot take as it is (see [`UpstreamError::untranslatable`]).
    pub fn untranslatable(err: TranslateError) -> Self {
        UpstreamError {
            message: err.to_string(),
            untranslatable: Some(err),
            ..Self::without_status(AttemptOutcome::Unsupported, "")
        }
    }

    /// Whether the same upstream is worth retrying after a wait (429, 529, 5xx, transport).
    pub fn is_retryable(&self) -> bool {
        if self.untranslatable.is_some() || self.outcome == AttemptOutcome::TimeoutPossibleCharge {
            return false;
        }
        match self.status {
            None => true,
            Some(status) => status == 408 || status == 409 || status == 429 || status >= 500,
        }
    }

    /// The short code recorded in the decision's `error` column.
    pub fn code(&self) -> String {
        if self.untranslatable.is_some() {
            return "unsupported_field".into();
        }
        if self.outcome == AttemptOutcome::TimeoutPossibleCharge {
            return "upstream_timeout_possible_charge".into();
        }
        match self.status {
            Some(status) => format!("upstream_{status}"),
            None => "upstream_unreachable".into(),
        }
    }
}

/// An upstream's error vocabulary (`rate_limit_error`, `insufficient_quota`) as it may appear in
/// logs and records: a short identifier, or `unrecognised`. Free text from an upstream (error
/// messages can echo the prompt or the model's output) never passes.
pub fn error_token(text: &str) -> &str {
    let is_token = (1..=40).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if is_token { text } else { "unrecognised" }
}

/// A failure after the first chunk reached the agent; the stream ends there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MidStreamError(pub String);

/// Maps a reqwest error to a short, key-free description.
pub fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection refused or unreachable".into()
    } else if err.is_decode() || err.is_body() {
        "malformed answer".into()
    } else {
        // Without the URL: a frontier URL never carries a key, but node URLs are noise here.
        let mut err = err.to_string();
        err.truncate(200);
        err
    }
}

#[cfg(test)]
mod tests {
    use super::{UpstreamError, error_token};
    use crate::gateway::upstream::frontier::translate::TranslateError;

    #[test]
    fn an_untranslatable_request_is_never_retried() {
        let err = UpstreamError::untranslatable(TranslateError {
            field: "n".into(),
            reason: "one choice only",
        });
        assert!(!err.is_retryable());
        assert_eq!(err.code(), "unsupported_field");
        assert_eq!(err.message, "`n` cannot be sent to Anthropic: one choice only");
        assert_eq!(crate::gateway::upstream::frontier::retry::retry_delay(&err, 0), None);
    }

    #[test]
    fn a_timed_out_whole_completion_is_a_possible_charge_and_never_retried() {
        let err = UpstreamError::timeout("timed out after 10000 ms waiting for an answer").possibly_charged();
        assert_eq!(err.outcome.to_string(), "timeout_possible_charge");
        assert!(!err.is_retryable());
        assert_eq!(err.code(), "upstream_timeout_possible_charge");
        assert_eq!(crate::gateway::upstream::frontier::retry::retry_delay(&err, 0), None);
        let refused = UpstreamError::status(503, None, "openai 503 overloaded").possibly_charged();
        assert!(refused.is_retryable(), "only timeouts are possible charges");
    }

    #[test]
    fn only_identifiers_pass_as_error_tokens() {
        for token in ["rate_limit_error", "insufficient_quota", "server-error", "v1.2"] {
            assert_eq!(error_token(token), token);
        }
        for text in ["", "card 4111 1111 1111 1111", "a\nb", "x".repeat(41).as_str(), "é"] {
            assert_eq!(error_token(text), "unrecognised", "{text:?}");
        }
    }
}
