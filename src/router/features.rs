//! Request features: everything [`select`](super::select) needs to know about a request,
//! computed once from the already-parsed request. Holds no prompt text.

use crate::domain::{DeclaredClass, TaskClass};

use super::classify::classify;
use super::detect::{Detector, DetectorSet, scan};

/// The parts of a parsed chat request that routing looks at (borrowed; nothing is kept).
#[derive(Debug, Clone, Copy)]
pub struct RequestInput<'a> {
    /// The class the agent asked for (the request's `model` or `X-Task-Class`).
    pub declared: DeclaredClass,
    /// The `X-Data-Class` header value, if sent.
    pub data_class: Option<&'a str>,
    /// The calling agent (`user` field or `X-Agent-Id`).
    pub agent: &'a str,
    /// The text of every message, in order.
    pub messages: &'a [&'a str],
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
    /// `X-Data-Class: restricted` was sent.
    pub restricted: bool,
    /// Estimated tokens: message characters / 4, rounded up, plus `max_tokens`.
    pub est_tokens: u64,
    /// Number of messages.
    pub message_count: usize,
    /// Number of tools offered.
    pub tool_count: usize,
    /// The first enabled content detector that fired, if any (its name only, never the match).
    pub detector: Option<Detector>,
}

impl RequestFeatures {
    /// Computes the features of `input`, running the `enabled` detectors over its messages.
    ///
    /// Requests that are already sensitive (declared, or restricted by header) are not scanned:
    /// the outcome cannot change and their reason is already known.
    pub fn from_request(input: &RequestInput<'_>, enabled: DetectorSet) -> RequestFeatures {
        let restricted = is_restricted(input.data_class);
        let requested = input
            .declared
            .class()
            .unwrap_or_else(|| classify(input.messages, input.tool_count));
        let already_sensitive = restricted || requested == TaskClass::Sensitive;
        let detector = if already_sensitive {
            None
        } else {
            scan(input.messages, enabled)
        };
        let chars: usize = input.messages.iter().map(|m| m.chars().count()).sum();
        let est_tokens = (chars as u64).div_ceil(4) + u64::from(input.max_tokens.unwrap_or(0));
        RequestFeatures {
            agent: input.agent.to_owned(),
            declared: input.declared,
            requested,
            restricted,
            est_tokens,
            message_count: input.messages.len(),
            tool_count: input.tool_count,
            detector,
        }
    }
}

/// Whether an `X-Data-Class` header value marks the request restricted (case-insensitive).
pub fn is_restricted(data_class: Option<&str>) -> bool {
    data_class.is_some_and(|v| v.trim().eq_ignore_ascii_case("restricted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(declared: DeclaredClass, messages: &'a [&'a str]) -> RequestInput<'a> {
        RequestInput {
            declared,
            data_class: None,
            agent: "crawler",
            messages,
            tool_count: 0,
            max_tokens: None,
        }
    }

    #[test]
    fn estimates_tokens_from_characters_and_max_tokens() {
        let messages = ["abcd", "héllo"];
        let mut req = input(DeclaredClass::Routine, &messages);
        assert_eq!(RequestFeatures::from_request(&req, DetectorSet::ALL).est_tokens, 3);
        req.max_tokens = Some(100);
        let f = RequestFeatures::from_request(&req, DetectorSet::ALL);
        assert_eq!((f.est_tokens, f.message_count, f.agent.as_str()), (103, 2, "crawler"));
    }

    #[test]
    fn auto_requests_are_classified_declared_ones_are_not() {
        let messages = ["Analyze this step by step."];
        assert_eq!(
            RequestFeatures::from_request(&input(DeclaredClass::Auto, &messages), DetectorSet::ALL).requested,
            TaskClass::Reasoning
        );
        assert_eq!(
            RequestFeatures::from_request(&input(DeclaredClass::Routine, &messages), DetectorSet::ALL).requested,
            TaskClass::Routine
        );
    }

    #[test]
    fn detectors_run_only_when_enabled_and_useful() {
        let messages = ["my card is 4111 1111 1111 1111"];
        let req = input(DeclaredClass::Reasoning, &messages);
        assert_eq!(
            RequestFeatures::from_request(&req, DetectorSet::ALL).detector,
            Some(Detector::CreditCard)
        );
        assert_eq!(RequestFeatures::from_request(&req, DetectorSet::NONE).detector, None);
        let declared = input(DeclaredClass::Sensitive, &messages);
        assert_eq!(
            RequestFeatures::from_request(&declared, DetectorSet::ALL).detector,
            None
        );
    }

    #[test]
    fn only_restricted_restricts() {
        assert!(is_restricted(Some("restricted")) && is_restricted(Some(" Restricted ")));
        assert!(!is_restricted(Some("public")) && !is_restricted(Some("")) && !is_restricted(None));
    }
}
