//! The SQLite backend: the embedded default for the demo and single-node farms.
//!
//! Timestamps are stored as fixed-width RFC 3339 UTC text with microseconds, so they sort and
//! compare as text. Every write transaction starts with `BEGIN IMMEDIATE`: SQLite has one
//! writer at a time, and taking the write lock up front makes concurrent writers wait
//! (`busy_timeout`) instead of failing, and makes ids visible in commit order.

mod jobs;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

use crate::domain::{DecisionRecord, DrainState, Endpoint, FinishReason, StoredDecision};
use crate::quality::{QualityLine, quality_route};

use super::StoreError;
use super::model::{
    AgentReport, AgentUsageRow, AuditRow, DECISION_COLUMNS, NodeStateRow, OverrideRow, PULL_ABANDONED_AFTER,
    PolicyVersionRow, PresenceRow, PullJobRow, RawDecision, RouterSpendRow, TERMINAL_PULL_STATES, UNSET, attempts_json,
    change_detail, count, in_flight_counts, now, parse_drain_state, pull_conflict,
};
use super::spend::{
    NODE_SPEND, PeriodRow, SpendLine, SpendRow, SpendRows, SpendSpans, SpendSummary, day_floor, hour_ceil, hour_floor,
    node_group, summarize,
};
use super::url::one_line;
use super::wakeup::{self, Wakeup};

/// How long opening the database, or waiting for another writer, may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Connections to a database file: WAL lets a reader run beside the one writer. Each holds its
/// own page cache, compiled statements and worker thread (about 1 MB), and SQLite serves one
/// writer at a time whatever the count, so two are enough for a console or a demo.
const MAX_CONNECTIONS: u32 = 2;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A store in a SQLite file or in memory.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    url: String,
    /// Decisions inserted since the planner's statistics were last refreshed.
    since_optimize: Arc<AtomicU64>,
}

/// Decisions between two refreshes of the planner's statistics (`PRAGMA optimize`). Without
/// them SQLite drives the feedback and agreement joins from every decision in the window
/// instead of from the few rated or twinned ones.
const OPTIMIZE_EVERY: u64 = 20_000;
/// Rows `ANALYZE` samples per index, so a refresh stays in milliseconds on any size.
const ANALYSIS_LIMIT: u32 = 1000;

/// The stored form of a timestamp: `2026-05-01T12:34:56.789000Z`.
fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reads a stored timestamp back.
fn parse_ts(column: &'static str, value: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::corrupt(column, format!("`{value}` is not an RFC 3339 time")))
}

fn parse_ts_opt(column: &'static str, value: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    value.map(|v| parse_ts(column, &v)).transpose()
}

/// The spend rollups over a window's spans ([`SpendSpans`]: $1 start, $2 first whole day, $3 end of
/// the whole days, $4 end): the hours at the ends from `spend_hourly`, whole days from `spend_daily`.
macro_rules! spend_parts {
    () => {
        "WITH parts AS (
            SELECT hour, substr(hour, 1, 10) || 'T00:00:00.000000Z' AS day, effective_class, endpoint, provider,
                model, agent, requests, prompt_tokens, completion_tokens, cost_usd
            FROM spend_hourly WHERE hour >= $1 AND hour < $2 OR hour >= $3 AND hour < $4
            UNION ALL
            SELECT NULL, day, effective_class, endpoint, provider, model, agent, requests, prompt_tokens,
                completion_tokens, cost_usd
            FROM spend_daily WHERE day >= $2 AND day < $3
        ) "
    };
}

/// Spend by (class, endpoint, provider, model, agent) over the spans.
const SPEND_BY_KEY: &str = concat!(
    spend_parts!(),
    "SELECT effective_class, endpoint, provider, model, agent, sum(requests), sum(prompt_tokens), \
     sum(completion_tokens), total(cost_usd) FROM parts GROUP BY 1, 2, 3, 4, 5"
);

/// Spend by (UTC day, endpoint) over the spans.
const SPEND_BY_DAY: &str = concat!(
    spend_parts!(),
    "SELECT day, endpoint, sum(requests), sum(prompt_tokens), sum(completion_tokens), total(cost_usd) \
     FROM parts GROUP BY 1, 2"
);

/// Spend by (hour, endpoint) over the hours read hour by hour.
const SPEND_BY_HOUR: &str = concat!(
    spend_parts!(),
    "SELECT hour, endpoint, sum(requests), sum(prompt_tokens), sum(completion_tokens), total(cost_usd) \
     FROM parts WHERE hour IS NOT NULL GROUP BY 1, 2"
);

