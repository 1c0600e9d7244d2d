//! The Jobs view's figures as plain data: batches, queue depth, running attempts and recent
//! failures as last read from the store, each batch's throughput from successive reads, and what
//! follows from it (ETA). Pure: the source reads, [`super::update`] records, views draw.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};

use crate::store::{BatchRow, ClassDepth, JobRunRow};

/// How far back throughput looks.
pub const THROUGHPUT_WINDOW: TimeDelta = TimeDelta::minutes(5);
/// Reads kept per batch at most (a read every two seconds fills the window with 150).
const MAX_SAMPLES: usize = 200;

/// One read of the store's batch jobs, as the source sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsRead {
    /// When it was read.
    pub at: DateTime<Utc>,
    /// The newest batches, newest first.
    pub batches: Vec<BatchRow>,
    /// Queued and running jobs per task class.
    pub depth: Vec<ClassDepth>,
    /// Running attempts per node or provider.
    pub running: Vec<(String, i64)>,
    /// The newest failed attempts, newest first.
    pub failures: Vec<JobRunRow>,
}

/// Failed attempts sharing an error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureGroup {
    /// The error code (or the outcome, for attempts without one, e.g. `lost`).
    pub code: String,
    /// Attempts among those read.
    pub count: usize,
    /// When the newest of them ended (or started, if it has no end).
    pub newest: DateTime<Utc>,
}

/// What the Jobs view shows, from the last read.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsBoard {
    /// When it was read.
    pub read_at: DateTime<Utc>,
    /// The newest batches, newest first.
    pub batches: Vec<BatchRow>,
    /// Queued and running jobs per task class.
    pub depth: Vec<ClassDepth>,
    /// Running attempts per node or provider, busiest first.
    pub running: Vec<(String, i64)>,
    /// Recent failures by error code, newest first.
    pub failures: Vec<FailureGroup>,
    /// How many failed attempts the groups were made of.
    pub failures_read: usize,
}

impl JobsBoard {
    /// The board for one read.
    pub fn new(read: JobsRead) -> Self {
        let mut running = read.running;
        running.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        JobsBoard {
            read_at: read.at,
            failures: failure_groups(&read.failures),
            failures_read: read.failures.len(),
            batches: read.batches,
            depth: read.depth,
            running,
        }
    }

    /// Attempts running on `target` (a node or a provider).
    pub fn running_on(&self, target: &str) -> i64 {
        self.running.iter().find(|(t, _)| t == target).map_or(0, |(_, n)| *n)
    }

    /// Jobs queued over every class.
    pub fn queued(&self) -> i64 {
        self.depth.iter().map(|d| d.queued).sum()
    }

    /// Attempts running over every target.
    pub fn running_total(&self) -> i64 {
        self.running.iter().map(|(_, n)| *n).sum()
    }
}

/// Groups failed attempts by error code, newest group first.
pub fn failure_groups(failures: &[JobRunRow]) -> Vec<FailureGroup> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    for run in failures {
        let code = run.error_code.as_deref().unwrap_or(run.outcome.as_str());
        let at = run.ended_at.unwrap_or(run.started_at);
        match groups.iter_mut().find(|g| g.code == code) {
            Some(group) => {
                group.count += 1;
                group.newest = group.newest.max(at);
            }
            None => groups.push(FailureGroup {
                code: code.to_string(),
                count: 1,
                newest: at,
            }),
        }
    }
    groups.sort_by(|a, b| b.newest.cmp(&a.newest).then_with(|| b.count.cmp(&a.count)));
    groups
}

/// Jobs a batch has finished (with a result or in its error file).
pub fn ended(batch: &BatchRow) -> i64 {
    batch.counts.completed + batch.counts.failed
}

/// Jobs a batch has yet to finish.
pub fn remaining(batch: &BatchRow) -> i64 {
    (batch.counts.total - ended(batch)).max(0)
}

/// Each running batch's finished-job count over the last [`THROUGHPUT_WINDOW`], read by read.
/// Bounded: batches no longer read are forgotten, and each keeps at most a window of reads.
#[derive(Debug, Clone, Default)]
pub struct BatchRates {
    batches: HashMap<String, VecDeque<(DateTime<Utc>, i64)>>,
}

impl BatchRates {
    /// Records one read of `batches` taken at `at`.
    pub fn record(&mut self, at: DateTime<Utc>, batches: &[BatchRow]) {
        self.batches
            .retain(|id, _| batches.iter().any(|b| &b.id == id && !b.status.is_terminal()));
        for batch in batches.iter().filter(|b| !b.status.is_terminal()) {
            let done = ended(batch);
            let samples = self.batches.entry(batch.id.clone()).or_default();
            // Fewer finished jobs than before: failed jobs were queued again; start over.
            if samples.back().is_some_and(|&(t, d)| d > done || t > at) {
                samples.clear();
            }
            if samples.back().is_some_and(|&(t, _)| t == at) {
                samples.pop_back();
            }
            samples.push_back((at, done));
            while samples.len() > MAX_SAMPLES || samples.front().is_some_and(|&(t, _)| t < at - THROUGHPUT_WINDOW) {
                samples.pop_front();
            }
        }
    }

    /// Jobs finished per minute by batch `id` over the reads kept; `None` before two reads.
    pub fn per_minute(&self, id: &str) -> Option<f64> {
        let samples = self.batches.get(id)?;
        let (&(first_at, first), &(last_at, last)) = (samples.front()?, samples.back()?);
        let seconds = (last_at - first_at).num_milliseconds() as f64 / 1000.0;
        (seconds > 0.0).then(|| (last - first) as f64 * 60.0 / seconds)
    }
}

