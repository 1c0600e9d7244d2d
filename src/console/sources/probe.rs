//! The store probe: the one source of the console's store status. It asks the store a trivial
//! question twice a second, each answer bounded well under the 2 s within which an operator must
//! see a loss (a silent network included, not only a refused connection), and while the store is
//! down it reconnects with clamped back-off, telling the screen the attempt number, when the next
//! attempt starts, and since when the store has been away. Readers wait on [`StoreLink`] and
//! resume the moment the store answers again.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{mpsc, watch};

use super::bounded;
use crate::console::backoff::Backoff;
use crate::console::event::Event;
use crate::console::state::{StoreOutage, StoreStatus};
use crate::store::Store;

/// How often the store is asked whether it answers.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
/// Longest a probe may wait for its answer: with [`PROBE_EVERY`], a loss shows within 1.5 s.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Shortest wait between reconnection attempts.
pub const RECONNECT_MIN: Duration = Duration::from_millis(500);
/// Longest wait between reconnection attempts: the store's return shows within this (plus one attempt).
pub const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// Whether the store answered the last probe; readers wait on it instead of retrying blind.
#[derive(Debug, Clone)]
pub struct StoreLink(watch::Receiver<bool>);

impl StoreLink {
    /// Whether the store answered the last probe.
    pub fn is_up(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the store answers (at once if it does now); also when the probe is gone.
    pub async fn until_up(&mut self) {
        if self.0.wait_for(|up| *up).await.is_err() {
            tokio::time::sleep(RECONNECT_MAX).await;
        }
    }
}

/// Where reconnecting stands: the pure part of the probe.
#[derive(Debug, Clone)]
pub struct Reconnect {
    backoff: Backoff,
    last_answer: Option<DateTime<Utc>>,
    outage: Option<StoreOutage>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            backoff: Backoff::new(RECONNECT_MIN, RECONNECT_MAX),
            last_answer: None,
            outage: None,
        }
    }
}

impl Reconnect {
    /// The store answered at `now`.
    pub fn answered(&mut self, now: DateTime<Utc>) -> StoreStatus {
        self.backoff.reset();
        self.last_answer = Some(now);
        self.outage = None;
        StoreStatus::Connected
    }

    /// A probe or an attempt failed at `now`: the status to show and how long to wait before
    /// the next attempt.
    pub fn failed(&mut self, now: DateTime<Utc>, error: String) -> (StoreStatus, Duration) {
        let delay = self.backoff.next_delay();
        let retry_at = Some(now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::zero()));
        let outage = match self.outage.take() {
            Some(outage) => StoreOutage {
                attempt: outage.attempt + 1,
                retry_at,
                error,
                ..outage
            },
            None => StoreOutage {
                since: self.last_answer.unwrap_or(now),
                attempt: 1,
                retry_at,
                error,
            },
        };
        self.outage = Some(outage.clone());
        (StoreStatus::Down(outage), delay)
    }

    /// The next attempt starts now.
    pub fn attempting(&mut self) -> Option<StoreStatus> {
        let outage = self.outage.as_mut()?;
        outage.retry_at = None;
        Some(StoreStatus::Down(outage.clone()))
    }
}

/// The sender the probe keeps current, and the link readers wait on.
pub fn link() -> (watch::Sender<bool>, StoreLink) {
    let (tx, rx) = watch::channel(true);
    (tx, StoreLink(rx))
}

/// Probes the store until the loop is gone, sending every change of its status.
pub async fn probe(store: Store, events: mpsc::Sender<Event>, up: watch::Sender<bool>) {
    let mut reconnect = Reconnect::default();
    let mut shown = StoreStatus::Connecting;
    loop {
        let answer = bounded(PROBE_TIMEOUT, store.ping()).await;
        let (status, wait) = match answer {
            Ok(()) => {
                if let Some(outage) = shown.outage() {
                    let down_ms = (Utc::now() - outage.since).num_milliseconds();
                    tracing::info!(down_ms, attempts = outage.attempt, "console: the store answers again");
                }
                (reconnect.answered(Utc::now()), PROBE_EVERY)
            }
            Err(error) => {
                if shown.outage().is_none() {
                    tracing::warn!(%error, "console: the store does not answer; reconnecting");
                } else {
                    tracing::debug!(%error, "console: the store still does not answer");
                }
                reconnect.failed(Utc::now(), error)
            }
        };
        up.send_if_modified(|was| {
            let now_up = status == StoreStatus::Connected;
            std::mem::replace(was, now_up) != now_up
        });
        if status != shown {
            shown = status.clone();
            if !send(&events, status).await {
                return;
            }
        }
        tokio::time::sleep(wait).await;
        if let Some(status) = reconnect.attempting() {
            shown = status.clone();
            if !send(&events, status).await {
                return;
            }
        }
    }
}

/// Sends a status with the time it was seen, so the countdown is counted from now, not from the
/// last clock tick. False once the loop is gone.
async fn send(events: &mpsc::Sender<Event>, status: StoreStatus) -> bool {
    events.send(Event::Tick(Utc::now())).await.is_ok() && events.send(Event::StoreStatus(status)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        "2026-11-27T03:00:00Z".parse::<DateTime<Utc>>().expect("time") + TimeDelta::seconds(seconds)
    }

    fn outage(status: StoreStatus) -> StoreOutage {
        status.outage().cloned().expect("down")
    }

    #[test]
    fn an_outage_counts_attempts_from_the_last_answer_with_clamped_waits() {
        let mut reconnect = Reconnect::default();
        assert_eq!(reconnect.attempting(), None, "nothing to retry while the store answers");
        reconnect.answered(at(0));
        let (first, wait) = reconnect.failed(at(1), "connection refused".into());
        let first = outage(first);
        assert_eq!((first.since, first.attempt), (at(0), 1), "down since the last answer");
        assert_eq!(first.retry_at, Some(at(1) + TimeDelta::milliseconds(500)));
        assert_eq!(wait, RECONNECT_MIN);
        let trying = outage(reconnect.attempting().expect("an attempt"));
        assert_eq!((trying.attempt, trying.retry_at), (1, None), "under way");
        let mut waits = Vec::new();
        for second in 2..8 {
            let (status, wait) = reconnect.failed(at(second), "timed out".into());
            let status = outage(status);
            assert_eq!(status.since, at(0), "the outage keeps its start");
            assert_eq!(
                status.retry_at,
                Some(at(second) + TimeDelta::from_std(wait).expect("delta"))
            );
            waits.push(wait.as_millis());
            reconnect.attempting();
        }
        assert_eq!(waits, [1000, 2000, 2000, 2000, 2000, 2000], "doubling, clamped");
        assert_eq!(outage(reconnect.failed(at(9), "timed out".into()).0).attempt, 8);
        assert_eq!(reconnect.answered(at(10)), StoreStatus::Connected);
        let (again, wait) = reconnect.failed(at(20), "timed out".into());
        assert_eq!(outage(again).attempt, 1, "a new outage counts from one");
        assert_eq!(wait, RECONNECT_MIN, "back-off reset by the answer");
    }

    #[test]
    fn a_store_never_reached_is_down_since_the_first_failure() {
        let mut reconnect = Reconnect::default();
        let (status, _) = reconnect.failed(at(5), "connection refused".into());
        assert_eq!(outage(status).since, at(5));
    }
}
