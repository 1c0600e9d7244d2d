//! Per-node request and token rates over the last minute, from the decision stream (every
//! router's decisions, not just an in-process one). Bounded: at most a minute of buckets per node.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};

/// Seconds of history kept.
pub const RATE_WINDOW: i64 = 60;

/// One second of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    second: i64,
    requests: u64,
    tokens: u64,
}

/// Requests and tokens per second, per node, for the last [`RATE_WINDOW`] seconds.
#[derive(Debug, Clone, Default)]
pub struct NodeRates {
    nodes: HashMap<String, VecDeque<Bucket>>,
}

impl NodeRates {
    /// Counts one finished request of `tokens` tokens on `node` at `ts`.
    pub fn record(&mut self, node: &str, ts: DateTime<Utc>, tokens: u64) {
        let second = ts.timestamp();
        let buckets = self.nodes.entry(node.to_string()).or_default();
        match buckets.back_mut() {
            Some(last) if last.second == second => {
                last.requests += 1;
                last.tokens += tokens;
                return;
            }
            Some(last) if last.second > second => {
                if let Some(b) = buckets.iter_mut().rev().find(|b| b.second == second) {
                    b.requests += 1;
                    b.tokens += tokens;
                }
                return;
            }
            _ => {}
        }
        buckets.push_back(Bucket {
            second,
            requests: 1,
            tokens,
        });
        while buckets.front().is_some_and(|b| b.second <= second - RATE_WINDOW) {
            buckets.pop_front();
        }
    }

    /// Requests and tokens per second of `node`, one value per second, the `seconds` whole
    /// seconds before `now`, oldest first.
    pub fn series(&self, node: &str, now: DateTime<Utc>, seconds: usize) -> (Vec<u64>, Vec<u64>) {
        let end = now.timestamp();
        let mut requests = vec![0; seconds];
        let mut tokens = vec![0; seconds];
        for b in self.nodes.get(node).into_iter().flatten() {
            let age = end - 1 - b.second;
            if (0..seconds as i64).contains(&age) {
                let index = seconds - 1 - age as usize;
                requests[index] = b.requests;
                tokens[index] = b.tokens;
            }
        }
        (requests, tokens)
    }

    /// Mean requests and tokens per second of `node` over the last `seconds` whole seconds.
    pub fn mean(&self, node: &str, now: DateTime<Utc>, seconds: usize) -> (f64, f64) {
        let end = now.timestamp();
        let (mut requests, mut tokens) = (0u64, 0u64);
        for b in self.nodes.get(node).into_iter().flatten() {
            if (0..seconds as i64).contains(&(end - 1 - b.second)) {
                requests += b.requests;
                tokens += b.tokens;
            }
        }
        let n = seconds.max(1) as f64;
        (requests as f64 / n, tokens as f64 / n)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn rates_bucket_by_second_and_forget_old_ones() {
        let t0: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().expect("time");
        let mut rates = NodeRates::default();
        rates.record("a", t0, 10);
        rates.record("a", t0 + TimeDelta::milliseconds(500), 5);
        rates.record("a", t0 + TimeDelta::seconds(2), 7);
        rates.record("a", t0 + TimeDelta::milliseconds(200), 1);
        let (req, tok) = rates.series("a", t0 + TimeDelta::seconds(3), 4);
        assert_eq!(req, [0, 3, 0, 1]);
        assert_eq!(tok, [0, 16, 0, 7]);
        assert_eq!(rates.mean("a", t0 + TimeDelta::seconds(3), 4), (1.0, 23.0 / 4.0));
        rates.record("a", t0 + TimeDelta::seconds(200), 1);
        assert_eq!(rates.nodes["a"].len(), 1, "older than a minute is dropped");
        assert_eq!(rates.series("b", t0, 3), (vec![0; 3], vec![0; 3]));
    }
}
