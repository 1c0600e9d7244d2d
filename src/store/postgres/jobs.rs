//! Batch jobs on PostgreSQL. Claims lock with `FOR UPDATE SKIP LOCKED`, so routers sharing the
//! store never claim a job twice nor wait on each other's claims; batch status changes take one
//! advisory lock, so they never race each other.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

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

use super::PgStore;

/// Jobs per insert statement when a batch is queued: each column goes as one array.
const INSERT_CHUNK: usize = 10_000;
/// Advisory lock serialising batch status changes (advance, cancel, pause, retry) across routers.
const BATCHES_LOCK: i64 = 0x6661_726d_6864_0003;

/// Takes up to `$4` runnable jobs for router `$1` at `$2` until `$3`: running jobs whose lease ran
/// out first (their lost attempt gets a run row), then queued ones past their back-off, oldest
/// batch and line first, in batches running, unpaused and inside their window. Rows another
/// claimer holds are skipped, never waited for.
const CLAIM: &str = "\
WITH live AS (
    SELECT id, created_at FROM batches
    WHERE status = 'in_progress' AND NOT paused AND expires_at > $2
), lost AS (
    SELECT j.id, j.batch_id, j.attempts, j.lease_owner, j.target, j.claimed_at FROM jobs j
    WHERE j.state = 'running' AND j.lease_until < $2 AND j.batch_id IN (SELECT id FROM live)
    ORDER BY j.lease_until
    LIMIT $4
    FOR UPDATE OF j SKIP LOCKED
), fresh AS (
    SELECT q.id FROM (SELECT id FROM live ORDER BY created_at, id) b
    CROSS JOIN LATERAL (
        SELECT j.id FROM jobs j
        WHERE j.batch_id = b.id AND j.state = 'queued' AND j.not_before <= $2
        ORDER BY j.line
        LIMIT $4
        FOR UPDATE OF j SKIP LOCKED
    ) q
    LIMIT $4
), picked AS (
    SELECT id FROM lost UNION ALL SELECT id FROM fresh LIMIT $4
), claimed AS (
    UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_owner = $1, lease_until = $3,
        claimed_at = $2, target = NULL
    FROM picked p WHERE j.id = p.id
    RETURNING j.id, j.batch_id, j.line, j.custom_id, j.class, j.attempts, j.request
), runs AS (
    INSERT INTO job_runs (job_id, batch_id, attempt, router_id, target, started_at, ended_at, outcome)
    SELECT l.id, l.batch_id, l.attempts, coalesce(l.lease_owner, ''), l.target, coalesce(l.claimed_at, $2), $2, 'lost'
    FROM lost l JOIN picked p ON p.id = l.id
)
SELECT c.id, c.batch_id, b.agent, c.line, c.custom_id, c.class, c.attempts, c.request
FROM claimed c JOIN batches b ON b.id = c.batch_id
ORDER BY b.created_at, c.batch_id, c.line";

/// Ends what is left of batches past their window (`expired`) or being cancelled (`cancelled`) at
/// `$1`: queued jobs, and running ones whose lease ran out, whose lost attempt gets a run row. The
/// rows are locked first, so a lease renewed meanwhile is seen and left alone.
const END_LEFTOVER_JOBS: &str = "\
WITH ending AS (
    SELECT j.id, j.batch_id, j.state, j.attempts, j.lease_owner, j.target, j.claimed_at, b.status AS batch_status
    FROM batches b CROSS JOIN LATERAL (
        SELECT * FROM jobs j
        WHERE j.batch_id = b.id AND j.state IN ('queued', 'running') AND (j.state = 'queued' OR j.lease_until < $1)
        FOR UPDATE OF j
    ) j
    WHERE b.status = 'cancelling' OR (b.status = 'in_progress' AND b.expires_at <= $1)
), lost AS (
    INSERT INTO job_runs (job_id, batch_id, attempt, router_id, target, started_at, ended_at, outcome)
    SELECT id, batch_id, attempts, coalesce(lease_owner, ''), target, coalesce(claimed_at, $1), $1, 'lost'
    FROM ending WHERE state = 'running'
)
UPDATE jobs SET
    state = CASE e.batch_status WHEN 'cancelling' THEN 'cancelled' ELSE 'expired' END,
    error_code = CASE e.batch_status WHEN 'cancelling' THEN 'batch_cancelled' ELSE 'batch_expired' END,
    finished_at = $1, lease_owner = NULL, lease_until = NULL
FROM ending e WHERE jobs.id = e.id";

type ClaimRow = (i64, String, String, i64, String, String, i32, Option<Vec<u8>>);

