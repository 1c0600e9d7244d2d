//! Queries both backends run with the same SQL and the same binds, written once. Their one
//! dialect difference here is how a time is bound: PostgreSQL binds `timestamptz`, SQLite
//! fixed-width RFC 3339 text. Each backend expands [`shared_queries`] in its own `impl`, naming
//! the function that turns a `DateTime<Utc>` into what it binds.

/// The queries the backends share, as methods of a store with a `pool` field; `$time` turns a
/// `DateTime<Utc>` into the value the backend binds for a timestamp column.
macro_rules! shared_queries {
    ($time:path) => {
        /// Whether the store answers.
        pub(crate) async fn ping(&self) -> Result<(), $crate::store::StoreError> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }

        /// The id after which the newest `count` decisions come (0 when there are no more).
        pub(crate) async fn cursor_before_newest(&self, count: u32) -> Result<i64, $crate::store::StoreError> {
            let id: Option<i64> =
                sqlx::query_scalar("SELECT id FROM routing_decisions ORDER BY id DESC LIMIT 1 OFFSET $1")
                    .bind(i64::from(count))
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(id.unwrap_or(0))
        }

        /// The agent of the decision `request_id`, if it is stored.
        pub(crate) async fn decision_agent(
            &self,
            request_id: &str,
        ) -> Result<Option<String>, $crate::store::StoreError> {
            Ok(sqlx::query_scalar($crate::store::quality::DECISION_AGENT)
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await?)
        }

        /// Stores an agent's rating of a decision; a second rating of the same metric replaces the first.
        pub(crate) async fn record_feedback(
            &self,
            request_id: &str,
            metric: &str,
            value: f64,
            agent: &str,
            at: ::chrono::DateTime<::chrono::Utc>,
        ) -> Result<(), $crate::store::StoreError> {
            sqlx::query($crate::store::quality::UPSERT_FEEDBACK)
                .bind(request_id)
                .bind(metric)
                .bind(value)
                .bind(agent)
                .bind($time(at))
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        /// Ratings per class and route, from the ratings given in `[since, until)`.
        pub(crate) async fn feedback_summary(
            &self,
            since: ::chrono::DateTime<::chrono::Utc>,
            until: ::chrono::DateTime<::chrono::Utc>,
        ) -> Result<Vec<$crate::store::quality::FeedbackRow>, $crate::store::StoreError> {
            let rows = sqlx::query($crate::store::quality::FEEDBACK_SUMMARY)
                .bind($time(since))
                .bind($time(until))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map($crate::store::quality::feedback_row).collect()
        }

        /// Stores the agreement score of a shadow twin.
        pub(crate) async fn record_quality_sample(
            &self,
            sample: &$crate::store::quality::QualitySample,
        ) -> Result<(), $crate::store::StoreError> {
            sqlx::query($crate::store::quality::INSERT_SAMPLE)
                .bind(&sample.request_id)
                .bind(&sample.twin_request_id)
                .bind(&sample.twin_route)
                .bind(sample.score)
                .bind(sample.method)
                .bind($time(sample.ts))
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        /// Shadow agreement per class and route, from the samples taken in `[since, until)`.
        pub(crate) async fn agreement_summary(
            &self,
            since: ::chrono::DateTime<::chrono::Utc>,
            until: ::chrono::DateTime<::chrono::Utc>,
        ) -> Result<Vec<$crate::store::quality::AgreementRow>, $crate::store::StoreError> {
            let rows = sqlx::query($crate::store::quality::AGREEMENT_SUMMARY)
                .bind($time(since))
                .bind($time(until))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map($crate::store::quality::agreement_row).collect()
        }

        /// What moving frontier requests under `under_tokens` local would have saved and how often the farm agreed, since `since`.
        pub(crate) async fn threshold_evidence(
            &self,
            since: ::chrono::DateTime<::chrono::Utc>,
            under_tokens: u64,
        ) -> Result<Vec<$crate::store::quality::ThresholdEvidence>, $crate::store::StoreError> {
            let under = i64::try_from(under_tokens).unwrap_or(i64::MAX);
            let costs = sqlx::query($crate::store::quality::FRONTIER_UNDER)
                .bind($time(since))
                .bind(under)
                .fetch_all(&self.pool)
                .await?;
            let agreements = sqlx::query($crate::store::quality::AGREEMENT_UNDER)
                .bind($time(since))
                .bind(under)
                .fetch_all(&self.pool)
                .await?;
            Ok($crate::store::quality::threshold_evidence(
                costs
                    .iter()
                    .map($crate::store::quality::frontier_under_row)
                    .collect::<Result<_, _>>()?,
                agreements
                    .iter()
                    .map($crate::store::quality::agreement_row)
                    .collect::<Result<_, _>>()?,
            ))
        }

        /// The hourly quality rollups per class and route that cover `[since, until)`.
        pub(crate) async fn quality_summary(
            &self,
            since: ::chrono::DateTime<::chrono::Utc>,
            until: ::chrono::DateTime<::chrono::Utc>,
        ) -> Result<Vec<$crate::store::quality::QualityRow>, $crate::store::StoreError> {
            let rows = sqlx::query($crate::store::quality::QUALITY_SUMMARY)
                .bind($time($crate::store::spend::hour_floor(since)))
                .bind($time($crate::store::spend::hour_ceil(until)))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map($crate::store::quality::quality_row).collect()
        }

        /// The newest policy version (0 before any change).
        pub(crate) async fn policy_version(&self) -> Result<i64, $crate::store::StoreError> {
            let version: i64 = sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM policy_versions")
                .fetch_one(&self.pool)
                .await?;
            Ok(version)
        }

        /// Drops `router_id`'s presence rows, and every row older than `older_than`.
        pub(crate) async fn forget_presence(
            &self,
            router_id: Option<&str>,
            older_than: ::chrono::DateTime<::chrono::Utc>,
        ) -> Result<(), $crate::store::StoreError> {
            sqlx::query("DELETE FROM router_presence WHERE router_id = $1 OR reported_at < $2")
                .bind(router_id)
                .bind($time(older_than))
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        /// Every router whose presence was reported after `live_after`, with its status URL.
        pub(crate) async fn routers(
            &self,
            live_after: ::chrono::DateTime<::chrono::Utc>,
        ) -> Result<Vec<$crate::store::model::RouterEndpoint>, $crate::store::StoreError> {
            let rows: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT router_id, MAX(status_url) FROM router_presence WHERE reported_at > $1 \
                 GROUP BY router_id ORDER BY router_id",
            )
            .bind($time(live_after))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(router_id, status_url)| $crate::store::model::RouterEndpoint {
                    router_id,
                    status_url,
                })
                .collect())
        }
    };
}

pub(crate) use shared_queries;
