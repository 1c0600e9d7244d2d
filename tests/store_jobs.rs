//! The batch-job queue in the store, one contract for both backends: every test below runs
//! against SQLite (a temp file) and PostgreSQL (a fresh database from `support::pg`). Times are
//! given to the store, so expiry and back-off are tested without waiting.

#[path = "support/pg.rs"]
mod pg;

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use farmhand::domain::{DecisionRecord, DeclaredClass, Endpoint, Fallback, TaskClass};
use farmhand::store::{
    Backend, BatchFileRow, BatchStatus, ClaimedJob, ClassDepth, JobCounts, JobEnd, JobOutcome, JobRunRow, NewBatch,
    NewJob, Store, StoreError,
};

use pg::TestDatabase;

/// A migrated store and what keeps its database alive.
struct Fixture {
    store: Store,
    _pg: Option<TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("farmhand.db").display());
    let store = Store::connect(&url).await.expect("SQLite store opens");
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(store.migrate().await.expect("migrations") > 0);
    Fixture {
        store,
        _pg: None,
        _dir: Some(dir),
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::create().await;
    let store = Store::connect(db.url()).await.expect("PostgreSQL store connects");
    assert_eq!(store.backend(), Backend::Postgres);
    assert!(store.migrate().await.expect("migrations") > 0);
    Fixture {
        store,
        _pg: Some(db),
        _dir: None,
    }
}

macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::sqlite().await;
                    super::$name(&fixture.store).await;
                }
            )+
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::postgres().await;
                    super::$name(&fixture.store).await;
                }
            )+
        }
    };
}

contract!(
    batches_are_created_with_their_jobs_and_listed_newest_first,
    refused_batches_have_no_jobs_and_cannot_change,
    concurrent_claimers_never_take_a_job_twice,
    claims_take_the_oldest_batch_and_line_first,
    lapsed_leases_are_reclaimed_and_the_lost_attempt_recorded,
    only_the_lease_holder_finishes_renews_or_targets_a_job,
    several_ends_go_in_one_call_each_fenced_with_their_runs,
    retries_wait_for_their_back_off_and_releases_do_not_count,
    paused_batches_are_not_claimed_until_resumed,
    cancel_ends_queued_jobs_and_waits_for_running_ones,
    expiry_keeps_results_and_sends_the_rest_to_the_error_file,
    batches_complete_when_every_job_ended,
    retrying_failed_jobs_reopens_a_completed_batch,
    payloads_are_purged_once_after_retention,
    queue_depth_and_running_targets_are_counted,
    runs_round_trip_and_failures_come_newest_first,
    decisions_carry_their_job_id,
);

/// The test clock's origin; every time is given to the store.
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-01T12:00:00Z")
        .expect("valid time")
        .with_timezone(&Utc)
        + TimeDelta::seconds(secs)
}

/// A lease of 30 s from `now`.
fn lease(now: DateTime<Utc>) -> DateTime<Utc> {
    now + TimeDelta::seconds(30)
}

/// The sealed bytes a test stores for line `line` (any bytes do: the store never reads them).
fn sealed(line: i64) -> Vec<u8> {
    let mut bytes = format!("sealed-{line}-").into_bytes();
    bytes.extend([0u8, 255, 7]);
    bytes
}

async fn upload(store: &Store, id: &str, agent: &str, at: DateTime<Utc>) {
    store
        .create_batch_file(&BatchFileRow {
            id: id.into(),
            agent: agent.into(),
            filename: "input.jsonl".into(),
            bytes: 1234,
            lines: 3,
            created_at: at,
            content: Some(vec![1, 2, 3, 0, 4]),
        })
        .await
        .expect("file stored");
}

fn new_batch(id: &str, file: &str, created_at: DateTime<Utc>) -> NewBatch {
    NewBatch {
        id: id.into(),
        agent: "agent-a".into(),
        input_file_id: file.into(),
        endpoint: "/v1/chat/completions".into(),
        completion_window: "24h".into(),
        created_at,
        expires_at: created_at + TimeDelta::hours(24),
        metadata: None,
        status: BatchStatus::InProgress,
        errors: None,
    }
}

fn jobs(n: i64, class: &str) -> Vec<NewJob> {
    (1..=n)
        .map(|line| NewJob {
            line,
            custom_id: format!("req-{line}"),
            class: class.into(),
            request: sealed(line),
        })
        .collect()
}

/// Uploads a file and queues a running batch of `n` routine jobs on it, created at `created_at`.
async fn queue(store: &Store, id: &str, created_at: DateTime<Utc>, n: i64) {
    let file = format!("file-{id}");
    upload(store, &file, "agent-a", created_at).await;
    store
        .create_batch(&new_batch(id, &file, created_at), &jobs(n, "routine"))
        .await
        .expect("batch queued");
}

async fn claim(store: &Store, router: &str, limit: u32, now: DateTime<Utc>) -> Vec<ClaimedJob> {
    store.claim_jobs(router, limit, now, lease(now)).await.expect("claim")
}

async fn finish(store: &Store, job: &ClaimedJob, router: &str, outcome: JobOutcome, now: DateTime<Utc>) -> bool {
    store.finish_job(job.id, router, &outcome, now).await.expect("finish")
}

fn succeeded(job: &ClaimedJob) -> JobOutcome {
    JobOutcome::Succeeded {
        status_code: 200,
        result: format!("result-{}", job.line).into_bytes(),
    }
}

fn failed(job: &ClaimedJob) -> JobOutcome {
    JobOutcome::Failed {
        status_code: 400,
        error_code: "invalid_request".into(),
        result: format!("error-{}", job.line).into_bytes(),
    }
}