/// Adds one (hour, class, endpoint, provider, model, agent) line to the hourly spend rollup.
const SPEND_HOURLY_UPSERT: &str = "INSERT INTO spend_hourly (hour, effective_class, endpoint, provider, model, agent, \
     requests, prompt_tokens, completion_tokens, cost_usd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (hour, effective_class, endpoint, provider, model, agent) DO UPDATE SET \
     requests = requests + excluded.requests, prompt_tokens = prompt_tokens + excluded.prompt_tokens, \
     completion_tokens = completion_tokens + excluded.completion_tokens, cost_usd = cost_usd + excluded.cost_usd";

/// Adds one (day, class, endpoint, provider, model, agent) line to the daily spend rollup.
const SPEND_DAILY_UPSERT: &str = "INSERT INTO spend_daily (day, effective_class, endpoint, provider, model, agent, \
     requests, prompt_tokens, completion_tokens, cost_usd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (day, effective_class, endpoint, provider, model, agent) DO UPDATE SET \
     requests = requests + excluded.requests, prompt_tokens = prompt_tokens + excluded.prompt_tokens, \
     completion_tokens = completion_tokens + excluded.completion_tokens, cost_usd = cost_usd + excluded.cost_usd";

/// Adds one (hour, node) line to the farm's hourly volume per node.
const NODE_HOURLY_UPSERT: &str = "INSERT INTO node_hourly (hour, node, requests, prompt_tokens, completion_tokens) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hour, node) DO UPDATE SET requests = requests + excluded.requests, \
     prompt_tokens = prompt_tokens + excluded.prompt_tokens, \
     completion_tokens = completion_tokens + excluded.completion_tokens";

/// Adds one (day, node) line to the farm's daily volume per node.
const NODE_DAILY_UPSERT: &str = "INSERT INTO node_daily (day, node, requests, prompt_tokens, completion_tokens) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, node) DO UPDATE SET requests = requests + excluded.requests, \
     prompt_tokens = prompt_tokens + excluded.prompt_tokens, \
     completion_tokens = completion_tokens + excluded.completion_tokens";

/// Decisions per multi-row insert: 29 parameters each, well under SQLite's 32,766.
const INSERT_CHUNK: usize = 500;

impl SqliteStore {
    super::shared::shared_queries!(ts);

