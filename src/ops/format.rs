//! Plain-text formatting shared by the reports.

use chrono::{DateTime, TimeDelta, Utc};

/// Parses a look-back window: `30m`, `24h`, `7d`, `2w`, or `today` (since UTC midnight).
pub fn parse_window(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if text == "today" {
        return Ok(now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now));
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a window like 30m, 24h, 7d or today"))?;
    let delta = match unit {
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        "w" => TimeDelta::try_weeks(n),
        _ => None,
    }
    .filter(|d| *d > TimeDelta::zero() && *d <= TimeDelta::days(3660))
    .ok_or_else(|| format!("`{text}` is not a window like 30m, 24h, 7d or today"))?;
    Ok(now - delta)
}

/// Dollars with cents, or four decimals under ten cents (frontier calls are cheap one by one).
pub fn usd(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.1 {
        format!("${value:.4}")
    } else {
        format!("${value:.2}")
    }
}

/// Token counts as 950, 12.3k, 4.1M.
pub fn tokens(value: i64) -> String {
    match value {
        v if v.abs() >= 1_000_000 => format!("{:.1}M", v as f64 / 1e6),
        v if v.abs() >= 10_000 => format!("{:.1}k", v as f64 / 1e3),
        v => v.to_string(),
    }
}

/// Seconds as `41s`, `2m05s` or `1h05m`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Pads or cuts `text` to `width` characters.
pub fn cell(text: &str, width: usize) -> String {
    let cut: String = text.chars().take(width).collect();
    format!("{cut:<width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse() {
        let now: DateTime<Utc> = "2026-11-25T18:30:00Z".parse().unwrap();
        assert_eq!(parse_window("24h", now).unwrap(), now - TimeDelta::hours(24));
        assert_eq!(parse_window("7d", now).unwrap(), now - TimeDelta::days(7));
        assert_eq!(
            parse_window("today", now).unwrap().to_rfc3339(),
            "2026-11-25T00:00:00+00:00"
        );
        for bad in ["", "h", "24", "0h", "-1d", "5y", "99999999999999d"] {
            assert!(parse_window(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(usd(12.3456), "$12.35");
        assert_eq!(usd(0.0123), "$0.0123");
        assert_eq!(tokens(950), "950");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(4_100_000), "4.1M");
        assert_eq!(cell("abcdef", 3), "abc");
        assert_eq!(cell("ab", 4), "ab  ");
    }
}