async fn batch(store: &Store, id: &str) -> farmhand::store::BatchRow {
    store.batch(id).await.expect("read").expect("the batch exists")
}

async fn status(store: &Store, id: &str) -> BatchStatus {
    batch(store, id).await.status
}

fn counts(total: i64, completed: i64, failed: i64, queued: i64, running: i64) -> JobCounts {
    JobCounts {
        total,
        completed,
        failed,
        queued,
        running,
    }
}

fn lines(jobs: &[ClaimedJob]) -> Vec<i64> {
    jobs.iter().map(|j| j.line).collect()
}

/// Claims and finishes every job of the store with `outcome`, until none is left.
async fn run_all(store: &Store, now: DateTime<Utc>, outcome: impl Fn(&ClaimedJob) -> JobOutcome) {
    loop {
        let claimed = claim(store, "router-a", 50, now).await;
        if claimed.is_empty() {
            return;
        }
        for job in &claimed {
            assert!(finish(store, job, "router-a", outcome(job), now).await);
        }
    }
}

fn conflict(result: Result<impl std::fmt::Debug, StoreError>, says: &str) {
    match result {
        Err(StoreError::Conflict(message)) => assert!(message.contains(says), "{message}"),
        other => panic!("expected a conflict saying `{says}`, got {other:?}"),
    }
}

fn not_found(result: Result<impl std::fmt::Debug, StoreError>) {
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
}

async fn batches_are_created_with_their_jobs_and_listed_newest_first(store: &Store) {
    upload(store, "file-1", "agent-a", t(0)).await;
    let file = store.batch_file("file-1").await.expect("read").expect("stored");
    assert_eq!(
        file.content.as_deref(),
        Some(&[1, 2, 3, 0, 4][..]),
        "sealed bytes unchanged"
    );
    assert_eq!(
        (file.agent.as_str(), file.bytes, file.lines, file.created_at),
        ("agent-a", 1234, 3, t(0))
    );
    assert!(store.batch_file("file-none").await.expect("read").is_none());
    conflict(
        store
            .create_batch_file(&BatchFileRow {
                id: "file-1".into(),
                ..file.clone()
            })
            .await,
        "file-1 already exists",
    );

    let mut first = new_batch("batch-1", "file-1", t(10));
    first.metadata = Some(serde_json::json!({"purpose": "tickets", "night": 3}));
    store
        .create_batch(&first, &jobs(100, "routine"))
        .await
        .expect("100 jobs queued");
    let row = batch(store, "batch-1").await;
    assert_eq!(row.status, BatchStatus::InProgress);
    assert_eq!(row.counts, counts(100, 0, 0, 100, 0));
    assert_eq!(row.in_progress_at, Some(t(10)), "running from the start");
    assert_eq!((row.created_at, row.expires_at), (t(10), t(10) + TimeDelta::hours(24)));
    assert_eq!(row.metadata, first.metadata);
    assert_eq!(
        (row.failed_at, row.completed_at, row.errors.as_ref()),
        (None, None, None)
    );
    assert!(!row.paused);
    assert_eq!(row.input_file_id, "file-1");
    assert_eq!(row.completion_window, "24h");
    assert_eq!(row.endpoint, "/v1/chat/completions");
    assert!(store.batch("batch-none").await.expect("read").is_none());

    // The request bodies come back byte for byte, by line.
    let claimed = claim(store, "router-a", 3, t(20)).await;
    assert_eq!(lines(&claimed), [1, 2, 3]);
    assert_eq!(claimed[1].request, sealed(2));
    assert_eq!(claimed[1].custom_id, "req-2");
    assert_eq!(claimed[1].agent, "agent-a");
    assert_eq!(claimed[1].class, "routine");
    assert_eq!(claimed[1].batch_id, "batch-1");

    // Two batches with the same creation time are told apart by id; another agent's is filtered.
    for (id, at) in [("batch-2", t(20)), ("batch-3", t(20)), ("batch-4", t(30))] {
        store
            .create_batch(&new_batch(id, "file-1", at), &jobs(2, "routine"))
            .await
            .expect("queued");
    }
    let mut other = new_batch("batch-5", "file-1", t(40));
    other.agent = "agent-b".into();
    store.create_batch(&other, &jobs(1, "routine")).await.expect("queued");
    let ids = |rows: Vec<farmhand::store::BatchRow>| rows.into_iter().map(|b| b.id).collect::<Vec<_>>();
    let all = store.batches(None, None, 10).await.expect("list");
    assert_eq!(all[0].counts.total, 1);
    assert_eq!(all[4].counts, counts(100, 0, 0, 97, 3), "counts on every listed batch");
    assert_eq!(ids(all), ["batch-5", "batch-4", "batch-3", "batch-2", "batch-1"]);
    let page = store.batches(Some("agent-a"), None, 2).await.expect("list");
    assert_eq!(ids(page), ["batch-4", "batch-3"]);
    let next = store.batches(Some("agent-a"), Some("batch-3"), 2).await.expect("list");
    assert_eq!(ids(next), ["batch-2", "batch-1"]);
    let last = store.batches(Some("agent-a"), Some("batch-1"), 2).await.expect("list");
    assert!(last.is_empty());
    assert_eq!(
        ids(store.batches(Some("agent-b"), None, 10).await.expect("list")),
        ["batch-5"]
    );

    // A reused batch id, a custom_id twice and a missing file are refused, leaving nothing behind.
    conflict(
        store
            .create_batch(&new_batch("batch-1", "file-1", t(50)), &jobs(1, "routine"))
            .await,
        "batch-1",
    );
    let mut twice = jobs(2, "routine");
    twice[1].custom_id = "req-1".into();
    conflict(
        store.create_batch(&new_batch("batch-6", "file-1", t(50)), &twice).await,
        "custom_id",
    );
    assert!(store.batch("batch-6").await.expect("read").is_none(), "rolled back");
    not_found(
        store
            .create_batch(&new_batch("batch-7", "file-none", t(50)), &jobs(1, "routine"))
            .await,
    );
}

