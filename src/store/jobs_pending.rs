//! Scaffolding while the backends' batch-job queries are written: every call fails. Removed by
//! the store work that replaces it.

use chrono::{DateTime, Utc};

use super::jobs::*;
use super::{PgStore, SqliteStore, StoreError};

fn pending<T>() -> Result<T, StoreError> {
    Err(StoreError::Query("batch jobs are not in this store yet".into()))
}

#[allow(unused_variables)]
impl PgStore {
    pub(crate) async fn create_batch_file(&self, file: &BatchFileRow) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn batch_file(&self, id: &str) -> Result<Option<BatchFileRow>, StoreError> {
        pending()
    }
    pub(crate) async fn create_batch(&self, batch: &NewBatch, jobs: &[NewJob]) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn batch(&self, id: &str) -> Result<Option<BatchRow>, StoreError> {
        pending()
    }
    pub(crate) async fn batches(
        &self,
        agent: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError> {
        pending()
    }
    pub(crate) async fn claim_jobs(
        &self,
        router_id: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        pending()
    }
    pub(crate) async fn renew_job_leases(
        &self,
        router_id: &str,
        job_ids: &[i64],
        lease_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        pending()
    }
    pub(crate) async fn finish_job(
        &self,
        job_id: i64,
        router_id: &str,
        outcome: &JobOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        pending()
    }
    pub(crate) async fn set_job_target(&self, job_id: i64, router_id: &str, target: &str) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn running_jobs_by_target(&self) -> Result<Vec<(String, i64)>, StoreError> {
        pending()
    }
    pub(crate) async fn record_job_runs(&self, runs: &[JobRunRow]) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn job_runs(&self, batch_id: &str) -> Result<Vec<JobRunRow>, StoreError> {
        pending()
    }
    pub(crate) async fn recent_job_failures(&self, limit: u32) -> Result<Vec<JobRunRow>, StoreError> {
        pending()
    }
    pub(crate) async fn advance_batches(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        pending()
    }
    pub(crate) async fn cancel_batch(&self, id: &str, now: DateTime<Utc>) -> Result<BatchRow, StoreError> {
        pending()
    }
    pub(crate) async fn set_batch_paused(&self, id: &str, paused: bool) -> Result<BatchRow, StoreError> {
        pending()
    }
    pub(crate) async fn retry_failed_jobs(&self, id: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        pending()
    }
    pub(crate) async fn job_results(&self, batch_id: &str, errors: bool) -> Result<Vec<JobResultRow>, StoreError> {
        pending()
    }
    pub(crate) async fn job_queue_depth(&self) -> Result<Vec<ClassDepth>, StoreError> {
        pending()
    }
    pub(crate) async fn purge_job_payloads(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError> {
        pending()
    }
}

#[allow(unused_variables)]
impl SqliteStore {
    pub(crate) async fn create_batch_file(&self, file: &BatchFileRow) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn batch_file(&self, id: &str) -> Result<Option<BatchFileRow>, StoreError> {
        pending()
    }
    pub(crate) async fn create_batch(&self, batch: &NewBatch, jobs: &[NewJob]) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn batch(&self, id: &str) -> Result<Option<BatchRow>, StoreError> {
        pending()
    }
    pub(crate) async fn batches(
        &self,
        agent: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BatchRow>, StoreError> {
        pending()
    }
    pub(crate) async fn claim_jobs(
        &self,
        router_id: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        pending()
    }
    pub(crate) async fn renew_job_leases(
        &self,
        router_id: &str,
        job_ids: &[i64],
        lease_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        pending()
    }
    pub(crate) async fn finish_job(
        &self,
        job_id: i64,
        router_id: &str,
        outcome: &JobOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        pending()
    }
    pub(crate) async fn set_job_target(&self, job_id: i64, router_id: &str, target: &str) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn running_jobs_by_target(&self) -> Result<Vec<(String, i64)>, StoreError> {
        pending()
    }
    pub(crate) async fn record_job_runs(&self, runs: &[JobRunRow]) -> Result<(), StoreError> {
        pending()
    }
    pub(crate) async fn job_runs(&self, batch_id: &str) -> Result<Vec<JobRunRow>, StoreError> {
        pending()
    }
    pub(crate) async fn recent_job_failures(&self, limit: u32) -> Result<Vec<JobRunRow>, StoreError> {
        pending()
    }
    pub(crate) async fn advance_batches(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        pending()
    }
    pub(crate) async fn cancel_batch(&self, id: &str, now: DateTime<Utc>) -> Result<BatchRow, StoreError> {
        pending()
    }
    pub(crate) async fn set_batch_paused(&self, id: &str, paused: bool) -> Result<BatchRow, StoreError> {
        pending()
    }
    pub(crate) async fn retry_failed_jobs(&self, id: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        pending()
    }
    pub(crate) async fn job_results(&self, batch_id: &str, errors: bool) -> Result<Vec<JobResultRow>, StoreError> {
        pending()
    }
    pub(crate) async fn job_queue_depth(&self) -> Result<Vec<ClassDepth>, StoreError> {
        pending()
    }
    pub(crate) async fn purge_job_payloads(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError> {
        pending()
    }
}
