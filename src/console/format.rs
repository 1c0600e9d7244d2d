//! Short renderings of sizes, ages and bars for narrow table cells.

use chrono::{DateTime, Utc};

pub use crate::ops::format::{duration, tokens, usd};

/// Bytes as `812M` or `18.2G` (binary units).
pub fn bytes(value: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let v = value as f64;
    if v >= GIB {
        format!("{:.1}G", v / GIB)
    } else {
        format!("{:.0}M", v / MIB)
    }
}

/// Time from `now` until `then` as `4m12s`, `38s` or `1h05m`; `now` when past.
pub fn until(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (then - now).num_seconds();
    if secs <= 0 {
        return "now".into();
    }
    duration(secs)
}

/// Time since `then` as `3s ago`.
pub fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    format!("{} ago", elapsed(now, then))
}

/// Time since `then` as `41s`, `2m05s` or `1h05m`.
pub fn elapsed(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    duration((now - then).num_seconds().max(0))
}

/// Whole seconds from `now` until `then`, rounded up (a countdown that reaches 0 only when due).
pub fn seconds_until(now: DateTime<Utc>, then: DateTime<Utc>) -> i64 {
    let millis = (then - now).num_milliseconds().max(0);
    (millis + 999) / 1000
}

/// A bar of `width` cells, filled in proportion to `used / total`.
pub fn bar(used: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        ((used.min(total) as f64 / total as f64) * width as f64).round() as usize
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled.min(width)))
}

/// A text sparkline of `series` (▁ to █), `width` cells per value, scaled to its maximum;
/// zero is a blank-looking `▁` dimmed by the caller's style, so gaps still read as time.
pub fn sparkline(series: &[u64], width: usize) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = series.iter().copied().max().unwrap_or(0);
    let mut out = String::with_capacity(series.len() * width * 3);
    for &value in series {
        let level = if max == 0 || value == 0 {
            0
        } else {
            ((value as f64 / max as f64) * 7.0).round().clamp(1.0, 7.0) as usize
        };
        for _ in 0..width {
            out.push(LEVELS[level]);
        }
    }
    out
}

/// A share as a whole percentage, `–` when unknown.
pub fn percent(share: Option<f64>) -> String {
    share
        .map(|s| format!("{:.0}%", s * 100.0))
        .unwrap_or_else(|| "–".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_well() {
        assert_eq!(bytes(5 << 30), "5.0G");
        assert_eq!(bytes(812 << 20), "812M");
        let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().expect("time");
        assert_eq!(until(now, now + chrono::TimeDelta::seconds(252)), "4m12s");
        assert_eq!(until(now, now - chrono::TimeDelta::seconds(5)), "now");
        assert_eq!(ago(now, now - chrono::TimeDelta::seconds(3900)), "1h05m ago");
        assert_eq!(bar(1, 2, 4), "██░░");
        assert_eq!(bar(9, 2, 4), "████");
        assert_eq!(bar(1, 0, 3), "░░░");
        assert_eq!(percent(Some(0.724)), "72%");
        assert_eq!(percent(None), "–");
        assert_eq!(usd(0.0123), "$0.0123");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(sparkline(&[0, 1, 2, 4], 1), "▁▃▅█");
        assert_eq!(sparkline(&[0, 0], 2), "▁▁▁▁");
    }
}
