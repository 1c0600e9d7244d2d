//! Batch jobs in the store: uploaded files, batches, one job per input line, and every attempt.
//!
//! Payloads (request bodies, results, input files) arrive and leave sealed: the store never sees
//! their text, only the sealed bytes the jobs module made of it.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A file uploaded with `purpose=batch`. Output and error files are not rows: they are read from
/// the jobs of their batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchFileRow {
    /// `file-…`.
    pub id: String,
    /// The agent that uploaded it; only it may read it.
    pub agent: String,
    /// The name the client gave the file.
    pub filename: String,
    /// Size of the plain file in bytes.
    pub bytes: i64,
    /// Lines (requests) in the file.
    pub lines: i64,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// The sealed file; `None` once retention removed it.
    pub content: Option<Vec<u8>>,
}

/// Where a batch is in OpenAI's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// The input is being checked.
    Validating,
    /// The input was refused; `errors` says why.
    Failed,
    /// Jobs are queued or running.
    InProgress,
    /// The last jobs finished; the output is being gathered.
    Finalizing,
    /// Every job ended.
    Completed,
    /// The completion window ended first; what was left went to the error file.
    Expired,
    /// Cancel was asked; running jobs are finishing.
    Cancelling,
    /// Cancelled; nothing runs any more.
    Cancelled,
}

impl BatchStatus {
    /// The status as stored and as OpenAI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Validating => "validating",
            BatchStatus::Failed => "failed",
            BatchStatus::InProgress => "in_progress",
            BatchStatus::Finalizing => "finalizing",
            BatchStatus::Completed => "completed",
            BatchStatus::Expired => "expired",
            BatchStatus::Cancelling => "cancelling",
            BatchStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored status.
    pub fn parse(text: &str) -> Option<BatchStatus> {
        Some(match text {
            "validating" => BatchStatus::Validating,
            "failed" => BatchStatus::Failed,
            "in_progress" => BatchStatus::InProgress,
            "finalizing" => BatchStatus::Finalizing,
            "completed" => BatchStatus::Completed,
            "expired" => BatchStatus::Expired,
            "cancelling" => BatchStatus::Cancelling,
            "cancelled" => BatchStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether nothing will run for the batch any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BatchStatus::Failed | BatchStatus::Completed | BatchStatus::Expired | BatchStatus::Cancelled
        )
    }
}

/// A batch to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBatch {
    /// `batch_…`.
    pub id: String,
    /// The agent that created it.
    pub agent: String,
    /// The input file.
    pub input_file_id: String,
    /// Always `/v1/chat/completions` today.
    pub endpoint: String,
    /// As the client gave it, e.g. `24h`.
    pub completion_window: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the completion window ends.
    pub expires_at: DateTime<Utc>,
    /// The client's metadata object, if any.
    pub metadata: Option<serde_json::Value>,
    /// `InProgress` with jobs, or `Failed` with `errors` and no jobs.
    pub status: BatchStatus,
    /// OpenAI's `errors.data` list when the input was refused (`code`, `message`, `line`).
    pub errors: Option<serde_json::Value>,
}

/// One line of a batch's input, to be queued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// 1-based line in the input file.
    pub line: i64,
    /// The client's id for the line; unique in the batch.
    pub custom_id: String,
    /// The task class the line asked for (its `model`).
    pub class: String,
    /// The sealed request body.
    pub request: Vec<u8>,
}

/// Counts of a batch's jobs, as OpenAI's `request_counts` and a little more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    /// Jobs in the batch.
    pub total: i64,
    /// Jobs that ended with a result.
    pub completed: i64,
    /// Jobs that ended in the error file (failed, expired, cancelled).
    pub failed: i64,
    /// Jobs waiting to run (including those backing off before a retry).
    pub queued: i64,
    /// Jobs running now.
    pub running: i64,
}

