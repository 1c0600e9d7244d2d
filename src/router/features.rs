//! Request features: everything [`select`](super::select) needs to know about a request,
//! computed once from the already-parsed request. Holds no prompt text.

use serde_json::Value;

use crate::domain::{DeclaredClass, TaskClass};

use super::classify::classify;
use super::data_class::DataClass;
use super::detect::{Detector, DetectorSet};
use super::exposure::{Exposure, Unscannable};
use super::local_fit::LocalFit;

/// The parts of a parsed chat request that routing looks at (borrowed; nothing is kept).
#[derive(Debug, Clone, Copy)]
pub struct RequestInput<'a> {
    /// The class the agent asked for (the request's `model` or `X-Task-Class`).
    pub declared: DeclaredClass,
    /// The first sensitive label of the `X-Data-Class` header, if any.
    pub data_class: Option<DataClass>,
    /// The calling agent (`user` field or `X-Agent-Id`).
    pub agent: &'a str,
    /// The text of every message, in order (for the classifier and the token estimate).
    pub messages: &'a [&'a str],
    /// The whole request as parsed JSON: every string in it is scanned.
    pub body: &'a Value,
    /// How many tools the request offers.
    pub tool_count: usize,
    /// The request's `max_tokens` (or `max_completion_tokens`), if set.
    pub max_tokens: Option<u32>,
}

/// What the router knows about a request when it decides where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFeatures {
    /// The calling agent.
    pub agent: String,
    /// The class the agent asked for.
    pub declared: DeclaredClass,
    /// The declared class, or the classifier's answer for `auto`, before any sensitivity upgrade.
    pub requested: TaskClass,
    /// The sensitive `X-Data-Class` label sent, if any.
    pub data_class: Option<DataClass>,
    /// Estimated tokens: message characters / 4, rounded up, plus `max_tokens`.
    pub est_tokens: u64,
    /// Number of messages.
    pub message_count: usize,
    /// Number of tools offered.
    pub tool_count: usize,
    /// The first enabled content detector that fired on any string of the request (its name only).
    pub detector: Option<Detector>,
    /// Content in the request that no detector can read (images, audio, files, blobs).
    pub unscannable: Option<Unscannable>,
    /// The on-farm privacy reviewer did not clear the request for the frontier.
    pub review_flagged: bool,
    /// What the request needs from a local model, and what Ollama cannot carry of it.
    pub local: LocalFit,
}

impl RequestFeatures {
    /// Computes the features of `input`, running the `enabled` detectors over every string of its body.
    ///
    /// Requests that are already sensitive (declared, or labelled by header) are not scanned:
    /// the outcome cannot change and their reason is already known.
    pub fn from_request(input: &RequestInput<'_>, enabled: DetectorSet) -> RequestFeatures {
        let requested = input
            .declared
            .class()
            .unwrap_or_else(|| classify(input.messages, input.tool_count));
        let already_sensitive = input.data_class.is_some() || requested == TaskClass::Sensitive;
        let exposure = if already_sensitive {
            Exposure::default()
        } else {
            Exposure::of_request(input.body, enabled)
        };
        let chars: usize = input.messages.iter().map(|m| m.chars().count()).sum();
        let est_tokens = (chars as u64).div_ceil(4) + u64::from(input.max_tokens.unwrap_or(0));
        RequestFeatures {
            agent: input.agent.to_owned(),
            declared: input.declared,
            requested,
            data_class: input.data_class,
            est_tokens,
            message_count: input.messages.len(),
            tool_count: input.tool_count,
            detector: exposure.detector,
            unscannable: exposure.unscannable,
            review_flagged: false,
            local: LocalFit::of_request(input.body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static EMPTY: Value = Value::Null;

    fn input<'a>(declared: DeclaredClass, messages: &'a [&'a str], body: &'a Value) -> RequestInput<'a> {
        RequestInput {
            declared,
            data_class: None,
            agent: "crawler",
            messages,
            body,
            tool_count: 0,
            max_tokens: None,
        }
    }

    fn body_of(messages: &[&str]) -> Value {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| serde_json::json!({"role": "user", "content": m}))
            .collect();
        serde_json::json!({"model": "routine", "messages": messages})
    }

    #[test]
    fn estimates_tokens_from_characters_and_max_tokens() {
        let messages = ["abcd", "héllo"];
        let mut req = input(DeclaredClass::Routine, &messages, &EMPTY);
        assert_eq!(RequestFeatures::from_request(&req, DetectorSet::ALL).est_tokens, 3);
        req.max_tokens = Some(100);
        let f = RequestFeatures::from_request(&req, DetectorSet::ALL);
        assert_eq!((f.est_tokens, f.message_count, f.agent.as_str()), (103, 2, "crawler"));
    }

    #[test]
    fn auto_requests_are_classified_declared_ones_are_not() {
        let messages = ["Analyze this step by step."];
        assert_eq!(
            RequestFeatures::from_request(&input(DeclaredClass::Auto, &messages, &EMPTY), DetectorSet::ALL).requested,
            TaskClass::Reasoning
        );
        assert_eq!(
            RequestFeatures::from_request(&input(DeclaredClass::Routine, &messages, &EMPTY), DetectorSet::ALL)
                .requested,
            TaskClass::Routine
        );
    }

    #[test]
    fn detectors_run_only_when_enabled_and_useful() {
        let messages = ["my card is 4111 1111 1111 1111"];
        let body = body_of(&messages);
        let req = input(DeclaredClass::Reasoning, &messages, &body);
        assert_eq!(
            RequestFeatures::from_request(&req, DetectorSet::ALL).detector,
            Some(Detector::CreditCard)
        );
        assert_eq!(RequestFeatures::from_request(&req, DetectorSet::NONE).detector, None);
        let declared = input(DeclaredClass::Sensitive, &messages, &body);
        assert_eq!(
            RequestFeatures::from_request(&declared, DetectorSet::ALL).detector,
            None
        );
        let mut labelled = req;
        labelled.data_class = Some(DataClass::Pii);
        let features = RequestFeatures::from_request(&labelled, DetectorSet::ALL);
        assert_eq!((features.detector, features.data_class), (None, Some(DataClass::Pii)));
    }

    #[test]
    fn the_whole_body_is_scanned_not_only_message_text() {
        let messages = ["look this up"];
        let body = serde_json::json!({
            "model": "reasoning",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "look this up"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
            "metadata": {"customer": "jane@example.com"}
        });
        let f = RequestFeatures::from_request(&input(DeclaredClass::Reasoning, &messages, &body), DetectorSet::ALL);
        assert_eq!(f.detector, Some(Detector::Email));
        assert_eq!(f.unscannable, Some(Unscannable::ImageUrl));
    }
}
