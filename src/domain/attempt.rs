//! One try of one plan target within a request: which target, how it ended, how long it took.
//!
//! A decision carries every attempt in the order they were made, so the whole fallback chain is
//! on record. Only names from the fleet config and fixed codes appear here, never upstream text.

use serde::{Deserialize, Serialize};

/// How one attempt ended: `ok` or a short error code, never an upstream's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The target answered and served the request.
    Ok,
    /// The target answered with this HTTP status (`503`, `429`, …).
    Status(u16),
    /// No answer (or no first chunk) within the router's timeout.
    Timeout,
    /// The connection was refused or the host was unreachable.
    Connect,
    /// The answer could not be read as a completion.
    Malformed,
    /// The router could not call the target as configured (unknown node or provider, no key).
    Unconfigured,
    /// The request could not be carried to this target (a field it does not support).
    Unsupported,
    /// The agent went away while the attempt was under way.
    Cancelled,
    /// Any other transport failure (a reset connection, a stream cut before its first chunk).
    Transport,
    /// A non-streamed frontier call timed out: the provider may have done (and billed) the work,
    /// so it is not retried.
    TimeoutPossibleCharge,
}

/// The named outcomes and their wire spellings; a status is written as its number.
const NAMED: [(AttemptOutcome, &str); 9] = [
    (AttemptOutcome::Ok, "ok"),
    (AttemptOutcome::Timeout, "timeout"),
    (AttemptOutcome::Connect, "connect"),
    (AttemptOutcome::Malformed, "malformed"),
    (AttemptOutcome::Unconfigured, "unconfigured"),
    (AttemptOutcome::Unsupported, "unsupported"),
    (AttemptOutcome::Cancelled, "cancelled"),
    (AttemptOutcome::Transport, "transport"),
    (AttemptOutcome::TimeoutPossibleCharge, "timeout_possible_charge"),
];

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let AttemptOutcome::Status(status) = self {
            return write!(f, "{status}");
        }
        let name = NAMED.iter().find(|(o, _)| o == self).map_or("transport", |(_, n)| n);
        f.write_str(name)
    }
}

impl std::str::FromStr for AttemptOutcome {
    type Err = super::UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((outcome, _)) = NAMED.iter().find(|(_, name)| *name == s) {
            return Ok(*outcome);
        }
        match s.parse::<u16>() {
            Ok(status) if (100..=599).contains(&status) && s.len() == 3 => Ok(AttemptOutcome::Status(status)),
            _ => Err(super::UnknownVariant {
                kind: "attempt outcome",
                value: s.chars().take(64).collect(),
                expected: "ok timeout connect malformed unconfigured unsupported cancelled transport timeout_possible_charge or an HTTP status",
            }),
        }
    }
}

impl Serialize for AttemptOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AttemptOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One attempt of a request on one plan target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The node tried (`mini-03`), or `provider/model` for a frontier API.
    pub target: String,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// Milliseconds from the attempt's start until its outcome was known.
    pub ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_wire_names() {
        let mut all: Vec<AttemptOutcome> = NAMED.iter().map(|(o, _)| *o).collect();
        all.extend([AttemptOutcome::Status(503), AttemptOutcome::Status(429)]);
        for outcome in all {
            assert_eq!(outcome.to_string().parse::<AttemptOutcome>(), Ok(outcome));
        }
        assert_eq!(AttemptOutcome::Status(503).to_string(), "503");
        for bad in ["", "OK", "99", "600", "0503", "+503", "timed out"] {
            assert!(bad.parse::<AttemptOutcome>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_attempt_is_a_small_json_object() {
        let attempt = Attempt {
            target: "mini-03".into(),
            outcome: AttemptOutcome::Timeout,
            ms: 1000,
        };
        let json = serde_json::to_string(&attempt).unwrap();
        assert_eq!(json, r#"{"target":"mini-03","outcome":"timeout","ms":1000}"#);
        assert_eq!(serde_json::from_str::<Attempt>(&json).unwrap(), attempt);
        let status: Attempt = serde_json::from_str(r#"{"target":"openai/gpt-5.4","outcome":"529","ms":3}"#).unwrap();
        assert_eq!(status.outcome, AttemptOutcome::Status(529));
    }
}
