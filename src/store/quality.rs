//! Reading the hourly quality rollup: one line per task class and route over a window. The query
//! is the same on both backends; only how the window's bounds are bound differs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::domain::TaskClass;
pub use crate::quality::AgreementRow;
use crate::quality::QualityLine;
pub use crate::quality::recommend::ThresholdEvidence;

/// The quality of one route for one class over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityRow {
    /// The effective task class.
    pub class: TaskClass,
    /// `local/<model>` or `frontier/<provider>/<model>`.
    pub route: String,
    /// The summed signals.
    #[serde(flatten)]
    pub line: QualityLine,
}

/// Every class × route line of `quality_hourly` for the hours in `[$1, $2)`.
pub(crate) const QUALITY_SUMMARY: &str = "\
SELECT effective_class, route, CAST(sum(requests) AS BIGINT), CAST(sum(errors) AS BIGINT),
    CAST(sum(truncated) AS BIGINT), CAST(sum(empty) AS BIGINT), CAST(sum(json_checked) AS BIGINT),
    CAST(sum(json_valid) AS BIGINT), CAST(sum(ttft_count) AS BIGINT), CAST(sum(ttft_sum_ms) AS BIGINT),
    CAST(sum(ttft_le_100) AS BIGINT), CAST(sum(ttft_le_250) AS BIGINT), CAST(sum(ttft_le_500) AS BIGINT),
    CAST(sum(ttft_le_1000) AS BIGINT), CAST(sum(ttft_le_2500) AS BIGINT), CAST(sum(ttft_le_5000) AS BIGINT),
    CAST(sum(ttft_le_10000) AS BIGINT), CAST(sum(ttft_le_30000) AS BIGINT), CAST(sum(ttft_over) AS BIGINT),
    CAST(sum(tps_count) AS BIGINT), CAST(sum(tps_sum) AS DOUBLE PRECISION), CAST(sum(queued_sum_ms) AS BIGINT)
FROM quality_hourly WHERE hour >= $1 AND hour < $2 GROUP BY 1, 2 ORDER BY 1, 2";

/// Decodes one row of [`QUALITY_SUMMARY`].
pub(crate) fn quality_row<R>(row: &R) -> Result<QualityRow, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let class = class_column(row.try_get(0)?, "quality_hourly.effective_class")?;
    let count = |i: usize| row.try_get::<i64, _>(i);
    let mut line = QualityLine {
        requests: count(2)?,
        errors: count(3)?,
        truncated: count(4)?,
        empty: count(5)?,
        json_checked: count(6)?,
        json_valid: count(7)?,
        ttft_count: count(8)?,
        ttft_sum_ms: count(9)?,
        tps_count: count(19)?,
        tps_sum: row.try_get(20)?,
        queued_sum_ms: count(21)?,
        ..QualityLine::default()
    };
    for (i, bucket) in line.ttft_buckets.iter_mut().enumerate() {
        *bucket = count(10 + i)?;
    }
    Ok(QualityRow {
        class,
        route: row.try_get(1)?,
        line,
    })
}

/// The mean of one feedback metric for one class and route over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackRow {
    /// The effective task class of the rated decisions.
    pub class: TaskClass,
    /// `local/<model>` or `frontier/<provider>/<model>`.
    pub route: String,
    /// The metric's name.
    pub metric: String,
    /// Ratings.
    pub count: i64,
    /// Their mean (booleans count 1 and 0).
    pub mean: f64,
}

/// The agent that made a decision.
pub(crate) const DECISION_AGENT: &str = "SELECT agent FROM routing_decisions WHERE request_id = $1";

/// Stores a rating, replacing an earlier one of the same decision and metric.
pub(crate) const UPSERT_FEEDBACK: &str = "\
INSERT INTO feedback (request_id, metric, value, agent, ts) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (request_id, metric) DO UPDATE SET value = excluded.value, agent = excluded.agent, ts = excluded.ts";

/// Ratings per class, route and metric of the decisions made in `[$1, $2)`. The join is driven
/// from the ratings (a rating comes after its decision, so from `$1` on): `CROSS JOIN` keeps
/// SQLite from walking every decision of the window when few were rated, and PostgreSQL plans
/// it as any join.
pub(crate) const FEEDBACK_SUMMARY: &str = "\
SELECT d.effective_class,
    CASE d.endpoint WHEN 'local' THEN 'local/' || coalesce(d.model, '')
        ELSE 'frontier/' || coalesce(d.provider, '') || '/' || coalesce(d.model, '') END,
    f.metric, CAST(count(*) AS BIGINT), CAST(avg(f.value) AS DOUBLE PRECISION)
FROM feedback f CROSS JOIN routing_decisions d
WHERE d.request_id = f.request_id AND f.ts >= $1 AND d.ts >= $1 AND d.ts < $2 AND d.endpoint <> 'rejected'
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