impl PgStore {
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
        .bind(file.created_at)
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
        type Row = (String, String, String, i64, i64, DateTime<Utc>, Option<Vec<u8>>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, agent, filename, bytes, lines, created_at, content FROM batch_files WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, agent, filename, bytes, lines, created_at, content)| BatchFileRow {
                id,
                agent,
                filename,
                bytes,
                lines,
                created_at,
                content,
            },
        ))
    }

    /// One statement per chunk of jobs, each column bound as one array.
    pub(crate) async fn create_batch(&self, batch: &NewBatch, jobs: &[NewJob]) -> Result<(), StoreError> {
        let start = start_times(batch, jobs)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO batches (id, agent, input_file_id, endpoint, completion_window, status, created_at, \
             expires_at, in_progress_at, failed_at, ended_at, metadata, errors) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11::jsonb, $12::jsonb)",
        )
        .bind(&batch.id)
        .bind(&batch.agent)
        .bind(&batch.input_file_id)
        .bind(&batch.endpoint)
        .bind(&batch.completion_window)
        .bind(batch.status.as_str())
        .bind(batch.created_at)
        .bind(batch.expires_at)
        .bind(start.in_progress_at)
        .bind(start.failed_at)
        .bind(json_text(batch.metadata.as_ref()))
        .bind(json_text(batch.errors.as_ref()))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, batch))?;
        for chunk in jobs.chunks(INSERT_CHUNK) {
            sqlx::query(
                "INSERT INTO jobs (batch_id, line, custom_id, class, state, not_before, request) \
                 SELECT $1, u.line, u.custom_id, u.class, 'queued', $2, u.request \
                 FROM UNNEST($3::int8[], $4::text[], $5::text[], $6::bytea[]) AS u(line, custom_id, class, request)",
            )
            .bind(&batch.id)
            .bind(batch.created_at)
            .bind(chunk.iter().map(|j| j.line).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.custom_id.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.class.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|j| j.request.as_slice()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error(e, batch))?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn batch(&self, id: &str) -> Result<Option<BatchRow>, StoreError> {
        let sql = format!("SELECT {BATCH_COLUMNS}, {JSON_COLUMNS} FROM batches WHERE id = $1");
        let raw: Vec<RawBatch<DateTime<Utc>>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
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
            "SELECT {BATCH_COLUMNS}, {JSON_COLUMNS} FROM batches \
             WHERE ($1::text IS NULL OR agent = $1) \
             AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM batches WHERE id = $2)) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let raw: Vec<RawBatch<DateTime<Utc>>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(agent)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        self.with_counts(raw).await
    }

    /// The batches with their job counts, in the order given.
    async fn with_counts(&self, raw: Vec<RawBatch<DateTime<Utc>>>) -> Result<Vec<BatchRow>, StoreError> {
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = raw.iter().map(|b| b.id.as_str()).collect();
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT batch_id, state, count(*) FROM jobs WHERE batch_id = ANY($1) GROUP BY batch_id, state",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let counts = counts_by_batch(rows)?;
        raw.into_iter().map(|b| b.into_row(&|_, t| Ok(t), &counts)).collect()
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
        let rows: Vec<ClaimRow> = sqlx::query_as(CLAIM)
            .bind(router_id)
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
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
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $3 WHERE id = ANY($2) AND state = 'running' AND lease_owner = $1",
        )
        .bind(router_id)
        .bind(job_ids)
        .bind(lease_until)
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
        let runs: Vec<&JobRunRow> = ends.iter().filter_map(|e| e.run.as_ref()).collect();
        let kinds = EndArrays::of(ends);
        let held: Vec<i64> = kinds
            .bind(bind_runs(
                sqlx::query_scalar(END_ATTEMPTS).bind(router_id).bind(now),
                &runs,
            ))
            .fetch_all(&self.pool)
            .await?;
        Ok(ends.iter().map(|e| held.contains(&e.job_id)).collect())
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
        let runs: Vec<&JobRunRow> = runs.iter().collect();
        let query = sqlx::query_scalar::<_, i64>(END_ATTEMPTS).bind("").bind(Utc::now());
        EndArrays::default()
            .bind(bind_runs(query, &runs))
            .fetch_all(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn job_runs(&self, batch_id: &str) -> Result<Vec<JobRunRow>, StoreError> {
        let raw: Vec<RawRun<DateTime<Utc>>> = sqlx::query_as(sqlx::AssertSqlSafe(runs_of_batch()))
            .bind(batch_id)
            .fetch_all(&self.pool)
            .await?;
        raw.into_iter().map(|r| r.into_row(&|_, t| Ok(t))).collect()
    }

    pub(crate) async fn recent_job_failures(&self, limit: u32) -> Result<Vec<JobRunRow>, StoreError> {
        let raw: Vec<RawRun<DateTime<Utc>>> = sqlx::query_as(sqlx::AssertSqlSafe(recent_failures()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        raw.into_iter().map(|r| r.into_row(&|_, t| Ok(t))).collect()
    }

    pub(crate) async fn advance_batches(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut tx = self.batches_tx().await?;
        sqlx::query(END_LEFTOVER_JOBS).bind(now).execute(&mut *tx).await?;
        let mut changed = Vec::new();
        for transition in [EXPIRE_BATCHES, COMPLETE_BATCHES, CANCEL_BATCHES] {
            let ids: Vec<String> = sqlx::query_scalar(transition).bind(now).fetch_all(&mut *tx).await?;
            changed.extend(ids);
        }
        tx.commit().await?;
        changed.sort();
        Ok(changed)
    }

    pub(crate) async fn cancel_batch(&self, id: &str, now: DateTime<Utc>) -> Result<BatchRow, StoreError> {
        let mut tx = self.batches_tx().await?;
        let status = locked_status(&mut tx, id).await?;
        if let Some(refused) = refusal(BatchChange::Cancel, id, status) {
            return Err(refused);
        }
        sqlx::query("UPDATE batches SET status = 'cancelling', cancelling_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(CANCEL_QUEUED).bind(id).bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        self.existing_batch(id).await
    }

    pub(crate) async fn set_batch_paused(&self, id: &str, paused: bool) -> Result<BatchRow, StoreError> {
        let mut tx = self.batches_tx().await?;
        let status = locked_status(&mut tx, id).await?;
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
        let mut tx = self.batches_tx().await?;
        let status = locked_status(&mut tx, id).await?;
        if let Some(refused) = refusal(BatchChange::Retry, id, status) {
            return Err(refused);
        }
        let (expires_at, purged): (DateTime<Utc>, bool) =
            sqlx::query_as("SELECT expires_at, purged_at IS NOT NULL FROM batches WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let window_ended = expires_at <= now;
        if let Some(refused) = retry_too_late(id, window_ended, purged) {
            return Err(refused);
        }
        let queued = sqlx::query(REQUEUE_FAILED)
            .bind(id)
            .bind(now)
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
        let mut tx = self.pool.begin().await?;
        let purged: i64 = sqlx::query_scalar(
            "WITH gone AS ( \
                 UPDATE batches SET purged_at = $2 WHERE ended_at < $1 AND purged_at IS NULL RETURNING id \
             ), emptied AS ( \
                 UPDATE jobs SET request = NULL, result = NULL WHERE batch_id IN (SELECT id FROM gone) \
             ) SELECT count(*) FROM gone",
        )
        .bind(ended_before)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(PURGE_FILES).bind(ended_before).execute(&mut *tx).await?;
        tx.commit().await?;
        u64::try_from(purged).map_err(|_| StoreError::corrupt("batches", format!("{purged} batches purged")))
    }

    /// A batch that must exist (it was just changed).
    async fn existing_batch(&self, id: &str) -> Result<BatchRow, StoreError> {
        self.batch(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("batch {id}")))
    }

    /// A transaction holding the batches lock.
    async fn batches_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(BATCHES_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// How PostgreSQL reads the JSON columns of [`RawBatch`].
const JSON_COLUMNS: &str = "metadata::text AS metadata, errors::text AS errors";

/// A batch's status, its row locked; `NotFound` when there is none.
async fn locked_status(tx: &mut Transaction<'static, Postgres>, id: &str) -> Result<BatchStatus, StoreError> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM batches WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match status {
        Some(status) => parse_status(&status),
        None => Err(StoreError::NotFound(format!("batch {id}"))),
    }
}

/// Ends attempts and records runs in one statement: `$1` the router whose leases fence the ends,
/// `$2` now; `$3`–`$16` the run rows, a column per array; then one set of arrays per kind of end
/// (succeeded, failed, retried, released). Returns the ids of the jobs whose lease was still held.
/// The ends set the same columns as the single-job statements SQLite runs.
const END_ATTEMPTS: &str = "\
WITH runs AS (
    INSERT INTO job_runs (job_id, batch_id, attempt, router_id, target, started_at, ended_at, outcome,
        status_code, error_code, prompt_tokens, completion_tokens, cost_usd, request_id)
    SELECT * FROM UNNEST($3::int8[], $4::text[], $5::int4[], $6::text[], $7::text[], $8::timestamptz[],
        $9::timestamptz[], $10::text[], $11::int4[], $12::text[], $13::int8[], $14::int8[], $15::float8[], $16::text[])
), succeeded AS (
    UPDATE jobs j SET state = 'succeeded', status_code = e.status_code, result = e.result, error_code = NULL,
        finished_at = $2, lease_owner = NULL, lease_until = NULL
    FROM UNNEST($17::int8[], $18::int4[], $19::bytea[]) AS e(id, status_code, result)
    WHERE j.id = e.id AND j.state = 'running' AND j.lease_owner = $1
    RETURNING j.id
), failed AS (
    UPDATE jobs j SET state = 'failed', status_code = e.status_code, error_code = e.error_code, result = e.result,
        finished_at = $2, lease_owner = NULL, lease_until = NULL
    FROM UNNEST($20::int8[], $21::int4[], $22::text[], $23::bytea[]) AS e(id, status_code, error_code, result)
    WHERE j.id = e.id AND j.state = 'running' AND j.lease_owner = $1
    RETURNING j.id
), retried AS (
    UPDATE jobs j SET state = 'queued', not_before = e.not_before, error_code = e.error_code,
        lease_owner = NULL, lease_until = NULL
    FROM UNNEST($24::int8[], $25::timestamptz[], $26::text[]) AS e(id, not_before, error_code)
    WHERE j.id = e.id AND j.state = 'running' AND j.lease_owner = $1
    RETURNING j.id
), released AS (
    UPDATE jobs j SET state = 'queued', attempts = j.attempts - 1, not_before = COALESCE(e.not_before, j.not_before),
        lease_owner = NULL, lease_until = NULL
    FROM UNNEST($27::int8[], $28::timestamptz[]) AS e(id, not_before)
    WHERE j.id = e.id AND j.state = 'running' AND j.lease_owner = $1
    RETURNING j.id
)
SELECT id FROM succeeded UNION ALL SELECT id FROM failed UNION ALL SELECT id FROM retried
UNION ALL SELECT id FROM released";

type EndQuery<'q> = sqlx::query::QueryScalar<'q, Postgres, i64, <Postgres as sqlx::Database>::Arguments>;

/// Binds run rows as the fourteen arrays of [`END_ATTEMPTS`].
fn bind_runs<'q>(query: EndQuery<'q>, runs: &[&'q JobRunRow]) -> EndQuery<'q> {
    query
        .bind(runs.iter().map(|r| r.job_id).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.batch_id.as_str()).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.attempt).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.router_id.as_str()).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.target.as_deref()).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.started_at).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.ended_at).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.status_code).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.error_code.as_deref()).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.prompt_tokens).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.completion_tokens).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.cost_usd).collect::<Vec<_>>())
        .bind(runs.iter().map(|r| r.request_id.as_deref()).collect::<Vec<_>>())
}

