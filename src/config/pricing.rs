//! Frontier prices per million tokens, keyed by model prefix and effective date.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Prices in USD per million tokens for models whose id starts with `model`, from `effective`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceRow {
    /// Model id prefix, e.g. `claude-sonnet-4-6` (matches dated snapshots too).
    pub model: String,
    /// First UTC day these prices apply (a TOML date, `2026-01-01`, or the same as a string).
    #[serde(deserialize_with = "toml_date")]
    pub effective: NaiveDate,
    /// Uncached input.
    pub input: f64,
    /// Cache writes with a 5-minute TTL (OpenAI: unused).
    #[serde(default)]
    pub cache_write_5m: f64,
    /// Cache writes with a 1-hour TTL.
    #[serde(default)]
    pub cache_write_1h: f64,
    /// Cache reads (OpenAI: cached input).
    #[serde(default)]
    pub cache_read: f64,
    /// Output, thinking included.
    pub output: f64,
}

/// Reads a TOML date (`2026-01-01`) or a `YYYY-MM-DD` string.
fn toml_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let invalid = || serde::de::Error::custom("expected a date such as 2026-01-01");
    match Raw::deserialize(d)? {
        Raw::Toml(dt) => match (dt.date, dt.time) {
            (Some(date), None) => {
                NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
                    .ok_or_else(invalid)
            }
            _ => Err(invalid()),
        },
        Raw::Text(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| invalid()),
    }
}

/// Token counts normalised across providers (see the frontier reference, §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Input tokens not read from a cache.
    pub uncached_in: u64,
    /// Input tokens written to a 5-minute cache.
    pub cache_write_5m: u64,
    /// Input tokens written to a 1-hour cache.
    pub cache_write_1h: u64,
    /// Input tokens read from a cache.
    pub cache_read: u64,
    /// Output tokens.
    pub out: u64,
}

impl TokenUsage {
    /// All input tokens, cached or not; saturates rather than overflow on a provider's absurd counts.
    pub fn input_total(&self) -> u64 {
        self.uncached_in
            .saturating_add(self.cache_write_5m)
            .saturating_add(self.cache_write_1h)
            .saturating_add(self.cache_read)
    }
}

impl PriceRow {
    /// The cost in USD of `usage` at these prices.
    pub fn cost(&self, usage: &TokenUsage) -> f64 {
        (usage.uncached_in as f64 * self.input
            + usage.cache_write_5m as f64 * self.cache_write_5m
            + usage.cache_write_1h as f64 * self.cache_write_1h
            + usage.cache_read as f64 * self.cache_read
            + usage.out as f64 * self.output)
            / 1e6
    }

    pub(super) fn negative_field(&self) -> Option<&'static str> {
        [
            ("input", self.input),
            ("cache_write_5m", self.cache_write_5m),
            ("cache_write_1h", self.cache_write_1h),
            ("cache_read", self.cache_read),
            ("output", self.output),
        ]
        .into_iter()
        .find(|(_, v)| !(*v >= 0.0 && v.is_finite()))
        .map(|(name, _)| name)
    }
}

/// Longest prefix wins; among rows for that prefix, the latest one in effect on `day`.
pub(super) fn lookup<'a>(rows: &'a [PriceRow], model: &str, day: NaiveDate) -> Option<&'a PriceRow> {
    rows.iter()
        .filter(|r| model.starts_with(&r.model) && r.effective <= day)
        .max_by(|a, b| a.model.len().cmp(&b.model.len()).then(a.effective.cmp(&b.effective)))
}

/// The embedded price table (USD per million tokens, as published in 2026).
pub(super) fn default_prices() -> Vec<PriceRow> {
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("embedded dates are valid");
    let row = |model: &str, effective: &str, input, w5, w1, read, output| PriceRow {
        model: model.into(),
        effective: day(effective),
        input,
        cache_write_5m: w5,
        cache_write_1h: w1,
        cache_read: read,
        output,
    };
    vec![
        row("claude-opus-4-7", "2026-01-01", 5.0, 6.25, 10.0, 0.50, 25.0),
        row("claude-sonnet-4-6", "2026-01-01", 3.0, 3.75, 6.0, 0.30, 15.0),
        row("claude-haiku-4-5", "2025-10-01", 1.0, 1.25, 2.0, 0.10, 5.0),
        row("gpt-5.5", "2026-06-01", 5.0, 0.0, 0.0, 0.50, 30.0),
        row("gpt-5.4", "2026-03-01", 2.5, 0.0, 0.0, 0.25, 15.0),
        row("gpt-5.4-mini", "2026-03-01", 0.75, 0.0, 0.0, 0.075, 4.5),
        row("gpt-5.4-nano", "2026-03-01", 0.20, 0.0, 0.0, 0.02, 1.25),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_and_latest_effective_date_win() {
        let rows = default_prices();
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(
            lookup(&rows, "gpt-5.4-mini-2026-03-17", today).unwrap().model,
            "gpt-5.4-mini"
        );
        assert_eq!(lookup(&rows, "gpt-5.4-2026-03-05", today).unwrap().model, "gpt-5.4");
        assert!(lookup(&rows, "llama3.1:8b", today).is_none());
        let before = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert!(lookup(&rows, "claude-sonnet-4-6", before).is_none());
    }

    #[test]
    fn input_total_saturates() {
        let usage = TokenUsage {
            uncached_in: u64::MAX,
            cache_read: 1,
            ..TokenUsage::default()
        };
        assert_eq!(usage.input_total(), u64::MAX);
    }

    #[test]
    fn cost_uses_every_rate() {
        let row = &default_prices()[1];
        let usage = TokenUsage {
            uncached_in: 1_000_000,
            cache_write_5m: 0,
            cache_write_1h: 0,
            cache_read: 1_000_000,
            out: 1_000_000,
        };
        assert!((row.cost(&usage) - (3.0 + 0.30 + 15.0)).abs() < 1e-9);
    }
}
