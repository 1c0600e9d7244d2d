//! What both backends make of batch-job rows: the statements they share, rows read back before
//! their times and names are parsed, job counts, and the refusals of batch changes.
//!
//! Statements here are the same text on both backends; each binds times its own way.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::StoreError;
use super::jobs::{BatchRow, BatchStatus, JobCounts, JobRunRow, NewBatch, NewJob};

/// Batch columns read into [`RawBatch`], but for `metadata` and `errors`, which each backend reads
/// its own way (JSON text in SQLite, `jsonb` cast to text in PostgreSQL).
pub(crate) const BATCH_COLUMNS: &str = "id, agent, input_file_id, endpoint, completion_window, status, paused, \
     created_at, expires_at, in_progress_at, finalizing_at, completed_at, failed_at, expired_at, cancelling_at, \
     cancelled_at";

/// Run columns read into [`RawRun`].
pub(crate) const RUN_COLUMNS: &str = "job_id, batch_id, attempt, router_id, target, started_at, ended_at, outcome, \
     status_code, error_code, prompt_tokens, completion_tokens, cost_usd, request_id";

/// Notes a running job's target: `$3`.
pub(crate) const SET_TARGET: &str =
    "UPDATE jobs SET target = $3 WHERE id = $1 AND state = 'running' AND lease_owner = $2";

/// Running jobs per target.
pub(crate) const RUNNING_BY_TARGET: &str = "SELECT target, count(*) FROM jobs \
     WHERE state = 'running' AND target IS NOT NULL GROUP BY target ORDER BY target";

/// A batch's output file, by line.
pub(crate) const OUTPUT_RESULTS: &str = "SELECT id, line, custom_id, state, status_code, error_code, result \
     FROM jobs WHERE batch_id = $1 AND state = 'succeeded' ORDER BY line";
/// A batch's error file, by line.
pub(crate) const ERROR_RESULTS: &str = "SELECT id, line, custom_id, state, status_code, error_code, result \
     FROM jobs WHERE batch_id = $1 AND state IN ('failed', 'expired', 'cancelled') ORDER BY line";

/// Queued and running jobs per class, over batches that can still run.
pub(crate) const QUEUE_DEPTH: &str = "SELECT j.class, count(*) FILTER (WHERE j.state = 'queued'), \
     count(*) FILTER (WHERE j.state = 'running') FROM batches b JOIN jobs j ON j.batch_id = b.id \
     WHERE b.status IN ('in_progress', 'cancelling') AND j.state IN ('queued', 'running') \
     GROUP BY j.class ORDER BY j.class";

/// The attempts at a batch's jobs, oldest first.
pub(crate) fn runs_of_batch() -> String {
    format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE batch_id = $1 ORDER BY started_at, id")
}

/// The newest failed attempts, newest first: `$1` how many.
pub(crate) fn recent_failures() -> String {
    format!(
        "SELECT {RUN_COLUMNS} FROM job_runs WHERE outcome IN ('retry', 'failed', 'lost') \
         ORDER BY ended_at DESC, id DESC LIMIT $1"
    )
}

/// A batch has nothing queued or running.
macro_rules! idle {
    () => {
        "NOT EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = batches.id AND j.state IN ('queued', 'running'))"
    };
}

/// Batches past their window with nothing left running and jobs that expired (`$1` now).
pub(crate) const EXPIRE_BATCHES: &str = concat!(
    "UPDATE batches SET status = 'expired', expired_at = $1, ended_at = $1 \
     WHERE status = 'in_progress' AND expires_at <= $1 AND ",
    idle!(),
    " AND EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = batches.id AND j.state = 'expired') RETURNING id"
);
/// Running batches with nothing left to run (`$1` now).
pub(crate) const COMPLETE_BATCHES: &str = concat!(
    "UPDATE batches SET status = 'completed', finalizing_at = $1, completed_at = $1, ended_at = $1 \
     WHERE status = 'in_progress' AND ",
    idle!(),
    " RETURNING id"
);
/// Cancelling batches with nothing left running (`$1` now).
pub(crate) const CANCEL_BATCHES: &str = concat!(
    "UPDATE batches SET status = 'cancelled', cancelled_at = $1, ended_at = $1 WHERE status = 'cancelling' AND ",
    idle!(),
    " RETURNING id"
);