/// A batch as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRow {
    /// `batch_…`.
    pub id: String,
    /// The agent that created it.
    pub agent: String,
    /// The input file.
    pub input_file_id: String,
    /// The endpoint every line calls.
    pub endpoint: String,
    /// As the client gave it.
    pub completion_window: String,
    /// The life-cycle status.
    pub status: BatchStatus,
    /// Whether an operator paused it (its queued jobs are not claimed).
    pub paused: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its window ends.
    pub expires_at: DateTime<Utc>,
    /// When it started running.
    pub in_progress_at: Option<DateTime<Utc>>,
    /// When it began finalizing.
    pub finalizing_at: Option<DateTime<Utc>>,
    /// When it completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// When its input was refused.
    pub failed_at: Option<DateTime<Utc>>,
    /// When its window ended with work left.
    pub expired_at: Option<DateTime<Utc>>,
    /// When cancel was asked.
    pub cancelling_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The client's metadata.
    pub metadata: Option<serde_json::Value>,
    /// OpenAI's `errors.data` list when the input was refused.
    pub errors: Option<serde_json::Value>,
    /// Its jobs, by state.
    pub counts: JobCounts,
}

/// A job a worker claimed: it holds the lease until `lease_until` unless renewed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    /// Job id.
    pub id: i64,
    /// Its batch.
    pub batch_id: String,
    /// The batch's agent.
    pub agent: String,
    /// 1-based input line.
    pub line: i64,
    /// The client's id for the line.
    pub custom_id: String,
    /// The task class.
    pub class: String,
    /// Attempts so far, this one included.
    pub attempt: i32,
    /// The sealed request body.
    pub request: Vec<u8>,
    /// When the lease runs out.
    pub lease_until: DateTime<Utc>,
}

/// How an attempt ended, for [`crate::store::Store::finish_job`].
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// The job is done: its sealed result goes to the output file.
    Succeeded {
        /// HTTP status of the answer.
        status_code: i32,
        /// The sealed response body.
        result: Vec<u8>,
    },
    /// The job failed for good: its sealed error body goes to the error file.
    Failed {
        /// HTTP status of the error.
        status_code: i32,
        /// The error's code.
        error_code: String,
        /// The sealed error body.
        result: Vec<u8>,
    },
    /// The job goes back to the queue, not to be claimed before `not_before`.
    Retry {
        /// The earliest next claim.
        not_before: DateTime<Utc>,
        /// Why this attempt failed.
        error_code: String,
    },
    /// The job goes back to the queue without counting this attempt: no slot was free after all,
    /// or (with `not_before`) today's frontier budget is spent.
    Release {
        /// The earliest next claim, when it must wait.
        not_before: Option<DateTime<Utc>>,
    },
}

/// One ended attempt as a worker hands it to the store: the job's next state, and the attempt's
/// run row when something was tried.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEnd {
    /// The job.
    pub job_id: i64,
    /// What becomes of it.
    pub outcome: JobOutcome,
    /// The attempt's run row, when something was tried.
    pub run: Option<JobRunRow>,
}

/// One attempt at a job, never with text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRunRow {
    /// The job.
    pub job_id: i64,
    /// Its batch.
    pub batch_id: String,
    /// Which attempt, from 1.
    pub attempt: i32,
    /// The router that ran it.
    pub router_id: String,
    /// `mini-03` or a provider name; `None` when nothing was tried.
    pub target: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while it runs.
    pub ended_at: Option<DateTime<Utc>>,
    /// `ok`, `retry`, `failed`, `expired`, `cancelled`, or `lost` (its router died).
    pub outcome: String,
    /// HTTP status of the attempt.
    pub status_code: Option<i32>,
    /// Error code, when it failed.
    pub error_code: Option<String>,
    /// Input tokens.
    pub prompt_tokens: i64,
    /// Output tokens.
    pub completion_tokens: i64,
    /// Frontier cost in USD.
    pub cost_usd: f64,
    /// The routing decision of the attempt (`request_id`), when one was made.
    pub request_id: Option<String>,
}

/// One job's entry in a batch's output or error file.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResultRow {
    /// Job id.
    pub job_id: i64,
    /// 1-based input line.
    pub line: i64,
    /// The client's id for the line.
    pub custom_id: String,
    /// `succeeded`, `failed`, `expired` or `cancelled`.
    pub state: String,
    /// HTTP status of the last attempt.
    pub status_code: Option<i32>,
    /// Error code of a job that did not succeed (`batch_expired`, `batch_cancelled`, …).
    pub error_code: Option<String>,
    /// The sealed body; `None` for expired and cancelled jobs, and once retention removed it.
    pub result: Option<Vec<u8>>,
}

/// Queue depth of one task class, over every batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassDepth {
    /// The task class.
    pub class: String,
    /// Jobs waiting.
    pub queued: i64,
    /// Jobs running.
    pub running: i64,
}
