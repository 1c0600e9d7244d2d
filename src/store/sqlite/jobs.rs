//! Batch jobs on SQLite. Claims and batch status changes run in `BEGIN IMMEDIATE` transactions:
//! one writer at a time, so a job is never claimed twice. Lists of ids are bound as one JSON
//! array and read with `json_each`.

use chrono::{DateTime, Utc};
use sqlx::{Sqlite, Transaction};

use crate::store::job_model::{
    BATCH_COLUMNS, BatchChange, CANCEL_BATCHES, CANCEL_QUEUED, COMPLETE_BATCHES, ERROR_RESULTS, EXPIRE_BATCHES,
    OUTPUT_RESULTS, PURGE_FILES, QUEUE_DEPTH, REOPEN_BATCH, REQUEUE_FAILED, RUNNING_BY_TARGET, RawBatch, RawRun,
    SET_TARGET, counts_by_batch, duplicate, insert_error, json_text, parse_status, recent_failures, refusal,
    retry_too_late, runs_of_batch, start_times,
};
use crate::store::model::now;
use crate::store::{
    BatchFileRow, BatchRow, BatchStatus, ClaimedJob, ClassDepth, JobEnd, JobOutcome, JobResultRow, JobRunRow, NewBatch,
    NewJob, StoreError,
};

use super::{SqliteStore, parse_ts, ts};

/// Jobs per multi-row insert: 6 parameters each, well under SQLite's 32,766.
const INSERT_CHUNK: usize = 2_000;
/// Runs per multi-row insert: 14 parameters each.
const RUN_CHUNK: usize = 1_000;

/// The fence of every end of an attempt: the worker still holds the lease. (PostgreSQL ends many
/// attempts in one statement, `END_ATTEMPTS`, which sets the same columns.)
macro_rules! fenced {
    ($set:literal) => {
        concat!(
            "UPDATE jobs SET ",
            $set,
            ", lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'running' AND lease_owner = $2"
        )
    };
}

/// Ends a job with its result: `$3` status, `$4` sealed body, `$5` now.
const FINISH_SUCCEEDED: &str =
    fenced!("state = 'succeeded', status_code = $3, result = $4, error_code = NULL, finished_at = $5");
/// Ends a job in the error file: `$3` status, `$4` error code, `$5` sealed body, `$6` now.
const FINISH_FAILED: &str =
    fenced!("state = 'failed', status_code = $3, error_code = $4, result = $5, finished_at = $6");
/// Queues a job again after a failed attempt: `$3` earliest next claim, `$4` why it failed.
const FINISH_RETRY: &str = fenced!("state = 'queued', not_before = $3, error_code = $4");
/// Queues a job again without counting the attempt, not to be claimed before `$3` when given.
const FINISH_RELEASE: &str =
    fenced!("state = 'queued', attempts = attempts - 1, not_before = COALESCE($3, not_before)");

/// Running jobs whose lease ran out at `$1`, in batches running, unpaused and inside their window;
/// at most `$2`, the longest lapsed first.
const LAPSED: &str = "SELECT j.id, j.batch_id, j.attempts, j.lease_owner, j.target, j.claimed_at \
     FROM jobs j JOIN batches b ON b.id = j.batch_id \
     WHERE j.state = 'running' AND j.lease_until < $1 \
     AND b.status = 'in_progress' AND NOT b.paused AND b.expires_at > $1 \
     ORDER BY j.lease_until LIMIT $2";

/// Queued jobs past their back-off at `$1` in batches running, unpaused and inside their window;
/// at most `$2`, oldest batch and line first.
const QUEUED: &str = "SELECT j.id FROM batches b JOIN jobs j ON j.batch_id = b.id \
     WHERE b.status = 'in_progress' AND NOT b.paused AND b.expires_at > $1 \
     AND j.state = 'queued' AND j.not_before <= $1 \
     ORDER BY b.created_at, b.id, j.line LIMIT $2";

/// Records the lost attempt of every running job whose lease ran out in a batch past its window
/// or being cancelled (`$1` now): its router died holding it.
const RECORD_LAPSED: &str = "INSERT INTO job_runs (job_id, batch_id, attempt, router_id, target, \
     started_at, ended_at, outcome) \
     SELECT j.id, j.batch_id, j.attempts, coalesce(j.lease_owner, ''), j.target, coalesce(j.claimed_at, $1), $1, 'lost' \
     FROM jobs j JOIN batches b ON b.id = j.batch_id \
     WHERE (b.status = 'cancelling' OR (b.status = 'in_progress' AND b.expires_at <= $1)) \
     AND j.state = 'running' AND j.lease_until < $1";

