//! One contract for both store backends: every test below runs against SQLite (a temp file) and
//! PostgreSQL (a fresh database from `support::pg`).

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use farmhand::domain::{
    AnswerQuality, Attempt, AttemptOutcome, DecisionRecord, DeclaredClass, DrainState, Endpoint, Fallback,
    FinishReason, TaskClass,
};
use farmhand::quality::{QualityLine, quality_route};
use farmhand::store::QualitySample;
use farmhand::store::{AgentReport, AgentUsageRow, Backend, PresenceRow, Store, StoreError, Wakeup};
use sqlx::Connection;

use support::pg::TestDatabase;

/// A migrated store and what keeps its database alive.
struct Fixture {
    store: Store,
    url: String,
    _pg: Option<TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("state/farmhand.db").display());
    let store = Store::connect(&url)
        .await
        .expect("SQLite store opens and creates its file");
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.migrate().await.expect("first migration"), migrations());
    Fixture {
        store,
        url,
        _pg: None,
        _dir: Some(dir),
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::create().await;
    let url = db.url().to_string();
    let store = Store::connect(&url).await.expect("PostgreSQL store connects");
    assert_eq!(store.backend(), Backend::Postgres);
    assert_eq!(store.migrate().await.expect("first migration"), migrations());
    Fixture {
        store,
        url,
        _pg: Some(db),
        _dir: None,
    }
}

/// Migrations each backend has: the SQL files of its folder (both folders hold the same list).
fn migrations() -> usize {
    let count = |backend: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter(|f| {
                f.as_ref()
                    .is_ok_and(|f| f.path().extension().is_some_and(|x| x == "sql"))
            })
            .count()
    };
    assert_eq!(
        count("sqlite"),
        count("postgres"),
        "both backends have the same migrations"
    );
    count("sqlite")
}

macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::sqlite().await;
                    super::$name(&fixture).await;
                }
            )+
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::postgres().await;
                    super::$name(&fixture).await;
                }
            )+
        }
    };
}

contract!(
    migrating_again_changes_nothing,
    decisions_round_trip_and_tail_by_cursor,
    reinserting_is_idempotent_and_not_double_counted,
    attempts_are_json_that_sql_can_read,
    spend_summary_adds_up,
    long_windows_add_up_from_days_and_hours,
    quality_rollup_adds_up,
    agreement_and_feedback_join_their_decisions,
    frontier_cost_is_exact_at_the_window_start,
    node_state_changes_are_audited,
    overrides_bump_versions_with_snapshots_and_audit,
    concurrent_override_changes_get_distinct_versions,
    pull_jobs_go_through_their_lifecycle,
    audit_rows_come_back_newest_first,
    wakeups_follow_changes,
    one_pull_per_node_and_abandoned_jobs_give_way,
    drains_complete_only_when_every_live_router_is_quiet,
    routers_exchange_spend_leases_and_limit_usage,
);

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid test time")
        .with_timezone(&Utc)
}

/// A local routine decision; tests change what they need.
fn decision(request_id: &str, ts: DateTime<Utc>) -> DecisionRecord {
    DecisionRecord {
        request_id: request_id.into(),
        ts,
        agent: "agent-a".into(),
        declared_class: DeclaredClass::Routine,
        effective_class: TaskClass::Routine,
        sensitive: false,
        sensitivity_reason: None,
        endpoint: Endpoint::Local,
        provider: Some("ollama".into()),
        node: Some("mini-01".into()),
        model: Some("llama3.1:8b".into()),
        est_tokens: 120,
        prompt_tokens: 100,
        completion_tokens: 50,
        cost_usd: 0.0,
        ttfb_ms: Some(80),
        latency_ms: 900,
        fallback: Fallback::None,
        policy_version: 3,
        status: 200,
        error: None,
        attempts: vec![attempt("mini-01", AttemptOutcome::Ok, 80)],
        job_id: None,
        quality: Default::default(),
    }
}

fn attempt(target: &str, outcome: AttemptOutcome, ms: i64) -> Attempt {
    Attempt {
        target: target.into(),
        outcome,
        ms,
    }
}

fn frontier(mut d: DecisionRecord, provider: &str, model: &str, cost_usd: f64) -> DecisionRecord {
    d.endpoint = Endpoint::Frontier;
    d.provider = Some(provider.into());
    d.model = Some(model.into());
    d.node = None;
    d.cost_usd = cost_usd;
    d
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Tables, columns and indexes, as text, read straight from the database.
async fn schema(f: &Fixture) -> Vec<String> {
    match f.store.backend() {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&f.url).await.expect("connect");
            let mut rows: Vec<String> = sqlx::query_as::<_, (String, String, String, String)>(
                "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
                 FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            )
            .fetch_all(&mut conn)
            .await
            .expect("columns")
            .into_iter()
            .map(|(t, c, ty, null)| format!("{t}.{c} {ty} {null}"))
            .collect();
            let indexes: Vec<String> =
                sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname")
                    .fetch_all(&mut conn)
                    .await
                    .expect("indexes");
            rows.extend(indexes);
            rows
        }
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&f.url).await.expect("connect");
            sqlx::query_as::<_, (String, String, Option<String>)>(
                "SELECT type, name, sql FROM sqlite_master ORDER BY name",
            )
            .fetch_all(&mut conn)
            .await
            .expect("schema")
            .into_iter()
            .map(|(ty, name, sql)| format!("{ty} {name} {}", sql.unwrap_or_default()))
            .collect()
        }
    }
}

/// Column names of a table, in order.
async fn columns(f: &Fixture, table: &str) -> Vec<String> {
    match f.store.backend() {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&f.url).await.expect("connect");
            sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut conn)
            .await
            .expect("columns")
        }
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&f.url).await.expect("connect");
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut conn)
                .await
                .expect("columns")
        }
    }
}

