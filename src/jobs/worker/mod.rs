//! Batch workers: every router sharing the store runs them. They claim jobs under a lease, run
//! each through the gateway as a job (so policy applies as to live traffic) on the slots live
//! work leaves idle, end each attempt in the store, and give what they hold back when they stop.
//! A router that dies loses its leases when they run out, and another router takes its jobs.

mod attempt;
pub mod capacity;
mod dispatcher;
pub mod disposition;
mod upkeep;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::JobsConfig;
use crate::gateway::Gateway;
use crate::jobs::Sealer;
use crate::store::Store;

/// This router's id as a batch worker: the presence id and a random suffix, so that two gateways
/// in one process never share a lease.
pub fn worker_id() -> String {
    format!("{}:{:08x}", crate::presence::router_id(), rand::random::<u32>())
}

/// How the workers run.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Attempts a job gets before a retryable failure is final.
    pub max_attempts: u32,
    /// How long a claim holds a job without renewal.
    pub lease: Duration,
    /// Largest share of a node's slots batch work holds while the farm is busy.
    pub max_share: f64,
    /// Quiet time after which batch work may take every slot.
    pub idle_after: Duration,
    /// Attempts this router runs on the frontier at once.
    pub frontier_slots: usize,
    /// Jobs claimed ahead, so a freed slot starts one without a store round trip; also the largest
    /// claim, so a fast farm claims in few round trips.
    pub prefetch: usize,
    /// How long payloads are kept after their batch ends.
    pub retention: Duration,
}

impl WorkerOptions {
    /// The options of `[jobs]`.
    pub fn from_config(jobs: &JobsConfig) -> Self {
        WorkerOptions {
            max_attempts: jobs.max_attempts.max(1),
            lease: Duration::from_secs(jobs.lease_secs.max(2)),
            max_share: jobs.max_share,
            idle_after: Duration::from_secs(jobs.idle_after_secs),
            frontier_slots: jobs.frontier_slots as usize,
            prefetch: 32,
            retention: Duration::from_secs(jobs.retention_hours.saturating_mul(3600)),
        }
    }
}

/// The running workers of one router.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Workers {
    /// Starts the dispatcher, the lease keeper and the housekeeping of router `router_id`.
    pub fn start(
        gateway: Arc<Gateway>,
        store: Store,
        sealer: Arc<Sealer>,
        router_id: String,
        options: WorkerOptions,
    ) -> Workers {
        let (stop, stopped) = watch::channel(false);
        let held = dispatcher::Held::default();
        let mut tasks = JoinSet::new();
        tasks.spawn(upkeep::keep_leases(
            store.clone(),
            router_id.clone(),
            held.clone(),
            options.lease,
            stopped.clone(),
        ));
        tasks.spawn(upkeep::housekeeping(store.clone(), options.retention, stopped.clone()));
        let dispatcher = dispatcher::Dispatcher::new(gateway, store, sealer, router_id, options, held);
        tasks.spawn(dispatcher.run(stopped));
        Workers { stop, tasks }
    }

    /// Stops claiming, stops the attempts still running and gives every held job back.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
