//! A batch input file read and checked line by line, as OpenAI's Batch API does when a batch is
//! created: each non-empty line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions",
//! "body": {…}}`, the body a chat completion request whose `model` names a task class.
//!
//! Every fault is reported with its 1-based line in OpenAI's `errors.data` shape (`code`,
//! `message`, `param`, `line`), the first [`MAX_ERRORS`] of them. Messages never quote the
//! request's text: only ids, field paths and the model name.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::DeclaredClass;
use crate::wire::openai::ChatCompletionRequest;

/// The only endpoint a batch line may call.
pub const ENDPOINT: &str = "/v1/chat/completions";
/// Most requests one file may hold.
pub const MAX_REQUESTS: usize = 500_000;
/// Most faults reported for one file.
pub const MAX_ERRORS: usize = 100;
/// Longest `custom_id`, in bytes.
pub const MAX_CUSTOM_ID_BYTES: usize = 512;

/// One request of a valid file, its body borrowed from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLine<'a> {
    /// 1-based line in the file.
    pub line: i64,
    /// The client's id for it.
    pub custom_id: String,
    /// The task class its `model` names.
    pub class: DeclaredClass,
    /// The request body, byte for byte as in the file.
    pub body: &'a [u8],
}

/// One fault of a file, as OpenAI's `errors.data[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// Machine-readable code, e.g. `invalid_json_line`, `duplicate_custom_id`.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
    /// The field at fault, e.g. `custom_id` or `body.model`.
    pub param: Option<String>,
    /// 1-based line, when the fault is on one line.
    pub line: Option<i64>,
}

impl LineError {
    fn at(line: i64, code: &str, param: Option<&str>, message: impl Into<String>) -> LineError {
        LineError {
            code: code.into(),
            message: message.into(),
            param: param.map(str::to_string),
            line: Some(line),
        }
    }

    fn file(code: &str, message: impl Into<String>) -> LineError {
        LineError {
            code: code.into(),
            message: message.into(),
            param: None,
            line: None,
        }
    }
}

/// The top level of a line: every field kept raw, so each fault can be told apart.
#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow, default)]
    custom_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    url: Option<&'a RawValue>,
    #[serde(borrow, default)]
    body: Option<&'a RawValue>,
}

