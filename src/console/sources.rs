//! The console's data sources: one task each, feeding the loop's channel. A task waits when the
//! loop is busy, and the `watch` channels it reads keep only the latest value, so a slow screen
//! skips updates instead of piling them up. Tasks end when the loop's receiver is gone.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::backoff::Backoff;
use super::event::Event;
use super::state::{SpendWindows, StoreStatus};
use crate::control::ControlSnapshot;
use crate::fleet::FleetSnapshot;
use crate::gateway::InFlight;
use crate::store::{Store, StoreError, Wakeup};

/// Decisions read when the console starts.
pub const INITIAL_DECISIONS: u32 = 500;
/// Decisions read per query while tailing.
pub const TAIL_BATCH: u32 = 1000;
/// Shortest wait after a failed store read.
pub const RETRY_MIN: Duration = Duration::from_millis(500);
/// Longest wait after failed store reads.
pub const RETRY_MAX: Duration = Duration::from_secs(10);
/// Least time between two fleet or control updates sent to the loop.
const COALESCE: Duration = Duration::from_millis(250);
/// How often spend and the audit log are re-read.
const SPEND_EVERY: Duration = Duration::from_secs(3);
/// Least time between two spend reads (new decisions wake the spend reader sooner than [`SPEND_EVERY`]).
const SPEND_MIN_GAP: Duration = Duration::from_millis(750);
/// Audit rows the Policy view keeps.
pub const AUDIT_ROWS: u32 = 200;
/// How often in-flight counts are sampled.
const IN_FLIGHT_EVERY: Duration = Duration::from_millis(500);
/// How long the tail waits for a wake-up before looking anyway.
const TAIL_IDLE: Duration = Duration::from_secs(1);

/// What the console watches.
pub struct Sources {
    /// Fleet telemetry.
    pub fleet: watch::Receiver<FleetSnapshot>,
    /// Node states and overrides.
    pub control: watch::Receiver<Arc<ControlSnapshot>>,
    /// The store decisions and spend are read from.
    pub store: Store,
    /// In-flight counters of an in-process router (the demo); without one, the counts every
    /// router reports to the store are shown.
    pub in_flight: Option<InFlight>,
}

/// Starts one task per source; abort them (or drop the receiver) to stop.
pub fn spawn(sources: Sources, events: mpsc::Sender<Event>) -> Vec<JoinHandle<()>> {
    let landed = Arc::new(Notify::new());
    let mut tasks = vec![
        tokio::spawn(forward(sources.fleet, events.clone(), Event::Fleet)),
        tokio::spawn(forward(sources.control, events.clone(), Event::Control)),
        tokio::spawn(tail_decisions(sources.store.clone(), events.clone(), landed.clone())),
        tokio::spawn(spend(sources.store.clone(), events.clone(), landed)),
        tokio::spawn(audit(sources.store.clone(), events.clone())),
    ];
    match sources.in_flight {
        Some(in_flight) => tasks.push(tokio::spawn(sample_in_flight(in_flight, events))),
        None => tasks.push(tokio::spawn(reported_in_flight(sources.store, events))),
    }
    tasks
}