/// Ends what is left of batches past their window (`expired`) or being cancelled (`cancelled`):
/// queued jobs, and running ones whose lease ran out (`$1` now).
const END_LEFTOVER_JOBS: &str = "UPDATE jobs SET \
     state = CASE b.status WHEN 'cancelling' THEN 'cancelled' ELSE 'expired' END, \
     error_code = CASE b.status WHEN 'cancelling' THEN 'batch_cancelled' ELSE 'batch_expired' END, \
     finished_at = $1, lease_owner = NULL, lease_until = NULL \
     FROM batches b WHERE b.id = jobs.batch_id \
     AND (b.status = 'cancelling' OR (b.status = 'in_progress' AND b.expires_at <= $1)) \
     AND jobs.state IN ('queued', 'running') AND (jobs.state = 'queued' OR jobs.lease_until < $1)";

type LapsedRow = (i64, String, i32, Option<String>, Option<String>, Option<String>);
type ClaimRow = (i64, String, String, i64, String, String, i32, Option<Vec<u8>>);

/// Ids as the JSON array `json_each` reads.
fn id_list(ids: &[i64]) -> String {
    serde_json::Value::from(ids).to_string()
}

/// Reads a stored time.
fn time(column: &'static str, value: String) -> Result<DateTime<Utc>, StoreError> {
    parse_ts(column, &value)
}