async fn refused_batches_have_no_jobs_and_cannot_change(store: &Store) {
    upload(store, "file-1", "agent-a", t(0)).await;
    let mut refused = new_batch("batch-bad", "file-1", t(5));
    refused.status = BatchStatus::Failed;
    refused.errors = Some(serde_json::json!([
        {"code": "invalid_json_line", "message": "line 3 is not JSON", "line": 3}
    ]));
    conflict(
        store.create_batch(&refused, &jobs(1, "routine")).await,
        "a failed batch has none",
    );
    store.create_batch(&refused, &[]).await.expect("stored as failed");
    let row = batch(store, "batch-bad").await;
    assert_eq!(row.status, BatchStatus::Failed);
    assert_eq!(row.failed_at, Some(t(5)), "failed when created");
    assert_eq!(row.in_progress_at, None);
    assert_eq!(row.errors, refused.errors);
    assert_eq!(row.counts, JobCounts::default());

    assert!(claim(store, "router-a", 10, t(6)).await.is_empty());
    assert!(store.advance_batches(t(7)).await.expect("advance").is_empty());
    conflict(store.cancel_batch("batch-bad", t(8)).await, "it is failed");
    conflict(store.retry_failed_jobs("batch-bad", t(8)).await, "it is failed");
    conflict(store.set_batch_paused("batch-bad", true).await, "it is failed");

    let mut validating = new_batch("batch-v", "file-1", t(5));
    validating.status = BatchStatus::Validating;
    conflict(store.create_batch(&validating, &[]).await, "in_progress or failed");

    // Its file is purged with it once retention has passed.
    assert_eq!(
        store.purge_job_payloads(t(5)).await.expect("purge"),
        0,
        "ended exactly at the cutoff"
    );
    assert_eq!(store.purge_job_payloads(t(6)).await.expect("purge"), 1);
    let file = store.batch_file("file-1").await.expect("read").expect("kept");
    assert_eq!(file.content, None);
}

