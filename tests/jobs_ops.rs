//! The batch actions an operator has — pause, resume, cancel, retry — through the action layer
//! and through `farmhand jobs`, against a real PostgreSQL store holding a batch created directly
//! in it: each refused clearly when it does not apply, each done once and audited once.

mod support;

use std::process::{Command, Output};

use chrono::{TimeDelta, Utc};
use farmhand::actions::{Access, ActionError, BatchAction, Operator};
use farmhand::config::FleetConfig;
use farmhand::store::{BatchFileRow, BatchStatus, JobOutcome, JobRunRow, NewBatch, NewJob, Store};
use serde_json::Value;

const BATCH: &str = "batch_ops0000000000000000000001";
const AGENT: &str = "ticket-classifier";

/// A migrated store on a fresh database, holding one running batch of three jobs whose sealed
/// payloads are arbitrary bytes (nothing here opens them).
async fn store_with_a_batch(db: &support::pg::TestDatabase) -> Store {
    let store = Store::connect(db.url()).await.expect("store");
    store.migrate().await.expect("migrate");
    let now = Utc::now();
    store
        .create_batch_file(&BatchFileRow {
            id: "file-ops000000000000000000001".into(),
            agent: AGENT.into(),
            filename: "tickets.jsonl".into(),
            bytes: 300,
            lines: 3,
            created_at: now,
            content: Some(vec![0x5e; 64]),
        })
        .await
        .expect("file");
    let jobs: Vec<NewJob> = (1..=3)
        .map(|line| NewJob {
            line,
            custom_id: format!("ticket-{line}"),
            class: "routine".into(),
            request: vec![0xa5; 32],
        })
        .collect();
    store
        .create_batch(
            &NewBatch {
                id: BATCH.into(),
                agent: AGENT.into(),
                input_file_id: "file-ops000000000000000000001".into(),
                endpoint: "/v1/chat/completions".into(),
                completion_window: "24h".into(),
                created_at: now,
                expires_at: now + TimeDelta::hours(24),
                metadata: None,
                status: BatchStatus::InProgress,
                errors: None,
            },
            &jobs,
        )
        .await
        .expect("batch");
    store
}

/// Fails one job of the batch for good, with one recorded attempt.
async fn fail_one_job(store: &Store) {
    let now = Utc::now();
    let claimed = store
        .claim_jobs("router-test", 1, now, now + TimeDelta::seconds(30))
        .await
        .expect("claim");
    let [job] = claimed.as_slice() else {
        panic!("one job claimed, got {claimed:?}");
    };
    let outcome = JobOutcome::Failed {
        status_code: 400,
        error_code: "invalid_request".into(),
        result: vec![0x11; 16],
    };
    assert!(
        store
            .finish_job(job.id, "router-test", &outcome, now)
            .await
            .expect("finish")
    );
    store
        .record_job_runs(&[JobRunRow {
            job_id: job.id,
            batch_id: BATCH.into(),
            attempt: job.attempt,
            router_id: "router-test".into(),
            target: Some("mini-03".into()),
            started_at: now,
            ended_at: Some(now),
            outcome: "failed".into(),
            status_code: Some(400),
            error_code: Some("invalid_request".into()),
            prompt_tokens: 12,
            completion_tokens: 0,
            cost_usd: 0.0,
            request_id: Some("fh-test-0001".into()),
        }])
        .await
        .expect("run");
}

async fn audit(store: &Store) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = store
        .audit_log(50)
        .await
        .expect("audit log")
        .into_iter()
        .map(|a| (a.actor, a.action, a.target, a.detail))
        .collect();
    rows.reverse();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_actions_apply_once_refuse_clearly_and_are_audited() {
    let db = support::pg::TestDatabase::create().await;
    let store = store_with_a_batch(&db).await;
    let config = FleetConfig::default();
    let ops = Operator::new(&config, store.clone(), "oncall@test".into(), Access::ReadWrite);

    let read_only = Operator::new(&config, store.clone(), "lead@test".into(), Access::ReadOnly);
    for action in [BatchAction::Pause, BatchAction::Cancel, BatchAction::Retry] {
        let err = read_only
            .batch_action(BATCH, action, None)
            .await
            .expect_err("read-only");
        assert!(matches!(err, ActionError::ReadOnly(_)), "{err}");
    }
    assert!(audit(&store).await.is_empty(), "a refusal leaves no audit row");

    let unknown = ops
        .batch_action("batch_nope", BatchAction::Pause, None)
        .await
        .expect_err("unknown");
    assert_eq!(
        unknown.to_string(),
        "unknown batch `batch_nope` (`farmhand jobs list` shows the batches)"
    );

    let paused = ops
        .batch_action(BATCH, BatchAction::Pause, Some("night maintenance"))
        .await
        .expect("pause");
    assert!(paused.paused);
    assert_eq!((paused.status, paused.jobs), (BatchStatus::InProgress, 3));
    let now = Utc::now();
    let claimed = store
        .claim_jobs("router-test", 5, now, now + TimeDelta::seconds(30))
        .await
        .expect("claim");
    assert!(claimed.is_empty(), "workers claim nothing of a paused batch");
    let again = ops
        .batch_action(BATCH, BatchAction::Pause, None)
        .await
        .expect_err("twice");
    assert_eq!(again.to_string(), format!("refused: {BATCH} is already paused"));

    let resumed = ops
        .batch_action(BATCH, BatchAction::Resume, None)
        .await
        .expect("resume");
    assert!(!resumed.paused);
    let nothing = ops
        .batch_action(BATCH, BatchAction::Retry, None)
        .await
        .expect_err("no failures");
    assert!(nothing.to_string().contains("has no failed jobs"), "{nothing}");

    fail_one_job(&store).await;
    let retried = ops.batch_action(BATCH, BatchAction::Retry, None).await.expect("retry");
    assert_eq!(retried.jobs, 1, "the failed job is queued again");
    let batch = store.batch(BATCH).await.expect("read").expect("batch");
    assert_eq!((batch.counts.failed, batch.counts.queued), (0, 3));

    let cancelled = ops
        .batch_action(BATCH, BatchAction::Cancel, None)
        .await
        .expect("cancel");
    assert!(
        matches!(cancelled.status, BatchStatus::Cancelling | BatchStatus::Cancelled),
        "{:?}",
        cancelled.status
    );
    assert_eq!(cancelled.jobs, 3, "every queued job is cancelled");
    for action in [BatchAction::Cancel, BatchAction::Retry, BatchAction::Pause] {
        let err = ops.batch_action(BATCH, action, None).await.expect_err("after cancel");
        assert!(matches!(err, ActionError::Refused(_)), "{err}");
        assert!(err.to_string().contains(BATCH), "the refusal names the batch: {err}");
    }

    let rows = audit(&store).await;
    let actions: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(actor, action, target, _)| (actor.as_str(), action.as_str(), target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("oncall@test", "batch.pause", BATCH),
            ("oncall@test", "batch.resume", BATCH),
            ("oncall@test", "batch.retry", BATCH),
            ("oncall@test", "batch.cancel", BATCH),
        ],
        "one row per action done, none for refusals"
    );
    assert_eq!(
        rows[0].3,
        "in_progress -> paused: 3 queued, 0 running (night maintenance)"
    );
    assert_eq!(rows[2].3, "in_progress -> in_progress: 1 failed job(s) queued again");
}

