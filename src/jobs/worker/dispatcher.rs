//! The dispatcher: keeps jobs claimed ahead, starts one the moment a batch slot frees,
//! ends attempts in the store (fenced by the lease), and pauses while the store is away.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use super::WorkerOptions;
use super::attempt::{self, AttemptContext, Ended};
use super::capacity;
use crate::gateway::Gateway;
use crate::jobs::Sealer;
use crate::store::{BatchStatus, ClaimedJob, JobEnd, JobOutcome, Store};

/// How often the dispatcher looks for new work when nothing wakes it.
const POLL: Duration = Duration::from_millis(250);
/// How long the dispatcher waits for a started attempt to be placed before starting the next.
const PLACEMENT_WAIT: Duration = Duration::from_millis(50);
/// How often the batches of claimed, unstarted jobs are checked for a pause or a cancel while
/// they wait.
const BATCH_CHECK: Duration = Duration::from_secs(1);
/// How old that check may be when a claimed job starts: a pause or a cancel stops a batch's
/// claimed jobs within this, however fast its attempts end.
const BATCH_FRESH: Duration = Duration::from_millis(200);

/// Jobs this router holds a lease on, claimed and running: what the lease keeper renews.
pub type Held = Arc<Mutex<HashSet<i64>>>;

/// A claimed job waiting for a slot.
struct Waiting {
    job: ClaimedJob,
    /// The free nodes an attempt last found none of its own among: it needs a node, and starts
    /// again only when the free nodes differ.
    tried_on: Option<Vec<String>>,
}

impl Waiting {
    fn fresh(job: ClaimedJob) -> Self {
        Waiting { job, tried_on: None }
    }

    fn needs_node(&self) -> bool {
        self.tried_on.is_some()
    }
}

/// An attempt's end as the dispatcher hears it.
struct Finished {
    job: ClaimedJob,
    ended: Ended,
    on_frontier: bool,
    /// The free nodes it was offered.
    offered: Vec<String>,
}

pub(super) struct Dispatcher {
    gateway: Arc<Gateway>,
    store: Store,
    sealer: Arc<Sealer>,
    router_id: String,
    options: WorkerOptions,
    held: Held,
    waiting: VecDeque<Waiting>,
    running: JoinSet<Finished>,
    aborts: HashMap<i64, tokio::task::AbortHandle>,
    /// Attempts placed on the frontier now.
    frontier_running: Arc<AtomicUsize>,
    /// Ends the store could not take yet (it is away): retried until it does.
    unfinished: Vec<JobEnd>,
    store_away: bool,
    /// When the batches of the waiting jobs were last checked.
    batches_checked: Option<Instant>,
}

impl Dispatcher {
    pub(super) fn new(
        gateway: Arc<Gateway>,
        store: Store,
        sealer: Arc<Sealer>,
        router_id: String,
        options: WorkerOptions,
        held: Held,
    ) -> Self {
        Dispatcher {
            gateway,
            store,
            sealer,
            router_id,
            options,
            held,
            waiting: VecDeque::new(),
            running: JoinSet::new(),
            aborts: HashMap::new(),
            frontier_running: Arc::default(),
            unfinished: Vec::new(),
            store_away: false,
            batches_checked: None,
        }
    }