    /// Opens (creating if missing) the database file, in WAL mode with a busy timeout.
    pub(crate) async fn connect(
        options: SqliteConnectOptions,
        in_memory: bool,
        url: String,
    ) -> Result<Self, StoreError> {
        let unreachable = |reason: String| StoreError::Unreachable {
            url: url.clone(),
            reason,
        };
        let mut options = options
            .create_if_missing(true)
            .busy_timeout(TIMEOUT)
            .foreign_keys(true)
            .analysis_limit(ANALYSIS_LIMIT);
        let mut pool = SqlitePoolOptions::new().acquire_timeout(TIMEOUT);
        if in_memory {
            // The database lives as long as its one connection does.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                // 512 KiB of page cache per connection instead of SQLite's 2 MiB: the file's pages
                // stay in the OS cache anyway, and each connection would otherwise hold its own 2 MiB
                // copy of them.
                .pragma("cache_size", "-512");
            pool = pool.max_connections(MAX_CONNECTIONS);
            if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| unreachable(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let pool = match tokio::time::timeout(TIMEOUT, pool.connect_with(options)).await {
            Err(_) => return Err(unreachable(format!("not opened within {} s", TIMEOUT.as_secs()))),
            Ok(Err(err)) => return Err(unreachable(one_line(&err))),
            Ok(Ok(pool)) => pool,
        };
        Ok(SqliteStore {
            pool,
            url,
            since_optimize: Arc::default(),
        })
    }

    pub(crate) fn redacted_url(&self) -> &str {
        &self.url
    }

    pub(crate) async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.applied_migrations().await?;
        MIGRATOR.run(&self.pool).await?;
        let after = self.applied_migrations().await?;
        self.optimize().await?;
        Ok(after.saturating_sub(before))
    }

    /// Refreshes the planner's statistics of the tables that need it (bounded by
    /// [`ANALYSIS_LIMIT`]); the file keeps them for every process that opens it.
    async fn optimize(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA optimize=0x10002").execute(&self.pool).await?;
        Ok(())
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let exists: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_one(&self.pool)
                .await?;
        if exists == 0 {
            return Ok(0);
        }
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await?;
        count("_sqlx_migrations", n)
    }

    /// Inserts in multi-row statements in one transaction; only rows that were new (the ones the
    /// insert returns) are rolled into spend.
    pub(crate) async fn insert_decisions(&self, batch: &[DecisionRecord]) -> Result<u64, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        type Key<'a> = (String, &'a str, &'a str, &'a str, &'a str, &'a str);
        let mut spend: BTreeMap<Key<'_>, SpendLine> = BTreeMap::new();
        let mut spend_days: BTreeMap<Key<'_>, SpendLine> = BTreeMap::new();
        // Keyed by the upsert that adds the line: the hourly or the daily table.
        let mut nodes: BTreeMap<(&'static str, String, &str), SpendLine> = BTreeMap::new();
        let mut quality: BTreeMap<(String, &str, String), QualityLine> = BTreeMap::new();
        let mut tx = self.write_tx().await?;
        let mut inserted = 0u64;
        for chunk in batch.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO routing_decisions (request_id, ts, agent, declared_class, effective_class, sensitive, \
                 sensitivity_reason, endpoint, provider, node, model, est_tokens, prompt_tokens, completion_tokens, \
                 cost_usd, ttfb_ms, latency_ms, fallback, policy_version, status, error, attempts, job_id, \
                 finish_reason, empty_answer, json_valid, ttft_ms, tokens_per_sec, queued_ms) ",
            );
            insert.push_values(chunk, |mut row, d| {
                row.push_bind(d.request_id.as_str())
                    .push_bind(ts(d.ts))
                    .push_bind(d.agent.as_str())
                    .push_bind(d.declared_class.as_str())
                    .push_bind(d.effective_class.as_str())
                    .push_bind(d.sensitive)
                    .push_bind(d.sensitivity_reason.as_deref())
                    .push_bind(d.endpoint.as_str())
                    .push_bind(d.provider.as_deref())
                    .push_bind(d.node.as_deref())
                    .push_bind(d.model.as_deref())
                    .push_bind(d.est_tokens)
                    .push_bind(d.prompt_tokens)
                    .push_bind(d.completion_tokens)
                    .push_bind(d.cost_usd)
                    .push_bind(d.ttfb_ms)
                    .push_bind(d.latency_ms)
                    .push_bind(d.fallback.as_str())
                    .push_bind(d.policy_version)
                    .push_bind(d.status)
                    .push_bind(d.error.as_deref())
                    .push_bind(attempts_json(&d.attempts))
                    .push_bind(d.job_id)
                    .push_bind(d.quality.finish_reason.map(FinishReason::as_str))
                    .push_bind(d.quality.empty_answer)
                    .push_bind(d.quality.json_valid)
                    .push_bind(d.quality.ttft_ms)
                    .push_bind(d.quality.tokens_per_sec)
                    .push_bind(d.quality.queued_ms);
            });
            insert.push(" ON CONFLICT (request_id) DO NOTHING RETURNING request_id");
            // Not cached: each batch size is a different statement, and the cache would keep them all.
            let mut new: HashSet<String> = insert
                .build_query_scalar::<String>()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
            for d in chunk {
                // Removed once counted, so a request id twice in one batch is rolled up once.
                if !new.remove(&d.request_id) {
                    continue;
                }
                inserted += 1;
                let key = |period: String| {
                    (
                        period,
                        d.effective_class.as_str(),
                        d.endpoint.as_str(),
                        d.provider.as_deref().unwrap_or(""),
                        d.model.as_deref().unwrap_or(""),
                        d.agent.as_str(),
                    )
                };
                let line = SpendLine {
                    requests: 1,
                    prompt_tokens: d.prompt_tokens,
                    completion_tokens: d.completion_tokens,
                    cost_usd: d.cost_usd,
                };
                spend.entry(key(ts(hour_floor(d.ts)))).or_default().add(&line);
                spend_days.entry(key(ts(day_floor(d.ts)))).or_default().add(&line);
                if let (Endpoint::Local, Some(node)) = (d.endpoint, d.node.as_deref()) {
                    for (upsert, period) in [
                        (NODE_HOURLY_UPSERT, hour_floor(d.ts)),
                        (NODE_DAILY_UPSERT, day_floor(d.ts)),
                    ] {
                        nodes.entry((upsert, ts(period), node)).or_default().add(&line);
                    }
                }
                if let Some(route) = quality_route(d.endpoint, d.provider.as_deref(), d.model.as_deref()) {
                    let key = (ts(hour_floor(d.ts)), d.effective_class.as_str(), route);
                    quality.entry(key).or_default().add(&QualityLine::of(d));
                }
            }
        }
        for (table, rollup) in [(SPEND_HOURLY_UPSERT, spend), (SPEND_DAILY_UPSERT, spend_days)] {
            for ((period, class, endpoint, provider, model, agent), line) in rollup {
                sqlx::query(table)
                    .bind(period)
                    .bind(class)
                    .bind(endpoint)
                    .bind(provider)
                    .bind(model)
                    .bind(agent)
                    .bind(line.requests)
                    .bind(line.prompt_tokens)
                    .bind(line.completion_tokens)
                    .bind(line.cost_usd)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for ((upsert, period, node), line) in nodes {
            sqlx::query(upsert)
                .bind(period)
                .bind(node)
                .bind(line.requests)
                .bind(line.prompt_tokens)
                .bind(line.completion_tokens)
                .execute(&mut *tx)
                .await?;
        }
        for ((hour, class, route), line) in &quality {
            upsert_quality(&mut tx, hour, class, route, line).await?;
        }
        tx.commit().await?;
        let since = self.since_optimize.fetch_add(inserted, Ordering::Relaxed) + inserted;
        if since >= OPTIMIZE_EVERY {
            self.since_optimize.store(0, Ordering::Relaxed);
            if let Err(err) = self.optimize().await {
                tracing::debug!(%err, "cannot refresh SQLite's statistics");
            }
        }
        Ok(inserted)
    }

    pub(crate) async fn decisions_after(&self, after_id: i64, limit: u32) -> Result<Vec<StoredDecision>, StoreError> {
        let sql =
            format!("SELECT {DECISION_COLUMNS}, attempts FROM routing_decisions WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<RawDecision<String>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(stored).collect()
    }

    pub(crate) async fn recent_decisions(&self, limit: u32) -> Result<Vec<StoredDecision>, StoreError> {
        let sql = format!(
            "SELECT * FROM (SELECT {DECISION_COLUMNS}, attempts FROM routing_decisions ORDER BY id DESC LIMIT $1) \
             ORDER BY id"
        );
        let rows: Vec<RawDecision<String>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(stored).collect()
    }

    pub(crate) async fn spend_summary(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<SpendSummary, StoreError> {
        type Row = (String, String, String, String, String, i64, i64, i64, f64);
        type Period = (String, String, i64, i64, i64, f64);
        let spans = SpendSpans::of(since, until);
        let bounds = [spans.start, spans.days_from, spans.days_to, spans.until].map(ts);
        // One read transaction, so every query sees the same rollups.
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = bounds
            .iter()
            .fold(sqlx::query_as(SPEND_BY_KEY), |q, bound| q.bind(bound.clone()))
            .fetch_all(&mut *tx)
            .await?;
        let days: Vec<Period> = bounds
            .iter()
            .fold(sqlx::query_as(SPEND_BY_DAY), |q, bound| q.bind(bound.clone()))
            .fetch_all(&mut *tx)
            .await?;
        let hours: Vec<Period> = if spans.hour_by_hour() {
            bounds
                .iter()
                .fold(sqlx::query_as(SPEND_BY_HOUR), |q, bound| q.bind(bound.clone()))
                .fetch_all(&mut *tx)
                .await?
        } else {
            Vec::new()
        };
        let nodes: Vec<(String, i64, i64, i64)> = bounds
            .iter()
            .fold(sqlx::query_as(NODE_SPEND), |q, bound| q.bind(bound.clone()))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let period = |column: &'static str| {
            move |(start, endpoint, requests, prompt_tokens, completion_tokens, cost_usd): Period| {
                Ok(PeriodRow {
                    start: parse_ts(column, &start)?,
                    endpoint,
                    line: SpendLine {
                        requests,
                        prompt_tokens,
                        completion_tokens,
                        cost_usd,
                    },
                })
            }
        };
        let spend = SpendRows {
            rows: rows
                .into_iter()
                .map(
                    |(class, endpoint, provider, model, agent, requests, prompt, completion, cost)| SpendRow {
                        class,
                        endpoint,
                        provider,
                        model,
                        agent,
                        line: SpendLine {
                            requests,
                            prompt_tokens: prompt,
                            completion_tokens: completion,
                            cost_usd: cost,
                        },
                    },
                )
                .collect(),
            hours: hours
                .into_iter()
                .map(period("spend_hourly.hour"))
                .collect::<Result<_, StoreError>>()?,
            days: days
                .into_iter()
                .map(period("spend_daily.day"))
                .collect::<Result<_, StoreError>>()?,
            nodes: nodes.into_iter().map(node_group).collect(),
        };
        summarize(since, until, spend)
    }

    pub(crate) async fn frontier_cost_since(&self, since: DateTime<Utc>) -> Result<f64, StoreError> {
        // Whole hours from the rollup, the partial first hour from the decisions themselves.
        let cost: f64 = sqlx::query_scalar(
            "SELECT (SELECT total(cost_usd) FROM spend_hourly WHERE endpoint = 'frontier' AND hour >= $2) \
             + (SELECT total(cost_usd) FROM routing_decisions WHERE endpoint = 'frontier' AND ts >= $1 AND ts < $2)",
        )
        .bind(ts(since))
        .bind(ts(hour_ceil(since)))
        .fetch_one(&self.pool)
        .await?;
        Ok(cost)
    }

    pub(crate) async fn node_states(&self) -> Result<Vec<NodeStateRow>, StoreError> {
        let rows: Vec<(String, String, Option<String>, String, String)> =
            sqlx::query_as("SELECT name, state, reason, changed_by, changed_at FROM nodes ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(name, state, reason, changed_by, changed_at)| {
                Ok(NodeStateRow {
                    name,
                    state: parse_drain_state(&state)?,
                    reason,
                    changed_by,
                    changed_at: parse_ts("nodes.changed_at", &changed_at)?,
                })
            })
            .collect()
    }

    pub(crate) async fn set_node_state(
        &self,
        name: &str,
        state: DrainState,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<NodeStateRow, StoreError> {
        let at = now();
        let mut tx = self.write_tx().await?;
        let old: Option<String> = sqlx::query_scalar("SELECT state FROM nodes WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO nodes (name, state, reason, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET state = excluded.state, reason = excluded.reason, \
             changed_by = excluded.changed_by, changed_at = excluded.changed_at",
        )
        .bind(name)
        .bind(state.as_str())
        .bind(reason)
        .bind(actor)
        .bind(ts(at))
        .execute(&mut *tx)
        .await?;
        let old = old.as_deref().unwrap_or(DrainState::Active.as_str());
        let detail = change_detail(old, state.as_str(), reason);
        insert_audit(&mut tx, at, actor, &format!("node.{state}"), name, &detail).await?;
        tx.commit().await?;
        Ok(NodeStateRow {
            name: name.to_string(),
            state,
            reason: reason.map(str::to_string),
            changed_by: actor.to_string(),
            changed_at: at,
        })
    }

    pub(crate) async fn overrides(&self) -> Result<Vec<OverrideRow>, StoreError> {
        let rows: Vec<(String, String, Option<String>, String, String)> =
            sqlx::query_as("SELECT key, value, reason, set_by, set_at FROM policy_overrides ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(key, value, reason, set_by, set_at)| {
                Ok(OverrideRow {
                    key,
                    value,
                    reason,
                    set_by,
                    set_at: parse_ts("policy_overrides.set_at", &set_at)?,
                })
            })
            .collect()
    }

    pub(crate) async fn policy_versions(&self, limit: u32) -> Result<Vec<PolicyVersionRow>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT version, created_at, created_by, snapshot FROM policy_versions ORDER BY version DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(version, created_at, created_by, snapshot)| {
                let snapshot =
                    serde_json::from_str(&snapshot).map_err(|e| StoreError::corrupt("policy_versions.snapshot", e))?;
                let created_at = parse_ts("policy_versions.created_at", &created_at)?;
                Ok(PolicyVersionRow {
                    version,
                    created_at,
                    created_by,
                    snapshot,
                })
            })
            .collect()
    }

    /// Sets (`Some(value)`) or clears (`None`) an override, bumps the version and audits it.
    pub(crate) async fn change_override(
        &self,
        key: &str,
        value: Option<&str>,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<i64, StoreError> {
        let at = now();
        let mut tx = self.write_tx().await?;
        let old: Option<String> = sqlx::query_scalar("SELECT value FROM policy_overrides WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let action = match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO policy_overrides (key, value, reason, set_by, set_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, reason = excluded.reason, \
                     set_by = excluded.set_by, set_at = excluded.set_at",
                )
                .bind(key)
                .bind(value)
                .bind(reason)
                .bind(actor)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                "policy.set"
            }
            None if old.is_none() => return Err(StoreError::NotFound(format!("override `{key}`"))),
            None => {
                sqlx::query("DELETE FROM policy_overrides WHERE key = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                "policy.clear"
            }
        };
        let pairs: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM policy_overrides ORDER BY key")
            .fetch_all(&mut *tx)
            .await?;
        let snapshot = serde_json::Value::Object(pairs.into_iter().map(|(k, v)| (k, v.into())).collect());
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO policy_versions (version, created_at, created_by, snapshot) \
             SELECT coalesce(max(version), 0) + 1, $1, $2, $3 FROM policy_versions RETURNING version",
        )
        .bind(ts(at))
        .bind(actor)
        .bind(snapshot.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let detail = change_detail(old.as_deref().unwrap_or(UNSET), value.unwrap_or(UNSET), reason);
        insert_audit(&mut tx, at, actor, action, key, &detail).await?;
        tx.commit().await?;
        Ok(version)
    }

    pub(crate) async fn audit(&self, actor: &str, action: &str, target: &str, detail: &str) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        let id = insert_audit(&mut tx, now(), actor, action, target, detail).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(i64, String, String, String, String, String)> =
            sqlx::query_as("SELECT id, ts, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(id, at, actor, action, target, detail)| {
                Ok(AuditRow {
                    id,
                    ts: parse_ts("audit_log.ts", &at)?,
                    actor,
                    action,
                    target,
                    detail,
                })
            })
            .collect()
    }

    pub(crate) async fn create_pull_job(&self, node: &str, model: &str) -> Result<i64, StoreError> {
        let at = now();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE pull_jobs SET state = 'failed', error = 'abandoned: no progress reported', finished_at = $2 \
             WHERE node = $1 AND state IN ('queued', 'running') AND updated_at < $3",
        )
        .bind(node)
        .bind(ts(at))
        .bind(ts(at - PULL_ABANDONED_AFTER))
        .execute(&mut *tx)
        .await?;
        let running: Option<(i64, String, String)> = sqlx::query_as(
            "SELECT id, model, started_at FROM pull_jobs WHERE node = $1 AND state IN ('queued', 'running')",
        )
        .bind(node)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, model, since)) = running {
            return Err(pull_conflict(
                node,
                Some((id, model, parse_ts("pull_jobs.started_at", &since)?)),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pull_jobs (node, model, state, progress, started_at, updated_at) \
             VALUES ($1, $2, 'queued', 0, $3, $3) RETURNING id",
        )
        .bind(node)
        .bind(model)
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) async fn update_pull_job(
        &self,
        id: i64,
        state: &str,
        progress: f64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let finished_at = TERMINAL_PULL_STATES.contains(&state).then(|| ts(now()));
        let done = sqlx::query(
            "UPDATE pull_jobs SET state = $2, progress = $3, error = $4, finished_at = $5, updated_at = $6 \
                 WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(progress)
        .bind(error)
        .bind(finished_at)
        .bind(ts(now()))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("pull job {id}")));
        }
        Ok(())
    }

    pub(crate) async fn pull_jobs(&self, limit: u32) -> Result<Vec<PullJobRow>, StoreError> {
        type Row = (i64, String, String, String, f64, String, Option<String>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, node, model, state, progress, started_at, finished_at, error \
             FROM pull_jobs ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, node, model, state, progress, started_at, finished_at, error)| {
                Ok(PullJobRow {
                    id,
                    node,
                    model,
                    state,
                    progress,
                    started_at: parse_ts("pull_jobs.started_at", &started_at)?,
                    finished_at: parse_ts_opt("pull_jobs.finished_at", finished_at)?,
                    error,
                })
            })
            .collect()
    }

    pub(crate) fn wakeups(&self) -> tokio::sync::mpsc::Receiver<Wakeup> {
        wakeup::poll()
    }

    /// A transaction that holds SQLite's write lock from its first statement.
    pub(crate) async fn report_presence(&self, rows: &[PresenceRow]) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO router_presence (router_id, node, state_seen, in_flight, quiet, reported_at, status_url) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (router_id, node) DO UPDATE SET state_seen = excluded.state_seen, \
                 in_flight = excluded.in_flight, quiet = excluded.quiet, reported_at = excluded.reported_at, \
                 status_url = excluded.status_url",
            )
            .bind(&row.router_id)
            .bind(&row.node)
            .bind(row.state_seen.as_str())
            .bind(i64::from(row.in_flight))
            .bind(row.quiet)
            .bind(ts(row.reported_at))
            .bind(row.status_url.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn exchange_spend(
        &self,
        router_id: &str,
        day: NaiveDate,
        own: &[AgentReport],
        reported_at: DateTime<Utc>,
        lease: impl FnOnce(&[RouterSpendRow]) -> f64 + Send,
    ) -> Result<Vec<RouterSpendRow>, StoreError> {
        // `BEGIN IMMEDIATE`: one refresh at a time, so leases are granted from what every router holds.
        let mut tx = self.write_tx().await?;
        let marker = [AgentReport::default()];
        for report in own.iter().chain(&marker) {
            let u = &report.usage;
            sqlx::query(
                "INSERT INTO router_spend (day, router_id, agent, cost_usd, requests_1m, tokens_1m, in_flight, \
                 rpm_limit, tpm_limit, max_in_flight_limit, daily_usd_limit, reported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (day, router_id, agent) DO UPDATE SET \
                 cost_usd = max(router_spend.cost_usd, excluded.cost_usd), requests_1m = excluded.requests_1m, \
                 tokens_1m = excluded.tokens_1m, in_flight = excluded.in_flight, rpm_limit = excluded.rpm_limit, \
                 tpm_limit = excluded.tpm_limit, max_in_flight_limit = excluded.max_in_flight_limit, \
                 daily_usd_limit = excluded.daily_usd_limit, reported_at = excluded.reported_at",
            )
            .bind(day.to_string())
            .bind(router_id)
            .bind(&report.agent)
            .bind(report.cost_usd)
            .bind(u.requests_1m)
            .bind(u.tokens_1m)
            .bind(u.in_flight)
            .bind(u.rpm_limit)
            .bind(u.tpm_limit)
            .bind(u.max_in_flight_limit)
            .bind(u.daily_usd_limit)
            .bind(ts(reported_at))
            .execute(&mut *tx)
            .await?;
        }
        let rows = read_router_spend(&mut tx, day).await?;
        sqlx::query("UPDATE router_spend SET leased_usd = $3 WHERE day = $1 AND router_id = $2 AND agent = ''")
            .bind(day.to_string())
            .bind(router_id)
            .bind(lease(&rows))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    pub(crate) async fn router_spend(&self, day: NaiveDate) -> Result<Vec<RouterSpendRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_router_spend(&mut conn, day).await
    }

    pub(crate) async fn presence(&self, node: &str) -> Result<Vec<PresenceRow>, StoreError> {
        type Row = (String, String, String, i64, bool, String, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT router_id, node, state_seen, in_flight, quiet, reported_at, status_url FROM router_presence \
             WHERE node = $1 ORDER BY router_id",
        )
        .bind(node)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(router_id, node, state, in_flight, quiet, reported_at, status_url)| {
                Ok(PresenceRow {
                    router_id,
                    node,
                    state_seen: parse_drain_state(&state)?,
                    in_flight: u32::try_from(in_flight).unwrap_or(0),
                    quiet,
                    reported_at: parse_ts("router_presence.reported_at", &reported_at)?,
                    status_url,
                })
            })
            .collect()
    }

    pub(crate) async fn in_flight(&self, live_after: DateTime<Utc>) -> Result<Vec<(String, u32)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT node, SUM(in_flight) FROM router_presence WHERE reported_at > $1 \
             GROUP BY node ORDER BY node",
        )
        .bind(ts(live_after))
        .fetch_all(&self.pool)
        .await?;
        Ok(in_flight_counts(rows))
    }

    pub(crate) async fn complete_drains(&self, live_after: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut tx = self.write_tx().await?;
        let done: Vec<String> = sqlx::query_scalar(
            "UPDATE nodes SET state = 'drained', changed_at = $2 WHERE state = 'draining' AND NOT EXISTS ( \
             SELECT 1 FROM router_presence p WHERE p.node = nodes.name AND p.reported_at > $1 \
             AND (NOT p.quiet OR p.reported_at <= nodes.changed_at)) RETURNING name",
        )
        .bind(ts(live_after))
        .bind(ts(now()))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn stored(raw: RawDecision<String>) -> Result<StoredDecision, StoreError> {
    let at = parse_ts("routing_decisions.ts", &raw.ts)?;
    raw.into_stored(at)
}

async fn insert_audit(
    tx: &mut Transaction<'static, Sqlite>,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit_log (ts, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(ts(at))
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// Every router's spend report rows for `day`.
async fn read_router_spend(
    conn: &mut sqlx::SqliteConnection,
    day: NaiveDate,
) -> Result<Vec<RouterSpendRow>, StoreError> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT router_id, agent, cost_usd, leased_usd, requests_1m, tokens_1m, in_flight, rpm_limit, tpm_limit, max_in_flight_limit, daily_usd_limit, reported_at FROM router_spend WHERE day = $1")
        .bind(day.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let reported_at: String = row.try_get("reported_at")?;
            Ok(RouterSpendRow {
                router_id: row.try_get("router_id")?,
                agent: row.try_get("agent")?,
                cost_usd: row.try_get("cost_usd")?,
                leased_usd: row.try_get("leased_usd")?,
                usage: AgentUsageRow {
                    requests_1m: row.try_get("requests_1m")?,
                    tokens_1m: row.try_get("tokens_1m")?,
                    in_flight: row.try_get("in_flight")?,
                    rpm_limit: row.try_get("rpm_limit")?,
                    tpm_limit: row.try_get("tpm_limit")?,
                    max_in_flight_limit: row.try_get("max_in_flight_limit")?,
                    daily_usd_limit: row.try_get("daily_usd_limit")?,
                },
                reported_at: parse_ts("router_spend.reported_at", &reported_at)?,
            })
        })
        .collect()
}