async fn migrating_again_changes_nothing(f: &Fixture) {
    let before = schema(f).await;
    assert_eq!(f.store.migrate().await.expect("second migration"), 0);
    assert_eq!(schema(f).await, before);

    // The schema is a public interface: the same names on both backends.
    let expected: &[(&str, &[&str])] = &[
        (
            "routing_decisions",
            &[
                "id",
                "request_id",
                "ts",
                "agent",
                "declared_class",
                "effective_class",
                "sensitive",
                "sensitivity_reason",
                "endpoint",
                "provider",
                "node",
                "model",
                "est_tokens",
                "prompt_tokens",
                "completion_tokens",
                "cost_usd",
                "ttfb_ms",
                "latency_ms",
                "fallback",
                "policy_version",
                "status",
                "error",
                "attempts",
                "job_id",
                "finish_reason",
                "empty_answer",
                "json_valid",
                "ttft_ms",
                "tokens_per_sec",
                "queued_ms",
            ],
        ),
        ("feedback", &["request_id", "metric", "value", "agent", "ts"]),
        (
            "quality_samples",
            &["request_id", "twin_request_id", "twin_route", "score", "method", "ts"],
        ),
        (
            "quality_hourly",
            &[
                "hour",
                "effective_class",
                "route",
                "requests",
                "errors",
                "truncated",
                "empty",
                "json_checked",
                "json_valid",
                "ttft_count",
                "ttft_sum_ms",
                "ttft_le_100",
                "ttft_le_250",
                "ttft_le_500",
                "ttft_le_1000",
                "ttft_le_2500",
                "ttft_le_5000",
                "ttft_le_10000",
                "ttft_le_30000",
                "ttft_over",
                "tps_count",
                "tps_sum",
                "queued_sum_ms",
            ],
        ),
        (
            "spend_hourly",
            &[
                "hour",
                "effective_class",
                "endpoint",
                "provider",
                "model",
                "agent",
                "requests",
                "prompt_tokens",
                "completion_tokens",
                "cost_usd",
            ],
        ),
        (
            "spend_daily",
            &[
                "day",
                "effective_class",
                "endpoint",
                "provider",
                "model",
                "agent",
                "requests",
                "prompt_tokens",
                "completion_tokens",
                "cost_usd",
            ],
        ),
        (
            "node_hourly",
            &["hour", "node", "requests", "prompt_tokens", "completion_tokens"],
        ),
        (
            "node_daily",
            &["day", "node", "requests", "prompt_tokens", "completion_tokens"],
        ),
        ("nodes", &["name", "state", "reason", "changed_by", "changed_at"]),
        ("policy_overrides", &["key", "value", "reason", "set_by", "set_at"]),
        ("policy_versions", &["version", "created_at", "created_by", "snapshot"]),
        ("audit_log", &["id", "ts", "actor", "action", "target", "detail"]),
        (
            "pull_jobs",
            &[
                "id",
                "node",
                "model",
                "state",
                "progress",
                "started_at",
                "finished_at",
                "error",
                "updated_at",
            ],
        ),
        (
            "router_presence",
            &[
                "router_id",
                "node",
                "state_seen",
                "in_flight",
                "quiet",
                "reported_at",
                "status_url",
            ],
        ),
        (
            "router_spend",
            &[
                "day",
                "router_id",
                "agent",
                "cost_usd",
                "leased_usd",
                "requests_1m",
                "tokens_1m",
                "in_flight",
                "rpm_limit",
                "tpm_limit",
                "max_in_flight_limit",
                "daily_usd_limit",
                "reported_at",
            ],
        ),
        (
            "batch_files",
            &["id", "agent", "filename", "bytes", "lines", "created_at", "content"],
        ),
        (
            "batches",
            &[
                "id",
                "agent",
                "input_file_id",
                "endpoint",
                "completion_window",
                "status",
                "paused",
                "created_at",
                "expires_at",
                "in_progress_at",
                "finalizing_at",
                "completed_at",
                "failed_at",
                "expired_at",
                "cancelling_at",
                "cancelled_at",
                "ended_at",
                "purged_at",
                "metadata",
                "errors",
            ],
        ),
        (
            "jobs",
            &[
                "id",
                "batch_id",
                "line",
                "custom_id",
                "class",
                "state",
                "attempts",
                "not_before",
                "lease_owner",
                "lease_until",
                "claimed_at",
                "target",
                "request",
                "result",
                "status_code",
                "error_code",
                "finished_at",
            ],
        ),
        (
            "job_runs",
            &[
                "id",
                "job_id",
                "batch_id",
                "attempt",
                "router_id",
                "target",
                "started_at",
                "ended_at",
                "outcome",
                "status_code",
                "error_code",
                "prompt_tokens",
                "completion_tokens",
                "cost_usd",
                "request_id",
            ],
        ),
    ];
    for (table, cols) in expected {
        assert_eq!(columns(f, table).await, *cols, "columns of {table}");
    }
}

async fn decisions_round_trip_and_tail_by_cursor(f: &Fixture) {
    let store = &f.store;
    assert_eq!(store.insert_decisions(&[]).await.expect("empty batch"), 0);
    assert!(store.decisions_after(0, 10).await.expect("empty tail").is_empty());

    let t0 = at("2026-03-10T10:00:00.123Z");
    let mut batch: Vec<DecisionRecord> = (0..5)
        .map(|i| decision(&format!("req-{i}"), t0 + TimeDelta::milliseconds(i * 1001)))
        .collect();
    batch[1] = frontier(batch[1].clone(), "anthropic", "claude-sonnet-4-5", 0.0125);
    batch[1].fallback = Fallback::ToFrontier;
    batch[1].attempts = vec![
        attempt("mini-03", AttemptOutcome::Timeout, 1000),
        attempt("mini-05", AttemptOutcome::Status(503), 12),
        attempt("anthropic/claude-sonnet-4-5", AttemptOutcome::Status(529), 431),
        attempt("anthropic/claude-sonnet-4-5", AttemptOutcome::Ok, 2212),
    ];
    batch[2].effective_class = TaskClass::Sensitive;
    batch[2].declared_class = DeclaredClass::Auto;
    batch[2].sensitive = true;
    batch[2].sensitivity_reason = Some("detector:email".into());
    batch[3].endpoint = Endpoint::Rejected;
    batch[3].provider = None;
    batch[3].node = None;
    batch[3].model = None;
    batch[3].ttfb_ms = None;
    batch[3].status = 503;
    batch[3].error = Some("no_capacity".into());
    batch[3].attempts = Vec::new();
    batch[0].quality = AnswerQuality {
        finish_reason: Some(FinishReason::Length),
        empty_answer: Some(false),
        json_valid: Some(true),
        ttft_ms: Some(340),
        tokens_per_sec: Some(41.25),
        queued_ms: 12,
    };
    batch[1].quality.finish_reason = Some(FinishReason::Error);
    assert_eq!(store.insert_decisions(&batch).await.expect("insert"), 5);

    let first = store.decisions_after(0, 3).await.expect("tail");
    assert_eq!(first.len(), 3);
    assert!(first.windows(2).all(|w| w[0].id < w[1].id), "ascending ids");
    let rest = store.decisions_after(first[2].id, 100).await.expect("tail");
    assert_eq!(rest.len(), 2);
    assert!(rest[0].id > first[2].id);
    let read: Vec<DecisionRecord> = first.iter().chain(&rest).map(|d| d.record.clone()).collect();
    assert_eq!(read, batch, "every field round-trips, timestamps to the millisecond");
    assert_eq!(read[1].attempts.len(), 4, "the whole fallback chain, in order");
    assert!(store.decisions_after(rest[1].id, 10).await.expect("tail").is_empty());

    let recent = store.recent_decisions(2).await.expect("recent");
    assert_eq!(
        recent.iter().map(|d| d.record.request_id.as_str()).collect::<Vec<_>>(),
        ["req-3", "req-4"]
    );
    assert_eq!(store.recent_decisions(100).await.expect("recent").len(), 5);
    let cursor = store.cursor_before_newest(2).await.expect("cursor");
    assert_eq!(
        store.decisions_after(cursor, 100).await.expect("newest two"),
        recent,
        "paging on from the cursor reads the newest two"
    );
    assert_eq!(store.cursor_before_newest(5).await.expect("cursor"), 0, "all of them");
    assert_eq!(store.cursor_before_newest(100).await.expect("cursor"), 0);

    // A later batch continues the cursor.
    let more = vec![decision("req-5", t0 + TimeDelta::seconds(60))];
    assert_eq!(store.insert_decisions(&more).await.expect("insert"), 1);
    let tail = store.decisions_after(rest[1].id, 10).await.expect("tail");
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].record, more[0]);
}

