//! Per-agent request, token and concurrency limits, counted in memory on each router.
//!
//! Minutes are sliding windows, approximated from two fixed one-minute buckets: what the window
//! ending now holds is the current bucket plus the previous bucket weighted by the share of it
//! still inside the window (the sliding-window counter used by most rate limiters; exact when
//! traffic is even, within one bucket's drift otherwise). Requests count when admitted; refused
//! ones do not. Tokens count twice over a request's life: while it is in flight its estimate
//! (estimated input plus `max_tokens`) is held, and when it finishes the estimate is dropped and
//! the tokens it really used join the current bucket. A request is refused when the window's
//! tokens plus those held plus its own estimate would pass `tpm`, unless the agent has nothing in
//! the window and nothing in flight, so that one request larger than the limit is not refused
//! forever. Pure: the clock is passed in (milliseconds).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::router::{AgentLimits, LimitKind};

/// The length of a window, in milliseconds.
const MINUTE_MS: u64 = 60_000;
/// Agents counted at most; an agent past it is counted once another is idle long enough to go.
const MAX_AGENTS: usize = 4096;

/// A request over one of its agent's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refusal {
    /// The limit passed.
    pub kind: LimitKind,
    /// The limit's value (dollars for `daily_usd`).
    pub limit: f64,
    /// Seconds until a retry may pass.
    pub retry_after_secs: u32,
}

/// An admitted request's hold on its agent's counters; give it back with [`Limiter::finish`].
#[derive(Debug, PartialEq)]
pub struct Admission {
    agent: String,
    estimate: u64,
}

/// What one agent uses now on this router.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AgentUsage {
    /// Requests in the last minute.
    pub requests_per_minute: u64,
    /// Tokens in the last minute, in-flight estimates included.
    pub tokens_per_minute: u64,
    /// Requests in flight.
    pub in_flight: u64,
}

/// The counters of every agent that has limits.
#[derive(Debug, Default)]
pub struct Limiter {
    agents: Mutex<HashMap<String, Counters>>,
}

#[derive(Debug, Default, Clone)]
struct Counters {
    /// The minute (`now_ms / MINUTE_MS`) of the current bucket.
    minute: u64,
    requests: [u64; 2],
    tokens: [u64; 2],
    in_flight: u64,
    held_tokens: u64,
}

impl Counters {
    /// Moves the buckets on to the minute of `now_ms`.
    fn roll(&mut self, now_ms: u64) {
        let minute = now_ms / MINUTE_MS;
        if minute == self.minute {
            return;
        }
        if minute == self.minute + 1 {
            self.requests = [self.requests[1], 0];
            self.tokens = [self.tokens[1], 0];
        } else {
            self.requests = [0, 0];
            self.tokens = [0, 0];
        }
        self.minute = minute;
    }

    /// `bucket` of the window ending at `now_ms` (the counters rolled to it).
    fn window(bucket: [u64; 2], now_ms: u64) -> u64 {
        let left_of_previous = MINUTE_MS - now_ms % MINUTE_MS;
        bucket[1] + (bucket[0] * left_of_previous).div_ceil(MINUTE_MS)
    }

    fn usage(&self, now_ms: u64) -> AgentUsage {
        AgentUsage {
            requests_per_minute: Self::window(self.requests, now_ms),
            tokens_per_minute: Self::window(self.tokens, now_ms) + self.held_tokens,
            in_flight: self.in_flight,
        }
    }

    fn idle(&self) -> bool {
        self.in_flight == 0 && self.requests == [0, 0] && self.tokens == [0, 0]
    }
}

impl Limiter {
    /// Admits a request of `agent` estimated at `estimate` tokens under `limits`, or says which
    /// limit it would pass (daily spend is checked apart, against the fleet's spend).
    pub fn admit(&self, agent: &str, limits: &AgentLimits, estimate: u64, now_ms: u64) -> Result<Admission, Refusal> {
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        if !agents.contains_key(agent) && agents.len() >= MAX_AGENTS {
            agents.retain(|_, c| {
                c.roll(now_ms);
                !c.idle()
            });
        }
        let counters = agents.entry(agent.to_string()).or_default();
        counters.roll(now_ms);
        let usage = counters.usage(now_ms);
        let until_next_minute = (MINUTE_MS - now_ms % MINUTE_MS).div_ceil(1000).max(1) as u32;
        if let Some(limit) = limits.max_in_flight
            && usage.in_flight >= limit
        {
            return Err(Refusal {
                kind: LimitKind::MaxInFlight,
                limit: limit as f64,
                retry_after_secs: 1,
            });
        }
        if let Some(limit) = limits.rpm
            && usage.requests_per_minute >= limit
        {
            return Err(Refusal {
                kind: LimitKind::Rpm,
                limit: limit as f64,
                retry_after_secs: until_next_minute,
            });
        }
        if let Some(limit) = limits.tpm
            && usage.tokens_per_minute > 0
            && usage.tokens_per_minute.saturating_add(estimate) > limit
        {
            return Err(Refusal {
                kind: LimitKind::Tpm,
                limit: limit as f64,
                retry_after_secs: until_next_minute,
            });
        }
        counters.requests[1] += 1;
        counters.in_flight += 1;
        counters.held_tokens = counters.held_tokens.saturating_add(estimate);
        Ok(Admission {
            agent: agent.to_string(),
            estimate,
        })
    }