impl SqliteStore {
    pub(crate) async fn create_batch_file(&self, file: &BatchFileRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO batch_files (id, agent, filename, bytes, lines, created_at, content) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&file.id)
        .bind(&file.agent)
        .bind(&file.filename)
        .bind(file.bytes)
        .bind(file.lines)
        .bind(ts(file.created_at))
        .bind(file.content.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => duplicate(&format!("file {}", file.id)),
            e => e.into(),
        })?;
        Ok(())
    }

    pub(crate) async fn batch_file(&self, id: &str) -> Result<Option<BatchFileRow>, StoreError> {
        type Row = (String, String, String, i64, i64, String, Option<Vec<u8>>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, agent, filename, bytes, lines, created_at, content FROM batch_files WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, agent, filename, bytes, lines, created_at, content)| {
            Ok(BatchFileRow {
                id,
                agent,
                filename,
                bytes,
                lines,
                created_at: parse_ts("batch_files.created_at", &created_at)?,
                content,
            })
        })
        .transpose()
    }

    /// Multi-row inserts in one transaction.
    pub(crate) async fn create_batch(&self, batch: &NewBatch, jobs: &[NewJob]) -> Result<(), StoreError> {
        let start = start_times(batch, jobs)?;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO batches (id, agent, input_file_id, endpoint, completion_window, status, created_at, \
             expires_at, in_progress_at, failed_at, ended_at, metadata, errors) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)",
        )
        .bind(&batch.id)
        .bind(&batch.agent)
        .bind(&batch.input_file_id)
        .bind(&batch.endpoint)
        .bind(&batch.completion_window)
        .bind(batch.status.as_str())
        .bind(ts(batch.created_at))
        .bind(ts(batch.expires_at))
        .bind(start.in_progress_at.map(ts))
        .bind(start.failed_at.map(ts))
        .bind(json_text(batch.metadata.as_ref()))
        .bind(json_text(batch.errors.as_ref()))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, batch))?;
        let not_before = ts(batch.created_at);
        for chunk in jobs.chunks(INSERT_CHUNK) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO jobs (batch_id, line, custom_id, class, state, not_before, request) ",
            );
            insert.push_values(chunk, |mut row, job| {
                row.push_bind(batch.id.as_str())
                    .push_bind(job.line)
                    .push_bind(job.custom_id.as_str())
                    .push_bind(job.class.as_str())
                    .push("'queued'")
                    .push_bind(not_before.as_str())
                    .push_bind(job.request.as_slice());
            });
            // Not cached: the last chunk is a statement of its own size.
            insert
                .build()
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(|e| insert_error(e, batch))?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn batch(&self, id: &str) -> Result<Option<BatchRow>, StoreError> {
        let sql = format!("SELECT {BATCH_COLUMNS}, metadata, errors FROM batches WHERE id = $1");
        let raw: Vec<RawBatch<String>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(self.with_counts(raw).await?.pop())
    }

    pub(crate) async fn batches(
        &self,
        agent: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError> {
        let sql = format!(
            "SELECT {BATCH_COLUMNS}, metadata, errors FROM batches \
             WHERE ($1 IS NULL OR agent = $1) \
             AND ($2 IS NULL OR (created_at, id) < (SELECT created_at, id FROM batches WHERE id = $2)) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let raw: Vec<RawBatch<String>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(agent)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        self.with_counts(raw).await
    }

    /// The batches with their job counts, in the order given.
    async fn with_counts(&self, raw: Vec<RawBatch<String>>) -> Result<Vec<BatchRow>, StoreError> {
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = raw.iter().map(|b| b.id.as_str()).collect();
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT batch_id, state, count(*) FROM jobs WHERE batch_id IN (SELECT value FROM json_each($1)) \
             GROUP BY batch_id, state",
        )
        .bind(serde_json::Value::from(ids).to_string())
        .fetch_all(&self.pool)
        .await?;
        let counts = counts_by_batch(rows)?;
        raw.into_iter().map(|b| b.into_row(&time, &counts)).collect()
    }

    pub(crate) async fn claim_jobs(
        &self,
        router_id: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let at = ts(now);
        let mut tx = self.write_tx().await?;
        let lapsed: Vec<LapsedRow> = sqlx::query_as(LAPSED)
            .bind(&at)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        for (job_id, batch_id, attempt, owner, target, claimed_at) in &lapsed {
            sqlx::query(
                "INSERT INTO job_runs (job_id, batch_id, attempt, router_id, target, started_at, ended_at, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'lost')",
            )
            .bind(job_id)
            .bind(batch_id)
            .bind(attempt)
            .bind(owner.as_deref().unwrap_or_default())
            .bind(target.as_deref())
            .bind(claimed_at.as_deref().unwrap_or(&at))
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        let mut ids: Vec<i64> = lapsed.iter().map(|row| row.0).collect();
        let room = u32::try_from(ids.len()).map_or(0, |taken| limit.saturating_sub(taken));
        if room > 0 {
            let queued: Vec<i64> = sqlx::query_scalar(QUEUED)
                .bind(&at)
                .bind(i64::from(room))
                .fetch_all(&mut *tx)
                .await?;
            ids.extend(queued);
        }
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let ids = id_list(&ids);
        sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, lease_until = $2, \
             claimed_at = $3, target = NULL WHERE id IN (SELECT value FROM json_each($4))",
        )
        .bind(router_id)
        .bind(ts(lease_until))
        .bind(&at)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "SELECT j.id, j.batch_id, b.agent, j.line, j.custom_id, j.class, j.attempts, j.request \
             FROM jobs j JOIN batches b ON b.id = j.batch_id WHERE j.id IN (SELECT value FROM json_each($1)) \
             ORDER BY b.created_at, j.batch_id, j.line",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|(id, batch_id, agent, line, custom_id, class, attempt, request)| {
                Ok(ClaimedJob {
                    request: request
                        .ok_or_else(|| StoreError::corrupt("jobs.request", format!("job {id} has none")))?,
                    id,
                    batch_id,
                    agent,
                    line,
                    custom_id,
                    class,
                    attempt,
                    lease_until,
                })
            })
            .collect()
    }

    pub(crate) async fn renew_job_leases(
        &self,
        router_id: &str,
        job_ids: &[i64],
        lease_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if job_ids.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $3 WHERE id IN (SELECT value FROM json_each($2)) \
             AND state = 'running' AND lease_owner = $1",
        )
        .bind(router_id)
        .bind(id_list(job_ids))
        .bind(ts(lease_until))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn finish_jobs(
        &self,
        router_id: &str,
        ends: &[JobEnd],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        if ends.is_empty() {
            return Ok(Vec::new());
        }
        let runs: Vec<JobRunRow> = ends.iter().filter_map(|e| e.run.clone()).collect();
        let mut tx = self.write_tx().await?;
        insert_runs(&mut tx, &runs).await?;
        let mut held = Vec::with_capacity(ends.len());
        for end in ends {
            let update = fenced_end(end.job_id, router_id, &end.outcome, now);
            held.push(update.execute(&mut *tx).await?.rows_affected() == 1);
        }
        tx.commit().await?;
        Ok(held)
    }

    pub(crate) async fn set_job_target(&self, job_id: i64, router_id: &str, target: &str) -> Result<(), StoreError> {
        sqlx::query(SET_TARGET)
            .bind(job_id)
            .bind(router_id)
            .bind(target)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn running_jobs_by_target(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(RUNNING_BY_TARGET).fetch_all(&self.pool).await?)
    }

    pub(crate) async fn record_job_runs(&self, runs: &[JobRunRow]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        insert_runs(&mut tx, runs).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn job_runs(&self, batch_id: &str) -> Result<Vec<JobRunRow>, StoreError> {
        let raw: Vec<RawRun<String>> = sqlx::query_as(sqlx::AssertSqlSafe(runs_of_batch()))
            .bind(batch_id)
            .fetch_all(&self.pool)
            .await?;
        raw.into_iter().map(|r| r.into_row(&time)).collect()
    }

    pub(crate) async fn recent_job_failures(&self, limit: u32) -> Result<Vec<JobRunRow>, StoreError> {
        let raw: Vec<RawRun<String>> = sqlx::query_as(sqlx::AssertSqlSafe(recent_failures()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        raw.into_iter().map(|r| r.into_row(&time)).collect()
    }

    pub(crate) async fn advance_batches(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let at = ts(now);
        let mut tx = self.write_tx().await?;
        sqlx::query(RECORD_LAPSED).bind(&at).execute(&mut *tx).await?;
        sqlx::query(END_LEFTOVER_JOBS).bind(&at).execute(&mut *tx).await?;
        let mut changed = Vec::new();
        for transition in [EXPIRE_BATCHES, COMPLETE_BATCHES, CANCEL_BATCHES] {
            let ids: Vec<String> = sqlx::query_scalar(transition).bind(&at).fetch_all(&mut *tx).await?;
            changed.extend(ids);
        }
        tx.commit().await?;
        changed.sort();
        Ok(changed)
    }

    pub(crate) async fn cancel_batch(&self, id: &str, now: DateTime<Utc>) -> Result<BatchRow, StoreError> {
        let mut tx = self.write_tx().await?;
        let status = stored_status(&mut tx, id).await?;
        if let Some(refused) = refusal(BatchChange::Cancel, id, status) {
            return Err(refused);
        }
        sqlx::query("UPDATE batches SET status = 'cancelling', cancelling_at = $2 WHERE id = $1")
            .bind(id)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(CANCEL_QUEUED)
            .bind(id)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.existing_batch(id).await
    }

    pub(crate) async fn set_batch_paused(&self, id: &str, paused: bool) -> Result<BatchRow, StoreError> {
        let mut tx = self.write_tx().await?;
        let status = stored_status(&mut tx, id).await?;
        if let Some(refused) = refusal(BatchChange::Pause, id, status) {
            return Err(refused);
        }
        sqlx::query("UPDATE batches SET paused = $2 WHERE id = $1")
            .bind(id)
            .bind(paused)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.existing_batch(id).await
    }

    pub(crate) async fn retry_failed_jobs(&self, id: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let status = stored_status(&mut tx, id).await?;
        if let Some(refused) = refusal(BatchChange::Retry, id, status) {
            return Err(refused);
        }
        let (expires_at, purged): (String, bool) =
            sqlx::query_as("SELECT expires_at, purged_at IS NOT NULL FROM batches WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let window_ended = parse_ts("batches.expires_at", &expires_at)? <= now;
        if let Some(refused) = retry_too_late(id, window_ended, purged) {
            return Err(refused);
        }
        let queued = sqlx::query(REQUEUE_FAILED)
            .bind(id)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if queued > 0 {
            sqlx::query(REOPEN_BATCH).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(queued)
    }

    pub(crate) async fn job_results(&self, batch_id: &str, errors: bool) -> Result<Vec<JobResultRow>, StoreError> {
        type Row = (i64, i64, String, String, Option<i32>, Option<String>, Option<Vec<u8>>);
        let rows: Vec<Row> = sqlx::query_as(if errors { ERROR_RESULTS } else { OUTPUT_RESULTS })
            .bind(batch_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(job_id, line, custom_id, state, status_code, error_code, result)| JobResultRow {
                    job_id,
                    line,
                    custom_id,
                    state,
                    status_code,
                    error_code,
                    result,
                },
            )
            .collect())
    }

    pub(crate) async fn job_queue_depth(&self) -> Result<Vec<ClassDepth>, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(QUEUE_DEPTH).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(class, queued, running)| ClassDepth { class, queued, running })
            .collect())
    }

    pub(crate) async fn purge_job_payloads(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff = ts(ended_before);
        let mut tx = self.write_tx().await?;
        let gone: Vec<String> = sqlx::query_scalar(
            "UPDATE batches SET purged_at = $2 WHERE ended_at < $1 AND purged_at IS NULL RETURNING id",
        )
        .bind(&cutoff)
        .bind(ts(now()))
        .fetch_all(&mut *tx)
        .await?;
        if !gone.is_empty() {
            sqlx::query(
                "UPDATE jobs SET request = NULL, result = NULL WHERE batch_id IN (SELECT value FROM json_each($1))",
            )
            .bind(serde_json::Value::from(gone.clone()).to_string())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(PURGE_FILES).bind(&cutoff).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(u64::try_from(gone.len()).unwrap_or(u64::MAX))
    }

    /// A batch that must exist (it was just changed).
    async fn existing_batch(&self, id: &str) -> Result<BatchRow, StoreError> {
        self.batch(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("batch {id}")))
    }
}

