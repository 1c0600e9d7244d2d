//! The workers' upkeep: renewing the leases this router holds, moving batches along their life
//! cycle (expiry, completion, cancellation), and deleting payloads past their retention.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::dispatcher::Held;
use crate::store::Store;

/// How often batches are moved along.
const ADVANCE_EVERY: Duration = Duration::from_secs(1);
/// How often payloads past their retention are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Renews every lease in `held` three times per lease, so that a slow store round trip never
/// lets one lapse while its job is alive here.
pub async fn keep_leases(
    store: Store,
    router_id: String,
    held: Held,
    lease: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => {}
            _ = tick.tick() => {
                let ids: Vec<i64> = held.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect();
                if ids.is_empty() {
                    continue;
                }
                let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
                match store.renew_job_leases(&router_id, &ids, until).await {
                    Ok(kept) if kept < ids.len() as u64 => tracing::info!(
                        held = ids.len(),
                        kept,
                        "some job leases passed to another router (this one was away longer than a lease)"
                    ),
                    Ok(_) => {}
                    Err(err) => tracing::debug!(%err, "cannot renew job leases; retrying"),
                }
            }
        }
    }
}

/// Moves batches along every second and deletes payloads `retention` after their batch ended.
pub async fn housekeeping(store: Store, retention: Duration, mut stop: watch::Receiver<bool>) {
    let mut advance = tokio::time::interval(ADVANCE_EVERY);
    advance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => {}
            _ = advance.tick() => match store.advance_batches(Utc::now()).await {
                Ok(changed) => {
                    for batch in changed {
                        tracing::info!(%batch, "batch moved on");
                    }
                }
                Err(err) => tracing::debug!(%err, "cannot move batches along; retrying"),
            },
            _ = purge.tick() => {
                let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or_default();
                match store.purge_job_payloads(cutoff).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(batches = purged, "deleted batch payloads past jobs.retention_hours"),
                    Err(err) => tracing::debug!(%err, "cannot delete batch payloads past retention; retrying"),
                }
            }
        }
    }
}