    /// Ends an admitted request that used `tokens` (input and output) in all.
    pub fn finish(&self, admission: Admission, tokens: u64, now_ms: u64) {
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        let Some(counters) = agents.get_mut(&admission.agent) else {
            return;
        };
        counters.roll(now_ms);
        counters.in_flight = counters.in_flight.saturating_sub(1);
        counters.held_tokens = counters.held_tokens.saturating_sub(admission.estimate);
        counters.tokens[1] = counters.tokens[1].saturating_add(tokens);
    }

    /// What every counted agent uses now, by name.
    pub fn usage(&self, now_ms: u64) -> Vec<(String, AgentUsage)> {
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<(String, AgentUsage)> = agents
            .iter_mut()
            .map(|(name, c)| {
                c.roll(now_ms);
                (name.clone(), c.usage(now_ms))
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rpm: Option<u64>, tpm: Option<u64>, max_in_flight: Option<u64>) -> AgentLimits {
        AgentLimits {
            rpm,
            tpm,
            max_in_flight,
            daily_usd: None,
        }
    }

    /// 10:00:00 on some day, in milliseconds, on a minute boundary.
    const T0: u64 = 1_000 * MINUTE_MS;

    #[test]
    fn rpm_refuses_the_request_past_the_limit_until_the_window_slides() {
        let limiter = Limiter::default();
        let rpm = limits(Some(3), None, None);
        for i in 0..3 {
            let held = limiter.admit("a", &rpm, 10, T0 + i * 1000).expect("under the limit");
            limiter.finish(held, 10, T0 + i * 1000 + 10);
        }
        let refused = limiter.admit("a", &rpm, 10, T0 + 20_000).unwrap_err();
        assert_eq!((refused.kind, refused.limit), (LimitKind::Rpm, 3.0));
        assert_eq!(refused.retry_after_secs, 40, "until the bucket rolls");
        assert!(limiter.admit("b", &rpm, 10, T0 + 20_000).is_ok(), "agents are apart");
        // A minute and a half later half of the old bucket is still in the window: 1.5 → 2.
        assert!(limiter.admit("a", &rpm, 10, T0 + 90_000).is_ok());
        assert!(limiter.admit("a", &rpm, 10, T0 + 90_000).is_err(), "2 + 1 reaches 3");
        assert!(
            limiter.admit("a", &rpm, 10, T0 + 200_000).is_ok(),
            "an old window is gone"
        );
    }

    #[test]
    fn tpm_counts_finished_tokens_and_in_flight_estimates() {
        let limiter = Limiter::default();
        let tpm = limits(None, Some(1000), None);
        let first = limiter.admit("a", &tpm, 600, T0).expect("nothing used yet");
        let refused = limiter.admit("a", &tpm, 600, T0).unwrap_err();
        assert_eq!(refused.kind, LimitKind::Tpm, "600 held + 600 > 1000");
        limiter.finish(first, 100, T0 + 5);
        assert_eq!(
            limiter.usage(T0 + 5)[0].1.tokens_per_minute,
            100,
            "the estimate became the usage"
        );
        let second = limiter.admit("a", &tpm, 600, T0 + 10).expect("100 + 600 fits");
        assert_eq!(limiter.usage(T0 + 10)[0].1.tokens_per_minute, 700);
        limiter.finish(second, 950, T0 + 20);
        assert!(limiter.admit("a", &tpm, 1, T0 + 30).is_err(), "1050 used");
        let alone = Limiter::default();
        assert!(
            alone.admit("a", &tpm, 5000, T0).is_ok(),
            "a lone request larger than the limit passes"
        );
    }

    #[test]
    fn in_flight_is_held_until_finished() {
        let limiter = Limiter::default();
        let two = limits(None, None, Some(2));
        let a = limiter.admit("a", &two, 1, T0).unwrap();
        let _b = limiter.admit("a", &two, 1, T0).unwrap();
        let refused = limiter.admit("a", &two, 1, T0).unwrap_err();
        assert_eq!((refused.kind, refused.retry_after_secs), (LimitKind::MaxInFlight, 1));
        assert_eq!(limiter.usage(T0)[0].1.in_flight, 2);
        limiter.finish(a, 1, T0 + 1);
        assert!(limiter.admit("a", &two, 1, T0 + 2).is_ok());
    }

    #[test]
    fn idle_agents_make_room_when_the_table_is_full() {
        let limiter = Limiter::default();
        let any = limits(Some(100), None, None);
        for i in 0..MAX_AGENTS {
            let held = limiter.admit(&format!("agent-{i}"), &any, 0, T0).unwrap();
            limiter.finish(held, 0, T0);
        }
        assert!(limiter.admit("late", &any, 0, T0 + 3 * MINUTE_MS).is_ok());
        assert_eq!(limiter.usage(T0 + 3 * MINUTE_MS).len(), 1);
    }
}
