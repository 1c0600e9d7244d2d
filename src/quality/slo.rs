//! Service-level objectives per task class, judged against a window of quality signals. The burn
//! of an objective is how fast it spends its error allowance: 1 is exactly at the objective, above
//! 1 is a breach (once the window holds enough requests to say).

use serde::Serialize;

use super::QualityLine;
use crate::config::{QualityConfig, SloConfig};
use crate::domain::TaskClass;

/// One objective a class can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SloKind {
    /// p95 time to first token (streamed answers), at most the target in milliseconds.
    TtftP95Ms,
    /// Share of upstream errors, at most the target.
    ErrorRate,
    /// Share of truncated answers, at most the target.
    TruncationRate,
    /// Share of valid JSON answers, at least the target.
    JsonValidRate,
}

impl SloKind {
    /// The key's name in `[quality.slo.<class>]` and the Prometheus label.
    pub fn as_str(self) -> &'static str {
        match self {
            SloKind::TtftP95Ms => "ttft_p95_ms",
            SloKind::ErrorRate => "error_rate",
            SloKind::TruncationRate => "truncation_rate",
            SloKind::JsonValidRate => "json_valid_rate",
        }
    }
}

/// How one objective of one class stands over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SloCheck {
    /// The class.
    pub class: TaskClass,
    /// The objective.
    pub kind: SloKind,
    /// Its target.
    pub target: f64,
    /// What the window shows (`None`: nothing to measure).
    pub observed: Option<f64>,
    /// Observed over allowed (`None`: nothing to measure).
    pub burn: Option<f64>,
    /// Requests the observation rests on.
    pub samples: i64,
    /// Burn above 1 with at least the minimum of samples.
    pub breached: bool,
}

/// Judges `class`'s objectives `slo` against the signals of `window`; a breach needs at least
/// `min_samples` samples.
pub fn evaluate(class: TaskClass, slo: &SloConfig, window: &QualityLine, min_samples: u64) -> Vec<SloCheck> {
    let share = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    let mut checks = Vec::new();
    let mut push = |kind: SloKind, target: f64, observed: Option<f64>, burn: Option<f64>, samples: i64| {
        let enough = u64::try_from(samples).unwrap_or(0) >= min_samples.max(1);
        checks.push(SloCheck {
            class,
            kind,
            target,
            observed,
            burn,
            samples,
            breached: enough && burn.is_some_and(|b| b > 1.0),
        });
    };
    if let Some(target) = slo.ttft_p95_ms {
        let observed = window.ttft_quantile_ms(0.95);
        let burn = observed.map(|p95| p95 / target as f64);
        push(SloKind::TtftP95Ms, target as f64, observed, burn, window.ttft_count);
    }
    if let Some(target) = slo.error_rate {
        let observed = share(window.errors, window.requests);
        push(
            SloKind::ErrorRate,
            target,
            observed,
            observed.map(|o| o / target),
            window.requests,
        );
    }
    if let Some(target) = slo.truncation_rate {
        let observed = share(window.truncated, window.requests);
        push(
            SloKind::TruncationRate,
            target,
            observed,
            observed.map(|o| o / target),
            window.requests,
        );
    }
    if let Some(target) = slo.json_valid_rate {
        let observed = share(window.json_valid, window.json_checked);
        let burn = observed.map(|o| (1.0 - o) / (1.0 - target));
        push(SloKind::JsonValidRate, target, observed, burn, window.json_checked);
    }
    checks
}

/// Judges every class with objectives in `config` against its window in `windows` (a class
/// missing there had no requests).
pub fn evaluate_config(config: &QualityConfig, windows: &[(TaskClass, QualityLine)]) -> Vec<SloCheck> {
    let mut checks = Vec::new();
    for (name, slo) in &config.slo {
        let Ok(class) = name.parse::<TaskClass>() else {
            continue;
        };
        let mut window = QualityLine::default();
        for (_, line) in windows.iter().filter(|(c, _)| *c == class) {
            window.add(line);
        }
        checks.extend(evaluate(class, slo, &window, config.slo_min_requests));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(requests: i64, errors: i64, truncated: i64, json: (i64, i64)) -> QualityLine {
        QualityLine {
            requests,
            errors,
            truncated,
            json_checked: json.0,
            json_valid: json.1,
            ..QualityLine::default()
        }
    }

    #[test]
    fn burn_is_observed_over_allowed() {
        let slo = SloConfig {
            error_rate: Some(0.02),
            truncation_rate: Some(0.10),
            json_valid_rate: Some(0.95),
            ttft_p95_ms: None,
        };
        let checks = evaluate(TaskClass::Routine, &slo, &window(100, 4, 5, (50, 45)), 20);
        let burn = |kind| checks.iter().find(|c| c.kind == kind).expect("checked");
        let error = burn(SloKind::ErrorRate);
        assert_eq!((error.observed, error.breached), (Some(0.04), true));
        assert!((error.burn.expect("burn") - 2.0).abs() < 1e-9);
        let truncation = burn(SloKind::TruncationRate);
        assert!((truncation.burn.expect("burn") - 0.5).abs() < 1e-9);
        assert!(!truncation.breached);
        let json = burn(SloKind::JsonValidRate);
        assert!(
            (json.burn.expect("burn") - 2.0).abs() < 1e-9,
            "10 % invalid against 5 % allowed"
        );
        assert!(json.breached);
    }

    #[test]
    fn a_thin_window_never_breaches() {
        let slo = SloConfig {
            error_rate: Some(0.01),
            ..SloConfig::default()
        };
        let checks = evaluate(TaskClass::Reasoning, &slo, &window(5, 5, 0, (0, 0)), 20);
        assert_eq!(checks[0].burn, Some(100.0));
        assert!(!checks[0].breached, "5 requests are not enough to say");
    }

    #[test]
    fn nothing_to_measure_is_no_breach() {
        let slo = SloConfig {
            json_valid_rate: Some(0.9),
            ttft_p95_ms: Some(800),
            ..SloConfig::default()
        };
        let checks = evaluate(TaskClass::Routine, &slo, &window(100, 0, 0, (0, 0)), 20);
        assert!(checks.iter().all(|c| c.observed.is_none() && !c.breached), "{checks:?}");
    }
}
