//! OpenAI's `File` and `Batch` objects and their list page, built from the store's rows, with
//! times in Unix seconds as OpenAI gives them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ResultFile, result_file_id};
use crate::store::{BatchFileRow, BatchRow, BatchStatus};

/// OpenAI's `File` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileObject {
    /// `file-…`.
    pub id: String,
    /// Always `file`.
    pub object: String,
    /// Size of the file in bytes.
    pub bytes: i64,
    /// When it was made.
    pub created_at: i64,
    /// Its name.
    pub filename: String,
    /// `batch` for inputs, `batch_output` for output and error files.
    pub purpose: String,
    /// Always `processed` (OpenAI keeps it for old clients).
    pub status: String,
    /// When it will be deleted, when known.
    pub expires_at: Option<i64>,
    /// Always null.
    pub status_details: Option<String>,
}

/// `errors` of a batch whose input was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchErrors {
    /// Always `list`.
    pub object: String,
    /// OpenAI's `BatchError`s: `code`, `message`, `param`, `line`.
    pub data: serde_json::Value,
}

/// OpenAI's `request_counts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Requests in the batch.
    pub total: i64,
    /// Requests that ended with a result.
    pub completed: i64,
    /// Requests that ended in the error file.
    pub failed: i64,
}

/// OpenAI's `Batch` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchObject {
    /// `batch_…`.
    pub id: String,
    /// Always `batch`.
    pub object: String,
    /// The endpoint every line calls.
    pub endpoint: String,
    /// Why the input was refused, or null.
    pub errors: Option<BatchErrors>,
    /// The input file.
    pub input_file_id: String,
    /// As the client asked, e.g. `24h`.
    pub completion_window: String,
    /// `validating`, `failed`, `in_progress`, `finalizing`, `completed`, `expired`, `cancelling`, `cancelled`.
    pub status: String,
    /// The file of succeeded requests, once the batch ended with some.
    pub output_file_id: Option<String>,
    /// The file of failed, expired and cancelled requests, once the batch ended with some.
    pub error_file_id: Option<String>,
    /// When it was created.
    pub created_at: i64,
    /// When it started running.
    pub in_progress_at: Option<i64>,
    /// When its window ends.
    pub expires_at: Option<i64>,
    /// When it began finalizing.
    pub finalizing_at: Option<i64>,
    /// When it completed.
    pub completed_at: Option<i64>,
    /// When its input was refused.
    pub failed_at: Option<i64>,
    /// When its window ended with work left.
    pub expired_at: Option<i64>,
    /// When cancel was asked.
    pub cancelling_at: Option<i64>,
    /// When it was cancelled.
    pub cancelled_at: Option<i64>,
    /// Its requests by outcome.
    pub request_counts: RequestCounts,
    /// The client's metadata, or null.
    pub metadata: Option<serde_json::Value>,
}

/// A page of a list, as OpenAI pages them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListPage<T> {
    /// Always `list`.
    pub object: String,
    /// The objects, newest first.
    pub data: Vec<T>,
    /// Id of the first object, when there is one.
    pub first_id: Option<String>,
    /// Id of the last object: the `after` of the next page.
    pub last_id: Option<String>,
    /// Whether another page follows.
    pub has_more: bool,
}

/// The `File` object of an uploaded input file.
pub fn input_file(row: &BatchFileRow) -> FileObject {
    FileObject {
        id: row.id.clone(),
        object: "file".into(),
        bytes: row.bytes,
        created_at: row.created_at.timestamp(),
        filename: row.filename.clone(),
        purpose: "batch".into(),
        status: "processed".into(),
        expires_at: None,
        status_details: None,
    }
}

