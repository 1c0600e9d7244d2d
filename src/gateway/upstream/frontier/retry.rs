//! When to retry a frontier call on the same provider, and after how long.
//!
//! Modelled on the official SDKs (2 retries; 408/409/429/≥500 and transport failures; the
//! server's `retry-after`, else exponential back-off with jitter), but tighter: the router holds
//! an agent's request while it waits, so a server delay above [`MAX_SERVER_DELAY`] is not waited
//! out — the gateway falls back to its next plan step instead.

use std::time::Duration;

use crate::gateway::upstream::UpstreamError;

/// Retries after the first attempt.
pub const MAX_RETRIES: u32 = 2;
/// The longest server-requested delay the router waits out.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(10);
/// The first back-off step; it doubles per retry.
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// The longest back-off step.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// The largest share of a back-off step that jitter removes.
const JITTER: f64 = 0.25;

/// The wait before retrying after `err` on failed attempt `attempt` (0 for the first), or `None`
/// to give up. A 429 `insufficient_quota` is never retried: it is billing, not load.
pub fn retry_delay(err: &UpstreamError, attempt: u32) -> Option<Duration> {
    delay_with_jitter(err, attempt, rand::random::<f64>())
}

/// [`retry_delay`] with the random draw `jitter` in `[0, 1)` given, so the policy is testable.
fn delay_with_jitter(err: &UpstreamError, attempt: u32, jitter: f64) -> Option<Duration> {
    if attempt >= MAX_RETRIES || !err.is_retryable() || is_insufficient_quota(err) {
        return None;
    }
    match err.retry_after {
        Some(wait) if wait > MAX_SERVER_DELAY => None,
        Some(wait) if !wait.is_zero() => Some(wait),
        _ => Some(backoff(attempt, jitter)),
    }
}

/// `min(0.5 s × 2^attempt, 4 s)`, less up to 25 % jitter.
fn backoff(attempt: u32, jitter: f64) -> Duration {
    let step = BASE_BACKOFF.saturating_mul(1 << attempt.min(16)).min(MAX_BACKOFF);
    step.mul_f64(1.0 - JITTER * jitter.clamp(0.0, 1.0))
}

/// OpenAI's 429 for an exhausted quota; the adapters name the error type after the status.
fn is_insufficient_quota(err: &UpstreamError) -> bool {
    err.status == Some(429) && err.message.contains(" insufficient_quota:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: Option<u16>, retry_after: Option<Duration>, message: &str) -> UpstreamError {
        match status {
            Some(status) => UpstreamError::status(status, retry_after, message),
            None => UpstreamError::transport(message),
        }
    }

    #[test]
    fn backs_off_exponentially_up_to_two_retries() {
        let e = err(Some(500), None, "openai 500 server_error: boom");
        assert_eq!(delay_with_jitter(&e, 0, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(delay_with_jitter(&e, 1, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(delay_with_jitter(&e, 2, 0.0), None);
        assert_eq!(
            delay_with_jitter(&e, 1, 1.0),
            Some(Duration::from_millis(750)),
            "jitter takes at most 25 %"
        );
    }

    #[test]
    fn back_off_is_capped_at_four_seconds() {
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(4, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(40, 1.0), Duration::from_secs(3));
        assert!(
            delay_with_jitter(&err(None, None, "timed out"), 0, 0.0).is_some(),
            "transport failures are retried"
        );
    }

    #[test]
    fn honours_short_server_delays_and_falls_back_on_long_ones() {
        let wait = |secs: f64| {
            err(
                Some(429),
                Some(Duration::from_secs_f64(secs)),
                "anthropic 429 rate_limit_error: slow down",
            )
        };
        assert_eq!(delay_with_jitter(&wait(1.0), 0, 0.9), Some(Duration::from_secs(1)));
        assert_eq!(delay_with_jitter(&wait(10.0), 1, 0.9), Some(Duration::from_secs(10)));
        assert_eq!(delay_with_jitter(&wait(10.5), 0, 0.0), None);
        assert_eq!(
            delay_with_jitter(&wait(0.0), 0, 0.0),
            Some(Duration::from_millis(500)),
            "zero means back off"
        );
    }

    #[test]
    fn client_errors_and_exhausted_quota_are_final() {
        assert_eq!(
            delay_with_jitter(&err(Some(400), None, "openai 400 invalid_request_error: bad"), 0, 0.0),
            None
        );
        assert_eq!(
            delay_with_jitter(&err(Some(401), None, "anthropic 401 authentication_error: key"), 0, 0.0),
            None
        );
        let quota = err(
            Some(429),
            Some(Duration::from_secs(1)),
            "openai 429 insufficient_quota: check your plan",
        );
        assert_eq!(delay_with_jitter(&quota, 0, 0.0), None);
        let rate = err(Some(429), None, "openai 429 requests: Rate limit reached");
        assert!(delay_with_jitter(&rate, 0, 0.0).is_some());
        for status in [408, 409, 502, 503, 529] {
            assert!(
                delay_with_jitter(&err(Some(status), None, "x"), 0, 0.0).is_some(),
                "{status}"
            );
        }
    }

    #[test]
    fn random_jitter_stays_in_bounds() {
        let e = err(Some(529), None, "anthropic 529 overloaded_error: Overloaded");
        for _ in 0..200 {
            let wait = retry_delay(&e, 1).unwrap();
            assert!(
                wait > Duration::from_millis(749) && wait <= Duration::from_secs(1),
                "{wait:?}"
            );
        }
    }
}
