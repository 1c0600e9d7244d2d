//! Turning quality and money into policy suggestions for leads: rules only, stated here and in
//! the README. A class's frontier requests under a token threshold are suggested for the farm
//! (`class.<class>.local_under_tokens`) when their local twins agree with the frontier answers
//! (at least [`MIN_SAMPLES`] samples, the 95 % interval's low end at least [`AGREEMENT_FLOOR`]),
//! the class's local route breaches no objective, and the move saves at least
//! [`MIN_SAVINGS_PER_DAY`]. The largest threshold that passes is suggested. Never for sensitive
//! work, which is always local.

use serde::Serialize;

use super::AgreementRow;
use crate::domain::{TaskClass, grouped};

/// Thresholds tried, largest first.
pub const THRESHOLDS: [u64; 4] = [8_000, 4_000, 2_000, 1_000];
/// Fewest agreement samples a suggestion rests on.
pub const MIN_SAMPLES: i64 = 30;
/// Lowest acceptable low end of the agreement's 95 % interval.
pub const AGREEMENT_FLOOR: f64 = 0.85;
/// Smallest saving worth a suggestion, USD per day.
pub const MIN_SAVINGS_PER_DAY: f64 = 0.50;

/// What moving a class's frontier requests under a token threshold to the farm would rest on:
/// their shadow agreement with local twins, and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdEvidence {
    /// The effective task class.
    pub class: TaskClass,
    /// Agents' frontier requests under the threshold in the window.
    pub requests: i64,
    /// Their frontier cost in the window, USD.
    pub cost_usd: f64,
    /// Agreement of their local twins.
    pub agreement: Option<AgreementRow>,
}

/// One suggested policy change, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The class it concerns.
    pub class: TaskClass,
    /// The override key to set.
    pub key: String,
    /// Its value.
    pub value: String,
    /// The token threshold.
    pub under_tokens: u64,
    /// Frontier requests under the threshold in the window.
    pub requests: i64,
    /// Agreement samples, mean and 95 % interval.
    pub samples: i64,
    /// Mean agreement of the local twins.
    pub agreement: f64,
    /// Low end of its 95 % interval.
    pub agreement_low: f64,
    /// High end of its 95 % interval.
    pub agreement_high: f64,
    /// What the move saves, USD per day (positive) or costs (negative).
    pub usd_per_day: f64,
    /// The suggestion in one sentence.
    pub summary: String,
}

/// The suggestions the evidence supports: `evidence` holds each threshold's per-class evidence
/// over a window of `days`; `local_breach(class)` says whether the class's local route breaches
/// an objective.
pub fn recommend(
    evidence: &[(u64, Vec<ThresholdEvidence>)],
    days: f64,
    local_breach: impl Fn(TaskClass) -> bool,
) -> Vec<Recommendation> {
    let days = days.max(1.0 / 24.0);
    let mut out = Vec::new();
    for class in [TaskClass::Routine, TaskClass::Reasoning, TaskClass::Orchestration] {
        if local_breach(class) {
            continue;
        }
        let mut thresholds: Vec<&(u64, Vec<ThresholdEvidence>)> = evidence.iter().collect();
        thresholds.sort_by_key(|(under, _)| std::cmp::Reverse(*under));
        for (under, rows) in thresholds {
            let Some(row) = rows.iter().find(|r| r.class == class) else {
                continue;
            };
            let Some(agreement) = &row.agreement else {
                continue;
            };
            let (low, high) = agreement.interval();
            let per_day = row.cost_usd / days;
            if agreement.n < MIN_SAMPLES || low < AGREEMENT_FLOOR || per_day < MIN_SAVINGS_PER_DAY {
                continue;
            }
            out.push(Recommendation {
                class,
                key: format!("class.{class}.local_under_tokens"),
                value: under.to_string(),
                under_tokens: *under,
                requests: row.requests,
                samples: agreement.n,
                agreement: agreement.mean,
                agreement_low: low,
                agreement_high: high,
                usd_per_day: per_day,
                summary: format!(
                    "{class} requests under {} estimated tokens: local agreement {:.2} (n = {}, 95 % CI {low:.2}–{high:.2}) and no SLO breach; moving them local saves about ${per_day:.2}/day",
                    grouped(i64::try_from(*under).unwrap_or(i64::MAX)),
                    agreement.mean,
                    agreement.n
                ),
            });
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(class: TaskClass, requests: i64, cost: f64, n: i64, mean: f64, spread: f64) -> ThresholdEvidence {
        ThresholdEvidence {
            class,
            requests,
            cost_usd: cost,
            agreement: Some(AgreementRow {
                class,
                route: "frontier".into(),
                n,
                mean,
                mean_square: mean * mean + spread,
            }),
        }
    }

    #[test]
    fn the_largest_threshold_that_passes_every_rule_is_suggested() {
        let evidence = vec![
            (4_000, vec![evidence(TaskClass::Reasoning, 900, 70.0, 500, 0.80, 0.01)]),
            (2_000, vec![evidence(TaskClass::Reasoning, 412, 21.7, 412, 0.93, 0.005)]),
            (1_000, vec![evidence(TaskClass::Reasoning, 200, 9.0, 200, 0.95, 0.005)]),
        ];
        let out = recommend(&evidence, 7.0, |_| false);
        assert_eq!(out.len(), 1, "{out:?}");
        let r = &out[0];
        assert_eq!(
            (r.key.as_str(), r.value.as_str()),
            ("class.reasoning.local_under_tokens", "2000")
        );
        assert!((r.usd_per_day - 3.1).abs() < 1e-9);
        assert!(r.agreement_low >= AGREEMENT_FLOOR && r.agreement_high <= 1.0);
        assert!(
            r.summary
                .starts_with("reasoning requests under 2,000 estimated tokens: local agreement 0.93 (n = 412, 95 % CI"),
            "{}",
            r.summary
        );
        assert!(r.summary.ends_with("saves about $3.10/day"), "{}", r.summary);
    }

    #[test]
    fn thin_evidence_a_breach_or_small_savings_suggest_nothing() {
        let few = vec![(2_000, vec![evidence(TaskClass::Routine, 20, 30.0, 20, 0.99, 0.0)])];
        assert!(recommend(&few, 7.0, |_| false).is_empty(), "20 samples are too few");
        let cheap = vec![(2_000, vec![evidence(TaskClass::Routine, 400, 1.0, 400, 0.99, 0.0)])];
        assert!(
            recommend(&cheap, 7.0, |_| false).is_empty(),
            "$0.14/day is not worth it"
        );
        let good = vec![(2_000, vec![evidence(TaskClass::Routine, 400, 40.0, 400, 0.99, 0.0)])];
        assert!(
            recommend(&good, 7.0, |c| c == TaskClass::Routine).is_empty(),
            "the local route breaches"
        );
        assert_eq!(recommend(&good, 7.0, |_| false).len(), 1);
    }

    #[test]
    fn sensitive_work_is_never_suggested() {
        let sensitive = vec![(2_000, vec![evidence(TaskClass::Sensitive, 400, 40.0, 400, 0.99, 0.0)])];
        assert!(recommend(&sensitive, 7.0, |_| false).is_empty());
    }
}