/// Adds one line into `quality_hourly`.
async fn upsert_quality(
    tx: &mut Transaction<'static, Sqlite>,
    hour: &str,
    class: &str,
    route: &str,
    line: &QualityLine,
) -> Result<(), StoreError> {
    let b = &line.ttft_buckets;
    sqlx::query(
        "INSERT INTO quality_hourly (hour, effective_class, route, requests, errors, truncated, empty, json_checked, \
         json_valid, ttft_count, ttft_sum_ms, ttft_le_100, ttft_le_250, ttft_le_500, ttft_le_1000, ttft_le_2500, \
         ttft_le_5000, ttft_le_10000, ttft_le_30000, ttft_over, tps_count, tps_sum, queued_sum_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
         ON CONFLICT (hour, effective_class, route) DO UPDATE SET requests = requests + excluded.requests, \
         errors = errors + excluded.errors, truncated = truncated + excluded.truncated, empty = empty + excluded.empty, \
         json_checked = json_checked + excluded.json_checked, json_valid = json_valid + excluded.json_valid, \
         ttft_count = ttft_count + excluded.ttft_count, ttft_sum_ms = ttft_sum_ms + excluded.ttft_sum_ms, \
         ttft_le_100 = ttft_le_100 + excluded.ttft_le_100, ttft_le_250 = ttft_le_250 + excluded.ttft_le_250, \
         ttft_le_500 = ttft_le_500 + excluded.ttft_le_500, ttft_le_1000 = ttft_le_1000 + excluded.ttft_le_1000, \
         ttft_le_2500 = ttft_le_2500 + excluded.ttft_le_2500, ttft_le_5000 = ttft_le_5000 + excluded.ttft_le_5000, \
         ttft_le_10000 = ttft_le_10000 + excluded.ttft_le_10000, ttft_le_30000 = ttft_le_30000 + excluded.ttft_le_30000, \
         ttft_over = ttft_over + excluded.ttft_over, tps_count = tps_count + excluded.tps_count, \
         tps_sum = tps_sum + excluded.tps_sum, queued_sum_ms = queued_sum_ms + excluded.queued_sum_ms",
    )
    .bind(hour)
    .bind(class)
    .bind(route)
    .bind(line.requests)
    .bind(line.errors)
    .bind(line.truncated)
    .bind(line.empty)
    .bind(line.json_checked)
    .bind(line.json_valid)
    .bind(line.ttft_count)
    .bind(line.ttft_sum_ms)
    .bind(b[0])
    .bind(b[1])
    .bind(b[2])
    .bind(b[3])
    .bind(b[4])
    .bind(b[5])
    .bind(b[6])
    .bind(b[7])
    .bind(b[8])
    .bind(line.tps_count)
    .bind(line.tps_sum)
    .bind(line.queued_sum_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let t = DateTime::from_timestamp_micros(1_777_777_777_123_456).expect("in range");
        assert_eq!(ts(t), "2026-05-03T03:09:37.123456Z");
        assert_eq!(parse_ts("t", &ts(t)).expect("parses"), t);
        let whole = DateTime::from_timestamp(1_777_777_777, 0).expect("in range");
        assert_eq!(ts(whole).len(), ts(t).len());
    }
}
