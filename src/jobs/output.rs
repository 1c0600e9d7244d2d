//! A batch's output and error files, assembled from its jobs' sealed results as OpenAI writes
//! them: one `BatchRequestOutput` per line,
//! `{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null, "error": {"code", "message"} | null}`.
//!
//! A request that got an answer (a completion, or an upstream error such as a 400) carries it in
//! `response`; one that never ran (expired, cancelled) or failed without an answer carries `error`.

use serde::Serialize;
use serde_json::value::RawValue;

use super::ids::request_line_id;
use super::reply::{JobReply, ReplyError};
use super::seal::Sealer;
use crate::store::JobResultRow;

/// Why a result file cannot be assembled.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Retention already deleted the payloads.
    #[error("the results of {batch_id} were deleted after jobs.retention_hours")]
    Purged {
        /// The batch.
        batch_id: String,
    },
    /// A result does not open.
    #[error("line {line} of {batch_id}: {source}")]
    Unreadable {
        /// The batch.
        batch_id: String,
        /// The input line of the job.
        line: i64,
        /// Why.
        source: ReplyError,
    },
}

#[derive(Serialize)]
struct Line<'a> {
    id: String,
    custom_id: &'a str,
    response: Option<Response<'a>>,
    error: Option<LineFault<'a>>,
}

#[derive(Serialize)]
struct Response<'a> {
    status_code: i32,
    request_id: &'a str,
    body: &'a RawValue,
}

#[derive(Serialize)]
struct LineFault<'a> {
    code: &'a str,
    message: &'static str,
}

/// The JSONL file of `rows` (a batch's output or error entries, by line).
pub fn assemble(batch_id: &str, rows: &[JobResultRow], sealer: &Sealer) -> Result<Vec<u8>, OutputError> {
    let mut out = Vec::new();
    for row in rows {
        write_line(&mut out, batch_id, row, sealer)?;
    }
    Ok(out)
}

/// Appends the line of one job to `out`.
fn write_line(out: &mut Vec<u8>, batch_id: &str, row: &JobResultRow, sealer: &Sealer) -> Result<(), OutputError> {
    let answered = row.state == "succeeded" || (row.state == "failed" && row.result.is_some());
    let reply = match (&row.result, answered) {
        (Some(sealed), true) => Some(
            JobReply::open(sealer, batch_id, &row.custom_id, sealed).map_err(|source| OutputError::Unreadable {
                batch_id: batch_id.to_string(),
                line: row.line,
                source,
            })?,
        ),
        (None, true) => {
            return Err(OutputError::Purged {
                batch_id: batch_id.to_string(),
            });
        }
        (_, false) => None,
    };
    let line = match &reply {
        Some(reply) => Line {
            id: request_line_id(batch_id, row.line),
            custom_id: &row.custom_id,
            response: Some(Response {
                status_code: row.status_code.unwrap_or(200),
                request_id: &reply.request_id,
                body: &reply.body,
            }),
            error: None,
        },
        None => {
            let code = row.error_code.as_deref().unwrap_or(match row.state.as_str() {
                "expired" => "batch_expired",
                "cancelled" => "batch_cancelled",
                _ => "request_failed",
            });
            Line {
                id: request_line_id(batch_id, row.line),
                custom_id: &row.custom_id,
                response: None,
                error: Some(LineFault {
                    code,
                    message: fault_message(code),
                }),
            }
        }
    };
    serde_json::to_writer(&mut *out, &line).unwrap_or_else(|_| unreachable!("a result line always serializes"));
    out.push(b'\n');
    Ok(())
}