/// Sends the latest value of a watch channel, at most every [`COALESCE`].
async fn forward<T: Clone>(mut rx: watch::Receiver<T>, events: mpsc::Sender<Event>, wrap: fn(T) -> Event) {
    loop {
        let value = rx.borrow_and_update().clone();
        if events.send(wrap(value)).await.is_err() {
            return;
        }
        tokio::time::sleep(COALESCE).await;
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Tails decisions by id cursor, woken by the store; failed reads retry with clamped back-off.
async fn tail_decisions(store: Store, events: mpsc::Sender<Event>, landed: Arc<Notify>) {
    let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    let mut cursor: Option<i64> = None;
    let mut connected = false;
    let mut wakeups = store.wakeups();
    loop {
        let read = match cursor {
            None => store.recent_decisions(INITIAL_DECISIONS).await,
            Some(after) => store.decisions_after(after, TAIL_BATCH).await,
        };
        match read {
            Ok(rows) => {
                backoff.reset();
                if !connected {
                    connected = true;
                    if events.send(Event::StoreStatus(StoreStatus::Connected)).await.is_err() {
                        return;
                    }
                }
                let full = cursor.is_some() && rows.len() == TAIL_BATCH as usize;
                cursor = rows.last().map(|d| d.id).or(cursor).or(Some(0));
                if !rows.is_empty() {
                    landed.notify_one();
                    if events.send(Event::Decisions(rows)).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                tokio::select! {
                    wakeup = wakeups.recv() => match wakeup {
                        Some(Wakeup::Control) => {}
                        Some(Wakeup::Decisions | Wakeup::Resync) => {}
                        None => {
                            tokio::time::sleep(TAIL_IDLE).await;
                            wakeups = store.wakeups();
                        }
                    },
                    _ = tokio::time::sleep(TAIL_IDLE) => {}
                    _ = events.closed() => return,
                }
            }
            Err(err) => {
                connected = false;
                let delay = backoff.next_delay();
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "console: cannot read decisions");
                let status = StoreStatus::Reconnecting {
                    retry_at: Utc::now() + TimeDelta::from_std(delay).unwrap_or(TimeDelta::zero()),
                    error: err.to_string(),
                };
                if events.send(Event::StoreStatus(status)).await.is_err() {
                    return;
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Re-reads spend for today, 24 h and 7 d every few seconds.
async fn spend(store: Store, events: mpsc::Sender<Event>, landed: Arc<Notify>) {
    loop {
        match read_spend(&store).await {
            Ok(windows) => {
                if events.send(Event::Spend(Box::new(windows))).await.is_err() {
                    return;
                }
            }
            Err(err) => {
                if events.is_closed() {
                    return;
                }
                tracing::warn!(error = %err, "console: cannot read spend");
            }
        }
        // New decisions make spend move: read again soon after they land, else every few seconds.
        tokio::time::sleep(SPEND_MIN_GAP).await;
        let _ = tokio::time::timeout(SPEND_EVERY - SPEND_MIN_GAP, landed.notified()).await;
    }
}

/// Re-reads the newest audit rows every few seconds.
async fn audit(store: Store, events: mpsc::Sender<Event>) {
    let mut every = tokio::time::interval(SPEND_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        match store.audit_log(AUDIT_ROWS).await {
            Ok(rows) => {
                if events.send(Event::Audit(rows)).await.is_err() {
                    return;
                }
            }
            Err(err) => {
                if events.is_closed() {
                    return;
                }
                tracing::warn!(error = %err, "console: cannot read the audit log");
            }
        }
    }
}

/// Spend for the three windows the console shows.
pub async fn read_spend(store: &Store) -> Result<SpendWindows, StoreError> {
    let now = Utc::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    Ok(SpendWindows {
        today: store.spend_summary(midnight, now).await?,
        day: store.spend_summary(now - TimeDelta::hours(24), now).await?,
        week: store.spend_summary(now - TimeDelta::days(7), now).await?,
        limits: store.agent_limits(now, now - TimeDelta::seconds(3)).await?,
    })
}

async fn sample_in_flight(in_flight: InFlight, events: mpsc::Sender<Event>) {
    let mut every = tokio::time::interval(IN_FLIGHT_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if events.send(Event::InFlight(in_flight.all())).await.is_err() {
            return;
        }
    }
}

/// Requests in flight per node as every live router reports them to the store.
async fn reported_in_flight(store: Store, events: mpsc::Sender<Event>) {
    let mut every = tokio::time::interval(IN_FLIGHT_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        match store.in_flight(Utc::now() - crate::presence::LIVE_WINDOW).await {
            Ok(counts) => {
                if events.send(Event::InFlight(counts)).await.is_err() {
                    return;
                }
            }
            Err(err) => tracing::debug!(%err, "cannot read in-flight counts"),
        }
    }
}
