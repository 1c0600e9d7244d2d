//! What the simulated frontier received: provider, model, sizes and hashes of the message texts, never the texts.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::catalogue::hex_sha256;

/// Entries kept; older ones are dropped first.
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

/// The bounded log.
#[derive(Debug, Default)]
pub struct FrontierLog {
    entries: VecDeque<FrontierRequest>,
}

impl FrontierLog {
    /// Records a request, dropping the oldest past [`LOG_CAPACITY`].
    pub fn record(&mut self, entry: FrontierRequest) {
        if self.entries.len() == LOG_CAPACITY {
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
}