/// The `File` object of a batch's output or error file, `bytes` long.
pub fn result_file(batch: &BatchRow, kind: ResultFile, bytes: usize) -> FileObject {
    let name = match kind {
        ResultFile::Output => "output",
        ResultFile::Errors => "error",
    };
    let made = [
        batch.finalizing_at,
        batch.completed_at,
        batch.expired_at,
        batch.cancelled_at,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(batch.created_at);
    FileObject {
        id: result_file_id(&batch.id, kind),
        object: "file".into(),
        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        created_at: made.timestamp(),
        filename: format!("{}_{name}.jsonl", batch.id),
        purpose: "batch_output".into(),
        status: "processed".into(),
        expires_at: None,
        status_details: None,
    }
}

/// The id of `batch`'s output or error file, when it has one to read: the batch is finalizing
/// or ended, and has requests of that kind.
pub fn result_file_of(batch: &BatchRow, kind: ResultFile) -> Option<String> {
    let ended = matches!(
        batch.status,
        BatchStatus::Finalizing | BatchStatus::Completed | BatchStatus::Expired | BatchStatus::Cancelled
    );
    let lines = match kind {
        ResultFile::Output => batch.counts.completed,
        ResultFile::Errors => batch.counts.failed,
    };
    (ended && lines > 0).then(|| result_file_id(&batch.id, kind))
}

/// The `Batch` object of a stored batch.
pub fn batch(row: &BatchRow) -> BatchObject {
    let secs = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    BatchObject {
        id: row.id.clone(),
        object: "batch".into(),
        endpoint: row.endpoint.clone(),
        errors: row.errors.clone().map(|data| BatchErrors {
            object: "list".into(),
            data,
        }),
        input_file_id: row.input_file_id.clone(),
        completion_window: row.completion_window.clone(),
        status: row.status.as_str().into(),
        output_file_id: result_file_of(row, ResultFile::Output),
        error_file_id: result_file_of(row, ResultFile::Errors),
        created_at: row.created_at.timestamp(),
        in_progress_at: secs(row.in_progress_at),
        expires_at: Some(row.expires_at.timestamp()),
        finalizing_at: secs(row.finalizing_at),
        completed_at: secs(row.completed_at),
        failed_at: secs(row.failed_at),
        expired_at: secs(row.expired_at),
        cancelling_at: secs(row.cancelling_at),
        cancelled_at: secs(row.cancelled_at),
        request_counts: RequestCounts {
            total: row.counts.total,
            completed: row.counts.completed,
            failed: row.counts.failed,
        },
        metadata: row.metadata.clone(),
    }
}

/// A page of batches from up to `limit + 1` rows read newest first (the extra row only says
/// that more follow).
pub fn batch_page(mut rows: Vec<BatchRow>, limit: usize) -> ListPage<BatchObject> {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let data: Vec<BatchObject> = rows.iter().map(batch).collect();
    ListPage {
        object: "list".into(),
        first_id: data.first().map(|b| b.id.clone()),
        last_id: data.last().map(|b| b.id.clone()),
        has_more,
        data,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::JobCounts;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn row(status: BatchStatus, completed: i64, failed: i64) -> BatchRow {
        BatchRow {
            id: "batch_abc".into(),
            agent: "ticket-classifier".into(),
            input_file_id: "file-in1".into(),
            endpoint: "/v1/chat/completions".into(),
            completion_window: "24h".into(),
            status,
            paused: false,
            created_at: at(1_700_000_000),
            expires_at: at(1_700_086_400),
            in_progress_at: Some(at(1_700_000_001)),
            finalizing_at: None,
            completed_at: None,
            failed_at: None,
            expired_at: None,
            cancelling_at: None,
            cancelled_at: None,
            metadata: Some(serde_json::json!({"run": "nightly"})),
            errors: None,
            counts: JobCounts {
                total: 3,
                completed,
                failed,
                queued: 3 - completed - failed,
                running: 0,
            },
        }
    }

    #[test]
    fn a_running_batch_has_every_openai_field_and_no_result_files_yet() {
        let json = serde_json::to_value(batch(&row(BatchStatus::InProgress, 1, 1))).unwrap();
        insta::assert_snapshot!(serde_json::to_string_pretty(&json).unwrap(), @r#"
        {
          "cancelled_at": null,
          "cancelling_at": null,
          "completed_at": null,
          "completion_window": "24h",
          "created_at": 1700000000,
          "endpoint": "/v1/chat/completions",
          "error_file_id": null,
          "errors": null,
          "expired_at": null,
          "expires_at": 1700086400,
          "failed_at": null,
          "finalizing_at": null,
          "id": "batch_abc",
          "in_progress_at": 1700000001,
          "input_file_id": "file-in1",
          "metadata": {
            "run": "nightly"
          },
          "object": "batch",
          "output_file_id": null,
          "request_counts": {
            "completed": 1,
            "failed": 1,
            "total": 3
          },
          "status": "in_progress"
        }
        "#);
    }

    #[test]
    fn an_ended_batch_names_the_files_it_has_lines_for() {
        let mut done = row(BatchStatus::Completed, 2, 0);
        done.finalizing_at = Some(at(1_700_000_050));
        done.completed_at = Some(at(1_700_000_060));
        let object = batch(&done);
        assert_eq!(object.output_file_id.as_deref(), Some("file-out-abc"));
        assert_eq!(object.error_file_id, None, "no failed request, no error file");
        assert_eq!(
            (object.finalizing_at, object.completed_at),
            (Some(1_700_000_050), Some(1_700_000_060))
        );
        let expired = batch(&row(BatchStatus::Expired, 0, 3));
        assert_eq!(expired.output_file_id, None);
        assert_eq!(expired.error_file_id.as_deref(), Some("file-err-abc"));
        let cancelling = batch(&row(BatchStatus::Cancelling, 1, 1));
        assert_eq!((cancelling.output_file_id, cancelling.error_file_id), (None, None));
    }

    #[test]
    fn a_refused_batch_lists_its_errors() {
        let mut failed = row(BatchStatus::Failed, 0, 0);
        failed.errors =
            Some(serde_json::json!([{"code": "invalid_json_line", "message": "m", "param": null, "line": 2}]));
        let json = serde_json::to_value(batch(&failed)).unwrap();
        assert_eq!(json["errors"]["object"], "list");
        assert_eq!(json["errors"]["data"][0]["line"], 2);
    }

    #[test]
    fn files_are_openai_file_objects() {
        let upload = BatchFileRow {
            id: "file-in1".into(),
            agent: "a".into(),
            filename: "tickets.jsonl".into(),
            bytes: 1234,
            lines: 3,
            created_at: at(1_700_000_000),
            content: None,
        };
        insta::assert_snapshot!(serde_json::to_string_pretty(&input_file(&upload)).unwrap(), @r#"
        {
          "id": "file-in1",
          "object": "file",
          "bytes": 1234,
          "created_at": 1700000000,
          "filename": "tickets.jsonl",
          "purpose": "batch",
          "status": "processed",
          "expires_at": null,
          "status_details": null
        }
        "#);
        let mut done = row(BatchStatus::Completed, 3, 0);
        done.completed_at = Some(at(1_700_000_090));
        done.finalizing_at = Some(at(1_700_000_080));
        let output = result_file(&done, ResultFile::Output, 99);
        assert_eq!(
            (
                output.id.as_str(),
                output.purpose.as_str(),
                output.bytes,
                output.created_at
            ),
            ("file-out-abc", "batch_output", 99, 1_700_000_080)
        );
        assert_eq!(output.filename, "batch_abc_output.jsonl");
        assert_eq!(
            result_file(&done, ResultFile::Errors, 0).filename,
            "batch_abc_error.jsonl"
        );
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let rows = |n: usize| -> Vec<BatchRow> {
            (0..n)
                .map(|i| BatchRow {
                    id: format!("batch_{i}"),
                    ..row(BatchStatus::InProgress, 0, 0)
                })
                .collect()
        };
        let page = batch_page(rows(3), 2);
        assert!(page.has_more);
        assert_eq!(page.data.len(), 2);
        assert_eq!(
            (page.first_id.as_deref(), page.last_id.as_deref()),
            (Some("batch_0"), Some("batch_1"))
        );
        let last = batch_page(rows(2), 2);
        assert!(!last.has_more);
        let empty = batch_page(Vec::new(), 20);
        assert_eq!((&empty.first_id, &empty.last_id, empty.has_more), (&None, &None, false));
        assert_eq!(serde_json::to_value(&empty).unwrap()["object"], "list");
    }
}
