//! The console's data sources: one task each, feeding the loop's channel. A task waits when the
//! loop is busy, and the `watch` channels it reads keep only the latest value, so a slow screen
//! skips updates instead of piling them up. Tasks end when the loop's receiver is gone.
//!
//! Every store read is bounded by [`QUERY_TIMEOUT`]; the [`probe`] alone decides whether the
//! store is up, and readers that fail wait for it to say so, then carry on from their cursor.

mod jobs;
mod probe;
mod routers;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::event::Event;
use super::state::{QualityFigures, QualityWindows, SpendWindows};
use crate::control::ControlSnapshot;
use crate::fleet::FleetSnapshot;
use crate::gateway::InFlight;
use crate::store::{RouterEndpoint, Store, StoreError, Wakeup};

pub use jobs::{BATCH_ROWS, FAILURE_ROWS, read_jobs};
pub use probe::{PROBE_EVERY, PROBE_TIMEOUT, Reconnect, StoreLink};

/// Decisions read when the console starts: as many as it holds, so the Decisions view opens on
/// all the history it can show (and the console's memory is at its steady state from the start).
pub const INITIAL_DECISIONS: u32 = crate::console::state::DECISION_CAPACITY as u32;
/// Decisions read per query while tailing.
pub const TAIL_BATCH: u32 = 1000;
/// Longest any store read of the console may take: under the 2 s within which a loss must show.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);
/// Shortest wait after a failed store write at start-up (migrations).
pub const RETRY_MIN: Duration = Duration::from_millis(500);
/// Longest wait after failed store writes at start-up.
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
    /// `router.status_token`, presented to the routers when asking what they hold.
    pub router_token: Option<String>,
    /// Routers running in this process (the demo's), asked from the start rather than once their
    /// presence row has been read: an outage in the first seconds still shows what they hold.
    pub local_routers: Vec<RouterEndpoint>,
    /// The objectives recommendations are judged against (`[quality]`).
    pub quality: crate::config::QualityConfig,
}

/// Starts one task per source; abort them (or drop the receiver) to stop.
pub fn spawn(sources: Sources, events: mpsc::Sender<Event>) -> Vec<JoinHandle<()>> {
    let landed = Arc::new(Notify::new());
    let (up, link) = probe::link();
    let store = sources.store;
    let mut tasks = vec![
        tokio::spawn(probe::probe(store.clone(), events.clone(), up)),
        tokio::spawn(forward(sources.fleet, events.clone(), Event::Fleet)),
        tokio::spawn(forward(sources.control, events.clone(), Event::Control)),
        tokio::spawn(tail_decisions(
            store.clone(),
            link.clone(),
            events.clone(),
            landed.clone(),
        )),
        tokio::spawn(spend(store.clone(), link.clone(), events.clone(), landed)),
        tokio::spawn(audit(store.clone(), link.clone(), events.clone())),
        tokio::spawn(recommendations(
            store.clone(),
            link.clone(),
            sources.quality,
            events.clone(),
        )),
        tokio::spawn(jobs::poll(store.clone(), link.clone(), events.clone())),
        tokio::spawn(routers::poll(
            store.clone(),
            link.clone(),
            sources.router_token,
            sources.local_routers,
            events.clone(),
        )),
    ];
    match sources.in_flight {
        Some(in_flight) => tasks.push(tokio::spawn(sample_in_flight(in_flight, events))),
        None => tasks.push(tokio::spawn(reported_in_flight(store, link, events))),
    }
    tasks
}

/// A store read that gives up after `limit`, its error made one short line.
pub async fn bounded<T>(
    limit: Duration,
    read: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {:.1} s", limit.as_secs_f64())),
    }
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

