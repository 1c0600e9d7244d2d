//! What a finished job's sealed result holds: the routing decision that answered it and the JSON
//! body it answered with (a chat completion, or an error envelope for a job that failed for good).
//!
//! Workers seal a [`JobReply`] into [`crate::store::JobOutcome`]'s `result`; the output and error
//! files open it again. It is sealed to `result:<batch id>:<custom_id>`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::seal::{Binding, SealError, Sealer};

/// A job's answer as sealed at rest.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobReply {
    /// The routing decision of the attempt that answered (`request_id` in the output file).
    pub request_id: String,
    /// The response body, kept byte for byte.
    pub body: Box<RawValue>,
}

/// Why a sealed reply could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// It does not open with this key for this job.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// It opened but is not a reply (never shows the text).
    #[error("a job result opened but is not a sealed reply (line {line}, column {column})")]
    Malformed {
        /// Line of the first fault in the opened text.
        line: usize,
        /// Its column.
        column: usize,
    },
}

impl JobReply {
    /// A reply with `body`, which must be one JSON value (an upstream answer or an error envelope).
    pub fn new(request_id: impl Into<String>, body: &[u8]) -> Result<JobReply, serde_json::Error> {
        Ok(JobReply {
            request_id: request_id.into(),
            body: serde_json::from_slice(body)?,
        })
    }

    /// The reply sealed to job `custom_id` of `batch_id`.
    pub fn seal(&self, sealer: &Sealer, batch_id: &str, custom_id: &str) -> Vec<u8> {
        let plain = serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("strings and raw JSON always serialize"));
        sealer.seal_for(Binding::Result { batch_id, custom_id }, &plain)
    }

    /// Opens a reply sealed by [`JobReply::seal`] for the same job.
    pub fn open(sealer: &Sealer, batch_id: &str, custom_id: &str, sealed: &[u8]) -> Result<JobReply, ReplyError> {
        let plain = sealer.open_for(Binding::Result { batch_id, custom_id }, sealed)?;
        serde_json::from_slice(&plain).map_err(|e| ReplyError::Malformed {
            line: e.line(),
            column: e.column(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_round_trips_byte_for_byte_for_its_job_only() {
        let (sealer, _) = Sealer::generate();
        let body = br#"{"id":"chatcmpl-1","choices":[ {"message":{"content":"billing"}} ]}"#;
        let reply = JobReply::new("req-42", body).unwrap();
        let sealed = reply.seal(&sealer, "batch_x", "t-1");
        let opened = JobReply::open(&sealer, "batch_x", "t-1", &sealed).unwrap();
        assert_eq!(opened.request_id, "req-42");
        assert_eq!(opened.body.get().as_bytes(), body);
        assert!(matches!(
            JobReply::open(&sealer, "batch_x", "t-2", &sealed),
            Err(ReplyError::Seal(SealError::Open))
        ));
    }

    #[test]
    fn a_body_must_be_json_and_a_foreign_payload_is_not_a_reply() {
        assert!(JobReply::new("r", b"not json").is_err());
        assert!(JobReply::new("r", &[0xff, 0xfe]).is_err());
        let (sealer, _) = Sealer::generate();
        let sealed = sealer.seal_for(
            Binding::Result {
                batch_id: "batch_x",
                custom_id: "t-1",
            },
            b"{\"secret\":\"text\"}",
        );
        let err = JobReply::open(&sealer, "batch_x", "t-1", &sealed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a sealed reply") && !err.contains("text"), "{err}");
    }
}