/// Non-empty lines of a file, with their 1-based numbers (a trailing `\r` is dropped).
pub fn lines(content: &[u8]) -> impl Iterator<Item = (i64, &[u8])> {
    content
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i as i64 + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

/// Reads a whole file no larger than `max_bytes`: its requests, or its faults (at most
/// [`MAX_ERRORS`], by line).
pub fn read(content: &[u8], max_bytes: u64) -> Result<Vec<InputLine<'_>>, Vec<LineError>> {
    if content.len() as u64 > max_bytes {
        return Err(vec![LineError::file(
            "file_too_large",
            format!(
                "the file is {} bytes, over the limit of {max_bytes} bytes (jobs.max_file_bytes)",
                content.len()
            ),
        )]);
    }
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    let mut first_line: HashMap<&str, i64> = HashMap::new();
    for (count, (number, text)) in lines(content).enumerate() {
        if count >= MAX_REQUESTS {
            return Err(vec![LineError::file(
                "too_many_tasks",
                format!("the file holds more than {MAX_REQUESTS} requests; split it into several batches"),
            )]);
        }
        if errors.len() >= MAX_ERRORS {
            continue;
        }
        match read_line(number, text) {
            Ok(request) => requests.push(request),
            Err(err) => errors.push(err),
        }
    }
    for request in &requests {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        if let Some(first) = first_line.insert(&request.custom_id, request.line) {
            first_line.insert(&request.custom_id, first);
            errors.push(LineError::at(
                request.line,
                "duplicate_custom_id",
                Some("custom_id"),
                format!(
                    "custom_id `{}` is already used on line {first}; each request needs its own",
                    shown(&request.custom_id)
                ),
            ));
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        errors.truncate(MAX_ERRORS);
        return Err(errors);
    }
    if requests.is_empty() {
        return Err(vec![LineError::file(
            "empty_file",
            "the file holds no requests: write one JSON request per line",
        )]);
    }
    Ok(requests)
}

/// One line, or its first fault.
fn read_line(number: i64, text: &[u8]) -> Result<InputLine<'_>, LineError> {
    let invalid_json = || {
        LineError::at(
            number,
            "invalid_json_line",
            None,
            "this line is not parseable as a JSON object",
        )
    };
    let text = std::str::from_utf8(text).map_err(|_| invalid_json())?;
    if !text.trim_start().starts_with('{') {
        return Err(invalid_json());
    }
    let raw: RawLine<'_> = serde_json::from_str(text).map_err(|_| invalid_json())?;
    let missing = |param: &str| {
        LineError::at(
            number,
            "missing_required_parameter",
            Some(param),
            format!("missing required parameter `{param}`"),
        )
    };
    let custom_id = string_field(raw.custom_id).map_err(|present| match present {
        false => missing("custom_id"),
        true => LineError::at(
            number,
            "invalid_type",
            Some("custom_id"),
            "`custom_id` must be a string",
        ),
    })?;
    if custom_id.is_empty() {
        return Err(missing("custom_id"));
    }
    if custom_id.len() > MAX_CUSTOM_ID_BYTES {
        return Err(LineError::at(
            number,
            "invalid_value",
            Some("custom_id"),
            format!("`custom_id` is longer than {MAX_CUSTOM_ID_BYTES} bytes"),
        ));
    }
    let method = string_field(raw.method).map_err(|present| match present {
        false => missing("method"),
        true => LineError::at(number, "invalid_type", Some("method"), "`method` must be a string"),
    })?;
    if method != "POST" {
        return Err(LineError::at(
            number,
            "invalid_method",
            Some("method"),
            format!("`method` must be POST, not `{}`", shown(&method)),
        ));
    }
    let url = string_field(raw.url).map_err(|present| match present {
        false => missing("url"),
        true => LineError::at(number, "invalid_type", Some("url"), "`url` must be a string"),
    })?;
    if url != ENDPOINT {
        return Err(LineError::at(
            number,
            "url_mismatch",
            Some("url"),
            format!("`url` must be the batch's endpoint {ENDPOINT}, not `{}`", shown(&url)),
        ));
    }
    let body = raw.body.filter(|b| b.get() != "null").ok_or_else(|| missing("body"))?;
    let class = check_body(number, body.get())?;
    Ok(InputLine {
        line: number,
        custom_id,
        class,
        body: body.get().as_bytes(),
    })
}

/// A string field, or whether one was there at all (`Err(true)`: there, but not a string).
fn string_field(raw: Option<&RawValue>) -> Result<String, bool> {
    let raw = raw.filter(|r| r.get() != "null").ok_or(false)?;
    serde_json::from_str(raw.get()).map_err(|_| true)
}

/// Checks a body as the chat route would; the task class its `model` names.
fn check_body(number: i64, body: &str) -> Result<DeclaredClass, LineError> {
    let request: ChatCompletionRequest = match serde_json::from_str(body) {
        Ok(request) => request,
        Err(_) => return Err(body_fault(number, body)),
    };
    if request.messages.is_empty() {
        return Err(LineError::at(
            number,
            "invalid_request",
            Some("body.messages"),
            "`body.messages` must hold at least one message",
        ));
    }
    if request.is_stream() {
        return Err(LineError::at(
            number,
            "invalid_request",
            Some("body.stream"),
            "a batch request cannot stream: drop `body.stream` or set it to false",
        ));
    }
    request.model.trim().parse::<DeclaredClass>().map_err(|_| {
        LineError::at(
            number,
            "unknown_task_class",
            Some("body.model"),
            format!(
                "`body.model` must name a task class (routine, reasoning, orchestration, sensitive or auto), not `{}`",
                shown(&request.model)
            ),
        )
    })
}