/// Cancels a batch's queued jobs: `$1` batch, `$2` now.
pub(crate) const CANCEL_QUEUED: &str = "UPDATE jobs SET state = 'cancelled', error_code = 'batch_cancelled', \
     finished_at = $2 WHERE batch_id = $1 AND state = 'queued'";

/// Queues a batch's failed jobs again with fresh attempts: `$1` batch, `$2` now.
pub(crate) const REQUEUE_FAILED: &str = "UPDATE jobs SET state = 'queued', attempts = 0, not_before = $2, \
     status_code = NULL, error_code = NULL, result = NULL, finished_at = NULL, lease_owner = NULL, \
     lease_until = NULL, target = NULL WHERE batch_id = $1 AND state = 'failed'";

/// Reopens a completed batch whose failed jobs were queued again: `$1` batch.
pub(crate) const REOPEN_BATCH: &str = "UPDATE batches SET status = 'in_progress', finalizing_at = NULL, \
     completed_at = NULL, ended_at = NULL WHERE id = $1 AND status = 'completed'";

/// Empties input files no batch still needs: each batch using it ended before `$1` (or none
/// uses it and it was uploaded before `$1`).
pub(crate) const PURGE_FILES: &str = "UPDATE batch_files SET content = NULL \
     WHERE content IS NOT NULL AND created_at < $1 AND NOT EXISTS (SELECT 1 FROM batches b \
     WHERE b.input_file_id = batch_files.id AND (b.ended_at IS NULL OR b.ended_at >= $1))";

/// A batch row as read from either backend, before its names and times are parsed.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawBatch<T> {
    pub id: String,
    pub agent: String,
    pub input_file_id: String,
    pub endpoint: String,
    pub completion_window: String,
    pub status: String,
    pub paused: bool,
    pub created_at: T,
    pub expires_at: T,
    pub in_progress_at: Option<T>,
    pub finalizing_at: Option<T>,
    pub completed_at: Option<T>,
    pub failed_at: Option<T>,
    pub expired_at: Option<T>,
    pub cancelling_at: Option<T>,
    pub cancelled_at: Option<T>,
    /// JSON text.
    pub metadata: Option<String>,
    /// JSON text.
    pub errors: Option<String>,
}

/// Reads a backend's stored time (`column` names it in errors).
pub(crate) type TimeReader<'a, T> = &'a dyn Fn(&'static str, T) -> Result<DateTime<Utc>, StoreError>;

impl<T> RawBatch<T> {
    /// The batch with its times read by `time` and its counts from `counts` (none: no jobs).
    pub(crate) fn into_row(
        self,
        time: TimeReader<'_, T>,
        counts: &HashMap<String, JobCounts>,
    ) -> Result<BatchRow, StoreError> {
        let opt = |column: &'static str, value: Option<T>| value.map(|v| time(column, v)).transpose();
        Ok(BatchRow {
            status: parse_status(&self.status)?,
            paused: self.paused,
            created_at: time("batches.created_at", self.created_at)?,
            expires_at: time("batches.expires_at", self.expires_at)?,
            in_progress_at: opt("batches.in_progress_at", self.in_progress_at)?,
            finalizing_at: opt("batches.finalizing_at", self.finalizing_at)?,
            completed_at: opt("batches.completed_at", self.completed_at)?,
            failed_at: opt("batches.failed_at", self.failed_at)?,
            expired_at: opt("batches.expired_at", self.expired_at)?,
            cancelling_at: opt("batches.cancelling_at", self.cancelling_at)?,
            cancelled_at: opt("batches.cancelled_at", self.cancelled_at)?,
            metadata: parse_json("batches.metadata", self.metadata)?,
            errors: parse_json("batches.errors", self.errors)?,
            counts: counts.get(&self.id).copied().unwrap_or_default(),
            agent: self.agent,
            input_file_id: self.input_file_id,
            endpoint: self.endpoint,
            completion_window: self.completion_window,
            id: self.id,
        })
    }
}

/// A run row as read from either backend, before its times are parsed.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawRun<T> {
    pub job_id: i64,
    pub batch_id: String,
    pub attempt: i32,
    pub router_id: String,
    pub target: Option<String>,
    pub started_at: T,
    pub ended_at: Option<T>,
    pub outcome: String,
    pub status_code: Option<i32>,
    pub error_code: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub request_id: Option<String>,
}