async fn concurrent_claimers_never_take_a_job_twice(store: &Store) {
    queue(store, "batch-1", t(0), 100).await;
    let mut claimers = Vec::new();
    for (n, router) in ["router-a", "router-b"].repeat(3).into_iter().enumerate() {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let claimed = claim(&store, router, 2 + n as u32 % 3, t(1)).await;
                if claimed.is_empty() {
                    return taken;
                }
                for job in &claimed {
                    assert_eq!(job.attempt, 1, "a first claim");
                    assert_eq!(job.lease_until, lease(t(1)));
                }
                taken.extend(claimed.into_iter().map(|j| (router, j.id)));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut all = Vec::new();
    let mut per_claimer = Vec::new();
    for claimer in claimers {
        let taken = claimer.await.expect("claimer");
        per_claimer.push(taken.len());
        all.extend(taken);
    }
    let ids: HashSet<i64> = all.iter().map(|(_, id)| *id).collect();
    assert_eq!(all.len(), 100, "every job claimed once: {per_claimer:?}");
    assert_eq!(ids.len(), 100, "no job claimed twice");
    assert_eq!(batch(store, "batch-1").await.counts, counts(100, 0, 0, 0, 100));

    // Each job belongs to the router that claimed it.
    for (router, id) in all.iter().take(10) {
        let other = if *router == "router-a" { "router-b" } else { "router-a" };
        let outcome = JobOutcome::Release { not_before: None };
        assert!(!store.finish_job(*id, other, &outcome, t(2)).await.expect("finish"));
        assert!(store.finish_job(*id, router, &outcome, t(2)).await.expect("finish"));
    }
}

async fn claims_take_the_oldest_batch_and_line_first(store: &Store) {
    queue(store, "batch-new", t(100), 3).await;
    queue(store, "batch-old", t(0), 3).await;
    let first = claim(store, "router-a", 4, t(200)).await;
    let order: Vec<(&str, i64)> = first.iter().map(|j| (j.batch_id.as_str(), j.line)).collect();
    assert_eq!(
        order,
        [("batch-old", 1), ("batch-old", 2), ("batch-old", 3), ("batch-new", 1)]
    );
    let rest = claim(store, "router-b", 10, t(200)).await;
    assert_eq!(lines(&rest), [2, 3]);
    assert!(claim(store, "router-b", 10, t(200)).await.is_empty());
    assert!(claim(store, "router-b", 0, t(200)).await.is_empty(), "a claim of none");
}

async fn lapsed_leases_are_reclaimed_and_the_lost_attempt_recorded(store: &Store) {
    queue(store, "batch-1", t(0), 5).await;
    let held = claim(store, "router-a", 2, t(10)).await;
    store
        .set_job_target(held[0].id, "router-a", "mini-03")
        .await
        .expect("target");

    // While the leases hold, another router gets only the other jobs.
    let others = claim(store, "router-b", 10, t(20)).await;
    assert_eq!(lines(&others), [3, 4, 5]);
    assert!(
        claim(store, "router-b", 10, t(39)).await.is_empty(),
        "leases run to t(40)"
    );

    // Router A died: once its leases ran out, router B takes its jobs over.
    let taken = claim(store, "router-b", 10, t(41)).await;
    assert_eq!(lines(&taken), [1, 2], "lapsed jobs, and only those");
    assert!(taken.iter().all(|j| j.attempt == 2), "the lost attempt counts");
    let mut runs = store.job_runs("batch-1").await.expect("runs");
    runs.sort_by_key(|r| r.job_id);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let lost = &runs[0];
    assert_eq!(lost.job_id, held[0].id);
    assert_eq!(lost.batch_id, "batch-1");
    assert_eq!((lost.attempt, lost.router_id.as_str()), (1, "router-a"));
    assert_eq!(lost.outcome, "lost");
    assert_eq!(lost.target.as_deref(), Some("mini-03"));
    assert_eq!((lost.started_at, lost.ended_at), (t(10), Some(t(41))));
    assert_eq!((lost.status_code, lost.error_code.as_deref()), (None, None));
    assert_eq!(runs[1].job_id, held[1].id);
    assert_eq!(runs[1].target, None, "no target was noted");
    let failures = store.recent_job_failures(10).await.expect("failures");
    assert_eq!(failures.len(), 2, "lost attempts are failures");

    // Router A wakes up late: its leases are gone, so it can neither finish nor renew.
    assert!(!finish(store, &held[0], "router-a", succeeded(&held[0]), t(42)).await);
    assert_eq!(
        store
            .renew_job_leases("router-a", &[held[0].id, held[1].id], lease(t(42)))
            .await
            .expect("renew"),
        0
    );
    assert!(finish(store, &taken[0], "router-b", succeeded(&taken[0]), t(43)).await);
    let output = store.job_results("batch-1", false).await.expect("output");
    assert_eq!(output.len(), 1, "one result for the job");
    assert_eq!(output[0].result.as_deref(), Some(&b"result-1"[..]));
}

async fn only_the_lease_holder_finishes_renews_or_targets_a_job(store: &Store) {
    queue(store, "batch-1", t(0), 3).await;
    let claimed = claim(store, "router-a", 3, t(10)).await;
    let ids: Vec<i64> = claimed.iter().map(|j| j.id).collect();

    assert_eq!(
        store.renew_job_leases("router-b", &ids, t(100)).await.expect("renew"),
        0
    );
    assert_eq!(
        store.renew_job_leases("router-a", &ids, t(100)).await.expect("renew"),
        3
    );
    assert_eq!(store.renew_job_leases("router-a", &[], t(100)).await.expect("renew"), 0);
    assert!(
        claim(store, "router-b", 10, t(90)).await.is_empty(),
        "renewed leases hold past t(40)"
    );

    store
        .set_job_target(ids[0], "router-b", "mini-09")
        .await
        .expect("ignored");
    store
        .set_job_target(ids[0], "router-a", "mini-01")
        .await
        .expect("noted");
    assert_eq!(
        store.running_jobs_by_target().await.expect("targets"),
        [("mini-01".to_string(), 1)]
    );

    assert!(!finish(store, &claimed[0], "router-b", succeeded(&claimed[0]), t(20)).await);
    assert!(finish(store, &claimed[0], "router-a", succeeded(&claimed[0]), t(20)).await);
    assert!(
        !finish(store, &claimed[0], "router-a", succeeded(&claimed[0]), t(21)).await,
        "finished once"
    );
    assert!(finish(store, &claimed[1], "router-a", failed(&claimed[1]), t(22)).await);
    assert!(store.running_jobs_by_target().await.expect("targets").is_empty());
    assert_eq!(batch(store, "batch-1").await.counts, counts(3, 1, 1, 0, 1));
    // A lease that ran out is still held, and renewed, until another router takes the job.
    assert_eq!(
        store.renew_job_leases("router-a", &ids, t(300)).await.expect("renew"),
        1
    );
}

async fn several_ends_go_in_one_call_each_fenced_with_their_runs(store: &Store) {
    queue(store, "batch-1", t(0), 4).await;
    let mine = claim(store, "router-a", 3, t(10)).await;
    let theirs = claim(store, "router-b", 1, t(10)).await;
    let run = |job: &ClaimedJob, outcome: &str| JobRunRow {
        job_id: job.id,
        batch_id: "batch-1".into(),
        attempt: job.attempt,
        router_id: "router-a".into(),
        target: Some("mini-04".into()),
        started_at: t(11),
        ended_at: Some(t(12)),
        outcome: outcome.into(),
        status_code: Some(200),
        error_code: None,
        prompt_tokens: 10,
        completion_tokens: 2,
        cost_usd: 0.0,
        request_id: None,
    };
    let ends = [
        JobEnd {
            job_id: mine[0].id,
            outcome: succeeded(&mine[0]),
            run: Some(run(&mine[0], "ok")),
        },
        JobEnd {
            job_id: mine[1].id,
            outcome: failed(&mine[1]),
            run: Some(run(&mine[1], "failed")),
        },
        JobEnd {
            job_id: mine[2].id,
            outcome: JobOutcome::Release { not_before: None },
            run: None,
        },
        JobEnd {
            job_id: theirs[0].id,
            outcome: succeeded(&theirs[0]),
            run: None,
        },
    ];
    assert!(
        store
            .finish_jobs("router-a", &[], t(12))
            .await
            .expect("nothing")
            .is_empty()
    );
    let held = store.finish_jobs("router-a", &ends, t(12)).await.expect("ended");
    assert_eq!(held, [true, true, true, false], "the other router's job is fenced off");
    assert_eq!(batch(store, "batch-1").await.counts, counts(4, 1, 1, 1, 1));
    let runs = store.job_runs("batch-1").await.expect("runs");
    assert_eq!(runs, [run(&mine[0], "ok"), run(&mine[1], "failed")]);
    let again = store.finish_jobs("router-a", &ends[..1], t(13)).await.expect("ended");
    assert_eq!(again, [false], "a job ends once");
}

async fn retries_wait_for_their_back_off_and_releases_do_not_count(store: &Store) {
    queue(store, "batch-1", t(0), 2).await;
    let claimed = claim(store, "router-a", 2, t(10)).await;
    let retry = JobOutcome::Retry {
        not_before: t(70),
        error_code: "node_down".into(),
    };
    assert!(finish(store, &claimed[0], "router-a", retry, t(11)).await);
    assert!(
        finish(
            store,
            &claimed[1],
            "router-a",
            JobOutcome::Release { not_before: None },
            t(11)
        )
        .await
    );
    assert_eq!(
        batch(store, "batch-1").await.counts,
        counts(2, 0, 0, 2, 0),
        "both queued again"
    );

    // The released job is claimable at once, and its attempt did not count.
    let now = claim(store, "router-b", 10, t(12)).await;
    assert_eq!(lines(&now), [2]);
    assert_eq!(now[0].attempt, 1);
    assert!(finish(store, &now[0], "router-b", succeeded(&now[0]), t(13)).await);
    assert!(
        claim(store, "router-b", 10, t(69)).await.is_empty(),
        "backing off until t(70)"
    );
    let later = claim(store, "router-b", 10, t(70)).await;
    assert_eq!(lines(&later), [1]);
    assert_eq!(later[0].attempt, 2);
}

async fn paused_batches_are_not_claimed_until_resumed(store: &Store) {
    queue(store, "batch-1", t(0), 2).await;
    queue(store, "batch-2", t(1), 2).await;
    let paused = store.set_batch_paused("batch-1", true).await.expect("paused");
    assert!(paused.paused);
    assert_eq!(paused.counts.queued, 2);
    let claimed = claim(store, "router-a", 10, t(10)).await;
    assert!(claimed.iter().all(|j| j.batch_id == "batch-2"), "{claimed:?}");
    assert_eq!(claimed.len(), 2);
    // A paused batch's lapsed jobs wait too.
    store.set_batch_paused("batch-2", true).await.expect("paused");
    assert!(claim(store, "router-a", 10, t(60)).await.is_empty());

    let resumed = store.set_batch_paused("batch-1", false).await.expect("resumed");
    assert!(!resumed.paused);
    store.set_batch_paused("batch-2", false).await.expect("resumed");
    let claimed = claim(store, "router-a", 10, t(61)).await;
    assert_eq!(claimed.iter().filter(|j| j.batch_id == "batch-1").count(), 2);
    assert_eq!(claimed.len(), 4, "and batch-2's lapsed jobs");

    not_found(store.set_batch_paused("batch-none", true).await);
}

async fn cancel_ends_queued_jobs_and_waits_for_running_ones(store: &Store) {
    queue(store, "batch-1", t(0), 10).await;
    let running = claim(store, "router-a", 2, t(10)).await;
    let row = store.cancel_batch("batch-1", t(20)).await.expect("cancel");
    assert_eq!(row.status, BatchStatus::Cancelling);
    assert_eq!(row.cancelling_at, Some(t(20)));
    assert_eq!(row.counts, counts(10, 0, 8, 0, 2), "queued jobs cancelled at once");
    assert!(claim(store, "router-b", 10, t(21)).await.is_empty());
    assert!(
        store.advance_batches(t(21)).await.expect("advance").is_empty(),
        "two still run"
    );
    conflict(store.cancel_batch("batch-1", t(22)).await, "it is cancelling");
    conflict(store.retry_failed_jobs("batch-1", t(22)).await, "it is cancelling");

    // One finishes; the other's router died, and its lease runs out at t(40).
    assert!(finish(store, &running[0], "router-a", succeeded(&running[0]), t(25)).await);
    assert!(store.advance_batches(t(39)).await.expect("advance").is_empty());
    assert_eq!(store.advance_batches(t(41)).await.expect("advance"), ["batch-1"]);
    let row = batch(store, "batch-1").await;
    assert_eq!(row.status, BatchStatus::Cancelled);
    assert_eq!(row.cancelled_at, Some(t(41)));
    assert_eq!(row.counts, counts(10, 1, 9, 0, 0));
    let runs = store.job_runs("batch-1").await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].job_id, runs[0].outcome.as_str()), (running[1].id, "lost"));

    let errors = store.job_results("batch-1", true).await.expect("errors");
    assert_eq!(errors.len(), 9);
    assert!(
        errors
            .iter()
            .all(|e| e.state == "cancelled" && e.error_code.as_deref() == Some("batch_cancelled"))
    );
    assert!(errors.iter().all(|e| e.result.is_none()));
    assert_eq!(store.job_results("batch-1", false).await.expect("output").len(), 1);

    conflict(store.cancel_batch("batch-1", t(50)).await, "it is cancelled");
    conflict(store.set_batch_paused("batch-1", true).await, "it is cancelled");
    not_found(store.cancel_batch("batch-none", t(50)).await);
    assert!(
        store.advance_batches(t(60)).await.expect("advance").is_empty(),
        "nothing changes again"
    );
}