/// Where a body that is not a chat completion request goes wrong, without quoting it.
fn body_fault(number: i64, body: &str) -> LineError {
    if !body.trim_start().starts_with('{') {
        return LineError::at(
            number,
            "invalid_request",
            Some("body"),
            "`body` must be a chat completion request object",
        );
    }
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let path = match serde_path_to_error::deserialize::<_, ChatCompletionRequest>(&mut deserializer) {
        Err(err) => err.path().to_string(),
        Ok(_) => ".".to_string(),
    };
    let param = if path == "." {
        "body".to_string()
    } else {
        format!("body.{path}")
    };
    LineError::at(
        number,
        "invalid_request",
        Some(&param),
        format!("`{param}` has the wrong type or value for a chat completion request"),
    )
}

/// A client-given value for a message: printable and at most 64 characters.
fn shown(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const LIMIT: u64 = 1 << 20;

    fn line(custom_id: &str, model: &str) -> String {
        format!(
            r#"{{"custom_id":"{custom_id}","method":"POST","url":"/v1/chat/completions","body":{{"model":"{model}","messages":[{{"role":"user","content":"Classify: my invoice is wrong"}}]}}}}"#
        )
    }

    fn faults(file: &str) -> Vec<(Option<i64>, String, Option<String>)> {
        read(file.as_bytes(), LIMIT)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.line, e.code, e.param))
            .collect()
    }

    #[test]
    fn a_valid_file_gives_its_requests_with_their_lines_and_bodies() {
        let file = format!("{}\r\n\n   \n{}\n", line("a", "routine"), line("b", " sensitive "));
        let requests = read(file.as_bytes(), LIMIT).unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!((requests[0].line, requests[0].custom_id.as_str()), (1, "a"));
        assert_eq!(requests[0].class, DeclaredClass::Routine);
        assert_eq!((requests[1].line, requests[1].class), (4, DeclaredClass::Sensitive));
        let body: serde_json::Value = serde_json::from_slice(requests[1].body).unwrap();
        assert_eq!(body["messages"][0]["content"], "Classify: my invoice is wrong");
    }

    #[test]
    fn every_fault_names_its_line_code_and_field() {
        let file = [
            line("ok-1", "routine"),
            "{not json".to_string(),
            r#"{"method":"POST","url":"/v1/chat/completions","body":{}}"#.to_string(),
            line("ok-1", "routine"),
            line("c", "gpt-4o"),
            line("d", "routine").replace("POST", "GET"),
            line("e", "routine").replace("/v1/chat/completions", "/v1/embeddings"),
            r#"{"custom_id":"f","method":"POST","url":"/v1/chat/completions"}"#.to_string(),
            r#"{"custom_id":7,"method":"POST","url":"/v1/chat/completions","body":{}}"#.to_string(),
            line("g", "routine").replace(r#""role":"user""#, r#""role":5"#),
            line("h", "routine").replace(
                r#""messages":[{"role":"user","content":"Classify: my invoice is wrong"}]"#,
                r#""messages":[]"#,
            ),
            line("i", "routine").replace(r#""model""#, r#""stream":true,"model""#),
            "[1,2]".to_string(),
        ]
        .join("\n");
        let param = |p: &str| Some(p.to_string());
        assert_eq!(
            faults(&file),
            vec![
                (Some(2), "invalid_json_line".into(), None),
                (Some(3), "missing_required_parameter".into(), param("custom_id")),
                (Some(4), "duplicate_custom_id".into(), param("custom_id")),
                (Some(5), "unknown_task_class".into(), param("body.model")),
                (Some(6), "invalid_method".into(), param("method")),
                (Some(7), "url_mismatch".into(), param("url")),
                (Some(8), "missing_required_parameter".into(), param("body")),
                (Some(9), "invalid_type".into(), param("custom_id")),
                (Some(10), "invalid_request".into(), param("body.messages[0].role")),
                (Some(11), "invalid_request".into(), param("body.messages")),
                (Some(12), "invalid_request".into(), param("body.stream")),
                (Some(13), "invalid_json_line".into(), None),
            ]
        );
    }

    #[test]
    fn messages_name_the_fault_but_never_quote_the_request() {
        let secret = line("x", "routine").replace(r#""model""#, r#""max_tokens":"my salary is 90k","model""#);
        let errors = read(secret.as_bytes(), LIMIT).unwrap_err();
        assert_eq!(errors[0].param.as_deref(), Some("body.max_tokens"));
        assert!(!errors[0].message.contains("salary"), "{}", errors[0].message);
        let duplicate = format!("{}\n{}", line("t-9", "routine"), line("t-9", "routine"));
        let errors = read(duplicate.as_bytes(), LIMIT).unwrap_err();
        assert_eq!(
            errors[0].message,
            "custom_id `t-9` is already used on line 1; each request needs its own"
        );
        let class = read(line("c", "gpt-4o").as_bytes(), LIMIT).unwrap_err();
        assert!(class[0].message.contains("not `gpt-4o`"), "{}", class[0].message);
    }

    #[test]
    fn file_level_faults_have_no_line() {
        assert_eq!(faults(" \n\n"), vec![(None, "empty_file".into(), None)]);
        let big = line("a", "routine");
        let errors = read(big.as_bytes(), 10).unwrap_err();
        assert_eq!((errors[0].code.as_str(), errors[0].line), ("file_too_large", None));
        assert!(
            errors[0].message.contains("jobs.max_file_bytes"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn at_most_a_hundred_faults_are_reported_first_lines_first() {
        let file = "{\n".repeat(MAX_ERRORS + 50);
        let errors = read(file.as_bytes(), LIMIT).unwrap_err();
        assert_eq!(errors.len(), MAX_ERRORS);
        assert_eq!(errors[0].line, Some(1));
        assert_eq!(errors[MAX_ERRORS - 1].line, Some(MAX_ERRORS as i64));
    }

    #[test]
    fn an_escaped_custom_id_is_read_as_its_text() {
        let file = line(r"caf\u00e9", "auto");
        let requests = read(file.as_bytes(), LIMIT).unwrap();
        assert_eq!(requests[0].custom_id, "café");
        assert_eq!(requests[0].class, DeclaredClass::Auto);
    }

    proptest! {
        #[test]
        fn any_file_of_valid_lines_with_distinct_ids_reads_back_in_order(
            ids in proptest::collection::btree_set("[a-zA-Z0-9_-]{1,20}", 1..40),
            blanks in proptest::collection::vec(0usize..3, 40),
        ) {
            let mut file = String::new();
            let mut expected = Vec::new();
            let mut number = 0;
            for (i, id) in ids.iter().enumerate() {
                for _ in 0..blanks[i] {
                    file.push('\n');
                    number += 1;
                }
                file.push_str(&line(id, "routine"));
                file.push('\n');
                number += 1;
                expected.push((number, id.clone()));
            }
            let read_back: Vec<(i64, String)> = read(file.as_bytes(), LIMIT)
                .unwrap()
                .into_iter()
                .map(|r| (r.line, r.custom_id))
                .collect();
            prop_assert_eq!(read_back, expected);
        }

        #[test]
        fn any_bytes_give_requests_or_line_numbered_faults_never_a_panic(
            file in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let line_count = file.split(|b| *b == b'\n').count() as i64;
            match read(&file, LIMIT) {
                Ok(requests) => prop_assert!(!requests.is_empty()),
                Err(errors) => {
                    prop_assert!(!errors.is_empty() && errors.len() <= MAX_ERRORS);
                    for error in errors {
                        prop_assert!(error.line.is_none_or(|l| (1..=line_count).contains(&l)));
                    }
                }
            }
        }
    }
}
