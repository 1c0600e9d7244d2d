//! The hourly quality rollup: one line per hour, task class and route, summed from decisions.
//! SQLite sums here; PostgreSQL sums the same way in SQL (`store::postgres`), and the store tests
//! hold both to these definitions.

use crate::domain::{DecisionRecord, Endpoint, FinishReason};

/// Upper bounds (milliseconds) of the time-to-first-token histogram; a last bucket holds the rest.
pub const TTFT_BUCKETS_MS: [i64; 8] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];

/// The route a decision's quality is counted under: `local/<model>` (whichever node served it) or
/// `frontier/<provider>/<model>`; `None` for a request that no route served or tried.
pub fn quality_route(endpoint: Endpoint, provider: Option<&str>, model: Option<&str>) -> Option<String> {
    let model = model.unwrap_or_default();
    match endpoint {
        Endpoint::Local => Some(["local/", model].concat()),
        Endpoint::Frontier => Some(["frontier/", provider.unwrap_or_default(), "/", model].concat()),
        Endpoint::Rejected => None,
    }
}

/// The sums of one rollup line.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct QualityLine {
    /// Decisions served (or tried) by the route.
    pub requests: i64,
    /// Answers that ended in an upstream error.
    pub errors: i64,
    /// Answers cut at `max_tokens`.
    pub truncated: i64,
    /// Answers with neither text nor tool calls.
    pub empty: i64,
    /// Answers judged for JSON validity.
    pub json_checked: i64,
    /// Of those, the valid ones.
    pub json_valid: i64,
    /// Streamed answers with a time to first token.
    pub ttft_count: i64,
    /// Their summed time to first token.
    pub ttft_sum_ms: i64,
    /// Their histogram over [`TTFT_BUCKETS_MS`] and the overflow bucket.
    pub ttft_buckets: [i64; TTFT_BUCKETS_MS.len() + 1],
    /// Answers with a generation speed.
    pub tps_count: i64,
    /// Their summed tokens per second.
    pub tps_sum: f64,
    /// Summed time queued for a slot.
    pub queued_sum_ms: i64,
}

impl QualityLine {
    /// The line of one decision.
    pub fn of(decision: &DecisionRecord) -> QualityLine {
        let q = &decision.quality;
        let mut line = QualityLine {
            requests: 1,
            errors: i64::from(q.finish_reason == Some(FinishReason::Error)),
            truncated: i64::from(q.finish_reason == Some(FinishReason::Length)),
            empty: i64::from(q.empty_answer == Some(true)),
            json_checked: i64::from(q.json_valid.is_some()),
            json_valid: i64::from(q.json_valid == Some(true)),
            queued_sum_ms: q.queued_ms,
            ..QualityLine::default()
        };
        if let Some(ttft) = q.ttft_ms {
            line.ttft_count = 1;
            line.ttft_sum_ms = ttft;
            line.ttft_buckets[ttft_bucket(ttft)] = 1;
        }
        if let Some(tps) = q.tokens_per_sec {
            line.tps_count = 1;
            line.tps_sum = tps;
        }
        line
    }

    /// Adds `other` into this line.
    pub fn add(&mut self, other: &QualityLine) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.truncated += other.truncated;
        self.empty += other.empty;
        self.json_checked += other.json_checked;
        self.json_valid += other.json_valid;
        self.ttft_count += other.ttft_count;
        self.ttft_sum_ms += other.ttft_sum_ms;
        for (sum, n) in self.ttft_buckets.iter_mut().zip(other.ttft_buckets) {
            *sum += n;
        }
        self.tps_count += other.tps_count;
        self.tps_sum += other.tps_sum;
        self.queued_sum_ms += other.queued_sum_ms;
    }

    /// The time to first token below which a fraction `q` of answers came, read from the
    /// histogram: linear within the bucket it falls in (`None` without samples; in the overflow
    /// bucket, the last bound).
    pub fn ttft_quantile_ms(&self, q: f64) -> Option<f64> {
        if self.ttft_count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * self.ttft_count as f64;
        let mut below = 0.0;
        for (i, &n) in self.ttft_buckets.iter().enumerate() {
            let n = n as f64;
            if n > 0.0 && below + n >= rank {
                let Some(&upper) = TTFT_BUCKETS_MS.get(i) else {
                    break;
                };
                let lower = if i == 0 { 0.0 } else { TTFT_BUCKETS_MS[i - 1] as f64 };
                return Some(lower + (upper as f64 - lower) * ((rank - below) / n).clamp(0.0, 1.0));
            }
            below += n;
        }
        TTFT_BUCKETS_MS.last().map(|&b| b as f64)
    }
}

/// The histogram bucket of a time to first token.
fn ttft_bucket(ttft_ms: i64) -> usize {
    TTFT_BUCKETS_MS
        .iter()
        .position(|&bound| ttft_ms <= bound)
        .unwrap_or(TTFT_BUCKETS_MS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_the_model_not_the_node() {
        assert_eq!(
            quality_route(Endpoint::Local, Some("ollama"), Some("qwen3:14b")).as_deref(),
            Some("local/qwen3:14b")
        );
        assert_eq!(
            quality_route(Endpoint::Frontier, Some("anthropic"), Some("claude-sonnet-4-6")).as_deref(),
            Some("frontier/anthropic/claude-sonnet-4-6")
        );
        assert_eq!(quality_route(Endpoint::Rejected, None, None), None);
    }

    #[test]
    fn buckets_hold_their_upper_bound() {
        assert_eq!(ttft_bucket(0), 0);
        assert_eq!(ttft_bucket(100), 0);
        assert_eq!(ttft_bucket(101), 1);
        assert_eq!(ttft_bucket(30_000), 7);
        assert_eq!(ttft_bucket(30_001), 8);
    }

    #[test]
    fn quantiles_read_the_histogram() {
        let mut line = QualityLine::default();
        for ttft in [50, 60, 70, 200, 400, 900, 2_000, 4_000, 8_000, 40_000] {
            let mut one = QualityLine {
                ttft_count: 1,
                ttft_sum_ms: ttft,
                ..QualityLine::default()
            };
            one.ttft_buckets[ttft_bucket(ttft)] = 1;
            line.add(&one);
        }
        // Ranks 3 of 10 (the third sample, in the first bucket) and 5 (the second of two in 250–500).
        assert_eq!(line.ttft_quantile_ms(0.3), Some(100.0));
        assert_eq!(line.ttft_quantile_ms(0.5), Some(500.0));
        assert_eq!(
            line.ttft_quantile_ms(0.45),
            Some(375.0),
            "halfway through the 250–500 bucket"
        );
        assert_eq!(
            line.ttft_quantile_ms(0.95),
            Some(30_000.0),
            "the overflow bucket reads as the last bound"
        );
        assert_eq!(QualityLine::default().ttft_quantile_ms(0.5), None);
    }
}