    /// Runs until `stop` turns true; then gives every job it holds back to the queue.
    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut batch_check = tokio::time::interval(BATCH_CHECK);
        batch_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*stop.borrow() {
            self.flush_unfinished().await;
            self.start_ready().await;
            if !self.store_away {
                self.top_up().await;
            }
            let wait = if self.store_away { POLL * 4 } else { POLL };
            tokio::select! {
                _ = stop.changed() => {}
                // A freed slot matters only to jobs waiting for one: with none waiting, new work
                // is claimed on the next poll, not after every live request that ends.
                () = self.gateway.in_flight.slot_freed(), if !self.waiting.is_empty() => {}
                Some(done) = self.running.join_next(), if !self.running.is_empty() => {
                    // Every attempt that ended is taken now, not one per turn of this loop: an
                    // attempt not taken holds its task's memory and its job's end from the store.
                    let mut next = Some(done);
                    while let Some(done) = next {
                        if let Ok(finished) = done {
                            self.end(finished).await;
                        }
                        next = self.running.try_join_next();
                    }
                }
                _ = batch_check.tick() => self.drop_stopped_batches().await,
                () = tokio::time::sleep(wait) => {}
            }
        }
        self.give_back().await;
    }

    /// Free batch slots per node now.
    fn free_slots(&self) -> Vec<(String, u32)> {
        self.gateway
            .free_batch_slots(self.options.max_share, self.options.idle_after, |_| true)
    }

    /// The nodes with a free batch slot now.
    fn free_nodes(&self) -> Vec<String> {
        self.free_slots().into_iter().map(|(name, _)| name).collect()
    }

    /// Attempts this router may still start on the frontier.
    fn frontier_room(&self) -> usize {
        self.options
            .frontier_slots
            .saturating_sub(self.frontier_running.load(Ordering::Acquire))
    }

    fn frontier_free(&self) -> bool {
        self.frontier_room() > 0
    }

    /// Starts waiting jobs while there is room: a node slot, or frontier room for a job not
    /// known to need a node.
    async fn start_ready(&mut self) {
        loop {
            if self.waiting.is_empty() {
                return;
            }
            if self.batches_checked.is_none_or(|at| at.elapsed() >= BATCH_FRESH) {
                self.drop_stopped_batches().await;
            }
            let nodes = self.free_nodes();
            let pick = if !nodes.is_empty() {
                self.waiting.iter().position(|w| w.tried_on.as_ref() != Some(&nodes))
            } else if self.frontier_free() {
                self.waiting.iter().position(|w| !w.needs_node())
            } else {
                None
            };
            let Some(index) = pick else { return };
            let Some(Waiting { job, .. }) = self.waiting.remove(index) else {
                return;
            };
            let placed = self.start(job, nodes);
            // The next start sees this attempt's slot taken (or knows it went to the frontier).
            let _ = tokio::time::timeout(PLACEMENT_WAIT, placed).await;
        }
    }

    /// Starts one attempt in a task of its own; resolves the returned channel once it is placed.
    fn start(&mut self, job: ClaimedJob, nodes: Vec<String>) -> oneshot::Receiver<()> {
        let (placed_tx, placed) = oneshot::channel();
        let gateway = self.gateway.clone();
        let sealer = self.sealer.clone();
        let router_id = self.router_id.clone();
        let max_attempts = self.options.max_attempts;
        let frontier_running = self.frontier_running.clone();
        let store = self.store.clone();
        let id = job.id;
        let handle = self.running.spawn(async move {
            let placed_tx = Mutex::new(Some(placed_tx));
            let on_frontier = std::sync::atomic::AtomicBool::new(false);
            let serving = |target: &str| {
                // Node names hold no `/`; frontier targets are `provider/model`.
                if target.contains('/') && !on_frontier.swap(true, Ordering::AcqRel) {
                    frontier_running.fetch_add(1, Ordering::AcqRel);
                }
                if let Some(tx) = placed_tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let _ = tx.send(());
                }
                let (store, router_id, target) = (store.clone(), router_id.clone(), target.to_string());
                tokio::spawn(async move {
                    if let Err(err) = store.set_job_target(id, &router_id, &target).await {
                        tracing::debug!(job = id, %err, "cannot note where a job runs");
                    }
                });
            };
            let cx = AttemptContext {
                gateway: &gateway,
                sealer: &sealer,
                router_id: &router_id,
                max_attempts,
            };
            let ended = attempt::run(cx, &job, nodes.clone(), serving).await;
            let on_frontier = on_frontier.load(Ordering::Acquire);
            if on_frontier {
                frontier_running.fetch_sub(1, Ordering::AcqRel);
            }
            Finished {
                job,
                ended,
                on_frontier,
                offered: nodes,
            }
        });
        self.aborts.insert(id, handle);
        placed
    }

    /// Claims jobs up to the look-ahead, a few per slot free now (node slots and frontier room).
    async fn top_up(&mut self) {
        // Jobs waiting for a node count too: a router never hoards work others could run.
        let free: usize = self.free_slots().iter().map(|(_, n)| *n as usize).sum();
        let want = capacity::claim_size(self.options.prefetch, self.waiting.len(), free + self.frontier_room());
        if want == 0 {
            return;
        }
        let now = Utc::now();
        let lease_until = now + chrono::Duration::from_std(self.options.lease).unwrap_or_default();
        match self
            .store
            .claim_jobs(
                &self.router_id,
                u32::try_from(want).unwrap_or(u32::MAX),
                now,
                lease_until,
            )
            .await
        {
            Ok(jobs) => {
                self.store_is_back();
                let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                for job in jobs {
                    held.insert(job.id);
                    self.waiting.push_back(Waiting::fresh(job));
                }
            }
            Err(err) => self.store_went_away(&err),
        }
    }

    /// Ends an attempt: a job that found no node slot waits again in memory (its lease kept);
    /// anything else is told to the store.
    async fn end(&mut self, finished: Finished) {
        let Finished {
            job,
            ended,
            on_frontier,
            offered,
        } = finished;
        self.aborts.remove(&job.id);
        if ended.run.is_none() && matches!(ended.outcome, JobOutcome::Release { not_before: None }) && !on_frontier {
            self.waiting.push_front(Waiting {
                job,
                tried_on: Some(offered),
            });
            return;
        }
        self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&job.id);
        self.unfinished.push(ended.into_end(job.id));
        // The slot it held is free now: fill it before the store round trip.
        self.start_ready().await;
        self.flush_unfinished().await;
    }

    /// Tells the store every ended attempt it has not taken yet, in one transaction.
    async fn flush_unfinished(&mut self) {
        if self.unfinished.is_empty() {
            return;
        }
        match self
            .store
            .finish_jobs(&self.router_id, &self.unfinished, Utc::now())
            .await
        {
            Ok(held) => {
                for (end, held) in self.unfinished.iter().zip(held) {
                    if !held {
                        tracing::info!(
                            job = end.job_id,
                            "a job's lease passed to another router before its attempt ended; its answer is dropped there"
                        );
                    }
                }
                self.unfinished.clear();
                self.store_is_back();
            }
            Err(err) => self.store_went_away(&err),
        }
    }

    /// Gives back claimed, unstarted jobs of batches paused, cancelled or ended since.
    async fn drop_stopped_batches(&mut self) {
        self.batches_checked = Some(Instant::now());
        let batches: HashSet<String> = self.waiting.iter().map(|w| w.job.batch_id.clone()).collect();
        for batch in batches {
            let runnable = match self.store.batch(&batch).await {
                Ok(Some(row)) => row.status == BatchStatus::InProgress && !row.paused,
                Ok(None) => false,
                Err(err) => {
                    self.store_went_away(&err);
                    return;
                }
            };
            if runnable {
                continue;
            }
            let (stopped, kept): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|w| w.job.batch_id == batch);
            self.waiting = kept.into();
            for w in stopped {
                self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&w.job.id);
                self.unfinished.push(release(w.job.id));
            }
        }
        self.flush_unfinished().await;
    }

    /// At shutdown: attempts still running are stopped, and every job held goes back to the
    /// queue at once (not after its lease), so another router takes it over.
    async fn give_back(&mut self) {
        self.running.abort_all();
        while let Some(done) = self.running.join_next().await {
            if let Ok(finished) = done {
                self.unfinished.push(finished.ended.into_end(finished.job.id));
            }
        }
        let held: Vec<i64> = self.held.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        let ending: HashSet<i64> = self.unfinished.iter().map(|end| end.job_id).collect();
        for id in held.into_iter().filter(|id| !ending.contains(id)) {
            self.unfinished.push(release(id));
        }
        self.waiting.clear();
        let flushed = tokio::time::timeout(Duration::from_secs(5), self.flush_unfinished()).await;
        if flushed.is_err() || !self.unfinished.is_empty() {
            tracing::warn!(
                jobs = self.unfinished.len(),
                "could not give every held job back at shutdown; their leases expire and another router takes them"
            );
        }
    }

    fn store_went_away(&mut self, err: &crate::store::StoreError) {
        if !self.store_away {
            tracing::warn!(%err, "batch workers pause: the store is unreachable");
        }
        self.store_away = true;
    }

    fn store_is_back(&mut self) {
        if self.store_away {
            tracing::info!("batch workers resume: the store answers again");
        }
        self.store_away = false;
    }
}

/// Gives a job back to the queue without counting the attempt.
fn release(job_id: i64) -> JobEnd {
    JobEnd {
        job_id,
        outcome: JobOutcome::Release { not_before: None },
        run: None,
    }
}
