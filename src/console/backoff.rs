//! Retry delays that double after each failure, clamped to a maximum.

use std::time::Duration;

/// Doubling back-off between `min` and `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A back-off starting at `min` and never exceeding `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        let min = min.min(max);
        Backoff { min, max, next: min }
    }

    /// The delay before the next attempt; each call doubles the following one, up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// Back to `min` after a success.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_stays_at_the_clamp() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        let delays: Vec<u64> = (0..8).map(|_| backoff.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(500));
    }

    #[test]
    fn never_exceeds_the_clamp_even_after_many_failures() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..200 {
            assert!(backoff.next_delay() <= Duration::from_secs(30));
        }
        let mut inverted = Backoff::new(Duration::from_secs(60), Duration::from_secs(2));
        assert_eq!(inverted.next_delay(), Duration::from_secs(2));
    }
}
