//! `[quality]`: how answer quality is judged beyond what the router measures itself. Today:
//! the feedback metrics agents may report (`[quality.feedback.<metric>]`), boolean or float,
//! each with the direction that is better.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `[quality]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Feedback metrics by name: what `POST /v1/feedback` accepts.
    pub feedback: BTreeMap<String, FeedbackMetric>,
}

/// One feedback metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackMetric {
    /// `boolean` (a thumbs up or down, a task done or not) or `float` (a score).
    #[serde(rename = "type")]
    pub kind: FeedbackKind,
    /// Whether higher (`max`, the default) or lower (`min`) values are better.
    #[serde(default)]
    pub optimize: Optimize,
}

/// The type of a feedback metric's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackKind {
    /// `true` or `false` (stored as 1 and 0).
    Boolean,
    /// Any finite number.
    Float,
}

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimize {
    /// Higher is better.
    #[default]
    Max,
    /// Lower is better.
    Min,
}

impl QualityConfig {
    /// Checks the metric names: 1–64 characters of a-z, 0-9 and `_`, so they read well in
    /// requests, the store and Prometheus. Returns the offending key and why.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        for name in self.feedback.keys() {
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err((
                    format!("quality.feedback.{name}"),
                    format!("`{name}` must be 1-64 characters of a-z, 0-9 and _"),
                ));
            }
        }
        Ok(())
    }
}
