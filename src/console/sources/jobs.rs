//! Batch jobs: the newest batches, queue depth per class, running attempts per node or provider
//! and the newest failures, read together every two seconds while the store answers. While it is
//! away the reader waits for the probe, and the view keeps the last figures, marked stale.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{QUERY_TIMEOUT, StoreLink, bounded};
use crate::console::event::Event;
use crate::console::jobs::JobsRead;
use crate::store::{Store, StoreError};

/// Batches the Jobs view lists, newest first.
pub const BATCH_ROWS: u32 = 50;
/// Failed attempts read to group by error code.
pub const FAILURE_ROWS: u32 = 100;
/// How often batch jobs are read.
const EVERY: Duration = Duration::from_secs(2);

/// Reads batch jobs every [`EVERY`]; a failed read while the store answers is reported (an older
/// schema says so on screen) and tried again at the next tick.
pub async fn poll(store: Store, mut link: StoreLink, events: mpsc::Sender<Event>) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if !link.is_up() {
            tokio::select! {
                () = link.until_up() => {}
                _ = events.closed() => return,
            }
        }
        let read = bounded(QUERY_TIMEOUT, read_jobs(&store)).await;
        if let Err(error) = &read {
            tracing::warn!(%error, "console: cannot read batch jobs");
        }
        if events.send(Event::Jobs(read.map(Box::new))).await.is_err() {
            return;
        }
    }
}

/// One read of everything the Jobs view shows.
pub async fn read_jobs(store: &Store) -> Result<JobsRead, StoreError> {
    let at = Utc::now();
    Ok(JobsRead {
        at,
        batches: store.batches(None, None, BATCH_ROWS).await?,
        depth: store.job_queue_depth().await?,
        running: store.running_jobs_by_target().await?,
        failures: store.recent_job_failures(FAILURE_ROWS).await?,
    })
}
