//! The PostgreSQL backend: production, shared by many routers and consoles.

mod jobs;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};

use crate::domain::{DecisionRecord, DrainState, FinishReason, StoredDecision};

use super::StoreError;
use super::model::{
    AgentReport, AgentUsageRow, AuditRow, DECISION_COLUMNS, NodeStateRow, OverrideRow, PULL_ABANDONED_AFTER,
    PolicyVersionRow, PresenceRow, PullJobRow, RawDecision, RouterSpendRow, TERMINAL_PULL_STATES, UNSET, attempts_json,
    change_detail, count, in_flight_counts, now, parse_drain_state, pull_conflict,
};
use super::spend::{
    NODE_SPEND, PeriodRow, SpendLine, SpendRow, SpendRows, SpendSpans, SpendSummary, hour_ceil, node_group, summarize,
};
use super::url::one_line;
use super::wakeup::{self, CONTROL_CHANNEL, DECISIONS_CHANNEL, Wakeup};

/// How long connecting may take before the store is reported unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per process: writers, readers and one held by each wake-up listener.
const MAX_CONNECTIONS: u32 = 10;
/// Advisory lock serialising decision inserts, so ids become visible in commit order and a
/// reader tailing by id cursor never skips a row committed late.
const DECISIONS_LOCK: i64 = 0x6661_726d_6864_0001;
/// Advisory lock serialising control changes (node states, overrides, policy versions).
const CONTROL_LOCK: i64 = 0x6661_726d_6864_0002;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A store on a PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    url: String,
}

impl PgStore {
    // PostgreSQL binds times as they are (`timestamptz`).
    super::shared::shared_queries!(std::convert::identity);