async fn expiry_keeps_results_and_sends_the_rest_to_the_error_file(store: &Store) {
    queue(store, "batch-1", t(0), 8).await;
    let expires = t(0) + TimeDelta::hours(24);
    let early = claim(store, "router-a", 4, t(10)).await;
    assert!(finish(store, &early[0], "router-a", succeeded(&early[0]), t(11)).await);
    assert!(finish(store, &early[1], "router-a", succeeded(&early[1]), t(11)).await);
    assert!(finish(store, &early[2], "router-a", failed(&early[2]), t(11)).await);
    let retry = JobOutcome::Retry {
        not_before: t(20),
        error_code: "upstream_503".into(),
    };
    assert!(finish(store, &early[3], "router-a", retry, t(11)).await);
    // Just before the window ends, line 4 (retried) runs under a lease past it, lines 5 and 6
    // under leases that lapse (their router died); lines 7 and 8 stay queued.
    let held = store
        .claim_jobs(
            "router-b",
            1,
            expires - TimeDelta::seconds(5),
            expires + TimeDelta::seconds(60),
        )
        .await
        .expect("claim");
    let lapsing = store
        .claim_jobs(
            "router-c",
            2,
            expires - TimeDelta::seconds(5),
            expires - TimeDelta::seconds(1),
        )
        .await
        .expect("claim");
    assert_eq!(lines(&held), [4]);
    assert_eq!(lines(&lapsing), [5, 6]);
    assert!(
        store
            .advance_batches(expires - TimeDelta::seconds(1))
            .await
            .expect("advance")
            .is_empty()
    );

    // The window ends: queued and lapsed jobs expire; the batch waits for the live attempt.
    assert!(store.advance_batches(expires).await.expect("advance").is_empty());
    let row = batch(store, "batch-1").await;
    assert_eq!(row.status, BatchStatus::InProgress);
    assert_eq!(row.counts, counts(8, 2, 5, 0, 1));
    assert!(
        claim(store, "router-d", 10, expires).await.is_empty(),
        "nothing runs past the window"
    );
    let lost: Vec<JobRunRow> = store.job_runs("batch-1").await.expect("runs");
    assert_eq!(
        lost.iter()
            .filter(|r| r.outcome == "lost" && r.router_id == "router-c")
            .count(),
        2
    );

    assert!(
        finish(
            store,
            &held[0],
            "router-b",
            succeeded(&held[0]),
            expires + TimeDelta::seconds(3)
        )
        .await
    );
    assert_eq!(
        store
            .advance_batches(expires + TimeDelta::seconds(4))
            .await
            .expect("advance"),
        ["batch-1"]
    );
    let row = batch(store, "batch-1").await;
    assert_eq!(row.status, BatchStatus::Expired);
    assert_eq!(row.expired_at, Some(expires + TimeDelta::seconds(4)));
    assert_eq!(row.completed_at, None);
    assert_eq!(row.counts, counts(8, 3, 5, 0, 0));

    let output = store.job_results("batch-1", false).await.expect("output");
    assert_eq!(
        output.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 2, 4],
        "partial results kept"
    );
    let errors = store.job_results("batch-1", true).await.expect("errors");
    let summary: Vec<(i64, &str, Option<&str>)> = errors
        .iter()
        .map(|e| (e.line, e.state.as_str(), e.error_code.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (3, "failed", Some("invalid_request")),
            (5, "expired", Some("batch_expired")),
            (6, "expired", Some("batch_expired")),
            (7, "expired", Some("batch_expired")),
            (8, "expired", Some("batch_expired")),
        ]
    );
    assert_eq!(errors[0].result.as_deref(), Some(&b"error-3"[..]));
    assert_eq!(errors[0].status_code, Some(400));
    conflict(store.retry_failed_jobs("batch-1", expires).await, "it is expired");

    // A paused batch expires all the same.
    queue(store, "batch-2", t(0), 2).await;
    store.set_batch_paused("batch-2", true).await.expect("paused");
    assert_eq!(store.advance_batches(expires).await.expect("advance"), ["batch-2"]);
    assert_eq!(batch(store, "batch-2").await.counts, counts(2, 0, 2, 0, 0));
}