/// A batch's status inside a write transaction; `NotFound` when there is none.
async fn stored_status(tx: &mut Transaction<'static, Sqlite>, id: &str) -> Result<BatchStatus, StoreError> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM batches WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match status {
        Some(status) => parse_status(&status),
        None => Err(StoreError::NotFound(format!("batch {id}"))),
    }
}

/// The fenced update ending `job_id`'s attempt with `outcome`, while `router_id` holds its lease.
fn fenced_end<'q>(
    job_id: i64,
    router_id: &'q str,
    outcome: &'q JobOutcome,
    now: DateTime<Utc>,
) -> sqlx::query::Query<'q, Sqlite, <Sqlite as sqlx::Database>::Arguments> {
    match outcome {
        JobOutcome::Succeeded { status_code, result } => sqlx::query(FINISH_SUCCEEDED)
            .bind(job_id)
            .bind(router_id)
            .bind(status_code)
            .bind(result.as_slice())
            .bind(ts(now)),
        JobOutcome::Failed {
            status_code,
            error_code,
            result,
        } => sqlx::query(FINISH_FAILED)
            .bind(job_id)
            .bind(router_id)
            .bind(status_code)
            .bind(error_code.as_str())
            .bind(result.as_slice())
            .bind(ts(now)),
        JobOutcome::Retry { not_before, error_code } => sqlx::query(FINISH_RETRY)
            .bind(job_id)
            .bind(router_id)
            .bind(ts(*not_before))
            .bind(error_code.as_str()),
        JobOutcome::Release { not_before } => sqlx::query(FINISH_RELEASE)
            .bind(job_id)
            .bind(router_id)
            .bind(not_before.map(ts)),
    }
}

/// Inserts run rows, many per statement.
async fn insert_runs(conn: &mut sqlx::SqliteConnection, runs: &[JobRunRow]) -> Result<(), StoreError> {
    if runs.is_empty() {
        return Ok(());
    }
    for chunk in runs.chunks(RUN_CHUNK) {
        let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
            "INSERT INTO job_runs (job_id, batch_id, attempt, router_id, target, started_at, ended_at, outcome, \
             status_code, error_code, prompt_tokens, completion_tokens, cost_usd, request_id) ",
        );
        insert.push_values(chunk, |mut row, run| {
            row.push_bind(run.job_id)
                .push_bind(run.batch_id.as_str())
                .push_bind(run.attempt)
                .push_bind(run.router_id.as_str())
                .push_bind(run.target.as_deref())
                .push_bind(ts(run.started_at))
                .push_bind(run.ended_at.map(ts))
                .push_bind(run.outcome.as_str())
                .push_bind(run.status_code)
                .push_bind(run.error_code.as_deref())
                .push_bind(run.prompt_tokens)
                .push_bind(run.completion_tokens)
                .push_bind(run.cost_usd)
                .push_bind(run.request_id.as_deref());
        });
        insert.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}
