//! The last hour of this router's answer quality, per task class, in one-minute slots: what its
//! `/metrics` judges the objectives of `[quality.slo]` against, with or without the store.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::config::QualityConfig;
use crate::domain::{DecisionRecord, Endpoint, TaskClass};
use crate::quality::{QualityLine, SloCheck, evaluate_config};

/// Minutes in the window.
const MINUTES: usize = 60;

/// One class's ring of minute slots: the minute each slot holds, and its sums.
type Ring = [(i64, QualityLine); MINUTES];

/// Per-class rings of the last hour's signals.
#[derive(Default)]
pub struct QualityWindow {
    rings: Mutex<BTreeMap<TaskClass, Box<Ring>>>,
}

impl QualityWindow {
    /// Adds a finished decision at minute `minute` (since the epoch); refused requests count nowhere.
    pub fn add(&self, record: &DecisionRecord, minute: i64) {
        if record.endpoint == Endpoint::Rejected {
            return;
        }
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        let ring = rings
            .entry(record.effective_class)
            .or_insert_with(|| Box::new([(i64::MIN, QualityLine::default()); MINUTES]));
        let slot = &mut ring[minute.rem_euclid(MINUTES as i64) as usize];
        if slot.0 != minute {
            *slot = (minute, QualityLine::default());
        }
        slot.1.add(&QualityLine::of(record));
    }

    /// Each class's sums over the hour up to minute `now`.
    pub fn window(&self, now: i64) -> Vec<(TaskClass, QualityLine)> {
        let rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        rings
            .iter()
            .map(|(class, ring)| {
                let mut sum = QualityLine::default();
                for (minute, line) in ring.iter() {
                    if *minute > now - MINUTES as i64 && *minute <= now {
                        sum.add(line);
                    }
                }
                (*class, sum)
            })
            .collect()
    }

    /// The objectives of `config` as Prometheus gauges over the hour up to minute `now`.
    pub fn metrics(&self, config: &QualityConfig, now: i64) -> String {
        let checks = evaluate_config(config, &self.window(now));
        let mut out = String::new();
        if checks.is_empty() {
            return out;
        }
        type Value = fn(&SloCheck) -> Option<f64>;
        let gauges: [(&str, &str, Value); 4] = [
            ("target", "The objective of [quality.slo.<class>].", |c| Some(c.target)),
            (
                "observed",
                "What this router's last hour shows (absent: nothing to measure).",
                |c| c.observed,
            ),
            (
                "burn",
                "Observed over allowed: above 1 spends the allowance too fast.",
                |c| c.burn,
            ),
            (
                "breached",
                "1 while the burn is above 1 with enough requests to say.",
                |c| Some(f64::from(u8::from(c.breached))),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP farmhand_quality_slo_{name} {help}\n# TYPE farmhand_quality_slo_{name} gauge"
            );
            for check in &checks {
                if let Some(v) = value(check) {
                    let _ = writeln!(
                        out,
                        "farmhand_quality_slo_{name}{{class=\"{}\",slo=\"{}\"}} {v}",
                        check.class,
                        check.kind.as_str()
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SloConfig;
    use crate::domain::{AnswerQuality, FinishReason};

    fn answered(finish: FinishReason) -> DecisionRecord {
        let mut record: DecisionRecord = serde_json::from_value(serde_json::json!({
            "request_id": "r", "ts": "2026-11-28T10:00:00Z", "agent": "a", "declared_class": "routine",
            "effective_class": "routine", "sensitive": false, "sensitivity_reason": null, "endpoint": "local",
            "provider": "ollama", "node": "mini-01", "model": "m", "est_tokens": 1, "prompt_tokens": 1,
            "completion_tokens": 1, "cost_usd": 0.0, "ttfb_ms": null, "latency_ms": 1, "fallback": "none",
            "policy_version": 1, "status": 200, "error": null
        }))
        .expect("a record");
        record.quality = AnswerQuality {
            finish_reason: Some(finish),
            ..AnswerQuality::default()
        };
        record
    }

    #[test]
    fn the_window_keeps_the_last_hour_only() {
        let window = QualityWindow::default();
        window.add(&answered(FinishReason::Error), 1_000);
        window.add(&answered(FinishReason::Stop), 1_030);
        window.add(&answered(FinishReason::Stop), 1_059);
        let line = |now| window.window(now)[0].1;
        assert_eq!((line(1_059).requests, line(1_059).errors), (3, 1));
        assert_eq!(
            (line(1_060).requests, line(1_060).errors),
            (2, 0),
            "minute 1000 left the window"
        );
        // A slot reused an hour later starts over.
        window.add(&answered(FinishReason::Stop), 1_060);
        assert_eq!(line(1_060).requests, 3);
    }

    #[test]
    fn objectives_become_gauges() {
        let window = QualityWindow::default();
        for i in 0..30 {
            let finish = if i < 3 { FinishReason::Error } else { FinishReason::Stop };
            window.add(&answered(finish), 500);
        }
        let mut config = QualityConfig::default();
        config.slo.insert(
            "routine".into(),
            SloConfig {
                error_rate: Some(0.05),
                ..SloConfig::default()
            },
        );
        let text = window.metrics(&config, 500);
        assert!(
            text.contains("farmhand_quality_slo_target{class=\"routine\",slo=\"error_rate\"} 0.05"),
            "{text}"
        );
        assert!(
            text.contains("farmhand_quality_slo_observed{class=\"routine\",slo=\"error_rate\"} 0.1"),
            "{text}"
        );
        assert!(
            text.contains("farmhand_quality_slo_breached{class=\"routine\",slo=\"error_rate\"} 1"),
            "{text}"
        );
        assert!(window.metrics(&QualityConfig::default(), 500).is_empty());
    }
}
