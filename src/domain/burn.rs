//! Today's frontier burn: the spend rate over the last hour, the spend it projects for the UTC day,
//! and when the daily budget runs out at that rate.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

/// When today's budget runs out at the current rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "at")]
pub enum RunsOut {
    /// No daily budget is set.
    NoBudget,
    /// Already spent.
    Spent,
    /// At this time today.
    At(DateTime<Utc>),
    /// Not before UTC midnight, when the budget starts again.
    NotToday,
}

/// Today's frontier burn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Burn {
    /// USD per hour over the last 60 minutes.
    pub usd_per_hour: f64,
    /// Today's spend so far plus the rate until UTC midnight.
    pub projected_usd: f64,
    /// When the budget runs out at this rate.
    pub runs_out: RunsOut,
}

impl Burn {
    /// The burn at `now`, from today's spend so far, the spend of the current hour so far and of
    /// the previous hour (its share outside the last 60 minutes taken as spread evenly), and the
    /// daily budget (0 for none).
    pub fn estimate(
        now: DateTime<Utc>,
        spent_today: f64,
        this_hour_usd: f64,
        previous_hour_usd: f64,
        budget_usd: f64,
    ) -> Burn {
        let hour_start = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let into_hour = (now - hour_start).num_milliseconds() as f64 / 3_600_000.0;
        let usd_per_hour = this_hour_usd + previous_hour_usd * (1.0 - into_hour);
        let midnight = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now) + TimeDelta::days(1);
        let hours_left = (midnight - now).num_milliseconds() as f64 / 3_600_000.0;
        let projected_usd = spent_today + usd_per_hour * hours_left;
        let runs_out = if budget_usd <= 0.0 {
            RunsOut::NoBudget
        } else if spent_today >= budget_usd {
            RunsOut::Spent
        } else if usd_per_hour <= 0.0 {
            RunsOut::NotToday
        } else {
            let hours = (budget_usd - spent_today) / usd_per_hour;
            let at = now + TimeDelta::milliseconds((hours * 3_600_000.0).min(86_400_000.0) as i64);
            if at < midnight {
                RunsOut::At(at)
            } else {
                RunsOut::NotToday
            }
        };
        Burn {
            usd_per_hour,
            projected_usd,
            runs_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid time").with_timezone(&Utc)
    }

    #[test]
    fn the_rate_covers_the_last_sixty_minutes() {
        // 15 minutes into the hour: all of this hour and three quarters of the previous one.
        let burn = Burn::estimate(at("2026-11-28T10:15:00Z"), 20.0, 1.0, 4.0, 50.0);
        assert!((burn.usd_per_hour - 4.0).abs() < 1e-9, "{burn:?}");
        // 13.75 hours left at $4/h.
        assert!((burn.projected_usd - 75.0).abs() < 1e-9, "{burn:?}");
        assert_eq!(burn.runs_out, RunsOut::At(at("2026-11-28T17:45:00Z")));
    }

    #[test]
    fn the_budget_outlasts_the_day_is_spent_or_is_not_set() {
        let now = at("2026-11-28T22:00:00Z");
        assert_eq!(Burn::estimate(now, 10.0, 1.0, 1.0, 50.0).runs_out, RunsOut::NotToday);
        assert_eq!(Burn::estimate(now, 50.0, 1.0, 1.0, 50.0).runs_out, RunsOut::Spent);
        assert_eq!(Burn::estimate(now, 10.0, 1.0, 1.0, 0.0).runs_out, RunsOut::NoBudget);
        assert_eq!(Burn::estimate(now, 10.0, 0.0, 0.0, 50.0).runs_out, RunsOut::NotToday);
        assert_eq!(Burn::estimate(now, 10.0, 0.0, 0.0, 50.0).projected_usd, 10.0);
    }
}