impl<T> RawRun<T> {
    /// The run with its times read by `time`.
    pub(crate) fn into_row(self, time: TimeReader<'_, T>) -> Result<JobRunRow, StoreError> {
        Ok(JobRunRow {
            job_id: self.job_id,
            batch_id: self.batch_id,
            attempt: self.attempt,
            router_id: self.router_id,
            target: self.target,
            started_at: time("job_runs.started_at", self.started_at)?,
            ended_at: self.ended_at.map(|t| time("job_runs.ended_at", t)).transpose()?,
            outcome: self.outcome,
            status_code: self.status_code,
            error_code: self.error_code,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cost_usd: self.cost_usd,
            request_id: self.request_id,
        })
    }
}

/// Job counts per batch from `(batch, state, jobs)` rows.
pub(crate) fn counts_by_batch(rows: Vec<(String, String, i64)>) -> Result<HashMap<String, JobCounts>, StoreError> {
    let mut by_batch: HashMap<String, JobCounts> = HashMap::new();
    for (batch, state, n) in rows {
        let counts = by_batch.entry(batch).or_default();
        counts.total += n;
        match state.as_str() {
            "succeeded" => counts.completed += n,
            "failed" | "expired" | "cancelled" => counts.failed += n,
            "queued" => counts.queued += n,
            "running" => counts.running += n,
            _ => return Err(StoreError::corrupt("jobs.state", format!("`{state}`"))),
        }
    }
    Ok(by_batch)
}

/// Parses a stored batch status.
pub(crate) fn parse_status(text: &str) -> Result<BatchStatus, StoreError> {
    BatchStatus::parse(text).ok_or_else(|| StoreError::corrupt("batches.status", format!("`{text}`")))
}

fn parse_json(column: &'static str, text: Option<String>) -> Result<Option<serde_json::Value>, StoreError> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::corrupt(column, e)))
        .transpose()
}

/// The times a new batch starts with: when it started running, and when it failed (and ended).
pub(crate) struct StartTimes {
    pub in_progress_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

/// Checks a batch to create: it is created running with jobs, or refused (`failed`) without any.
pub(crate) fn start_times(batch: &NewBatch, jobs: &[NewJob]) -> Result<StartTimes, StoreError> {
    match batch.status {
        BatchStatus::InProgress => Ok(StartTimes {
            in_progress_at: Some(batch.created_at),
            failed_at: None,
        }),
        BatchStatus::Failed if jobs.is_empty() => Ok(StartTimes {
            in_progress_at: None,
            failed_at: Some(batch.created_at),
        }),
        BatchStatus::Failed => Err(StoreError::Conflict(format!(
            "batch {} was refused, yet {} jobs came with it; a failed batch has none",
            batch.id,
            jobs.len()
        ))),
        other => Err(StoreError::Conflict(format!(
            "batch {} cannot be created {}: a batch starts in_progress or failed",
            batch.id,
            other.as_str()
        ))),
    }
}

/// The metadata or errors of a new batch as JSON text.
pub(crate) fn json_text(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

/// What a batch change runs into, or `None` when `status` allows it.
pub(crate) fn refusal(change: BatchChange, id: &str, status: BatchStatus) -> Option<StoreError> {
    let allowed = match change {
        BatchChange::Cancel => matches!(status, BatchStatus::Validating | BatchStatus::InProgress),
        BatchChange::Pause => !status.is_terminal(),
        BatchChange::Retry => matches!(status, BatchStatus::InProgress | BatchStatus::Completed),
    };
    (!allowed).then(|| {
        StoreError::Conflict(format!(
            "cannot {} batch {id}: it is {}",
            change.verb(),
            status.as_str()
        ))
    })
}

/// The refusal to retry a batch whose window ended, or whose payloads retention removed.
pub(crate) fn retry_too_late(id: &str, window_ended: bool, purged: bool) -> Option<StoreError> {
    if purged {
        Some(StoreError::Conflict(format!(
            "cannot retry batch {id}: its requests were removed by retention"
        )))
    } else if window_ended {
        Some(StoreError::Conflict(format!(
            "cannot retry batch {id}: its completion window has ended"
        )))
    } else {
        None
    }
}

/// A change an operator or client asks of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchChange {
    /// Stop it: queued jobs are cancelled, running ones finish.
    Cancel,
    /// Pause or resume it.
    Pause,
    /// Queue its failed jobs again.
    Retry,
}

impl BatchChange {
    fn verb(self) -> &'static str {
        match self {
            BatchChange::Cancel => "cancel",
            BatchChange::Pause => "pause or resume",
            BatchChange::Retry => "retry",
        }
    }
}

