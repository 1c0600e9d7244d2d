//! Ids of the Batch API's objects: `file-…` for uploads, `batch_…` for batches, and the output
//! and error files of a batch, whose ids are derived from the batch's so that
//! `GET /v1/files/{id}` can find the batch they belong to.

use rand::Rng;
use rand::distr::Alphanumeric;

/// Random characters after an id's prefix.
const SUFFIX_LEN: usize = 24;

/// Which file of a batch's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFile {
    /// The succeeded requests (`output_file_id`).
    Output,
    /// The failed, expired and cancelled requests (`error_file_id`).
    Errors,
}

impl ResultFile {
    /// The prefix its ids take before the batch's suffix.
    fn prefix(self) -> &'static str {
        match self {
            ResultFile::Output => "file-out-",
            ResultFile::Errors => "file-err-",
        }
    }
}

/// What a file id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRef {
    /// An uploaded input file (its id as given).
    Input(String),
    /// The output or error file of a batch.
    Results {
        /// The batch's id.
        batch_id: String,
        /// Which of its files.
        kind: ResultFile,
    },
}

/// A new id for an uploaded file: `file-` and 24 random letters and digits.
pub fn new_file_id() -> String {
    format!("file-{}", random_suffix())
}

/// A new id for a batch: `batch_` and 24 random letters and digits.
pub fn new_batch_id() -> String {
    format!("batch_{}", random_suffix())
}

/// The id of a batch's output or error file.
pub fn result_file_id(batch_id: &str, kind: ResultFile) -> String {
    format!(
        "{}{}",
        kind.prefix(),
        batch_id.strip_prefix("batch_").unwrap_or(batch_id)
    )
}

/// What `id` names, or `None` when it is not an id this router hands out.
pub fn parse_file_id(id: &str) -> Option<FileRef> {
    for kind in [ResultFile::Output, ResultFile::Errors] {
        if let Some(suffix) = id.strip_prefix(kind.prefix()) {
            return is_suffix(suffix).then(|| FileRef::Results {
                batch_id: format!("batch_{suffix}"),
                kind,
            });
        }
    }
    let suffix = id.strip_prefix("file-")?;
    is_suffix(suffix).then(|| FileRef::Input(id.to_string()))
}

/// Whether `id` is a batch id this router hands out.
pub fn is_batch_id(id: &str) -> bool {
    id.strip_prefix("batch_").is_some_and(is_suffix)
}

/// The id of one request's line in a batch's output or error file.
pub fn request_line_id(batch_id: &str, line: i64) -> String {
    format!(
        "batch_req_{}_{line}",
        batch_id.strip_prefix("batch_").unwrap_or(batch_id)
    )
}

fn random_suffix() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(SUFFIX_LEN)
        .map(char::from)
        .collect()
}

fn is_suffix(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_prefixed_random_and_recognised() {
        let file = new_file_id();
        assert!(file.starts_with("file-") && file.len() == 5 + SUFFIX_LEN, "{file}");
        assert_ne!(file, new_file_id());
        assert_eq!(parse_file_id(&file), Some(FileRef::Input(file.clone())));
        let batch = new_batch_id();
        assert!(batch.starts_with("batch_") && is_batch_id(&batch), "{batch}");
        assert_ne!(batch, new_batch_id());
    }

    #[test]
    fn result_file_ids_lead_back_to_their_batch() {
        let batch = new_batch_id();
        for kind in [ResultFile::Output, ResultFile::Errors] {
            let id = result_file_id(&batch, kind);
            assert_eq!(
                parse_file_id(&id),
                Some(FileRef::Results {
                    batch_id: batch.clone(),
                    kind
                })
            );
        }
        assert_ne!(
            result_file_id(&batch, ResultFile::Output),
            result_file_id(&batch, ResultFile::Errors)
        );
    }

    #[test]
    fn foreign_ids_are_not_recognised() {
        for id in [
            "",
            "file-",
            "file-a/b",
            "file-out-",
            "batch_x",
            "file-abc'--",
            "file-ünï",
        ] {
            assert_eq!(parse_file_id(id), None, "{id}");
        }
        assert!(!is_batch_id("batch_a:b") && !is_batch_id("batch_") && !is_batch_id("file-abc"));
        assert_eq!(request_line_id("batch_abc", 7), "batch_req_abc_7");
    }
}