/// The ends of [`END_ATTEMPTS`], a column per array, by kind.
#[derive(Default)]
struct EndArrays<'q> {
    succeeded_ids: Vec<i64>,
    succeeded_status: Vec<i32>,
    succeeded_result: Vec<&'q [u8]>,
    failed_ids: Vec<i64>,
    failed_status: Vec<i32>,
    failed_code: Vec<&'q str>,
    failed_result: Vec<&'q [u8]>,
    retried_ids: Vec<i64>,
    retried_not_before: Vec<DateTime<Utc>>,
    retried_code: Vec<&'q str>,
    released_ids: Vec<i64>,
    released_not_before: Vec<Option<DateTime<Utc>>>,
}

impl<'q> EndArrays<'q> {
    fn of(ends: &'q [JobEnd]) -> Self {
        let mut a = EndArrays::default();
        for end in ends {
            match &end.outcome {
                JobOutcome::Succeeded { status_code, result } => {
                    a.succeeded_ids.push(end.job_id);
                    a.succeeded_status.push(*status_code);
                    a.succeeded_result.push(result);
                }
                JobOutcome::Failed {
                    status_code,
                    error_code,
                    result,
                } => {
                    a.failed_ids.push(end.job_id);
                    a.failed_status.push(*status_code);
                    a.failed_code.push(error_code);
                    a.failed_result.push(result);
                }
                JobOutcome::Retry { not_before, error_code } => {
                    a.retried_ids.push(end.job_id);
                    a.retried_not_before.push(*not_before);
                    a.retried_code.push(error_code);
                }
                JobOutcome::Release { not_before } => {
                    a.released_ids.push(end.job_id);
                    a.released_not_before.push(*not_before);
                }
            }
        }
        a
    }

    fn bind(self, query: EndQuery<'q>) -> EndQuery<'q> {
        query
            .bind(self.succeeded_ids)
            .bind(self.succeeded_status)
            .bind(self.succeeded_result)
            .bind(self.failed_ids)
            .bind(self.failed_status)
            .bind(self.failed_code)
            .bind(self.failed_result)
            .bind(self.retried_ids)
            .bind(self.retried_not_before)
            .bind(self.retried_code)
            .bind(self.released_ids)
            .bind(self.released_not_before)
    }
}