/// The refusal of a batch or job that clashes with one stored (a reused id or `custom_id`).
pub(crate) fn duplicate(what: &str) -> StoreError {
    StoreError::Conflict(format!("{what} already exists"))
}

/// Refuses a batch whose jobs share a `custom_id` (PostgreSQL keeps no unique index on it: see
/// migration 0007).
pub(crate) fn distinct_custom_ids(batch: &NewBatch, jobs: &[NewJob]) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(jobs.len());
    match jobs.iter().find(|job| !seen.insert(job.custom_id.as_str())) {
        Some(twice) => Err(StoreError::Conflict(format!(
            "batch {} has the same custom_id twice ({:?})",
            batch.id, twice.custom_id
        ))),
        None => Ok(()),
    }
}

/// Errors a database reports for a batch insert, in the farm's words.
pub(crate) fn insert_error(err: sqlx::Error, batch: &NewBatch) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            if db.constraint().is_some_and(|c| c.contains("jobs")) || db.message().contains("jobs.") {
                StoreError::Conflict(format!("batch {} has the same custom_id twice", batch.id))
            } else {
                duplicate(&format!("batch {}", batch.id))
            }
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("input file {}", batch.input_file_id))
        }
        _ => err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_state() {
        let rows = vec![
            ("b1".to_string(), "succeeded".to_string(), 5),
            ("b1".to_string(), "failed".to_string(), 1),
            ("b1".to_string(), "expired".to_string(), 2),
            ("b1".to_string(), "cancelled".to_string(), 3),
            ("b1".to_string(), "queued".to_string(), 7),
            ("b1".to_string(), "running".to_string(), 4),
            ("b2".to_string(), "queued".to_string(), 1),
        ];
        let counts = counts_by_batch(rows).expect("known states");
        assert_eq!(
            counts["b1"],
            JobCounts {
                total: 22,
                completed: 5,
                failed: 6,
                queued: 7,
                running: 4
            }
        );
        assert_eq!(counts["b2"].total, 1);
        let unknown = counts_by_batch(vec![("b".into(), "lost".into(), 1)]);
        assert!(matches!(
            unknown,
            Err(StoreError::Corrupt {
                column: "jobs.state",
                ..
            })
        ));
    }

    #[test]
    fn changes_are_refused_by_status() {
        use BatchStatus::*;
        assert!(refusal(BatchChange::Cancel, "b", InProgress).is_none());
        assert!(refusal(BatchChange::Cancel, "b", Validating).is_none());
        for status in [Cancelling, Cancelled, Completed, Expired, Failed] {
            let err = refusal(BatchChange::Cancel, "b", status).expect("refused");
            assert_eq!(
                err.to_string(),
                format!("cannot cancel batch b: it is {}", status.as_str())
            );
        }
        assert!(refusal(BatchChange::Pause, "b", Cancelling).is_none());
        assert!(refusal(BatchChange::Pause, "b", Completed).is_some());
        assert!(refusal(BatchChange::Retry, "b", Completed).is_none());
        for status in [Cancelled, Expired, Failed, Cancelling] {
            assert!(refusal(BatchChange::Retry, "b", status).is_some(), "{status:?}");
        }
    }
}