/// The `attempts` column is JSON to the database itself (`jsonb` in PostgreSQL, checked JSON text
/// in SQLite), so ad-hoc SQL and Grafana can look inside it; rows written before the column
/// existed read back with no attempts.
async fn attempts_are_json_that_sql_can_read(f: &Fixture) {
    let mut d = decision("chain", Utc::now());
    d.fallback = Fallback::NodeRetry;
    d.node = Some("mini-05".into());
    d.attempts = vec![
        attempt("mini-03", AttemptOutcome::Timeout, 1000),
        attempt("mini-05", AttemptOutcome::Ok, 212),
    ];
    assert_eq!(f.store.insert_decisions(&[d]).await.expect("insert"), 1);
    let (first_outcome, first_ms, count): (String, i64, i64) = match f.store.backend() {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&f.url).await.expect("connect");
            let kind: String = sqlx::query_scalar(
                "SELECT data_type::text FROM information_schema.columns \
                 WHERE table_name = 'routing_decisions' AND column_name = 'attempts'",
            )
            .fetch_one(&mut conn)
            .await
            .expect("column type");
            assert_eq!(kind, "jsonb");
            sqlx::query(
                "INSERT INTO routing_decisions (request_id, ts, agent, declared_class, effective_class, sensitive, \
                 endpoint, est_tokens, prompt_tokens, completion_tokens, cost_usd, latency_ms, fallback, \
                 policy_version, status) VALUES ('legacy', now(), 'a', 'routine', 'routine', false, 'rejected', \
                 0, 0, 0, 0, 1, 'none', 1, 503)",
            )
            .execute(&mut conn)
            .await
            .expect("a row that names no attempts");
            sqlx::query_as(
                "SELECT attempts->0->>'outcome', (attempts->0->>'ms')::int8, jsonb_array_length(attempts)::int8 \
                 FROM routing_decisions WHERE request_id = 'chain'",
            )
            .fetch_one(&mut conn)
            .await
            .expect("jsonb operators work on attempts")
        }
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&f.url).await.expect("connect");
            let refused = sqlx::query("UPDATE routing_decisions SET attempts = '[{' WHERE request_id = 'chain'")
                .execute(&mut conn)
                .await;
            assert!(refused.is_err(), "SQLite refuses text that is not JSON");
            sqlx::query(
                "INSERT INTO routing_decisions (request_id, ts, agent, declared_class, effective_class, sensitive, \
                 endpoint, est_tokens, prompt_tokens, completion_tokens, cost_usd, latency_ms, fallback, \
                 policy_version, status) VALUES ('legacy', '2026-01-01T00:00:00.000000Z', 'a', 'routine', \
                 'routine', 0, 'rejected', 0, 0, 0, 0, 1, 'none', 1, 503)",
            )
            .execute(&mut conn)
            .await
            .expect("a row that names no attempts");
            sqlx::query_as(
                "SELECT json_extract(attempts, '$[0].outcome'), json_extract(attempts, '$[0].ms'), \
                 json_array_length(attempts) FROM routing_decisions WHERE request_id = 'chain'",
            )
            .fetch_one(&mut conn)
            .await
            .expect("JSON functions work on attempts")
        }
    };
    assert_eq!((first_outcome.as_str(), first_ms, count), ("timeout", 1000, 2));
    let read = f.store.recent_decisions(10).await.expect("read back");
    let by_id = |id: &str| read.iter().find(|d| d.record.request_id == id).expect("stored");
    assert_eq!(by_id("chain").record.attempts[0].outcome, AttemptOutcome::Timeout);
    assert_eq!(by_id("chain").record.attempts[1].target, "mini-05");
    assert!(by_id("legacy").record.attempts.is_empty());
}

async fn reinserting_is_idempotent_and_not_double_counted(f: &Fixture) {
    let store = &f.store;
    let t0 = at("2026-03-10T10:15:00Z");
    let first: Vec<DecisionRecord> = (0..3)
        .map(|i| frontier(decision(&format!("r{i}"), t0), "openai", "gpt-5", 0.5))
        .collect();
    assert_eq!(store.insert_decisions(&first).await.expect("insert"), 3);
    // A journal replay: two old ids, one new, and the new one twice in the same batch.
    let replay = vec![
        first[0].clone(),
        first[2].clone(),
        frontier(decision("r3", t0), "openai", "gpt-5", 0.5),
        frontier(decision("r3", t0), "openai", "gpt-5", 0.5),
    ];
    assert_eq!(store.insert_decisions(&replay).await.expect("replay"), 1);
    assert_eq!(store.insert_decisions(&replay).await.expect("replay again"), 0);
    assert_eq!(store.decisions_after(0, 100).await.expect("tail").len(), 4);

    let spend = store.spend_summary(t0, t0 + TimeDelta::hours(1)).await.expect("spend");
    assert_eq!(spend.total.requests, 4);
    assert_eq!(spend.total.prompt_tokens, 400);
    assert!(close(spend.total.cost_usd, 2.0), "{}", spend.total.cost_usd);
    assert!(close(store.frontier_cost_since(t0).await.expect("cost"), 2.0));
}

