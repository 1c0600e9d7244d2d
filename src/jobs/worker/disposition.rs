//! What a job attempt's answer means for the job: pure, from the status and the error code.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// What happens to a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// It succeeded: the answer goes to the output file.
    Done,
    /// It failed for good (the request is at fault): the answer goes to the error file.
    Permanent,
    /// It may succeed later (node down, 503, 429, 5xx, timeout): retried after a back-off while
    /// attempts are left.
    Retryable,
    /// Nothing it may use was free: it goes back to the queue, the attempt not counted.
    NoSlot,
    /// Today's frontier budget is spent: it waits for the next UTC day, the attempt not counted.
    BudgetSpent,
}

/// The disposition of an answer with HTTP `status` and OpenAI error `code`.
pub fn classify(status: u16, code: Option<&str>) -> Disposition {
    match (status, code) {
        (200..=299, _) => Disposition::Done,
        (_, Some(crate::gateway::NO_BATCH_CAPACITY)) => Disposition::NoSlot,
        (_, Some("budget_exhausted")) => Disposition::BudgetSpent,
        (408 | 409 | 429, _) | (500..=599, _) => Disposition::Retryable,
        _ => Disposition::Permanent,
    }
}

/// First back-off before a retry; it doubles with each attempt up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// The longest back-off.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The wait before the retry that follows attempt `attempt` (1-based): exponential, with jitter
/// over its upper half so that jobs failed together do not come back together.
pub fn backoff(attempt: i32, rng: &mut impl Rng) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(16);
    let ceiling = BACKOFF_FIRST.saturating_mul(1 << doublings).min(BACKOFF_MAX);
    let half = ceiling / 2;
    half + Duration::from_millis(rng.random_range(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX)))
}

/// The start of the UTC day after `now`: when a spent budget opens again.
pub fn next_utc_day(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_into_done_retry_and_final() {
        assert_eq!(classify(200, None), Disposition::Done);
        assert_eq!(classify(400, Some("invalid_json")), Disposition::Permanent);
        assert_eq!(classify(404, None), Disposition::Permanent);
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(classify(status, Some("upstream_failed")), Disposition::Retryable);
        }
        assert_eq!(classify(503, Some("no_batch_capacity")), Disposition::NoSlot);
        assert_eq!(classify(503, Some("budget_exhausted")), Disposition::BudgetSpent);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let mut rng = rand::rng();
        for attempt in 1..=30 {
            let ceiling = BACKOFF_FIRST
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(BACKOFF_MAX);
            for _ in 0..50 {
                let wait = backoff(attempt, &mut rng);
                assert!(wait >= ceiling / 2 && wait <= ceiling, "attempt {attempt}: {wait:?}");
            }
        }
    }

    #[test]
    fn the_budget_opens_at_the_next_utc_midnight() {
        let now = "2026-11-27T19:30:00Z".parse::<DateTime<Utc>>().expect("a time");
        assert_eq!(next_utc_day(now).to_rfc3339(), "2026-11-28T00:00:00+00:00");
    }
}
