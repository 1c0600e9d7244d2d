//! What the simulated frontier received: provider, model, sizes and hashes of the message texts,
//! and keyed hashes of every string of every raw body, never the texts. The keyed hashes answer
//! "did any string I received contain X" (the privacy tests ask it about marker strings).

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};

use serde_json::Value;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::LogLimits;
use crate::sim::catalogue::hex_sha256;

/// Entries kept by default; older ones are dropped first.
pub const LOG_CAPACITY: usize = 10_000;

/// One request that reached the frontier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontierRequest {
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// `anthropic` or `openai`.
    pub provider: String,
    /// Requested model.
    pub model: String,
    /// Whether it asked for a stream.
    pub stream: bool,
    /// Number of messages (the system prompt counts as one).
    pub messages: usize,
    /// Characters over all message texts.
    pub chars: usize,
    /// SHA-256 (hex) of each message text.
    pub message_sha256: Vec<String>,
}

impl FrontierRequest {
    /// An entry for these message texts, received now.
    pub fn new(provider: &str, model: &str, stream: bool, texts: &[String]) -> Self {
        FrontierRequest {
            at: Utc::now(),
            provider: provider.into(),
            model: model.into(),
            stream,
            messages: texts.len(),
            chars: texts.iter().map(|t| t.chars().count()).sum(),
            message_sha256: texts.iter().map(|t| hex_sha256(t.as_bytes())).collect(),
        }
    }
}

/// Bytes per hashed window: a needle at least this long is found inside longer strings.
pub const SIGHTING_WINDOW: usize = 12;
/// Keyed hashes held by default over all bodies; the oldest bodies' hashes are dropped past it (16 MiB).
pub const MAX_SIGHTINGS: usize = 2 << 20;

/// The bounded log.
#[derive(Debug, Default)]
pub struct FrontierLog {
    entries: VecDeque<FrontierRequest>,
    /// Per raw body received, the sorted keyed hashes of its strings and of their windows.
    bodies: VecDeque<Vec<u64>>,
    held: usize,
    key: RandomState,
    limits: LogLimits,
}

impl FrontierLog {
    /// An empty log that holds up to `limits`.
    pub fn new(limits: LogLimits) -> Self {
        FrontierLog {
            limits,
            ..FrontierLog::default()
        }
    }