async fn spend_summary_adds_up(f: &Fixture) {
    let store = &f.store;
    let h = at("2026-03-10T10:00:00Z");
    let min = TimeDelta::minutes;
    let mut d1 = decision("d1", h + min(5));
    d1.agent = "a".into();
    let mut d2 = frontier(decision("d2", h + min(10)), "anthropic", "claude", 0.25);
    d2.agent = "b".into();
    d2.effective_class = TaskClass::Reasoning;
    d2.prompt_tokens = 1000;
    d2.completion_tokens = 500;
    let mut d3 = frontier(decision("d3", h + min(61)), "openai", "gpt", 0.05);
    d3.agent = "a".into();
    d3.prompt_tokens = 200;
    d3.completion_tokens = 100;
    let mut d4 = decision("d4", h + min(90));
    d4.agent = "c".into();
    d4.effective_class = TaskClass::Sensitive;
    d4.model = Some("qwen3:14b".into());
    d4.prompt_tokens = 300;
    d4.completion_tokens = 30;
    let mut d5 = decision("d5", h + min(120));
    d5.agent = "a".into();
    d5.endpoint = Endpoint::Rejected;
    d5.provider = None;
    d5.model = None;
    d5.prompt_tokens = 0;
    d5.completion_tokens = 0;
    let mut before = frontier(
        decision("before", h - TimeDelta::milliseconds(1)),
        "anthropic",
        "claude",
        1.0,
    );
    before.agent = "b".into();
    let mut after = frontier(decision("after", h + min(180)), "anthropic", "claude", 2.0);
    after.agent = "b".into();
    let all = vec![after, d5, d4, before, d3, d2, d1];
    assert_eq!(store.insert_decisions(&all).await.expect("insert"), 7);

    // `since` rounds down to its hour; the hour containing `until` counts only if it starts before it.
    let s = store.spend_summary(h + min(30), h + min(180)).await.expect("spend");
    assert_eq!(s.since, h);
    assert_eq!(s.until, h + min(180));
    assert_eq!(s.total.requests, 5);
    assert_eq!(s.total.prompt_tokens, 100 + 1000 + 200 + 300);
    assert_eq!(s.total.completion_tokens, 50 + 500 + 100 + 30);
    assert!(close(s.total.cost_usd, 0.30));

    let frontier_line = s.endpoint(Endpoint::Frontier);
    assert_eq!(frontier_line.requests, 2);
    assert!(close(frontier_line.cost_usd, 0.30));
    assert_eq!(s.endpoint(Endpoint::Local).requests, 2);
    assert_eq!(s.endpoint(Endpoint::Rejected).requests, 1);
    assert_eq!(
        s.by_endpoint.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["local", "frontier", "rejected"]
    );
    let local_tokens = (150 + 330) as f64;
    assert_eq!(
        s.local_token_share(),
        Some(local_tokens / (local_tokens + 1500.0 + 300.0))
    );

    let names = |groups: &[farmhand::store::SpendGroup]| -> Vec<(String, i64)> {
        groups.iter().map(|g| (g.name.clone(), g.line.requests)).collect()
    };
    assert_eq!(
        names(&s.by_class),
        [("reasoning".into(), 1), ("routine".into(), 3), ("sensitive".into(), 1)]
    );
    assert_eq!(names(&s.by_agent), [("b".into(), 1), ("a".into(), 3), ("c".into(), 1)]);
    assert_eq!(
        names(&s.by_provider),
        [
            ("anthropic".into(), 1),
            ("openai".into(), 1),
            ("ollama".into(), 2),
            ("".into(), 1)
        ]
    );
    assert_eq!(
        names(&s.by_model),
        [
            ("claude".into(), 1),
            ("gpt".into(), 1),
            ("".into(), 1),
            ("llama3.1:8b".into(), 1),
            ("qwen3:14b".into(), 1)
        ]
    );
    let agent_a = s.by_agent.iter().find(|g| g.name == "a").expect("agent a");
    assert!(close(agent_a.line.cost_usd, 0.05));

    assert_eq!(
        s.hourly.iter().map(|x| x.start).collect::<Vec<_>>(),
        [h, h + min(60), h + min(120)]
    );
    assert_eq!((s.hourly[0].frontier.requests, s.hourly[0].local.requests), (1, 1));
    assert!(close(s.hourly[0].frontier.cost_usd, 0.25));
    assert_eq!((s.hourly[1].frontier.requests, s.hourly[1].local.requests), (1, 1));
    assert_eq!(s.hourly[1].local.prompt_tokens, 300);
    assert_eq!((s.hourly[2].rejected.requests, s.hourly[2].frontier.requests), (1, 0));

    // Window edges.
    let edge = store.spend_summary(h, h + min(120)).await.expect("spend");
    assert_eq!(edge.total.requests, 4, "the hour starting at `until` is outside");
    let edge = store.spend_summary(h + min(60), h + min(121)).await.expect("spend");
    assert_eq!(
        edge.total.requests, 3,
        "hours from `since` through the one containing `until`"
    );
    let all_time = store
        .spend_summary(h - TimeDelta::days(7), h + TimeDelta::days(7))
        .await
        .expect("spend");
    assert_eq!(all_time.total.requests, 7);
    assert!(close(all_time.total.cost_usd, 3.30));
    let empty = store
        .spend_summary(h - TimeDelta::days(7), h - TimeDelta::days(6))
        .await
        .expect("spend");
    assert_eq!(empty.total, Default::default());
    assert!(empty.hourly.is_empty() && empty.by_agent.is_empty());
    assert_eq!(empty.local_token_share(), None);

    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(json["by_endpoint"][1]["name"], "frontier");
    assert_eq!(json["by_endpoint"][1]["requests"], 2);
}

/// Decisions every 5 hours over 40 days, a frontier one in three, a shadow twin in five, on
/// three nodes: each window's summary (whole days from the daily rollups, the ends from the
/// hourly ones) matches the decisions it covers, by endpoint, class, agent, node and day.
async fn long_windows_add_up_from_days_and_hours(f: &Fixture) {
    let store = &f.store;
    let until = at("2026-03-20T13:40:00Z");
    let first = until - TimeDelta::days(40);
    let batch: Vec<DecisionRecord> = (0..192)
        .map(|i| {
            let ts = first + TimeDelta::minutes(i * 300 + 7);
            let mut d = decision(&format!("long-{i}"), ts);
            d.node = Some(format!("mini-0{}", i % 3 + 1));
            d.prompt_tokens = 100 + i;
            if i % 3 == 0 {
                d = frontier(d, "anthropic", "claude", 0.01 * (i % 7 + 1) as f64);
                d.effective_class = TaskClass::Reasoning;
            }
            if i % 5 == 0 {
                d.agent = format!("shadow:{}", d.agent);
            }
            d
        })
        .collect();
    assert_eq!(store.insert_decisions(&batch).await.expect("insert"), 192);
    let hour_floor = farmhand::store::hour_floor;
    for days in [1, 2, 3, 7, 30, 60] {
        let since = until - TimeDelta::days(days);
        let s = store.spend_summary(since, until).await.expect("spend");
        let covered: Vec<&DecisionRecord> = batch
            .iter()
            .filter(|d| d.ts >= hour_floor(since) && d.ts < until)
            .collect();
        let cost = |d: &&&DecisionRecord| d.cost_usd;
        assert_eq!(s.total.requests, covered.len() as i64, "{days} d");
        assert!(
            close(s.total.cost_usd, covered.iter().map(|d| d.cost_usd).sum()),
            "{days} d"
        );
        assert_eq!(
            s.total.prompt_tokens,
            covered.iter().map(|d| d.prompt_tokens).sum::<i64>(),
            "{days} d"
        );
        let shadow: Vec<&&DecisionRecord> = covered.iter().filter(|d| d.agent.starts_with("shadow:")).collect();
        assert_eq!(s.quality.requests, shadow.len() as i64, "{days} d: quality spend");
        assert!(close(s.quality.cost_usd, shadow.iter().map(cost).sum()), "{days} d");
        assert!(s.by_agent.iter().all(|g| !g.name.starts_with("shadow:")), "{days} d");
        let reasoning = s
            .by_class
            .iter()
            .find(|g| g.name == "reasoning")
            .map_or(0, |g| g.line.requests);
        let frontier_count = covered.iter().filter(|d| d.endpoint == Endpoint::Frontier).count() as i64;
        assert_eq!(reasoning, frontier_count, "{days} d");
        for node in ["mini-01", "mini-02", "mini-03"] {
            let want = covered
                .iter()
                .filter(|d| d.endpoint == Endpoint::Local && d.node.as_deref() == Some(node))
                .count() as i64;
            let got = s.by_node.iter().find(|g| g.name == node).map_or(0, |g| g.line.requests);
            assert_eq!(got, want, "{days} d: {node}");
        }
        let by_day: i64 = s.daily.iter().map(|d| d.requests()).sum();
        assert_eq!(by_day, s.total.requests, "{days} d: the days add up to the window");
        for day in &s.daily {
            let want = covered
                .iter()
                .filter(|d| farmhand::store::day_floor(d.ts) == day.start)
                .count() as i64;
            assert_eq!(day.requests(), want, "{days} d: {}", day.start);
        }
        if days <= 2 {
            assert_eq!(s.hourly.iter().map(|h| h.requests()).sum::<i64>(), s.total.requests);
        } else {
            assert!(s.hourly.is_empty(), "{days} d: longer windows chart days");
        }
    }
}