async fn batches_complete_when_every_job_ended(store: &Store) {
    queue(store, "batch-1", t(0), 5).await;
    queue(store, "batch-2", t(1), 1).await;
    store.set_batch_paused("batch-2", true).await.expect("paused");
    let claimed = claim(store, "router-a", 5, t(10)).await;
    for job in &claimed[..4] {
        assert!(finish(store, job, "router-a", succeeded(job), t(11)).await);
    }
    assert!(
        store.advance_batches(t(12)).await.expect("advance").is_empty(),
        "one still runs"
    );
    assert!(finish(store, &claimed[4], "router-a", failed(&claimed[4]), t(13)).await);
    assert_eq!(store.advance_batches(t(14)).await.expect("advance"), ["batch-1"]);
    let row = batch(store, "batch-1").await;
    assert_eq!(row.status, BatchStatus::Completed);
    assert_eq!((row.finalizing_at, row.completed_at), (Some(t(14)), Some(t(14))));
    assert_eq!(row.counts, counts(5, 4, 1, 0, 0));
    assert!(store.advance_batches(t(15)).await.expect("advance").is_empty());
    assert_eq!(
        status(store, "batch-2").await,
        BatchStatus::InProgress,
        "a paused batch with work waits"
    );
    conflict(store.cancel_batch("batch-1", t(16)).await, "it is completed");
}