fn farmhand(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_farmhand"))
        .args(["--database-url", url])
        .args(args)
        .env_remove("FARMHAND_CONFIG")
        .env_remove("FARMHAND_ACTOR")
        .env("RUST_LOG", "off")
        .output()
        .expect("the farmhand binary runs")
}

/// A failed run's one line on stderr.
fn one_line_error(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).trim_end().to_string();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("farmhand: error: "), "{stderr}");
    stderr
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farmhand_jobs_lists_shows_and_changes_a_batch() {
    let db = support::pg::TestDatabase::create().await;
    let store = store_with_a_batch(&db).await;
    fail_one_job(&store).await;
    let url = db.url().to_string();
    let run = move |args: &[&str]| farmhand(&url, args);

    let listed: Value = serde_json::from_str(&stdout(&run(&["jobs", "list", "--json"]))).expect("json");
    assert_eq!(listed[0]["id"], BATCH);
    assert_eq!(listed[0]["status"], "in_progress");
    assert_eq!(listed[0]["counts"]["failed"], 1);
    let text = stdout(&run(&["jobs", "list"]));
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(BATCH) && l.contains(AGENT)),
        "{text}"
    );

    let shown = stdout(&run(&["jobs", "show", BATCH]));
    assert!(
        shown.contains("jobs         0 completed, 1 failed, 2 queued, 0 running, of 3"),
        "{shown}"
    );
    assert!(shown.contains("attempts (1)"), "{shown}");
    assert!(
        shown.contains("mini-03") && shown.contains("invalid_request") && shown.contains("fh-test-0001"),
        "{shown}"
    );
    let shown: Value = serde_json::from_str(&stdout(&run(&["jobs", "show", BATCH, "--json"]))).expect("json");
    assert_eq!(shown["runs"][0]["error_code"], "invalid_request");
    assert!(
        !shown.to_string().contains("request\":[") && shown["batch"].get("content").is_none(),
        "no payload bytes in the report"
    );

    let paused = stdout(&run(&[
        "jobs",
        "pause",
        BATCH,
        "--actor",
        "oncall",
        "--reason",
        "db upgrade",
    ]));
    assert_eq!(
        paused.trim(),
        format!("{BATCH}: paused; 2 queued job(s) wait, 0 running attempt(s) finish")
    );
    let twice = one_line_error(&run(&["jobs", "pause", BATCH]));
    assert!(
        twice.ends_with(&format!("refused: {BATCH} is already paused")),
        "{twice}"
    );
    let unknown = one_line_error(&run(&["jobs", "cancel", "batch_nope"]));
    assert!(unknown.contains("unknown batch `batch_nope`"), "{unknown}");
    let missing = one_line_error(&run(&["jobs", "show", "batch_nope"]));
    assert!(missing.contains("unknown batch `batch_nope`"), "{missing}");

    let resumed: Value =
        serde_json::from_str(&stdout(&run(&["jobs", "resume", BATCH, "--actor", "oncall", "--json"]))).expect("json");
    assert_eq!(resumed["change"]["action"], "resume");
    assert_eq!(resumed["actor"], "oncall");
    let retried = stdout(&run(&["jobs", "retry", BATCH, "--actor", "oncall"]));
    assert!(
        retried.starts_with(&format!("{BATCH}: 1 failed job(s) queued again")),
        "{retried}"
    );
    let cancelled = stdout(&run(&["jobs", "cancel", BATCH, "--actor", "oncall"]));
    assert!(cancelled.contains("3 queued job(s) cancelled"), "{cancelled}");
    let late = one_line_error(&run(&["jobs", "retry", BATCH]));
    assert!(late.contains(BATCH) && late.contains("refused"), "{late}");

    let actions: Vec<(String, String)> = audit(&store)
        .await
        .into_iter()
        .map(|(actor, action, _, _)| (actor, action))
        .collect();
    let expected: Vec<(String, String)> = ["batch.pause", "batch.resume", "batch.retry", "batch.cancel"]
        .into_iter()
        .map(|a| ("oncall".to_string(), a.to_string()))
        .collect();
    assert_eq!(actions, expected);
}