    /// Connects once to check the server answers, then keeps a lazily filled pool.
    pub(crate) async fn connect(options: PgConnectOptions, url: String) -> Result<Self, StoreError> {
        let unreachable = |reason: String| StoreError::Unreachable {
            url: url.clone(),
            reason,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Err(_) => return Err(unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))),
            Ok(Err(err)) => return Err(unreachable(one_line(&err))),
            Ok(Ok(conn)) => {
                // The probe has done its job; a failed goodbye changes nothing.
                let _ = conn.close().await;
            }
        }
        Ok(Self::lazy(options, url))
    }

    /// A pool that connects on first use (for a console that starts while the store is down).
    pub(crate) fn lazy(options: PgConnectOptions, url: String) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        PgStore { pool, url }
    }

    pub(crate) fn redacted_url(&self) -> &str {
        &self.url
    }

    pub(crate) async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.applied_migrations().await?;
        MIGRATOR.run(&self.pool).await?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        if !exists {
            return Ok(0);
        }
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await?;
        count("_sqlx_migrations", n)
    }

    pub(crate) async fn insert_decisions(&self, batch: &[DecisionRecord]) -> Result<u64, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DECISIONS_LOCK)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(INSERT_DECISIONS)
            .bind(batch.iter().map(|d| d.request_id.as_str()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.ts).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.agent.as_str()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.declared_class.as_str()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.effective_class.as_str()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.sensitive).collect::<Vec<_>>())
            .bind(
                batch
                    .iter()
                    .map(|d| d.sensitivity_reason.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(batch.iter().map(|d| d.endpoint.as_str()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.provider.as_deref()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.node.as_deref()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.model.as_deref()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.est_tokens).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.prompt_tokens).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.completion_tokens).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.cost_usd).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.ttfb_ms).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.latency_ms).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.fallback.as_str()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.policy_version).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.status).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.error.as_deref()).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| attempts_json(&d.attempts)).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.job_id).collect::<Vec<_>>())
            .bind(
                batch
                    .iter()
                    .map(|d| d.quality.finish_reason.map(FinishReason::as_str))
                    .collect::<Vec<_>>(),
            )
            .bind(batch.iter().map(|d| d.quality.empty_answer).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.quality.json_valid).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.quality.ttft_ms).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.quality.tokens_per_sec).collect::<Vec<_>>())
            .bind(batch.iter().map(|d| d.quality.queued_ms).collect::<Vec<_>>())
            .fetch_one(&mut *tx)
            .await?;
        let inserted: i64 = row.try_get(0)?;
        let max_id: Option<i64> = row.try_get(1)?;
        if let Some(max_id) = max_id {
            notify(&mut tx, DECISIONS_CHANNEL, &max_id.to_string()).await?;
        }
        tx.commit().await?;
        u64::try_from(inserted)
            .map_err(|_| StoreError::corrupt("routing_decisions", format!("{inserted} rows inserted")))
    }

    pub(crate) async fn decisions_after(&self, after_id: i64, limit: u32) -> Result<Vec<StoredDecision>, StoreError> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS}, attempts::text AS attempts FROM routing_decisions WHERE id > $1 ORDER BY id LIMIT $2"
        );
        let rows: Vec<RawDecision<DateTime<Utc>>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| r.into_stored_now()).collect()
    }

    pub(crate) async fn recent_decisions(&self, limit: u32) -> Result<Vec<StoredDecision>, StoreError> {
        let sql = format!(
            "SELECT * FROM (SELECT {DECISION_COLUMNS}, attempts::text AS attempts FROM routing_decisions \
             ORDER BY id DESC LIMIT $1) d ORDER BY id"
        );
        let rows: Vec<RawDecision<DateTime<Utc>>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| r.into_stored_now()).collect()
    }

    pub(crate) async fn spend_summary(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<SpendSummary, StoreError> {
        type Row = (
            bool,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            i64,
            i64,
            f64,
        );
        let spans = SpendSpans::of(since, until);
        // One scan of the rollups serves the breakdowns and both charts.
        let grouped: Vec<Row> = sqlx::query_as(SPEND_SUMMARY)
            // Planned for the actual window each time: a cached generic plan walks the primary key
            // even when the window covers most of the table, which is slower than a plain scan.
            .persistent(false)
            .bind(spans.start)
            .bind(spans.days_from)
            .bind(spans.days_to)
            .bind(spans.until)
            .fetch_all(&self.pool)
            .await?;
        let nodes = sqlx::query_as(NODE_SPEND)
            .persistent(false)
            .bind(spans.start)
            .bind(spans.days_from)
            .bind(spans.days_to)
            .bind(spans.until)
            .fetch_all(&self.pool)
            .await?;
        let mut spend = SpendRows {
            nodes: nodes.into_iter().map(node_group).collect(),
            ..SpendRows::default()
        };
        for (by_period, hour, day, class, endpoint, provider, model, agent, requests, prompt, completion, cost) in
            grouped
        {
            let line = SpendLine {
                requests,
                prompt_tokens: prompt,
                completion_tokens: completion,
                cost_usd: cost,
            };
            let endpoint = endpoint.ok_or_else(|| StoreError::corrupt("spend_hourly.endpoint", "NULL"))?;
            match (by_period, hour, day) {
                (false, _, _) => spend.rows.push(SpendRow {
                    class: class.unwrap_or_default(),
                    endpoint,
                    provider: provider.unwrap_or_default(),
                    model: model.unwrap_or_default(),
                    agent: agent.unwrap_or_default(),
                    line,
                }),
                (true, Some(start), None) if spans.hour_by_hour() => {
                    spend.hours.push(PeriodRow { start, endpoint, line })
                }
                (true, None, Some(start)) => spend.days.push(PeriodRow { start, endpoint, line }),
                // Hours at the ends of a long window, and the daily part's empty hour.
                (true, _, _) => {}
            }
        }
        summarize(since, until, spend)
    }

    pub(crate) async fn frontier_cost_since(&self, since: DateTime<Utc>) -> Result<f64, StoreError> {
        // Whole hours from the rollup, the partial first hour from the decisions themselves.
        let cost: f64 = sqlx::query_scalar(
            "SELECT coalesce((SELECT sum(cost_usd) FROM spend_hourly WHERE endpoint = 'frontier' AND hour >= $2), 0) \
             + coalesce((SELECT sum(cost_usd) FROM routing_decisions \
                         WHERE endpoint = 'frontier' AND ts >= $1 AND ts < $2), 0)",
        )
        .bind(since)
        .bind(hour_ceil(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(cost)
    }

    pub(crate) async fn node_states(&self) -> Result<Vec<NodeStateRow>, StoreError> {
        type Row = (String, String, Option<String>, String, DateTime<Utc>);
        let rows: Vec<Row> =
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
                    changed_at,
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
        let mut tx = self.control_tx().await?;
        let old: Option<String> = sqlx::query_scalar("SELECT state FROM nodes WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO nodes (name, state, reason, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason, \
             changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at",
        )
        .bind(name)
        .bind(state.as_str())
        .bind(reason)
        .bind(actor)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let old = old.as_deref().unwrap_or(DrainState::Active.as_str());
        let detail = change_detail(old, state.as_str(), reason);
        insert_audit(&mut tx, at, actor, &format!("node.{state}"), name, &detail).await?;
        notify(&mut tx, CONTROL_CHANNEL, "node").await?;
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
        type Row = (String, String, Option<String>, String, DateTime<Utc>);
        let rows: Vec<Row> =
            sqlx::query_as("SELECT key, value, reason, set_by, set_at FROM policy_overrides ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(key, value, reason, set_by, set_at)| OverrideRow {
                key,
                value,
                reason,
                set_by,
                set_at,
            })
            .collect())
    }

    pub(crate) async fn policy_versions(&self, limit: u32) -> Result<Vec<PolicyVersionRow>, StoreError> {
        let rows: Vec<(i64, DateTime<Utc>, String, String)> = sqlx::query_as(
            "SELECT version, created_at, created_by, snapshot::text FROM policy_versions ORDER BY version DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(version, created_at, created_by, snapshot)| {
                let snapshot =
                    serde_json::from_str(&snapshot).map_err(|e| StoreError::corrupt("policy_versions.snapshot", e))?;
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
        let mut tx = self.control_tx().await?;
        let old: Option<String> = sqlx::query_scalar("SELECT value FROM policy_overrides WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let action = match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO policy_overrides (key, value, reason, set_by, set_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, reason = EXCLUDED.reason, \
                     set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at",
                )
                .bind(key)
                .bind(value)
                .bind(reason)
                .bind(actor)
                .bind(at)
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
             SELECT coalesce(max(version), 0) + 1, $1, $2, $3::jsonb FROM policy_versions RETURNING version",
        )
        .bind(at)
        .bind(actor)
        .bind(snapshot.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let detail = change_detail(old.as_deref().unwrap_or(UNSET), value.unwrap_or(UNSET), reason);
        insert_audit(&mut tx, at, actor, action, key, &detail).await?;
        notify(&mut tx, CONTROL_CHANNEL, "policy").await?;
        tx.commit().await?;
        Ok(version)
    }

    pub(crate) async fn audit(&self, actor: &str, action: &str, target: &str, detail: &str) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = insert_audit(&mut tx, now(), actor, action, target, detail).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(i64, DateTime<Utc>, String, String, String, String)> =
            sqlx::query_as("SELECT id, ts, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, ts, actor, action, target, detail)| AuditRow {
                id,
                ts,
                actor,
                action,
                target,
                detail,
            })
            .collect())
    }

    pub(crate) async fn create_pull_job(&self, node: &str, model: &str) -> Result<i64, StoreError> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE pull_jobs SET state = 'failed', error = 'abandoned: no progress reported', finished_at = $2 \
             WHERE node = $1 AND state IN ('queued', 'running') AND updated_at < $3",
        )
        .bind(node)
        .bind(at)
        .bind(at - PULL_ABANDONED_AFTER)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query_scalar(
            "INSERT INTO pull_jobs (node, model, state, progress, started_at, updated_at) \
             VALUES ($1, $2, 'queued', 0, $3, $3) RETURNING id",
        )
        .bind(node)
        .bind(model)
        .bind(at)
        .fetch_one(&mut *tx)
        .await;
        match inserted {
            Ok(id) => {
                tx.commit().await?;
                Ok(id)
            }
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                tx.rollback().await?;
                let running: Option<(i64, String, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT id, model, started_at FROM pull_jobs WHERE node = $1 AND state IN ('queued', 'running')",
                )
                .bind(node)
                .fetch_optional(&self.pool)
                .await?;
                Err(pull_conflict(node, running))
            }
            Err(err) => Err(err.into()),
        }
    }

    pub(crate) async fn update_pull_job(
        &self,
        id: i64,
        state: &str,
        progress: f64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let finished_at = TERMINAL_PULL_STATES.contains(&state).then(now);
        let done = sqlx::query(
            "UPDATE pull_jobs SET state = $2, progress = $3, error = $4, finished_at = $5, updated_at = $6 \
                 WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(progress)
        .bind(error)
        .bind(finished_at)
        .bind(now())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("pull job {id}")));
        }
        Ok(())
    }

    pub(crate) async fn pull_jobs(&self, limit: u32) -> Result<Vec<PullJobRow>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            f64,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, node, model, state, progress, started_at, finished_at, error \
             FROM pull_jobs ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, node, model, state, progress, started_at, finished_at, error)| PullJobRow {
                    id,
                    node,
                    model,
                    state,
                    progress,
                    started_at,
                    finished_at,
                    error,
                },
            )
            .collect())
    }

    pub(crate) async fn report_presence(&self, rows: &[PresenceRow]) -> Result<(), StoreError> {
        let Some(first) = rows.first() else { return Ok(()) };
        let nodes: Vec<&str> = rows.iter().map(|r| r.node.as_str()).collect();
        let states: Vec<&str> = rows.iter().map(|r| r.state_seen.as_str()).collect();
        let in_flight: Vec<i32> = rows
            .iter()
            .map(|r| i32::try_from(r.in_flight).unwrap_or(i32::MAX))
            .collect();
        let quiet: Vec<bool> = rows.iter().map(|r| r.quiet).collect();
        sqlx::query(
            "INSERT INTO router_presence (router_id, node, state_seen, in_flight, quiet, reported_at, status_url) \
             SELECT $1, * , $6, $7 FROM UNNEST($2::text[], $3::text[], $4::int4[], $5::bool[]) \
             ON CONFLICT (router_id, node) DO UPDATE SET state_seen = EXCLUDED.state_seen, \
             in_flight = EXCLUDED.in_flight, quiet = EXCLUDED.quiet, reported_at = EXCLUDED.reported_at, \
             status_url = EXCLUDED.status_url",
        )
        .bind(&first.router_id)
        .bind(&nodes)
        .bind(&states)
        .bind(&in_flight)
        .bind(&quiet)
        .bind(first.reported_at)
        .bind(first.status_url.as_deref())
        .execute(&self.pool)
        .await?;
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
        let marker = [AgentReport::default()];
        let all = || own.iter().chain(&marker);
        let agents: Vec<&str> = all().map(|r| r.agent.as_str()).collect();
        let costs: Vec<f64> = all().map(|r| r.cost_usd).collect();
        let requests: Vec<i64> = all().map(|r| r.usage.requests_1m).collect();
        let tokens: Vec<i64> = all().map(|r| r.usage.tokens_1m).collect();
        let in_flight: Vec<i64> = all().map(|r| r.usage.in_flight).collect();
        let rpm: Vec<Option<i64>> = all().map(|r| r.usage.rpm_limit).collect();
        let tpm: Vec<Option<i64>> = all().map(|r| r.usage.tpm_limit).collect();
        let max_in_flight: Vec<Option<i64>> = all().map(|r| r.usage.max_in_flight_limit).collect();
        let daily: Vec<Option<f64>> = all().map(|r| r.usage.daily_usd_limit).collect();
        let mut tx = self.pool.begin().await?;
        // One refresh at a time across the fleet: leases are granted from what every router holds.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('farmhand.router_spend'))")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO router_spend (day, router_id, agent, cost_usd, requests_1m, tokens_1m, in_flight, \
             rpm_limit, tpm_limit, max_in_flight_limit, daily_usd_limit, reported_at) \
             SELECT $1, $2, a.*, $12 FROM UNNEST($3::text[], $4::float8[], $5::int8[], $6::int8[], $7::int8[], \
             $8::int8[], $9::int8[], $10::int8[], $11::float8[]) AS a \
             ON CONFLICT (day, router_id, agent) DO UPDATE SET \
             cost_usd = GREATEST(router_spend.cost_usd, EXCLUDED.cost_usd), requests_1m = EXCLUDED.requests_1m, \
             tokens_1m = EXCLUDED.tokens_1m, in_flight = EXCLUDED.in_flight, rpm_limit = EXCLUDED.rpm_limit, \
             tpm_limit = EXCLUDED.tpm_limit, max_in_flight_limit = EXCLUDED.max_in_flight_limit, \
             daily_usd_limit = EXCLUDED.daily_usd_limit, reported_at = EXCLUDED.reported_at",
        )
        .bind(day)
        .bind(router_id)
        .bind(&agents)
        .bind(&costs)
        .bind(&requests)
        .bind(&tokens)
        .bind(&in_flight)
        .bind(&rpm)
        .bind(&tpm)
        .bind(&max_in_flight)
        .bind(&daily)
        .bind(reported_at)
        .execute(&mut *tx)
        .await?;
        let rows = read_router_spend(&mut tx, day).await?;
        sqlx::query("UPDATE router_spend SET leased_usd = $3 WHERE day = $1 AND router_id = $2 AND agent = ''")
            .bind(day)
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
        type Row = (String, String, String, i32, bool, DateTime<Utc>, Option<String>);
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
                    reported_at,
                    status_url,
                })
            })
            .collect()
    }

    pub(crate) async fn in_flight(&self, live_after: DateTime<Utc>) -> Result<Vec<(String, u32)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT node, SUM(in_flight)::BIGINT FROM router_presence WHERE reported_at > $1 \
             GROUP BY node ORDER BY node",
        )
        .bind(live_after)
        .fetch_all(&self.pool)
        .await?;
        Ok(in_flight_counts(rows))
    }

    pub(crate) async fn complete_drains(&self, live_after: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut tx = self.control_tx().await?;
        let done: Vec<String> = sqlx::query_scalar(
            "UPDATE nodes SET state = 'drained', changed_at = $2 WHERE state = 'draining' AND NOT EXISTS ( \
             SELECT 1 FROM router_presence p WHERE p.node = nodes.name AND p.reported_at > $1 \
             AND (NOT p.quiet OR p.reported_at <= nodes.changed_at)) RETURNING name",
        )
        .bind(live_after)
        .bind(now())
        .fetch_all(&mut *tx)
        .await?;
        if !done.is_empty() {
            notify(&mut tx, CONTROL_CHANNEL, "node").await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    pub(crate) fn wakeups(&self) -> tokio::sync::mpsc::Receiver<Wakeup> {
        wakeup::listen(self.pool.clone())
    }

    /// A transaction holding the control lock, so concurrent changes get distinct, ordered versions.
    async fn control_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CONTROL_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

impl RawDecision<DateTime<Utc>> {
    fn into_stored_now(self) -> Result<StoredDecision, StoreError> {
        let ts = self.ts;
        self.into_stored(ts)
    }
}

/// Sends a notification, delivered when the transaction commits.
async fn notify(tx: &mut Transaction<'static, Postgres>, channel: &str, payload: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_audit(
    tx: &mut Transaction<'static, Postgres>,
    ts: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit_log (ts, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(ts)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// The spend rollups over a window's spans ([`SpendSpans`]: $1 start, $2 first whole day, $3 end of
/// the whole days, $4 end): grouped by (class, endpoint, provider, model, agent), by (day,
/// endpoint) and by (hour, endpoint) in one scan.
const SPEND_SUMMARY: &str = "\
WITH parts AS (
    SELECT hour, date_trunc('day', hour, 'UTC') AS day, effective_class, endpoint, provider, model, agent,
        requests, prompt_tokens, completion_tokens, cost_usd
    FROM spend_hourly WHERE hour >= $1 AND hour < $2 OR hour >= $3 AND hour < $4
    UNION ALL
    SELECT NULL::timestamptz, day, effective_class, endpoint, provider, model, agent,
        requests, prompt_tokens, completion_tokens, cost_usd
    FROM spend_daily WHERE day >= $2 AND day < $3
)
SELECT GROUPING(effective_class) = 1, hour, day, effective_class, endpoint, provider, model, agent,
    sum(requests)::int8, sum(prompt_tokens)::int8, sum(completion_tokens)::int8, sum(cost_usd)
FROM parts
GROUP BY GROUPING SETS ((effective_class, endpoint, provider, model, agent), (day, endpoint), (hour, endpoint))";

/// One statement per batch: unnest the column arrays, skip known request ids, and roll only the
/// new rows into `spend_hourly`, `spend_daily`, `node_hourly`, `node_daily` and `quality_hourly` (in key order, so concurrent upserts lock rows
/// in the same order). The quality sums and histogram bounds are [`crate::quality::QualityLine`]'s.
const INSERT_DECISIONS: &str = "\
WITH ins AS (
    INSERT INTO routing_decisions (request_id, ts, agent, declared_class, effective_class, sensitive,
        sensitivity_reason, endpoint, provider, node, model, est_tokens, prompt_tokens, completion_tokens,
        cost_usd, ttfb_ms, latency_ms, fallback, policy_version, status, error, attempts, job_id,
        finish_reason, empty_answer, json_valid, ttft_ms, tokens_per_sec, queued_ms)
    SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bool[],
        $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int8[], $13::int8[], $14::int8[],
        $15::float8[], $16::int8[], $17::int8[], $18::text[], $19::int8[], $20::int4[], $21::text[],
        $22::text[]::jsonb[], $23::int8[], $24::text[], $25::bool[], $26::bool[], $27::int8[], $28::float8[],
        $29::int8[])
    ON CONFLICT (request_id) DO NOTHING
    RETURNING id, ts, agent, effective_class, endpoint, provider, node, model, prompt_tokens, completion_tokens,
        cost_usd, finish_reason, empty_answer, json_valid, ttft_ms, tokens_per_sec, queued_ms
), quality AS (
    INSERT INTO quality_hourly AS q (hour, effective_class, route, requests, errors, truncated, empty, json_checked,
        json_valid, ttft_count, ttft_sum_ms, ttft_le_100, ttft_le_250, ttft_le_500, ttft_le_1000, ttft_le_2500,
        ttft_le_5000, ttft_le_10000, ttft_le_30000, ttft_over, tps_count, tps_sum, queued_sum_ms)
    SELECT date_trunc('hour', ts, 'UTC'), effective_class,
        CASE endpoint WHEN 'local' THEN 'local/' || coalesce(model, '')
            ELSE 'frontier/' || coalesce(provider, '') || '/' || coalesce(model, '') END,
        count(*), count(*) FILTER (WHERE finish_reason = 'error'), count(*) FILTER (WHERE finish_reason = 'length'),
        count(*) FILTER (WHERE empty_answer), count(json_valid), count(*) FILTER (WHERE json_valid),
        count(ttft_ms), coalesce(sum(ttft_ms), 0),
        count(*) FILTER (WHERE ttft_ms <= 100),
        count(*) FILTER (WHERE ttft_ms > 100 AND ttft_ms <= 250),
        count(*) FILTER (WHERE ttft_ms > 250 AND ttft_ms <= 500),
        count(*) FILTER (WHERE ttft_ms > 500 AND ttft_ms <= 1000),
        count(*) FILTER (WHERE ttft_ms > 1000 AND ttft_ms <= 2500),
        count(*) FILTER (WHERE ttft_ms > 2500 AND ttft_ms <= 5000),
        count(*) FILTER (WHERE ttft_ms > 5000 AND ttft_ms <= 10000),
        count(*) FILTER (WHERE ttft_ms > 10000 AND ttft_ms <= 30000),
        count(*) FILTER (WHERE ttft_ms > 30000),
        count(tokens_per_sec), coalesce(sum(tokens_per_sec), 0), sum(queued_ms)
    FROM ins WHERE endpoint <> 'rejected' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (hour, effective_class, route) DO UPDATE SET
        requests = q.requests + EXCLUDED.requests, errors = q.errors + EXCLUDED.errors,
        truncated = q.truncated + EXCLUDED.truncated, empty = q.empty + EXCLUDED.empty,
        json_checked = q.json_checked + EXCLUDED.json_checked, json_valid = q.json_valid + EXCLUDED.json_valid,
        ttft_count = q.ttft_count + EXCLUDED.ttft_count, ttft_sum_ms = q.ttft_sum_ms + EXCLUDED.ttft_sum_ms,
        ttft_le_100 = q.ttft_le_100 + EXCLUDED.ttft_le_100, ttft_le_250 = q.ttft_le_250 + EXCLUDED.ttft_le_250,
        ttft_le_500 = q.ttft_le_500 + EXCLUDED.ttft_le_500, ttft_le_1000 = q.ttft_le_1000 + EXCLUDED.ttft_le_1000,
        ttft_le_2500 = q.ttft_le_2500 + EXCLUDED.ttft_le_2500, ttft_le_5000 = q.ttft_le_5000 + EXCLUDED.ttft_le_5000,
        ttft_le_10000 = q.ttft_le_10000 + EXCLUDED.ttft_le_10000,
        ttft_le_30000 = q.ttft_le_30000 + EXCLUDED.ttft_le_30000, ttft_over = q.ttft_over + EXCLUDED.ttft_over,
        tps_count = q.tps_count + EXCLUDED.tps_count, tps_sum = q.tps_sum + EXCLUDED.tps_sum,
        queued_sum_ms = q.queued_sum_ms + EXCLUDED.queued_sum_ms
), spend AS (
    INSERT INTO spend_hourly AS s (hour, effective_class, endpoint, provider, model, agent,
        requests, prompt_tokens, completion_tokens, cost_usd)
    SELECT date_trunc('hour', ts, 'UTC'), effective_class, endpoint, coalesce(provider, ''), coalesce(model, ''),
        agent, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
    FROM ins GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (hour, effective_class, endpoint, provider, model, agent) DO UPDATE SET
        requests = s.requests + EXCLUDED.requests,
        prompt_tokens = s.prompt_tokens + EXCLUDED.prompt_tokens,
        completion_tokens = s.completion_tokens + EXCLUDED.completion_tokens,
        cost_usd = s.cost_usd + EXCLUDED.cost_usd
), spend_days AS (
    INSERT INTO spend_daily AS s (day, effective_class, endpoint, provider, model, agent,
        requests, prompt_tokens, completion_tokens, cost_usd)
    SELECT date_trunc('day', ts, 'UTC'), effective_class, endpoint, coalesce(provider, ''), coalesce(model, ''),
        agent, count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
    FROM ins GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (day, effective_class, endpoint, provider, model, agent) DO UPDATE SET
        requests = s.requests + EXCLUDED.requests,
        prompt_tokens = s.prompt_tokens + EXCLUDED.prompt_tokens,
        completion_tokens = s.completion_tokens + EXCLUDED.completion_tokens,
        cost_usd = s.cost_usd + EXCLUDED.cost_usd
), node_hours AS (
    INSERT INTO node_hourly AS n (hour, node, requests, prompt_tokens, completion_tokens)
    SELECT date_trunc('hour', ts, 'UTC'), node, count(*), sum(prompt_tokens), sum(completion_tokens)
    FROM ins WHERE endpoint = 'local' AND node IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, node) DO UPDATE SET
        requests = n.requests + EXCLUDED.requests,
        prompt_tokens = n.prompt_tokens + EXCLUDED.prompt_tokens,
        completion_tokens = n.completion_tokens + EXCLUDED.completion_tokens
), node_days AS (
    INSERT INTO node_daily AS n (day, node, requests, prompt_tokens, completion_tokens)
    SELECT date_trunc('day', ts, 'UTC'), node, count(*), sum(prompt_tokens), sum(completion_tokens)
    FROM ins WHERE endpoint = 'local' AND node IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (day, node) DO UPDATE SET
        requests = n.requests + EXCLUDED.requests,
        prompt_tokens = n.prompt_tokens + EXCLUDED.prompt_tokens,
        completion_tokens = n.completion_tokens + EXCLUDED.completion_tokens
)
SELECT count(*)::int8, max(id) FROM ins";

/// Every router's spend report rows for `day`.
async fn read_router_spend(conn: &mut PgConnection, day: NaiveDate) -> Result<Vec<RouterSpendRow>, StoreError> {
    let rows = sqlx::query("SELECT router_id, agent, cost_usd, leased_usd, requests_1m, tokens_1m, in_flight, rpm_limit, tpm_limit, max_in_flight_limit, daily_usd_limit, reported_at FROM router_spend WHERE day = $1")
        .bind(day)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
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
                reported_at: row.try_get("reported_at")?,
            })
        })
        .collect()
}