async fn frontier_cost_is_exact_at_the_window_start(f: &Fixture) {
    let store = &f.store;
    let h = at("2026-03-10T10:00:00Z");
    let batch = vec![
        frontier(decision("a", h + TimeDelta::minutes(5)), "anthropic", "claude", 0.25),
        frontier(decision("b", h + TimeDelta::minutes(20)), "anthropic", "claude", 0.5),
        frontier(decision("c", h + TimeDelta::minutes(80)), "openai", "gpt", 1.0),
        decision("local", h + TimeDelta::minutes(30)),
        frontier(decision("old", h - TimeDelta::minutes(1)), "openai", "gpt", 4.0),
    ];
    store.insert_decisions(&batch).await.expect("insert");
    assert!(close(store.frontier_cost_since(h).await.expect("cost"), 1.75));
    assert!(close(
        store
            .frontier_cost_since(h + TimeDelta::minutes(10))
            .await
            .expect("cost"),
        1.5
    ));
    assert!(
        close(
            store
                .frontier_cost_since(h + TimeDelta::minutes(20))
                .await
                .expect("cost"),
            1.5
        ),
        "inclusive start"
    );
    assert!(close(
        store
            .frontier_cost_since(h + TimeDelta::minutes(81))
            .await
            .expect("cost"),
        0.0
    ));
}

async fn node_state_changes_are_audited(f: &Fixture) {
    let store = &f.store;
    assert!(store.node_states().await.expect("nodes").is_empty());
    let row = store
        .set_node_state("mini-03", DrainState::Draining, Some("disk swap"), "alice")
        .await
        .expect("drain");
    assert_eq!(
        (row.name.as_str(), row.state, row.reason.as_deref()),
        ("mini-03", DrainState::Draining, Some("disk swap"))
    );
    store
        .set_node_state("mini-03", DrainState::Drained, None, "drainer")
        .await
        .expect("drained");
    store
        .set_node_state("mini-01", DrainState::Draining, None, "bob")
        .await
        .expect("drain");
    let last = store
        .set_node_state("mini-03", DrainState::Active, Some("back"), "alice")
        .await
        .expect("undrain");

    let nodes = store.node_states().await.expect("nodes");
    assert_eq!(
        nodes.iter().map(|n| (n.name.as_str(), n.state)).collect::<Vec<_>>(),
        [("mini-01", DrainState::Draining), ("mini-03", DrainState::Active)]
    );
    assert_eq!(nodes[1], last, "the returned row is what was stored");

    let audit = store.audit_log(10).await.expect("audit");
    let seen: Vec<(&str, &str, &str, &str)> = audit
        .iter()
        .map(|a| {
            (
                a.actor.as_str(),
                a.action.as_str(),
                a.target.as_str(),
                a.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("alice", "node.active", "mini-03", "drained -> active (back)"),
            ("bob", "node.draining", "mini-01", "active -> draining"),
            ("drainer", "node.drained", "mini-03", "draining -> drained"),
            ("alice", "node.draining", "mini-03", "active -> draining (disk swap)"),
        ]
    );
}

async fn overrides_bump_versions_with_snapshots_and_audit(f: &Fixture) {
    let store = &f.store;
    assert_eq!(store.policy_version().await.expect("version"), 0);
    assert!(store.overrides().await.expect("overrides").is_empty());
    assert_eq!(
        store
            .set_override("frontier.enabled", "false", Some("incident 42"), "bob")
            .await
            .expect("set"),
        1
    );
    assert_eq!(
        store
            .set_override("class.routine.target", "frontier", None, "carol")
            .await
            .expect("set"),
        2
    );
    assert_eq!(
        store
            .set_override("frontier.enabled", "true", Some("resolved"), "bob")
            .await
            .expect("set"),
        3
    );
    assert_eq!(
        store
            .clear_override("class.routine.target", Some("done"), "carol")
            .await
            .expect("clear"),
        4
    );
    let missing = store.clear_override("class.routine.target", None, "carol").await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    assert_eq!(store.policy_version().await.expect("version"), 4);

    let overrides = store.overrides().await.expect("overrides");
    assert_eq!(overrides.len(), 1);
    assert_eq!(
        (
            overrides[0].key.as_str(),
            overrides[0].value.as_str(),
            overrides[0].reason.as_deref(),
            overrides[0].set_by.as_str()
        ),
        ("frontier.enabled", "true", Some("resolved"), "bob")
    );

    let versions = store.policy_versions(10).await.expect("versions");
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [4, 3, 2, 1]);
    assert_eq!(versions[0].snapshot, serde_json::json!({"frontier.enabled": "true"}));
    assert_eq!(versions[0].created_by, "carol");
    assert_eq!(
        versions[2].snapshot,
        serde_json::json!({"frontier.enabled": "false", "class.routine.target": "frontier"})
    );
    assert_eq!(versions[3].snapshot, serde_json::json!({"frontier.enabled": "false"}));

    let audit = store.audit_log(10).await.expect("audit");
    let seen: Vec<(&str, &str, &str, &str)> = audit
        .iter()
        .map(|a| {
            (
                a.actor.as_str(),
                a.action.as_str(),
                a.target.as_str(),
                a.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "carol",
                "policy.clear",
                "class.routine.target",
                "frontier -> (unset) (done)"
            ),
            ("bob", "policy.set", "frontier.enabled", "false -> true (resolved)"),
            ("carol", "policy.set", "class.routine.target", "(unset) -> frontier"),
            (
                "bob",
                "policy.set",
                "frontier.enabled",
                "(unset) -> false (incident 42)"
            ),
        ]
    );
}

