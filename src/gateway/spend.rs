//! Today's frontier spend, kept in memory so budget checks never query the store on the request path.

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};

use crate::router::SpendState;

/// Frontier USD spent in the current UTC day.
#[derive(Debug, Default)]
pub struct SpendTracker {
    today: Mutex<(Option<NaiveDate>, f64)>,
}

impl SpendTracker {
    /// Adds `usd` spent at `now` (a new UTC day starts from zero).
    pub fn add(&self, usd: f64, now: DateTime<Utc>) {
        if !(usd.is_finite() && usd > 0.0) {
            return;
        }
        let mut today = self.today.lock().unwrap_or_else(|p| p.into_inner());
        let day = now.date_naive();
        if today.0 != Some(day) {
            *today = (Some(day), 0.0);
        }
        today.1 += usd;
    }

    /// Seeds the day's total from the store at start-up (never lowers it).
    pub fn seed(&self, usd: f64, now: DateTime<Utc>) {
        let mut today = self.today.lock().unwrap_or_else(|p| p.into_inner());
        let day = now.date_naive();
        if today.0 != Some(day) {
            *today = (Some(day), 0.0);
        }
        today.1 = today.1.max(usd);
    }

    /// What `select` needs: spend so far today and seconds until the day ends.
    pub fn state(&self, now: DateTime<Utc>) -> SpendState {
        let today = self.today.lock().unwrap_or_else(|p| p.into_inner());
        let day = now.date_naive();
        let spent = if today.0 == Some(day) { today.1 } else { 0.0 };
        let midnight = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
        let resets_in = midnight.map(|m| (m - now).num_seconds()).unwrap_or(86_400);
        SpendState {
            frontier_usd_today: spent,
            resets_in_secs: resets_in.clamp(60, 86_400) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_day_starts_from_zero() {
        let tracker = SpendTracker::default();
        let evening: DateTime<Utc> = "2026-11-25T23:59:00Z".parse().unwrap();
        tracker.seed(10.0, evening);
        tracker.add(2.5, evening);
        assert_eq!(tracker.state(evening).frontier_usd_today, 12.5);
        assert_eq!(tracker.state(evening).resets_in_secs, 60);
        let morning: DateTime<Utc> = "2026-11-26T00:00:01Z".parse().unwrap();
        assert_eq!(tracker.state(morning).frontier_usd_today, 0.0);
        tracker.add(1.0, morning);
        assert_eq!(tracker.state(morning).frontier_usd_today, 1.0);
    }
}
