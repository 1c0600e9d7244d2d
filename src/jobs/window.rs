//! Completion windows as the Batch API spells them: a whole number of hours (`24h`), minutes
//! (`90m`) or days (`7d`).

use chrono::Duration;

/// How long `window` lasts, or `None` when it is not a positive whole number of `m`, `h` or `d`.
pub fn parse(window: &str) -> Option<Duration> {
    let window = window.trim();
    let unit = window.chars().last()?;
    let count: i64 = window[..window.len() - unit.len_utf8()].parse().ok()?;
    if count <= 0 || count > 366 * 24 * 60 {
        return None;
    }
    match unit {
        'm' => Some(Duration::minutes(count)),
        'h' => Some(Duration::hours(count)),
        'd' => Some(Duration::days(count)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_minutes_hours_or_days() {
        assert_eq!(parse("24h"), Some(Duration::hours(24)));
        assert_eq!(parse("90m"), Some(Duration::minutes(90)));
        assert_eq!(parse(" 7d "), Some(Duration::days(7)));
        for bad in [
            "",
            "h",
            "24",
            "0h",
            "-1h",
            "1.5h",
            "24H",
            "24 hours",
            "9999999999d",
            "1é",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
