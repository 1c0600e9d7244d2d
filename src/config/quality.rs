//! `[quality]`: how answer quality is judged: the service-level objectives per task class
//! (`[quality.slo.<class>]`) and the feedback metrics agents may report
//! (`[quality.feedback.<metric>]`), boolean or float, each with the direction that is better.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::TaskClass;

/// The `[quality]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Objectives by task class name.
    pub slo: BTreeMap<String, SloConfig>,
    /// Fewest requests (answers judged, for `json_valid_rate`; streamed answers, for
    /// `ttft_p95_ms`) in the window before an objective can be breached.
    pub slo_min_requests: u64,
    /// Shadow sampling by task class name.
    pub shadow: BTreeMap<String, ShadowConfig>,
    /// Feedback metrics by name: what `POST /v1/feedback` accepts.
    pub feedback: BTreeMap<String, FeedbackMetric>,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            slo: BTreeMap::new(),
            slo_min_requests: 20,
            shadow: BTreeMap::new(),
            feedback: BTreeMap::new(),
        }
    }
}

/// Shadow sampling of one class: the share of answered requests whose twin also runs, after the
/// agent has its answer, on the other side (a frontier answer's twin on the farm and the other
/// way round; a sensitive answer's twin only on the farm, with a second model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShadowConfig {
    /// Fraction of requests twinned, 0 to 1 (0: off).
    pub rate: f64,
    /// The local model a twin runs on the farm (default: the class's local model; required for
    /// `sensitive`, and different from its model).
    pub model: Option<String>,
}

impl QualityConfig {
    /// The shadow sampling rate of `class` (0 when not configured).
    pub fn shadow_rate(&self, class: TaskClass) -> f64 {
        self.shadow.get(class.as_str()).map_or(0.0, |s| s.rate)
    }
}

/// The objectives of one task class over the last hour; each is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SloConfig {
    /// Time to first token of streamed answers, 95th percentile, at most this many milliseconds.
    pub ttft_p95_ms: Option<u64>,
    /// Share of answers ending in an upstream error, at most.
    pub error_rate: Option<f64>,
    /// Share of answers cut at `max_tokens`, at most.
    pub truncation_rate: Option<f64>,
    /// Share of JSON answers that are valid, at least.
    pub json_valid_rate: Option<f64>,
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
        for (class, slo) in &self.slo {
            if class.parse::<TaskClass>().is_err() {
                return Err((
                    format!("quality.slo.{class}"),
                    format!("`{class}` is not a task class (routine, reasoning, orchestration, sensitive)"),
                ));
            }
            for (name, rate) in [("error_rate", slo.error_rate), ("truncation_rate", slo.truncation_rate)] {
                if rate.is_some_and(|r| !(r > 0.0 && r <= 1.0)) {
                    return Err((
                        format!("quality.slo.{class}.{name}"),
                        "must be above 0 and at most 1".into(),
                    ));
                }
            }
            if slo.json_valid_rate.is_some_and(|r| !(0.0..1.0).contains(&r)) {
                return Err((
                    format!("quality.slo.{class}.json_valid_rate"),
                    "must be at least 0 and below 1".into(),
                ));
            }
            if slo.ttft_p95_ms == Some(0) {
                return Err((format!("quality.slo.{class}.ttft_p95_ms"), "must be at least 1".into()));
            }
        }
        for (class, shadow) in &self.shadow {
            let Ok(parsed) = class.parse::<TaskClass>() else {
                return Err((
                    format!("quality.shadow.{class}"),
                    format!("`{class}` is not a task class (routine, reasoning, orchestration, sensitive)"),
                ));
            };
            if !(0.0..=1.0).contains(&shadow.rate) {
                return Err((format!("quality.shadow.{class}.rate"), "must be between 0 and 1".into()));
            }
            if let Some(model) = &shadow.model
                && !crate::domain::valid_model_name(model)
            {
                return Err((
                    format!("quality.shadow.{class}.model"),
                    format!("`{model}` is not a valid model name"),
                ));
            }
            if parsed == TaskClass::Sensitive && shadow.rate > 0.0 && shadow.model.is_none() {
                return Err((
                    format!("quality.shadow.{class}.model"),
                    "sensitive work is only twinned on the farm, with a second local model: name it".into(),
                ));
            }
        }
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