async fn retrying_failed_jobs_reopens_a_completed_batch(store: &Store) {
    queue(store, "batch-1", t(0), 4).await;
    run_all(store, t(10), |job| {
        if job.line % 2 == 0 { failed(job) } else { succeeded(job) }
    })
    .await;
    assert_eq!(store.advance_batches(t(11)).await.expect("advance"), ["batch-1"]);
    assert_eq!(status(store, "batch-1").await, BatchStatus::Completed);

    assert_eq!(store.retry_failed_jobs("batch-1", t(20)).await.expect("retry"), 2);
    let row = batch(store, "batch-1").await;
    assert_eq!(row.status, BatchStatus::InProgress);
    assert_eq!((row.completed_at, row.finalizing_at), (None, None));
    assert_eq!(row.counts, counts(4, 2, 0, 2, 0));
    assert!(
        store.job_results("batch-1", true).await.expect("errors").is_empty(),
        "error file emptied"
    );
    assert!(
        claim(store, "router-a", 10, t(19)).await.is_empty(),
        "queued again from t(20)"
    );
    let again = claim(store, "router-a", 10, t(20)).await;
    assert_eq!(lines(&again), [2, 4]);
    assert!(again.iter().all(|j| j.attempt == 1), "fresh attempts");
    for job in &again {
        assert!(finish(store, job, "router-a", succeeded(job), t(21)).await);
    }
    assert_eq!(
        store.retry_failed_jobs("batch-1", t(22)).await.expect("nothing failed"),
        0
    );
    assert_eq!(store.advance_batches(t(23)).await.expect("advance"), ["batch-1"]);
    assert_eq!(batch(store, "batch-1").await.counts, counts(4, 4, 0, 0, 0));

    // Once the window has ended, a completed batch stays completed.
    queue(store, "batch-2", t(100), 1).await;
    run_all(store, t(110), failed).await;
    store.advance_batches(t(111)).await.expect("advance");
    conflict(
        store.retry_failed_jobs("batch-2", t(100) + TimeDelta::hours(24)).await,
        "completion window has ended",
    );
    not_found(store.retry_failed_jobs("batch-none", t(0)).await);
}

async fn payloads_are_purged_once_after_retention(store: &Store) {
    queue(store, "batch-1", t(0), 3).await;
    // A second batch on the same file keeps running after the first ends.
    store
        .create_batch(&new_batch("batch-2", "file-batch-1", t(1)), &jobs(1, "routine"))
        .await
        .expect("queued");
    store.set_batch_paused("batch-2", true).await.expect("paused");
    upload(store, "file-unused", "agent-a", t(2)).await;
    upload(store, "file-late", "agent-a", t(500)).await;
    run_all(store, t(10), succeeded).await;
    assert_eq!(store.advance_batches(t(100)).await.expect("advance"), ["batch-1"]);

    assert_eq!(
        store.purge_job_payloads(t(100)).await.expect("purge"),
        0,
        "ended at the cutoff"
    );
    assert_eq!(store.purge_job_payloads(t(101)).await.expect("purge"), 1);
    let output = store.job_results("batch-1", false).await.expect("output");
    assert_eq!(output.len(), 3, "results stay listed");
    assert!(output.iter().all(|r| r.result.is_none()), "without their bodies");
    let content = |id: &'static str| async move { store.batch_file(id).await.expect("read").expect("row").content };
    assert!(content("file-batch-1").await.is_some(), "batch-2 still uses the file");
    assert_eq!(content("file-unused").await, None, "a file no batch used goes too");
    assert!(content("file-late").await.is_some(), "uploaded after the cutoff");
    assert_eq!(
        store.purge_job_payloads(t(101)).await.expect("purge"),
        0,
        "counted once"
    );

    store.set_batch_paused("batch-2", false).await.expect("resumed");
    let last = claim(store, "router-a", 10, t(200)).await;
    assert_eq!(last[0].request, sealed(1), "batch-2's request survived");
    assert!(finish(store, &last[0], "router-a", succeeded(&last[0]), t(201)).await);
    store.advance_batches(t(202)).await.expect("advance");
    assert_eq!(store.purge_job_payloads(t(300)).await.expect("purge"), 1);
    assert_eq!(content("file-batch-1").await, None);
    conflict(store.retry_failed_jobs("batch-2", t(301)).await, "removed by retention");
    assert_eq!(batch(store, "batch-2").await.counts, counts(1, 1, 0, 0, 0));
}

async fn queue_depth_and_running_targets_are_counted(store: &Store) {
    upload(store, "file-1", "agent-a", t(0)).await;
    let mut mixed = jobs(6, "routine");
    for job in &mut mixed[3..] {
        job.class = "reasoning".into();
    }
    store
        .create_batch(&new_batch("batch-1", "file-1", t(0)), &mixed)
        .await
        .expect("queued");
    store
        .create_batch(&new_batch("batch-2", "file-1", t(1)), &jobs(2, "sensitive"))
        .await
        .expect("queued");
    assert!(store.running_jobs_by_target().await.expect("targets").is_empty());
    let claimed = claim(store, "router-a", 4, t(10)).await;
    store
        .set_job_target(claimed[0].id, "router-a", "mini-01")
        .await
        .expect("target");
    store
        .set_job_target(claimed[1].id, "router-a", "mini-01")
        .await
        .expect("target");
    store
        .set_job_target(claimed[3].id, "router-a", "anthropic")
        .await
        .expect("target");
    assert_eq!(
        store.running_jobs_by_target().await.expect("targets"),
        [("anthropic".to_string(), 1), ("mini-01".to_string(), 2)]
    );
    let depth = |class: &str, queued: i64, running: i64| ClassDepth {
        class: class.into(),
        queued,
        running,
    };
    assert_eq!(
        store.job_queue_depth().await.expect("depth"),
        [
            depth("reasoning", 2, 1),
            depth("routine", 0, 3),
            depth("sensitive", 2, 0)
        ]
    );
    store.cancel_batch("batch-2", t(11)).await.expect("cancel");
    assert_eq!(
        store.job_queue_depth().await.expect("depth"),
        [depth("reasoning", 2, 1), depth("routine", 0, 3)],
        "cancelled jobs wait for nothing"
    );
}