/// How long `remaining` jobs take at `per_minute`; `None` with nothing left or no progress.
pub fn eta(remaining: i64, per_minute: Option<f64>) -> Option<TimeDelta> {
    let rate = per_minute.filter(|r| *r > 0.0)?;
    if remaining <= 0 {
        return None;
    }
    let seconds = (remaining as f64 * 60.0 / rate).ceil();
    TimeDelta::try_seconds(seconds.min(i64::MAX as f64 / 1000.0) as i64)
}

/// A running batch of `total` jobs created ten minutes before 2026-11-25 12:00 UTC, for tests.
#[cfg(test)]
pub(crate) fn test_batch(id: &str, completed: i64, failed: i64, total: i64) -> BatchRow {
    let t = |seconds: i64| "2026-11-25T12:00:00Z".parse::<DateTime<Utc>>().expect("time") + TimeDelta::seconds(seconds);
    BatchRow {
        id: id.into(),
        agent: "ticket-classifier".into(),
        input_file_id: "file-1".into(),
        endpoint: "/v1/chat/completions".into(),
        completion_window: "24h".into(),
        status: crate::store::BatchStatus::InProgress,
        paused: false,
        created_at: t(-600),
        expires_at: t(86_400 - 600),
        in_progress_at: Some(t(-600)),
        finalizing_at: None,
        completed_at: None,
        failed_at: None,
        expired_at: None,
        cancelling_at: None,
        cancelled_at: None,
        metadata: None,
        errors: None,
        counts: crate::store::JobCounts {
            total,
            completed,
            failed,
            queued: total - completed - failed,
            running: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::BatchStatus;

    fn batch(id: &str, completed: i64, failed: i64, total: i64) -> BatchRow {
        test_batch(id, completed, failed, total)
    }

    fn t(seconds: i64) -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse::<DateTime<Utc>>().expect("time") + TimeDelta::seconds(seconds)
    }

    fn run(code: Option<&str>, outcome: &str, ended: i64) -> JobRunRow {
        JobRunRow {
            job_id: 1,
            batch_id: "batch_a".into(),
            attempt: 1,
            router_id: "r".into(),
            target: Some("mini-01".into()),
            started_at: t(ended - 1),
            ended_at: Some(t(ended)),
            outcome: outcome.into(),
            status_code: None,
            error_code: code.map(String::from),
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            request_id: None,
        }
    }

    #[test]
    fn throughput_is_finished_jobs_per_minute_over_the_reads_kept() {
        let mut rates = BatchRates::default();
        rates.record(t(0), &[batch("a", 100, 0, 2000)]);
        assert_eq!(rates.per_minute("a"), None, "one read says nothing about speed");
        rates.record(t(30), &[batch("a", 130, 5, 2000)]);
        assert_eq!(rates.per_minute("a"), Some(70.0), "35 jobs in 30 s");
        rates.record(t(60), &[batch("a", 160, 5, 2000)]);
        assert_eq!(rates.per_minute("a"), Some(65.0), "65 jobs in the minute");
        rates.record(t(60 + 300), &[batch("a", 160, 5, 2000)]);
        assert_eq!(
            rates.per_minute("a"),
            Some(0.0),
            "reads older than the window are forgotten: it stalled"
        );
    }

    #[test]
    fn a_retry_starts_the_count_over_and_ended_batches_are_forgotten() {
        let mut rates = BatchRates::default();
        rates.record(t(0), &[batch("a", 100, 50, 200)]);
        rates.record(t(10), &[batch("a", 110, 50, 200)]);
        rates.record(t(20), &[batch("a", 115, 0, 200)]);
        assert_eq!(
            rates.per_minute("a"),
            None,
            "failed jobs queued again: no negative rate"
        );
        let mut done = batch("a", 200, 0, 200);
        done.status = BatchStatus::Completed;
        rates.record(t(30), &[done, batch("b", 0, 0, 10)]);
        assert!(!rates.batches.contains_key("a"));
        rates.record(t(40), &[]);
        assert!(rates.batches.is_empty(), "a batch no longer read is dropped");
    }

    #[test]
    fn eta_is_what_is_left_at_the_current_rate() {
        assert_eq!(eta(1000, Some(100.0)), Some(TimeDelta::minutes(10)));
        assert_eq!(eta(7, Some(60.0)), Some(TimeDelta::seconds(7)));
        assert_eq!(eta(1, Some(7.0)), Some(TimeDelta::seconds(9)), "rounded up");
        assert_eq!(eta(1000, Some(0.0)), None, "no progress, no estimate");
        assert_eq!(eta(1000, None), None);
        assert_eq!(eta(0, Some(10.0)), None, "nothing left");
        assert_eq!(remaining(&batch("a", 10, 5, 20)), 5);
    }

    #[test]
    fn failures_group_by_code_newest_first() {
        let groups = failure_groups(&[
            run(Some("timeout"), "retry", 50),
            run(Some("node_down"), "retry", 40),
            run(Some("timeout"), "retry", 30),
            run(None, "lost", 20),
            run(Some("timeout"), "failed", 10),
        ]);
        let summary: Vec<(&str, usize, DateTime<Utc>)> =
            groups.iter().map(|g| (g.code.as_str(), g.count, g.newest)).collect();
        assert_eq!(
            summary,
            [("timeout", 3, t(50)), ("node_down", 1, t(40)), ("lost", 1, t(20))]
        );
    }
}