async fn concurrent_override_changes_get_distinct_versions(f: &Fixture) {
    let writers: Vec<_> = (0..12)
        .map(|i| {
            let store = f.store.clone();
            tokio::spawn(async move {
                store
                    .set_override(&format!("node.mini-{i:02}.excluded"), "true", None, &format!("op-{i}"))
                    .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for writer in writers {
        versions.push(writer.await.expect("task").expect("set_override"));
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=12).collect::<Vec<i64>>());
    assert_eq!(f.store.policy_version().await.expect("version"), 12);
    let newest = &f.store.policy_versions(1).await.expect("versions")[0];
    assert_eq!(
        newest.snapshot.as_object().map(|o| o.len()),
        Some(12),
        "the last snapshot holds every override"
    );
    assert_eq!(f.store.audit_log(100).await.expect("audit").len(), 12);
}

async fn pull_jobs_go_through_their_lifecycle(f: &Fixture) {
    let store = &f.store;
    let first = store.create_pull_job("mini-02", "qwen3:14b").await.expect("create");
    let second = store.create_pull_job("mini-05", "llama3.1:8b").await.expect("create");
    assert!(second > first);
    let jobs = store.pull_jobs(10).await.expect("jobs");
    assert_eq!(
        jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        [second, first],
        "newest first"
    );
    assert_eq!(
        (jobs[1].state.as_str(), jobs[1].progress, jobs[1].finished_at),
        ("queued", 0.0, None)
    );

    store
        .update_pull_job(first, "running", 0.5, None)
        .await
        .expect("progress");
    let job = store
        .pull_jobs(10)
        .await
        .expect("jobs")
        .into_iter()
        .find(|j| j.id == first)
        .expect("job");
    assert_eq!(
        (job.state.as_str(), job.progress, job.finished_at),
        ("running", 0.5, None)
    );

    store
        .update_pull_job(first, "succeeded", 1.0, None)
        .await
        .expect("done");
    store
        .update_pull_job(second, "failed", 0.25, Some("disk full"))
        .await
        .expect("failed");
    let jobs = store.pull_jobs(10).await.expect("jobs");
    let (done, failed) = (&jobs[1], &jobs[0]);
    assert_eq!((done.state.as_str(), done.progress), ("succeeded", 1.0));
    assert!(done.finished_at.is_some_and(|t| t >= done.started_at));
    assert_eq!(
        (failed.state.as_str(), failed.error.as_deref()),
        ("failed", Some("disk full"))
    );
    assert!(failed.finished_at.is_some());
    assert_eq!(failed.model, "llama3.1:8b");

    let missing = store.update_pull_job(second + 100, "running", 0.1, None).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    assert_eq!(store.pull_jobs(1).await.expect("jobs").len(), 1);
}

async fn audit_rows_come_back_newest_first(f: &Fixture) {
    let store = &f.store;
    store.ping().await.expect("ping");
    let a = store
        .audit("alice", "console.login", "console", "read-write")
        .await
        .expect("audit");
    let b = store
        .audit("bob", "pull.start", "mini-02", "qwen3:14b")
        .await
        .expect("audit");
    assert!(b > a);
    let rows = store.audit_log(10).await.expect("audit");
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [b, a]);
    assert_eq!(
        (rows[1].actor.as_str(), rows[1].action.as_str(), rows[1].detail.as_str()),
        ("alice", "console.login", "read-write")
    );
    assert!(rows[0].ts >= rows[1].ts);
    assert_eq!(store.audit_log(1).await.expect("audit").len(), 1);
}

/// Waits for `want`, skipping other wake-ups.
async fn expect_wakeup(rx: &mut tokio::sync::mpsc::Receiver<Wakeup>, want: Wakeup) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(got)) if got == want => return,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("wake-up channel closed while waiting for {want:?}"),
            Err(_) => panic!("no {want:?} wake-up within 3 s"),
        }
    }
}

async fn wakeups_follow_changes(f: &Fixture) {
    let mut rx = f.store.wakeups();
    // Give the listener time to subscribe, then drain what it sent on start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while rx.try_recv().is_ok() {}
    f.store
        .insert_decisions(&[decision("w1", Utc::now())])
        .await
        .expect("insert");
    expect_wakeup(&mut rx, Wakeup::Decisions).await;
    f.store
        .set_node_state("mini-04", DrainState::Draining, None, "alice")
        .await
        .expect("drain");
    expect_wakeup(&mut rx, Wakeup::Control).await;
    f.store
        .set_override("frontier.enabled", "false", None, "alice")
        .await
        .expect("set");
    expect_wakeup(&mut rx, Wakeup::Control).await;
}

#[tokio::test]
async fn malformed_urls_are_refused_without_echoing_passwords() {
    for url in [
        "postgres://fh:s3cret@db:port/farm",
        "farmhand.db",
        "://fh:s3cret@db",
        "sqlite://",
    ] {
        let err = Store::connect(url).await.expect_err(url);
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{url}: {err:?}");
        let message = err.to_string();
        assert!(!message.contains("s3cret") && !message.contains('\n'), "{message}");
    }
}

#[tokio::test]
async fn unknown_schemes_name_the_supported_ones() {
    let err = Store::connect("mysql://fh:s3cret@db/farm").await.expect_err("mysql");
    let message = err.to_string();
    assert!(
        message.contains("`mysql`") && message.contains("postgres://") && message.contains("sqlite://"),
        "{message}"
    );
    assert!(!message.contains("s3cret"));
}

#[tokio::test]
async fn unreachable_servers_fail_fast_with_the_password_redacted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let started = Instant::now();
    let err = Store::connect(&format!("postgres://fh:s3cret@127.0.0.1:{port}/farm"))
        .await
        .expect_err("nothing listens");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    let message = err.to_string();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    assert!(
        message.contains(&format!("postgres://fh:***@127.0.0.1:{port}/farm")),
        "{message}"
    );
    assert!(!message.contains("s3cret") && !message.contains('\n'), "{message}");
}

#[tokio::test]
async fn unopenable_sqlite_files_are_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").expect("write");
    let err = Store::connect(&format!("sqlite://{}/farmhand.db", blocker.display()))
        .await
        .expect_err("under a file");
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn in_memory_sqlite_keeps_its_data_across_calls() {
    let store = Store::connect("sqlite::memory:").await.expect("in-memory store");
    assert_eq!(store.migrate().await.expect("migrate"), migrations());
    assert_eq!(store.migrate().await.expect("migrate again"), 0);
    store
        .insert_decisions(&[decision("m1", Utc::now())])
        .await
        .expect("insert");
    assert_eq!(store.recent_decisions(10).await.expect("recent").len(), 1);
    assert_eq!(store.redacted_url(), "sqlite::memory:");
}

#[tokio::test]
async fn redacted_url_hides_the_password() {
    let db = TestDatabase::create().await;
    let mut url = url::Url::parse(db.url()).expect("url");
    // Keep a real password if the server needs one; otherwise add one (trust auth ignores it).
    let secret = match (url.password(), std::env::var("PGPASSWORD")) {
        (Some(password), _) => password.to_string(),
        (None, Ok(password)) => {
            url.set_password(Some(&password)).expect("password");
            password
        }
        (None, Err(_)) => {
            url.set_password(Some("s3cret")).expect("password");
            "s3cret".to_string()
        }
    };
    let store = Store::connect(url.as_str()).await.expect("connects");
    let shown = store.redacted_url();
    assert!(shown.contains(":***@") && !shown.contains(&secret), "{shown}");
}