/// Decodes one row of [`FEEDBACK_SUMMARY`].
pub(crate) fn feedback_row<R>(row: &R) -> Result<FeedbackRow, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(FeedbackRow {
        class: class_column(row.try_get(0)?, "routing_decisions.effective_class")?,
        route: row.try_get(1)?,
        metric: row.try_get(2)?,
        count: row.try_get(3)?,
        mean: row.try_get(4)?,
    })
}

/// One shadow sample: how far a twin agreed with the answer of `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualitySample {
    /// The agent's decision.
    pub request_id: String,
    /// The twin's own decision.
    pub twin_request_id: String,
    /// Where the twin ran: `local/<model>` or `frontier/<provider>/<model>`.
    pub twin_route: String,
    /// Agreement, 0 to 1.
    pub score: f64,
    /// `exact`, `json_fields` or `token_f1`.
    pub method: &'static str,
    /// When it was measured.
    pub ts: DateTime<Utc>,
}

/// Stores one shadow sample; a second sample of the same request and twin route is ignored.
pub(crate) const INSERT_SAMPLE: &str = "\
INSERT INTO quality_samples (request_id, twin_request_id, twin_route, score, method, ts)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id, twin_route) DO NOTHING";

/// Agreement per class and route of the decisions made in `[$1, $2)`, driven from the samples
/// (twins run after their decisions) as [`FEEDBACK_SUMMARY`] is from the ratings.
pub(crate) const AGREEMENT_SUMMARY: &str = "\
SELECT d.effective_class,
    CASE d.endpoint WHEN 'local' THEN 'local/' || coalesce(d.model, '')
        ELSE 'frontier/' || coalesce(d.provider, '') || '/' || coalesce(d.model, '') END,
    CAST(count(*) AS BIGINT), CAST(avg(s.score) AS DOUBLE PRECISION),
    CAST(avg(s.score * s.score) AS DOUBLE PRECISION)
FROM quality_samples s CROSS JOIN routing_decisions d
WHERE d.request_id = s.request_id AND s.ts >= $1 AND d.ts >= $1 AND d.ts < $2 AND d.endpoint <> 'rejected'
GROUP BY 1, 2 ORDER BY 1, 2";

/// Decodes one row of [`AGREEMENT_SUMMARY`].
pub(crate) fn agreement_row<R>(row: &R) -> Result<AgreementRow, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(AgreementRow {
        class: class_column(row.try_get(0)?, "routing_decisions.effective_class")?,
        route: row.try_get(1)?,
        n: row.try_get(2)?,
        mean: row.try_get(3)?,
        mean_square: row.try_get(4)?,
    })
}

/// Agents' frontier requests under `$2` estimated tokens since `$1`, per class: count and cost
/// (shadow twins are quality spend and not counted).
pub(crate) const FRONTIER_UNDER: &str = "\
SELECT effective_class, CAST(count(*) AS BIGINT), CAST(coalesce(sum(cost_usd), 0) AS DOUBLE PRECISION)
FROM routing_decisions
WHERE ts >= $1 AND endpoint = 'frontier' AND est_tokens < $2 AND agent NOT LIKE 'shadow:%'
GROUP BY 1 ORDER BY 1";

/// Agreement of local twins with frontier answers under `$2` estimated tokens since `$1`, per class.
pub(crate) const AGREEMENT_UNDER: &str = "\
SELECT d.effective_class, 'frontier', CAST(count(*) AS BIGINT), CAST(avg(s.score) AS DOUBLE PRECISION),
    CAST(avg(s.score * s.score) AS DOUBLE PRECISION)
FROM quality_samples s CROSS JOIN routing_decisions d
WHERE d.request_id = s.request_id AND s.ts >= $1 AND d.ts >= $1 AND d.endpoint = 'frontier' AND d.est_tokens < $2
    AND s.twin_route LIKE 'local/%'
GROUP BY 1 ORDER BY 1";

/// Decodes one row of [`FRONTIER_UNDER`] (class, requests, cost).
pub(crate) fn frontier_under_row<R>(row: &R) -> Result<(TaskClass, i64, f64), StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let class = class_column(row.try_get(0)?, "routing_decisions.effective_class")?;
    Ok((class, row.try_get(1)?, row.try_get(2)?))
}

/// Joins the per-class counts and agreements of one threshold.
pub(crate) fn threshold_evidence(
    costs: Vec<(TaskClass, i64, f64)>,
    agreements: Vec<AgreementRow>,
) -> Vec<ThresholdEvidence> {
    costs
        .into_iter()
        .map(|(class, requests, cost_usd)| ThresholdEvidence {
            class,
            requests,
            cost_usd,
            agreement: agreements.iter().find(|a| a.class == class).cloned(),
        })
        .collect()
}

/// A task class read from `column`; a name no class has is a corrupt row.
fn class_column(name: String, column: &'static str) -> Result<TaskClass, StoreError> {
    name.parse()
        .map_err(|_| StoreError::corrupt(column, format!("`{name}`")))
}