/// The fixed message for a request that ended without an answer.
fn fault_message(code: &str) -> &'static str {
    match code {
        "batch_expired" => "This request could not be executed before the completion window expired.",
        "batch_cancelled" => "This request was not executed because the batch was cancelled.",
        "request_timeout" => "The call to the model timed out.",
        _ => "This request failed on every attempt without an answer; see the code.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: i64, state: &str, status: Option<i32>, code: Option<&str>, result: Option<Vec<u8>>) -> JobResultRow {
        JobResultRow {
            job_id: line,
            line,
            custom_id: format!("t-{line}"),
            state: state.into(),
            status_code: status,
            error_code: code.map(str::to_string),
            result,
        }
    }

    fn sealed(sealer: &Sealer, line: i64, body: &str) -> Option<Vec<u8>> {
        let reply = JobReply::new(format!("req-{line}"), body.as_bytes()).unwrap();
        Some(reply.seal(sealer, "batch_abc", &format!("t-{line}")))
    }

    #[test]
    fn output_lines_carry_the_answer_as_openai_writes_them() {
        let (sealer, _) = Sealer::generate();
        let rows = [
            entry(
                1,
                "succeeded",
                Some(200),
                None,
                sealed(&sealer, 1, r#"{"id":"chatcmpl-1","object":"chat.completion"}"#),
            ),
            entry(
                3,
                "succeeded",
                Some(200),
                None,
                sealed(&sealer, 3, r#"{"id":"chatcmpl-3"}"#),
            ),
        ];
        let file = String::from_utf8(assemble("batch_abc", &rows, &sealer).unwrap()).unwrap();
        insta::assert_snapshot!(file, @r#"
        {"id":"batch_req_abc_1","custom_id":"t-1","response":{"status_code":200,"request_id":"req-1","body":{"id":"chatcmpl-1","object":"chat.completion"}},"error":null}
        {"id":"batch_req_abc_3","custom_id":"t-3","response":{"status_code":200,"request_id":"req-3","body":{"id":"chatcmpl-3"}},"error":null}
        "#);
    }

    #[test]
    fn error_lines_carry_the_upstream_answer_or_openai_error_code() {
        let (sealer, _) = Sealer::generate();
        let rows = [
            entry(
                2,
                "failed",
                Some(400),
                Some("invalid_request"),
                sealed(
                    &sealer,
                    2,
                    r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
                ),
            ),
            entry(4, "expired", None, Some("batch_expired"), None),
            entry(5, "cancelled", None, None, None),
            entry(6, "failed", None, Some("request_timeout"), None),
        ];
        let file = String::from_utf8(assemble("batch_abc", &rows, &sealer).unwrap()).unwrap();
        insta::assert_snapshot!(file, @r#"
        {"id":"batch_req_abc_2","custom_id":"t-2","response":{"status_code":400,"request_id":"req-2","body":{"error":{"message":"bad","type":"invalid_request_error"}}},"error":null}
        {"id":"batch_req_abc_4","custom_id":"t-4","response":null,"error":{"code":"batch_expired","message":"This request could not be executed before the completion window expired."}}
        {"id":"batch_req_abc_5","custom_id":"t-5","response":null,"error":{"code":"batch_cancelled","message":"This request was not executed because the batch was cancelled."}}
        {"id":"batch_req_abc_6","custom_id":"t-6","response":null,"error":{"code":"request_timeout","message":"The call to the model timed out."}}
        "#);
    }

    #[test]
    fn purged_or_foreign_results_are_refused_with_the_batch_named() {
        let (sealer, _) = Sealer::generate();
        let purged = [entry(1, "succeeded", Some(200), None, None)];
        let err = assemble("batch_abc", &purged, &sealer).unwrap_err().to_string();
        assert!(
            err.contains("batch_abc") && err.contains("jobs.retention_hours"),
            "{err}"
        );
        let (other, _) = Sealer::generate();
        let foreign = [entry(1, "succeeded", Some(200), None, sealed(&other, 1, "{}"))];
        let err = assemble("batch_abc", &foreign, &sealer).unwrap_err().to_string();
        assert!(err.starts_with("line 1 of batch_abc"), "{err}");
        assert_eq!(assemble("batch_abc", &[], &sealer).unwrap(), b"");
    }
}
