//! The one `Store` over PostgreSQL (production, shared by many routers and consoles) and SQLite
//! (embedded default): routing decisions, hourly spend, node states, policy overrides, audit log
//! and pull jobs.
//!
//! Both backends keep the same schema (`migrations/postgres`, `migrations/sqlite`), which is a
//! public interface. Readers tail decisions by id cursor and re-read control tables on a
//! [`Wakeup`], so a missed wake-up never loses a row.

mod agent_limits;
mod error;
mod job_model;
mod jobs;
mod model;
mod postgres;
mod quality;
mod shared;
mod spend;
mod sqlite;
mod url;
mod wakeup;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{DecisionRecord, DrainState, StoredDecision};

pub use agent_limits::{AgentLimitLine, LimitUse, limit_lines};
pub use error::StoreError;
pub use jobs::{
    BatchFileRow, BatchRow, BatchStatus, ClaimedJob, ClassDepth, JobCounts, JobEnd, JobOutcome, JobResultRow,
    JobRunRow, NewBatch, NewJob,
};
pub use model::{
    AgentReport, AgentUsageRow, AuditRow, NodeStateRow, OverrideRow, PULL_ABANDONED_AFTER, PolicyVersionRow,
    PresenceRow, PullJobRow, RouterEndpoint, RouterSpendRow, TERMINAL_PULL_STATES,
};
pub use postgres::PgStore;
pub use quality::{AgreementRow, FeedbackRow, QualityRow, QualitySample, ThresholdEvidence};
pub use spend::{HOURLY_WINDOW_MAX, PeriodSpend, SpendGroup, SpendLine, SpendSummary, day_floor, hour_floor};
pub use sqlite::SqliteStore;
pub use wakeup::Wakeup;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// The farm's state store, on one of the two backends.
#[derive(Debug, Clone)]
pub enum Store {
    /// A PostgreSQL server.
    Postgres(PgStore),
    /// A SQLite file or in-memory database.
    Sqlite(SqliteStore),
}

