//! Change wake-ups: PostgreSQL LISTEN/NOTIFY backed by a slow polling tick; polling ticks on SQLite.
//!
//! A wake-up only says what to re-read; readers re-read tables by cursor or version, so a
//! wake-up dropped from a full channel, or a notification lost during a reconnect, loses no data.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc::{self, Receiver, Sender, error::TrySendError};
use tokio::time::{MissedTickBehavior, interval};

/// A change the store saw, telling a reader which tables to re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// New routing decisions may have landed: re-read after your id cursor.
    Decisions,
    /// Node states or overrides may have changed: re-read them.
    Control,
    /// Notifications may have been missed: re-read everything.
    Resync,
}

/// NOTIFY channel carrying the highest new decision id.
pub(crate) const DECISIONS_CHANNEL: &str = "farmhand_decisions";
/// NOTIFY channel for node state and override changes.
pub(crate) const CONTROL_CHANNEL: &str = "farmhand_control";

/// Pending wake-ups per reader; more are pointless since each one means "re-read".
const CAPACITY: usize = 16;
/// PostgreSQL: how often to resync anyway, in case a notification went missing.
const PG_FALLBACK_TICK: Duration = Duration::from_secs(5);
/// SQLite: how often to look for new decisions.
const SQLITE_DECISIONS_TICK: Duration = Duration::from_millis(250);
/// SQLite: how often to look for control changes.
const SQLITE_CONTROL_TICK: Duration = Duration::from_millis(500);
/// Wait before listening again after the listener failed, doubling up to the maximum.
const RECONNECT_MIN: Duration = Duration::from_secs(1);
/// The longest wait between attempts to listen again.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// Queues a wake-up without waiting (a full queue already holds one); false once the reader is gone.
fn offer(tx: &Sender<Wakeup>, wakeup: Wakeup) -> bool {
    !matches!(tx.try_send(wakeup), Err(TrySendError::Closed(_)))
}

/// Polling ticks for SQLite, which has no notifications. Must be called inside a tokio runtime.
pub(crate) fn poll() -> Receiver<Wakeup> {
    let (tx, rx) = mpsc::channel(CAPACITY);
    tokio::spawn(async move {
        let mut decisions = interval(SQLITE_DECISIONS_TICK);
        let mut control = interval(SQLITE_CONTROL_TICK);
        decisions.set_missed_tick_behavior(MissedTickBehavior::Skip);
        control.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            let wakeup = tokio::select! {
                _ = tx.closed() => return,
                _ = decisions.tick() => Wakeup::Decisions,
                _ = control.tick() => Wakeup::Control,
            };
            if !offer(&tx, wakeup) {
                return;
            }
        }
    });
    rx
}

/// LISTEN/NOTIFY wake-ups for PostgreSQL, plus a slow resync tick. Must be called inside a tokio runtime.
pub(crate) fn listen(pool: PgPool) -> Receiver<Wakeup> {
    let (tx, rx) = mpsc::channel(CAPACITY);
    tokio::spawn(async move {
        // The listener runs in its own task so that its reads are never cancelled half-way;
        // it is aborted (and its connection released) only once the reader has gone.
        let listener = tokio::spawn(listen_loop(pool, tx.clone()));
        let mut fallback = interval(PG_FALLBACK_TICK);
        fallback.set_missed_tick_behavior(MissedTickBehavior::Skip);
        fallback.tick().await;
        loop {
            tokio::select! {
                _ = tx.closed() => break,
                _ = fallback.tick() => if !offer(&tx, Wakeup::Resync) { break },
            }
        }
        listener.abort();
    });
    rx
}

async fn listen_loop(pool: PgPool, tx: Sender<Wakeup>) {
    let mut backoff = RECONNECT_MIN;
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                backoff = RECONNECT_MIN;
                // Anything committed before LISTEN took effect was not notified.
                if !offer(&tx, Wakeup::Resync) {
                    return;
                }
                loop {
                    let wakeup = match listener.try_recv().await {
                        Ok(Some(notification)) if notification.channel() == DECISIONS_CHANNEL => Wakeup::Decisions,
                        Ok(Some(_)) => Wakeup::Control,
                        Ok(None) => Wakeup::Resync,
                        Err(err) => {
                            tracing::warn!(error = %err, "store wake-ups: listener failed; polling until it is back");
                            break;
                        }
                    };
                    if !offer(&tx, wakeup) {
                        return;
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "store wake-ups: cannot listen; polling until it works"),
        }
        if pool.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([DECISIONS_CHANNEL, CONTROL_CHANNEL]).await?;
    Ok(listener)
}
