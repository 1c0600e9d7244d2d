//! When to log dropped decisions: at once for the first, then at most once a second with the
//! count since the last line, until every drop has been told. Pure: the caller brings the clock.

use std::time::Duration;

use tokio::time::Instant;

/// The shortest time between two lines about drops.
pub const EVERY: Duration = Duration::from_secs(1);

/// What has been logged about drops so far.
#[derive(Debug, Default)]
pub struct DropLog {
    /// The drop total as of the last line.
    logged: u64,
    /// When the last line was written.
    last: Option<Instant>,
}

/// One line's worth: drops since the last line, and the total since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropReport {
    /// Decisions dropped since the last line.
    pub since_last: u64,
    /// Decisions dropped since the router started.
    pub total: u64,
}

impl DropLog {
    /// The line to log now, given the drop total: `None` when nothing new was dropped or the
    /// last line is less than [`EVERY`] old.
    pub fn due(&mut self, total: u64, now: Instant) -> Option<DropReport> {
        if self.last.is_some_and(|last| now < last + EVERY) {
            return None;
        }
        self.owed(total, now)
    }

    /// The line still owed, whenever the last one was (for the last line before exiting).
    pub fn owed(&mut self, total: u64, now: Instant) -> Option<DropReport> {
        if total <= self.logged {
            return None;
        }
        let report = DropReport {
            since_last: total - self.logged,
            total,
        };
        self.logged = total;
        self.last = Some(now);
        Some(report)
    }

    /// When the next line falls due, if drops are waiting to be told.
    pub fn next_at(&self, total: u64) -> Option<Instant> {
        if total <= self.logged {
            return None;
        }
        Some(self.last.map_or_else(Instant::now, |last| last + EVERY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_drop_is_told_at_once_then_once_a_second_with_the_count() {
        let t0 = Instant::now();
        let mut log = DropLog::default();
        assert_eq!(log.due(0, t0), None, "nothing dropped, nothing said");
        assert_eq!(log.next_at(0), None);
        assert_eq!(
            log.due(1, t0),
            Some(DropReport {
                since_last: 1,
                total: 1
            })
        );
        assert_eq!(log.due(40, t0 + Duration::from_millis(500)), None, "not twice a second");
        assert_eq!(log.next_at(40), Some(t0 + EVERY), "but the drops are still owed");
        assert_eq!(
            log.due(41, t0 + EVERY),
            Some(DropReport {
                since_last: 40,
                total: 41
            })
        );
        assert_eq!(log.due(41, t0 + EVERY * 5), None, "quiet once every drop was told");
        assert_eq!(log.next_at(41), None);
        assert_eq!(
            log.due(45, t0 + EVERY * 5 + EVERY / 2),
            Some(DropReport {
                since_last: 4,
                total: 45
            })
        );
        assert_eq!(log.due(46, t0 + EVERY * 6), None);
        assert_eq!(
            log.owed(46, t0 + EVERY * 6),
            Some(DropReport {
                since_last: 1,
                total: 46
            }),
            "the last line before exit does not wait"
        );
    }
}