/// Calls the same method on whichever backend this store runs on.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Store::Postgres(store) => store.$method($($arg),*).await,
            Store::Sqlite(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Connects to `postgres://…`/`postgresql://…` or `sqlite://path`, `sqlite:path`,
    /// `sqlite::memory:` (a missing SQLite file is created). Gives up after about 5 s.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let redacted = url::redact(url);
        match url::parse(url)? {
            url::Target::Postgres(options) => Ok(Store::Postgres(PgStore::connect(options, redacted).await?)),
            url::Target::Sqlite { options, in_memory } => {
                Ok(Store::Sqlite(SqliteStore::connect(options, in_memory, redacted).await?))
            }
        }
    }

    /// Like [`Store::connect`], but a PostgreSQL store that cannot be reached yet is returned
    /// anyway and connects on first use (queries fail until then): a console can start, show
    /// the outage and recover by itself. SQLite files are opened at once.
    pub async fn connect_lazy(url: &str) -> Result<Store, StoreError> {
        let redacted = url::redact(url);
        match url::parse(url)? {
            url::Target::Postgres(options) => Ok(Store::Postgres(PgStore::lazy(options, redacted))),
            url::Target::Sqlite { .. } => Store::connect(url).await,
        }
    }

    /// Applies pending migrations; returns how many were newly applied (0 when up to date).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        dispatch!(self.migrate())
    }

    /// The store URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        match self {
            Store::Postgres(store) => store.redacted_url().to_string(),
            Store::Sqlite(store) => store.redacted_url().to_string(),
        }
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Postgres(_) => Backend::Postgres,
            Store::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self.ping())
    }

    /// Stores a batch in one transaction, skipping request ids already stored, and rolls the new
    /// rows into `spend_hourly`. Returns how many rows were new.
    pub async fn insert_decisions(&self, batch: &[DecisionRecord]) -> Result<u64, StoreError> {
        dispatch!(self.insert_decisions(batch))
    }

    /// Up to `limit` decisions with an id above `after_id`, oldest first.
    pub async fn decisions_after(&self, after_id: i64, limit: u32) -> Result<Vec<StoredDecision>, StoreError> {
        dispatch!(self.decisions_after(after_id, limit))
    }

    /// The id after which the newest `count` decisions come: reading on from it with
    /// [`Store::decisions_after`] pages through them, oldest first (0 when there are no more).
    pub async fn cursor_before_newest(&self, count: u32) -> Result<i64, StoreError> {
        dispatch!(self.cursor_before_newest(count))
    }

    /// The newest `limit` decisions, oldest first.
    pub async fn recent_decisions(&self, limit: u32) -> Result<Vec<StoredDecision>, StoreError> {
        dispatch!(self.recent_decisions(limit))
    }

    /// Spend over every hour overlapping `[since, until)`, from the hourly rollup.
    pub async fn spend_summary(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<SpendSummary, StoreError> {
        dispatch!(self.spend_summary(since, until))
    }

    /// Answer quality per class and route over every hour overlapping `[since, until)`, from the
    /// hourly rollup.
    pub async fn quality_summary(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<QualityRow>, StoreError> {
        dispatch!(self.quality_summary(since, until))
    }

    /// The agent that made decision `request_id`, if the store has it.
    pub async fn decision_agent(&self, request_id: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self.decision_agent(request_id))
    }

    /// Stores `agent`'s rating `value` of decision `request_id` on `metric`, replacing an earlier one.
    pub async fn record_feedback(
        &self,
        request_id: &str,
        metric: &str,
        value: f64,
        agent: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self.record_feedback(request_id, metric, value, agent, at))
    }

    /// Feedback means per class, route and metric of the decisions made in `[since, until)`.
    pub async fn feedback_summary(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<FeedbackRow>, StoreError> {
        dispatch!(self.feedback_summary(since, until))
    }

    /// Stores one shadow agreement sample (a repeat of the same request and twin route is ignored).
    pub async fn record_quality_sample(&self, sample: &QualitySample) -> Result<(), StoreError> {
        dispatch!(self.record_quality_sample(sample))
    }

    /// Shadow agreement per class and answering route of the decisions made in `[since, until)`.
    pub async fn agreement_summary(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<AgreementRow>, StoreError> {
        dispatch!(self.agreement_summary(since, until))
    }

    /// Per class, agents' frontier requests since `since` estimated under `under_tokens`: how
    /// many, their cost, and their local twins' agreement (the evidence of a recommendation).
    pub async fn threshold_evidence(
        &self,
        since: DateTime<Utc>,
        under_tokens: u64,
    ) -> Result<Vec<ThresholdEvidence>, StoreError> {
        dispatch!(self.threshold_evidence(since, under_tokens))
    }

    /// Exact frontier cost (USD) of the decisions at or after `since`.
    pub async fn frontier_cost_since(&self, since: DateTime<Utc>) -> Result<f64, StoreError> {
        dispatch!(self.frontier_cost_since(since))
    }

    /// Every node with an operator-set state, by name; nodes not listed are active.
    pub async fn node_states(&self) -> Result<Vec<NodeStateRow>, StoreError> {
        dispatch!(self.node_states())
    }

    /// Sets a node's state and audits `old -> new (reason)` in one transaction.
    pub async fn set_node_state(
        &self,
        name: &str,
        state: DrainState,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<NodeStateRow, StoreError> {
        dispatch!(self.set_node_state(name, state, reason, actor))
    }

    /// Every live policy override, by key.
    pub async fn overrides(&self) -> Result<Vec<OverrideRow>, StoreError> {
        dispatch!(self.overrides())
    }

    /// The current policy version (0 before any override change).
    pub async fn policy_version(&self) -> Result<i64, StoreError> {
        dispatch!(self.policy_version())
    }

    /// The newest `limit` policy versions, newest first.
    pub async fn policy_versions(&self, limit: u32) -> Result<Vec<PolicyVersionRow>, StoreError> {
        dispatch!(self.policy_versions(limit))
    }

    /// Sets an override (already validated by the caller); returns the new policy version.
    pub async fn set_override(
        &self,
        key: &str,
        value: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<i64, StoreError> {
        dispatch!(self.change_override(key, Some(value), reason, actor))
    }

    /// Removes an override; returns the new policy version, or `NotFound` if it was not set.
    pub async fn clear_override(&self, key: &str, reason: Option<&str>, actor: &str) -> Result<i64, StoreError> {
        dispatch!(self.change_override(key, None, reason, actor))
    }

    /// Records an operator action; returns its id.
    pub async fn audit(&self, actor: &str, action: &str, target: &str, detail: &str) -> Result<i64, StoreError> {
        dispatch!(self.audit(actor, action, target, detail))
    }

    /// The newest `limit` audit rows, newest first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        dispatch!(self.audit_log(limit))
    }

    /// Records a new model pull (state `queued`); returns its id. Refused with [`StoreError::Conflict`]
    /// while the node has another pull queued or running (one silent for [`PULL_ABANDONED_AFTER`] is failed first).
    pub async fn create_pull_job(&self, node: &str, model: &str) -> Result<i64, StoreError> {
        dispatch!(self.create_pull_job(node, model))
    }

    /// Updates a pull's state and progress; terminal states also set `finished_at`.
    pub async fn update_pull_job(
        &self,
        id: i64,
        state: &str,
        progress: f64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self.update_pull_job(id, state, progress, error))
    }

    /// The newest `limit` pull jobs, newest first.
    pub async fn pull_jobs(&self, limit: u32) -> Result<Vec<PullJobRow>, StoreError> {
        dispatch!(self.pull_jobs(limit))
    }

    /// Writes one router's view of every node (all rows share its id and report time).
    pub async fn report_presence(&self, rows: &[PresenceRow]) -> Result<(), StoreError> {
        dispatch!(self.report_presence(rows))
    }

    /// Removes a router's reports (it is shutting down), when given, and any report older than `older_than`.
    pub async fn forget_presence(&self, router_id: Option<&str>, older_than: DateTime<Utc>) -> Result<(), StoreError> {
        dispatch!(self.forget_presence(router_id, older_than))
    }

    /// The shared budget's refresh, in one transaction that no other router's runs through:
    /// writes router `router_id`'s own frontier spend on `day` per agent (each row the day's
    /// total), reads every router's rows, and sets this router's lease to what `lease` makes of
    /// them. Returns the rows read.
    pub async fn exchange_spend(
        &self,
        router_id: &str,
        day: NaiveDate,
        own: &[AgentReport],
        reported_at: DateTime<Utc>,
        lease: impl FnOnce(&[RouterSpendRow]) -> f64 + Send,
    ) -> Result<Vec<RouterSpendRow>, StoreError> {
        dispatch!(self.exchange_spend(router_id, day, own, reported_at, lease))
    }

    /// Per-agent limit usage today, from the reports of routers live after `live_after`.
    pub async fn agent_limits(
        &self,
        now: DateTime<Utc>,
        live_after: DateTime<Utc>,
    ) -> Result<Vec<AgentLimitLine>, StoreError> {
        Ok(limit_lines(&self.router_spend(now.date_naive()).await?, live_after))
    }

    /// Every router's spend report rows for `day`.
    pub async fn router_spend(&self, day: NaiveDate) -> Result<Vec<RouterSpendRow>, StoreError> {
        dispatch!(self.router_spend(day))
    }

    /// Every router's last report about `node`.
    pub async fn presence(&self, node: &str) -> Result<Vec<PresenceRow>, StoreError> {
        dispatch!(self.presence(node))
    }

    /// Every router that reported after `live_after`, with where it serves its status.
    pub async fn routers(&self, live_after: DateTime<Utc>) -> Result<Vec<RouterEndpoint>, StoreError> {
        dispatch!(self.routers(live_after))
    }

    /// Requests in flight per node, summed over every router that reported after `live_after`.
    pub async fn in_flight(&self, live_after: DateTime<Utc>) -> Result<Vec<(String, u32)>, StoreError> {
        dispatch!(self.in_flight(live_after))
    }

    /// Moves `draining` nodes to `drained` once no router reporting after `live_after` still has
    /// work there or has yet to see the drain; returns the nodes moved.
    pub async fn complete_drains(&self, live_after: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        dispatch!(self.complete_drains(live_after))
    }

    /// Stores an uploaded batch input file (its content already sealed).
    pub async fn create_batch_file(&self, file: &BatchFileRow) -> Result<(), StoreError> {
        dispatch!(self.create_batch_file(file))
    }

    /// An uploaded file by id, whoever owns it (the caller checks the agent).
    pub async fn batch_file(&self, id: &str) -> Result<Option<BatchFileRow>, StoreError> {
        dispatch!(self.batch_file(id))
    }

    /// Creates a batch and queues its jobs in one transaction (fast enough for 100,000 lines).
    /// `Conflict` if the batch id is taken or two jobs share a `custom_id`.
    pub async fn create_batch(&self, batch: &NewBatch, jobs: &[NewJob]) -> Result<(), StoreError> {
        job_model::distinct_custom_ids(batch, jobs)?;
        dispatch!(self.create_batch(batch, jobs))
    }

    /// A batch by id, with its job counts.
    pub async fn batch(&self, id: &str) -> Result<Option<BatchRow>, StoreError> {
        dispatch!(self.batch(id))
    }

    /// Batches newest first, of one agent or of all; `after` is the id of the last batch of the
    /// previous page.
    pub async fn batches(
        &self,
        agent: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError> {
        dispatch!(self.batches(agent, after, limit))
    }

    /// Claims up to `limit` runnable jobs for `router_id` until `lease_until`: queued jobs past
    /// their back-off in running, unpaused batches, and running jobs whose lease ran out (their
    /// router died: the lost attempt gets a run row with outcome `lost`). Oldest batch and line
    /// first; counts the attempt.
    pub async fn claim_jobs(
        &self,
        router_id: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        dispatch!(self.claim_jobs(router_id, limit, now, lease_until))
    }

    /// Extends the leases `router_id` still holds on `job_ids`; returns how many it still held.
    pub async fn renew_job_leases(
        &self,
        router_id: &str,
        job_ids: &[i64],
        lease_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        dispatch!(self.renew_job_leases(router_id, job_ids, lease_until))
    }

    /// Ends an attempt, only while `router_id` still holds the job's lease; returns whether it did
    /// (false: the lease was lost and another router owns the job now).
    pub async fn finish_job(
        &self,
        job_id: i64,
        router_id: &str,
        outcome: &JobOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let end = JobEnd {
            job_id,
            outcome: outcome.clone(),
            run: None,
        };
        let held = self.finish_jobs(router_id, std::slice::from_ref(&end), now).await?;
        Ok(held.first().copied().unwrap_or(false))
    }

    /// Ends several attempts in one transaction: their run rows are recorded, and each job's end
    /// is fenced by `router_id`'s lease. Returns, per end, whether the lease was still held.
    pub async fn finish_jobs(
        &self,
        router_id: &str,
        ends: &[JobEnd],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        dispatch!(self.finish_jobs(router_id, ends, now))
    }

    /// Notes where a running job's attempt went (a node or a provider), while `router_id` holds it.
    pub async fn set_job_target(&self, job_id: i64, router_id: &str, target: &str) -> Result<(), StoreError> {
        dispatch!(self.set_job_target(job_id, router_id, target))
    }

    /// Running jobs per target (node or provider) over every router.
    pub async fn running_jobs_by_target(&self) -> Result<Vec<(String, i64)>, StoreError> {
        dispatch!(self.running_jobs_by_target())
    }

    /// Records attempts (a run row per attempt).
    pub async fn record_job_runs(&self, runs: &[JobRunRow]) -> Result<(), StoreError> {
        dispatch!(self.record_job_runs(runs))
    }

    /// The attempts at a batch's jobs, oldest first.
    pub async fn job_runs(&self, batch_id: &str) -> Result<Vec<JobRunRow>, StoreError> {
        dispatch!(self.job_runs(batch_id))
    }

    /// The newest failed attempts over every batch, newest first.
    pub async fn recent_job_failures(&self, limit: u32) -> Result<Vec<JobRunRow>, StoreError> {
        dispatch!(self.recent_job_failures(limit))
    }

    /// Moves batches along at `now`: running batches past their window expire (queued jobs become
    /// `expired`), cancelling batches with nothing running become cancelled, and running batches
    /// with nothing left complete. Returns the ids of the batches that changed.
    pub async fn advance_batches(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        dispatch!(self.advance_batches(now))
    }

    /// Asks a batch to stop: its queued jobs become `cancelled` and it is `cancelling` until its
    /// running jobs end. `NotFound` if there is no such batch, `Conflict` if it already ended.
    pub async fn cancel_batch(&self, id: &str, now: DateTime<Utc>) -> Result<BatchRow, StoreError> {
        dispatch!(self.cancel_batch(id, now))
    }

    /// Pauses or resumes a batch. `NotFound` if there is no such batch, `Conflict` if it ended.
    pub async fn set_batch_paused(&self, id: &str, paused: bool) -> Result<BatchRow, StoreError> {
        dispatch!(self.set_batch_paused(id, paused))
    }

    /// Queues a batch's failed jobs again with fresh attempts, reopening a completed batch whose
    /// window is still open; returns how many were queued. `NotFound` if there is no such batch;
    /// `Conflict` if it was refused, is being or was cancelled, expired, its window has ended, or
    /// retention removed its requests.
    pub async fn retry_failed_jobs(&self, id: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self.retry_failed_jobs(id, now))
    }

    /// The entries of a batch's output file (`errors == false`: succeeded jobs) or error file
    /// (failed, expired and cancelled jobs), by line.
    pub async fn job_results(&self, batch_id: &str, errors: bool) -> Result<Vec<JobResultRow>, StoreError> {
        dispatch!(self.job_results(batch_id, errors))
    }

    /// Queue depth per task class over every batch that can still run.
    pub async fn job_queue_depth(&self) -> Result<Vec<ClassDepth>, StoreError> {
        dispatch!(self.job_queue_depth())
    }

    /// Removes the payloads (input files, request bodies, results) of batches that ended before
    /// `ended_before`, and input files no batch uses that were uploaded before it; returns how many
    /// batches were purged (each once: a purged batch is not counted again).
    pub async fn purge_job_payloads(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self.purge_job_payloads(ended_before))
    }

    /// Wake-ups telling a reader what to re-read; the background task ends when the receiver drops.
    /// Must be called inside a tokio runtime.
    pub fn wakeups(&self) -> tokio::sync::mpsc::Receiver<Wakeup> {
        match self {
            Store::Postgres(store) => store.wakeups(),
            Store::Sqlite(store) => store.wakeups(),
        }
    }
}