async fn one_pull_per_node_and_abandoned_jobs_give_way(f: &Fixture) {
    let store = &f.store;
    let first = store.create_pull_job("mini-02", "qwen3:14b").await.expect("create");
    let refused = store.create_pull_job("mini-02", "gemma3:4b").await.unwrap_err();
    assert!(matches!(&refused, StoreError::Conflict(_)), "{refused}");
    assert!(
        refused.to_string().contains("mini-02 is already pulling qwen3:14b"),
        "{refused}"
    );
    store
        .create_pull_job("mini-03", "gemma3:4b")
        .await
        .expect("another node may pull");
    store
        .update_pull_job(first, "succeeded", 1.0, None)
        .await
        .expect("done");
    let next = store
        .create_pull_job("mini-02", "gemma3:4b")
        .await
        .expect("the node is free again");

    // A job whose console died stops holding the node once it has been silent long enough.
    let silent = (Utc::now() - TimeDelta::minutes(10))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let sql = "UPDATE pull_jobs SET updated_at = $1 WHERE id = $2";
    match f.store.backend() {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&f.url).await.expect("connect");
            sqlx::query(sql)
                .bind(Utc::now() - TimeDelta::minutes(10))
                .bind(next)
                .execute(&mut conn)
                .await
                .expect("age the job");
        }
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&f.url).await.expect("connect");
            sqlx::query(sql)
                .bind(silent)
                .bind(next)
                .execute(&mut conn)
                .await
                .expect("age the job");
        }
    }
    store
        .create_pull_job("mini-02", "llama3.1:8b")
        .await
        .expect("an abandoned job gives way");
    let abandoned = store
        .pull_jobs(10)
        .await
        .expect("jobs")
        .into_iter()
        .find(|j| j.id == next)
        .expect("job");
    assert_eq!(abandoned.state, "failed");
    assert!(abandoned.error.as_deref().unwrap_or("").contains("abandoned"));
}

async fn drains_complete_only_when_every_live_router_is_quiet(f: &Fixture) {
    let store = &f.store;
    let report = |router: &str, state: DrainState, in_flight: u32, quiet: bool, age_ms: i64| PresenceRow {
        router_id: router.into(),
        node: "mini-04".into(),
        state_seen: state,
        in_flight,
        quiet,
        reported_at: Utc::now() - TimeDelta::milliseconds(age_ms),
        status_url: (router != "r2").then(|| format!("http://{router}.tailnet:8080")),
    };
    let live_after = || Utc::now() - TimeDelta::seconds(3);
    store
        .set_node_state("mini-04", DrainState::Draining, None, "oncall")
        .await
        .expect("drain");
    tokio::time::sleep(Duration::from_millis(20)).await;

    store
        .report_presence(&[report("r1", DrainState::Draining, 2, false, 0)])
        .await
        .expect("report");
    store
        .report_presence(&[report("r2", DrainState::Draining, 0, true, 0)])
        .await
        .expect("report");
    store
        .report_presence(&[report("gone", DrainState::Active, 5, false, 60_000)])
        .await
        .expect("report");
    assert!(
        store.complete_drains(live_after()).await.expect("complete").is_empty(),
        "r1 still busy"
    );
    assert_eq!(store.presence("mini-04").await.expect("presence").len(), 3);
    let routers = store.routers(live_after()).await.expect("routers");
    assert_eq!(
        routers,
        [
            farmhand::store::RouterEndpoint {
                router_id: "r1".into(),
                status_url: Some("http://r1.tailnet:8080".into()),
            },
            farmhand::store::RouterEndpoint {
                router_id: "r2".into(),
                status_url: None,
            },
        ],
        "live routers with where they serve their status; the long-silent one is left out"
    );

    store
        .report_presence(&[report("r1", DrainState::Draining, 0, true, 0)])
        .await
        .expect("report");
    assert_eq!(
        store.complete_drains(live_after()).await.expect("complete"),
        ["mini-04"]
    );
    let states = store.node_states().await.expect("states");
    assert_eq!(states[0].state, DrainState::Drained);
    assert_eq!(
        store.audit_log(10).await.expect("audit").len(),
        1,
        "completing a drain is not a second operator action"
    );

    store
        .forget_presence(Some("r1"), Utc::now() - TimeDelta::seconds(30))
        .await
        .expect("forget");
    let left: Vec<String> = store
        .presence("mini-04")
        .await
        .expect("presence")
        .into_iter()
        .map(|p| p.router_id)
        .collect();
    assert_eq!(left, ["r2"], "r1 forgotten, the stale router pruned");
}

async fn routers_exchange_spend_leases_and_limit_usage(f: &Fixture) {
    let now = at("2026-05-01T12:00:00Z");
    let day = now.date_naive();
    let report = |agent: &str, cost_usd: f64, requests_1m: i64, rpm_limit: Option<i64>| AgentReport {
        agent: agent.into(),
        cost_usd,
        usage: AgentUsageRow {
            requests_1m,
            rpm_limit,
            ..AgentUsageRow::default()
        },
    };
    let seen = f
        .store
        .exchange_spend("r1", day, &[report("planner", 1.5, 3, Some(10))], now, |rows| {
            assert_eq!(rows.len(), 2, "the agent's row and the router's marker: {rows:?}");
            4.0
        })
        .await
        .expect("first exchange");
    assert!(
        seen.iter()
            .any(|r| r.agent == "planner" && r.cost_usd == 1.5 && r.usage.rpm_limit == Some(10))
    );
    let later = now + TimeDelta::milliseconds(500);
    let seen = f
        .store
        .exchange_spend("r2", day, &[report("planner", 0.5, 1, None)], later, |rows| {
            let lease = rows
                .iter()
                .find(|r| r.router_id == "r1" && r.agent.is_empty())
                .map(|r| r.leased_usd);
            assert_eq!(lease, Some(4.0), "r1's lease is visible to r2");
            2.0
        })
        .await
        .expect("second exchange");
    assert_eq!(seen.len(), 4);
    // Spend never goes down (a late, smaller report cannot undo a charge); usage is replaced.
    f.store
        .exchange_spend("r1", day, &[report("planner", 1.0, 0, Some(12))], later, |_| 4.0)
        .await
        .expect("third exchange");
    let rows = f.store.router_spend(day).await.expect("rows");
    let r1 = rows
        .iter()
        .find(|r| r.router_id == "r1" && r.agent == "planner")
        .expect("r1 planner");
    assert_eq!(
        (r1.cost_usd, r1.usage.requests_1m, r1.usage.rpm_limit),
        (1.5, 0, Some(12))
    );
    assert!(
        f.store
            .router_spend(day.succ_opt().expect("tomorrow"))
            .await
            .expect("rows")
            .is_empty()
    );
    let lines = farmhand::store::limit_lines(&rows, later - TimeDelta::seconds(3));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].daily_usd.used, 2.0, "both routers' spend");
    assert_eq!(lines[0].rpm.limit, Some(12.0));
}