/// Tails decisions by id cursor, woken by the store; after a failed read it waits for the
/// probe to see the store again and goes on from the same cursor, so no decision is skipped.
async fn tail_decisions(store: Store, mut link: StoreLink, events: mpsc::Sender<Event>, landed: Arc<Notify>) {
    let mut cursor: Option<i64> = None;
    let mut wakeups = store.wakeups();
    loop {
        // The newest decisions are read a page at a time from the cursor before them, like
        // the tail after them: one read of all of them would hold every row twice at once, and
        // the allocator keeps that peak as resident memory for the console's whole life.
        let read = match cursor {
            None => match bounded(QUERY_TIMEOUT, store.cursor_before_newest(INITIAL_DECISIONS)).await {
                Ok(start) => {
                    cursor = Some(start);
                    continue;
                }
                Err(error) => Err(error),
            },
            Some(after) => bounded(QUERY_TIMEOUT, store.decisions_after(after, TAIL_BATCH)).await,
        };
        match read {
            Ok(rows) => {
                let full = rows.len() == TAIL_BATCH as usize;
                cursor = rows.last().map(|d| d.id).or(cursor);
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
            Err(error) => {
                tracing::warn!(%error, "console: cannot read decisions; waiting for the store");
                tokio::select! {
                    () = wait_for_store(&mut link) => {}
                    _ = events.closed() => return,
                }
            }
        }
    }
}

/// Waits until the probe sees the store again, and at least a moment (a read may fail while the
/// probe still answers).
async fn wait_for_store(link: &mut StoreLink) {
    tokio::time::sleep(PROBE_EVERY).await;
    link.until_up().await;
}

/// Re-reads spend for today, 24 h and 7 d every few seconds; the last figures stay (and show as
/// stale) while the store is away.
async fn spend(store: Store, mut link: StoreLink, events: mpsc::Sender<Event>, landed: Arc<Notify>) {
    loop {
        match bounded(QUERY_TIMEOUT, read_spend(&store)).await {
            Ok(windows) => {
                if events.send(Event::Spend(Box::new(windows))).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                if events.is_closed() {
                    return;
                }
                tracing::warn!(%error, "console: cannot read spend");
                wait_for_store(&mut link).await;
                continue;
            }
        }
        // New decisions make spend move: read again soon after they land, else every few seconds.
        tokio::time::sleep(SPEND_MIN_GAP).await;
        let _ = tokio::time::timeout(SPEND_EVERY - SPEND_MIN_GAP, landed.notified()).await;
    }
}

/// Re-reads the newest audit rows every few seconds.
async fn audit(store: Store, mut link: StoreLink, events: mpsc::Sender<Event>) {
    let mut every = tokio::time::interval(SPEND_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        match bounded(QUERY_TIMEOUT, store.audit_log(AUDIT_ROWS)).await {
            Ok(rows) => {
                if events.send(Event::Audit(rows)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                if events.is_closed() {
                    return;
                }
                tracing::warn!(%error, "console: cannot read the audit log");
                wait_for_store(&mut link).await;
            }
        }
    }
}

/// How often the recommendations are weighed again (they rest on a week of evidence).
const RECOMMEND_EVERY: Duration = Duration::from_secs(30);

/// Re-weighs the policy suggestions of the last 7 days every half minute.
async fn recommendations(
    store: Store,
    mut link: StoreLink,
    quality: crate::config::QualityConfig,
    events: mpsc::Sender<Event>,
) {
    let mut every = tokio::time::interval(RECOMMEND_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let now = Utc::now();
        let read = crate::ops::gather_recommendations(&store, &quality, now - TimeDelta::days(7), now);
        match bounded(QUERY_TIMEOUT, read).await {
            Ok(found) => {
                if events.send(Event::Recommendations(found)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                if events.is_closed() {
                    return;
                }
                tracing::warn!(%error, "console: cannot weigh recommendations");
                wait_for_store(&mut link).await;
            }
        }
    }
}

/// Spend for the four windows the console shows.
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
        month: store.spend_summary(now - TimeDelta::days(30), now).await?,
        limits: store.agent_limits(now, now - TimeDelta::seconds(3)).await?,
        quality: QualityWindows {
            hour: read_quality(store, now - TimeDelta::hours(1), now).await?,
            day: read_quality(store, now - TimeDelta::hours(24), now).await?,
            week: read_quality(store, now - TimeDelta::days(7), now).await?,
        },
    })
}

/// Quality signals and feedback over `[since, until)`.
async fn read_quality(store: &Store, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<QualityFigures, StoreError> {
    Ok(QualityFigures {
        rows: store.quality_summary(since, until).await?,
        feedback: store.feedback_summary(since, until).await?,
        agreement: store.agreement_summary(since, until).await?,
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
async fn reported_in_flight(store: Store, mut link: StoreLink, events: mpsc::Sender<Event>) {
    let mut every = tokio::time::interval(IN_FLIGHT_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if !link.is_up() {
            link.until_up().await;
        }
        match bounded(
            QUERY_TIMEOUT,
            store.in_flight(Utc::now() - crate::presence::LIVE_WINDOW),
        )
        .await
        {
            Ok(counts) => {
                if events.send(Event::InFlight(counts)).await.is_err() {
                    return;
                }
            }
            Err(error) => tracing::debug!(%error, "cannot read in-flight counts"),
        }
    }
}