async fn runs_round_trip_and_failures_come_newest_first(store: &Store) {
    queue(store, "batch-1", t(0), 2).await;
    let claimed = claim(store, "router-a", 2, t(10)).await;
    let run = |job: &ClaimedJob, attempt: i32, outcome: &str, started: i64| JobRunRow {
        job_id: job.id,
        batch_id: "batch-1".into(),
        attempt,
        router_id: "router-a".into(),
        target: Some("mini-02".into()),
        started_at: t(started),
        ended_at: Some(t(started + 2)),
        outcome: outcome.into(),
        status_code: Some(if outcome == "ok" { 200 } else { 503 }),
        error_code: (outcome != "ok").then(|| "upstream_503".to_string()),
        prompt_tokens: 120,
        completion_tokens: 30,
        cost_usd: 0.0025,
        request_id: Some(format!("req-{started}")),
    };
    assert!(store.job_runs("batch-1").await.expect("runs").is_empty());
    store.record_job_runs(&[]).await.expect("nothing to record");
    let mut open = run(&claimed[1], 1, "ok", 15);
    open.ended_at = None;
    open.target = None;
    open.status_code = None;
    open.request_id = None;
    let runs = vec![
        run(&claimed[0], 1, "retry", 10),
        run(&claimed[0], 2, "failed", 12),
        open,
        run(&claimed[1], 1, "ok", 11),
    ];
    store.record_job_runs(&runs).await.expect("recorded");
    let read = store.job_runs("batch-1").await.expect("runs");
    assert_eq!(
        read,
        [runs[0].clone(), runs[3].clone(), runs[1].clone(), runs[2].clone()],
        "oldest first"
    );
    let failures = store.recent_job_failures(10).await.expect("failures");
    assert_eq!(
        failures,
        [runs[1].clone(), runs[0].clone()],
        "newest first, failures only"
    );
    assert_eq!(store.recent_job_failures(1).await.expect("failures"), [runs[1].clone()]);
    assert!(store.job_runs("batch-none").await.expect("runs").is_empty());
}

async fn decisions_carry_their_job_id(store: &Store) {
    let decision = |request_id: &str, job_id: Option<i64>| DecisionRecord {
        request_id: request_id.into(),
        ts: t(0),
        agent: "agent-a".into(),
        declared_class: DeclaredClass::Routine,
        effective_class: TaskClass::Routine,
        sensitive: false,
        sensitivity_reason: None,
        endpoint: Endpoint::Local,
        provider: Some("ollama".into()),
        node: Some("mini-01".into()),
        model: Some("llama3.1:8b".into()),
        est_tokens: 100,
        prompt_tokens: 90,
        completion_tokens: 10,
        cost_usd: 0.0,
        ttfb_ms: Some(20),
        latency_ms: 300,
        fallback: Fallback::None,
        policy_version: 1,
        status: 200,
        error: None,
        attempts: Vec::new(),
        job_id,
        quality: Default::default(),
    };
    let written = vec![decision("req-live", None), decision("req-job", Some(4_000_000_001))];
    assert_eq!(store.insert_decisions(&written).await.expect("insert"), 2);
    let read: Vec<DecisionRecord> = store
        .decisions_after(0, 10)
        .await
        .expect("read")
        .into_iter()
        .map(|d| d.record)
        .collect();
    assert_eq!(read, written);

    // A journal line written before batch jobs has no job id.
    let mut old = serde_json::to_value(&written[0]).expect("json");
    old.as_object_mut().expect("object").remove("job_id");
    let replayed: DecisionRecord = serde_json::from_value(old).expect("old lines still parse");
    assert_eq!(replayed.job_id, None);
}

/// The enqueue budget's figure: a 100,000-line batch queued in one call (printed, not asserted:
/// the bench holds the budget).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_jobs_queue_in_one_call_on_postgres() {
    let fixture = postgres().await;
    let store = &fixture.store;
    upload(store, "file-big", "agent-a", t(0)).await;
    let big: Vec<NewJob> = (1..=100_000)
        .map(|line| NewJob {
            line,
            custom_id: format!("ticket-{line:06}"),
            class: if line % 10 == 0 { "reasoning" } else { "routine" }.into(),
            request: vec![(line % 251) as u8; 400],
        })
        .collect();
    let started = Instant::now();
    store
        .create_batch(&new_batch("batch-big", "file-big", t(0)), &big)
        .await
        .expect("queued");
    let took = started.elapsed();
    println!(
        "create_batch: 100,000 jobs in {:.0} ms = {:.0} jobs/s (PostgreSQL)",
        took.as_secs_f64() * 1000.0,
        100_000.0 / took.as_secs_f64()
    );
    assert_eq!(
        batch(store, "batch-big").await.counts,
        counts(100_000, 0, 0, 100_000, 0)
    );
    let first = claim(store, "router-a", 5, t(1)).await;
    assert_eq!(lines(&first), [1, 2, 3, 4, 5]);
    assert_eq!(first[4].request, vec![5u8; 400]);
}