    /// Records a request, dropping the oldest past the limit.
    pub fn record(&mut self, entry: FrontierRequest) {
        if self.entries.len() >= self.limits.frontier_entries.max(1) {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<FrontierRequest> {
        self.entries.iter().cloned().collect()
    }

    /// True if a message with exactly this text reached the frontier.
    pub fn saw(&self, text: &str) -> bool {
        let hash = hex_sha256(text.as_bytes());
        self.entries.iter().any(|e| e.message_sha256.contains(&hash))
    }

    /// Keeps keyed hashes of every string (values and keys, at any depth) of a raw request body,
    /// valid or not, and of every [`SIGHTING_WINDOW`]-byte window of each.
    pub fn sight(&mut self, body: &[u8]) {
        let mut strings = Vec::new();
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => collect_strings(&value, &mut strings),
            Err(_) => strings.push(String::from_utf8_lossy(body).into_owned()),
        }
        let mut hashes = Vec::new();
        for text in &strings {
            hashes.push(self.whole(text.as_bytes()));
            hashes.extend(text.as_bytes().windows(SIGHTING_WINDOW).map(|w| self.key.hash_one(w)));
        }
        hashes.sort_unstable();
        hashes.dedup();
        // Held by count, so held by exactly that: repeated windows (a long run of one character)
        // would otherwise keep the whole pre-dedup capacity alive.
        hashes.shrink_to_fit();
        self.held += hashes.len();
        self.bodies.push_back(hashes);
        while self.held > self.limits.frontier_sightings && self.bodies.len() > 1 {
            if let Some(old) = self.bodies.pop_front() {
                self.held -= old.len();
            }
        }
    }

    /// True if any string of a body still held contained `needle` (equalled it, when shorter than a window).
    pub fn received_containing(&self, needle: &str) -> bool {
        let bytes = needle.as_bytes();
        let wanted: Vec<u64> = if bytes.len() < SIGHTING_WINDOW {
            vec![self.whole(bytes)]
        } else {
            bytes.windows(SIGHTING_WINDOW).map(|w| self.key.hash_one(w)).collect()
        };
        self.bodies
            .iter()
            .any(|body| wanted.iter().all(|h| body.binary_search(h).is_ok()))
    }

    /// Forgets every body's hashes (the entries stay).
    pub fn clear_sightings(&mut self) {
        self.bodies.clear();
        self.held = 0;
    }

    /// A whole string's hash, kept apart from window hashes by a prefix byte.
    fn whole(&self, bytes: &[u8]) -> u64 {
        self.key.hash_one((0xA5u8, bytes))
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        Value::Object(fields) => {
            for (key, item) in fields {
                out.push(key.clone());
                collect_strings(item, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_hashes_not_text_and_stays_bounded() {
        let mut log = FrontierLog::default();
        log.record(FrontierRequest::new(
            "anthropic",
            "m",
            false,
            &["secret plan".into(), "hi".into()],
        ));
        assert!(log.saw("secret plan"));
        assert!(!log.saw("secret"));
        let json = serde_json::to_string(&log.entries()).unwrap();
        assert!(!json.contains("secret plan"));
        assert_eq!(log.entries()[0].chars, 13);
        for i in 0..LOG_CAPACITY {
            log.record(FrontierRequest::new("openai", "m", true, &[format!("{i}")]));
        }
        assert_eq!(log.entries().len(), LOG_CAPACITY);
        assert!(!log.saw("secret plan"), "the oldest entry was dropped");
    }

    #[test]
    fn sightings_find_needles_inside_any_string_without_keeping_text() {
        let mut log = FrontierLog::default();
        let body = serde_json::json!({
            "messages": [{"role": "user", "content": "hello"}],
            "tools": [{"function": {"arguments": "{\"card\":\"MARKER-4f9a2c7e\"}"}}],
            "metadata": {"key-SECRETKEY-1234": 1}
        });
        log.sight(body.to_string().as_bytes());
        assert!(log.received_containing("MARKER-4f9a2c7e"));
        assert!(log.received_containing("SECRETKEY-1234"), "object keys count");
        assert!(log.received_containing("hello"), "short needles match whole strings");
        assert!(!log.received_containing("hell"));
        assert!(!log.received_containing("MARKER-4f9a2c7f"));
        log.sight(b"not json MARKER-garbage-body");
        assert!(
            log.received_containing("MARKER-garbage-body"),
            "unparseable bodies are sighted whole"
        );
        log.clear_sightings();
        assert!(!log.received_containing("MARKER-4f9a2c7e"));
    }

    #[test]
    fn sightings_stay_bounded() {
        let mut log = FrontierLog::default();
        let big = serde_json::json!({"text": "x".repeat(1 << 20)}).to_string();
        for i in 0..8 {
            log.sight(format!("{{\"a\":\"needle-number-{i:04}\",\"b\":{big}}}").as_bytes());
        }
        assert!(log.held <= MAX_SIGHTINGS + (1 << 20) + 64);
        assert!(log.received_containing("needle-number-0007"));
    }

    #[test]
    fn the_demo_limits_keep_recent_requests_and_bodies_only() {
        let mut log = FrontierLog::new(LogLimits::DEMO);
        for i in 0..LogLimits::DEMO.frontier_entries + 5 {
            log.record(FrontierRequest::new("openai", "m", false, &[format!("{i}")]));
        }
        assert_eq!(log.entries().len(), LogLimits::DEMO.frontier_entries);
        for i in 0..8 {
            // About 40,000 distinct windows per body: two bodies are more than the demo keeps.
            let words: Vec<String> = (0..6_000).map(|w| format!("w{i}-{w}")).collect();
            let body = serde_json::json!({"a": format!("needle-number-{i:04}"), "b": words.join(" ")});
            log.sight(body.to_string().as_bytes());
        }
        assert!(
            log.held <= LogLimits::DEMO.frontier_sightings + 40_100,
            "{} hashes held",
            log.held
        );
        assert!(log.received_containing("needle-number-0007"));
        assert!(
            !log.received_containing("needle-number-0000"),
            "the oldest bodies are forgotten"
        );
    }
}