/// Quality lines are the sums [`QualityLine::of`] defines, per hour, class and route (the node
/// does not split a route; rejected requests have none), and a replayed batch adds nothing.
async fn quality_rollup_adds_up(f: &Fixture) {
    let store = &f.store;
    let h = at("2026-03-10T10:00:00Z");
    let min = TimeDelta::minutes;
    let quality = |finish: Option<FinishReason>, empty: Option<bool>, json: Option<bool>, ttft: Option<i64>| {
        AnswerQuality {
            finish_reason: finish,
            empty_answer: empty,
            json_valid: json,
            ttft_ms: ttft,
            // Quarters add up exactly in any order, so sums compare equal across backends.
            tokens_per_sec: ttft.map(|t| (t % 64) as f64 * 0.25),
            queued_ms: 5,
        }
    };
    let mut batch = Vec::new();
    for (i, (ttft, finish, json)) in [
        (Some(100), FinishReason::Stop, Some(true)),
        (Some(101), FinishReason::Length, Some(false)),
        (Some(30_000), FinishReason::Stop, None),
        (Some(30_001), FinishReason::Error, None),
        (None, FinishReason::ToolCalls, None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut d = decision(&format!("q{i}"), h + min(i as i64));
        d.node = Some(format!("mini-0{i}"));
        d.quality = quality(Some(finish), Some(i == 4), json, ttft);
        batch.push(d);
    }
    let mut reasoning = frontier(decision("q-frontier", h + min(70)), "anthropic", "claude", 0.02);
    reasoning.effective_class = TaskClass::Reasoning;
    reasoning.quality = quality(Some(FinishReason::Stop), Some(false), Some(true), Some(700));
    batch.push(reasoning);
    let mut next_hour = decision("q-later", h + min(65));
    next_hour.quality = quality(Some(FinishReason::Length), Some(true), None, Some(60));
    batch.push(next_hour);
    let mut rejected = decision("q-rejected", h + min(6));
    rejected.endpoint = Endpoint::Rejected;
    rejected.provider = None;
    rejected.node = None;
    rejected.model = None;
    rejected.quality.queued_ms = 900;
    batch.push(rejected);
    assert_eq!(store.insert_decisions(&batch).await.expect("insert"), 8);
    assert_eq!(store.insert_decisions(&batch).await.expect("replay"), 0);

    let rows = store
        .quality_summary(h, h + TimeDelta::hours(2))
        .await
        .expect("quality summary");
    let mut expected: Vec<(TaskClass, String, QualityLine)> = Vec::new();
    for d in batch.iter().filter(|d| d.endpoint != Endpoint::Rejected) {
        let route = quality_route(d.endpoint, d.provider.as_deref(), d.model.as_deref()).expect("a route");
        match expected
            .iter_mut()
            .find(|(c, r, _)| *c == d.effective_class && *r == route)
        {
            Some((_, _, line)) => line.add(&QualityLine::of(d)),
            None => expected.push((d.effective_class, route, QualityLine::of(d))),
        }
    }
    expected.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
    let got: Vec<(TaskClass, String, QualityLine)> = rows.iter().map(|r| (r.class, r.route.clone(), r.line)).collect();
    assert_eq!(got, expected);
    let local = &rows
        .iter()
        .find(|r| r.route == "local/llama3.1:8b")
        .expect("local route")
        .line;
    assert_eq!(local.requests, 6, "five mini nodes and the next hour, one route");
    assert_eq!((local.errors, local.truncated, local.empty), (1, 2, 2));
    assert_eq!((local.json_checked, local.json_valid), (2, 1));
    assert_eq!(local.ttft_buckets, [2, 1, 0, 0, 0, 0, 0, 1, 1], "bounds are inclusive");
    assert_eq!(local.queued_sum_ms, 30, "the rejected request is not on any route");

    let first_hour = store.quality_summary(h, h + min(59)).await.expect("quality summary");
    let local = &first_hour
        .iter()
        .find(|r| r.route == "local/llama3.1:8b")
        .expect("local route")
        .line;
    assert_eq!(local.requests, 5, "the window covers whole hours");
    assert!(
        store
            .quality_summary(h + TimeDelta::hours(3), h + TimeDelta::hours(4))
            .await
            .expect("quality summary")
            .is_empty()
    );
}

/// Agreement samples and feedback are summed per class and the route that answered, joined to
/// their decisions by request id; a repeated sample of the same twin route is ignored.
async fn agreement_and_feedback_join_their_decisions(f: &Fixture) {
    let store = &f.store;
    let h = at("2026-03-10T10:00:00Z");
    let a = decision("agree-a", h);
    let b = decision("agree-b", h + TimeDelta::minutes(1));
    let c = frontier(
        decision("agree-c", h + TimeDelta::minutes(2)),
        "anthropic",
        "claude",
        0.01,
    );
    store.insert_decisions(&[a, b, c]).await.expect("insert");
    let sample = |id: &str, route: &str, score: f64| QualitySample {
        request_id: id.into(),
        twin_request_id: format!("twin-{id}"),
        twin_route: route.into(),
        score,
        method: "token_f1",
        ts: h + TimeDelta::minutes(5),
    };
    for s in [
        sample("agree-a", "frontier/openai/gpt", 1.0),
        sample("agree-b", "frontier/openai/gpt", 0.5),
        sample("agree-b", "frontier/openai/gpt", 0.0),
        sample("agree-c", "local/llama3.1:8b", 0.25),
    ] {
        store.record_quality_sample(&s).await.expect("sample");
    }
    let rows = store
        .agreement_summary(h, h + TimeDelta::hours(1))
        .await
        .expect("agreement");
    let local = rows
        .iter()
        .find(|r| r.route == "local/llama3.1:8b")
        .expect("local route");
    assert_eq!(
        (local.n, local.mean),
        (2, 0.75),
        "the second sample of agree-b is ignored"
    );
    assert!((local.mean_square - 0.625).abs() < 1e-9);
    let (low, high) = local.interval();
    assert!(low < 0.75 && high <= 1.0 && low >= 0.0, "{low}..{high}");
    let remote = rows
        .iter()
        .find(|r| r.route == "frontier/anthropic/claude")
        .expect("frontier route");
    assert_eq!((remote.n, remote.mean), (1, 0.25));

    store
        .record_feedback("agree-a", "task_done", 1.0, "agent-a", h)
        .await
        .expect("feedback");
    store
        .record_feedback("agree-b", "task_done", 0.0, "agent-a", h)
        .await
        .expect("feedback");
    store
        .record_feedback("agree-b", "task_done", 1.0, "agent-a", h)
        .await
        .expect("a new rating replaces the old");
    assert_eq!(
        store.decision_agent("agree-a").await.expect("agent").as_deref(),
        Some("agent-a")
    );
    assert_eq!(store.decision_agent("no-such").await.expect("agent"), None);
    let feedback = store
        .feedback_summary(h, h + TimeDelta::hours(1))
        .await
        .expect("feedback");
    assert_eq!(feedback.len(), 1);
    assert_eq!((feedback[0].count, feedback[0].mean), (2, 1.0));
    assert!(
        store
            .feedback_summary(h + TimeDelta::hours(2), h + TimeDelta::hours(3))
            .await
            .expect("feedback")
            .is_empty()
    );
}
