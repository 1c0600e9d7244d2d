//! What would leave the farm: every string of a chat request, scanned as one.
//!
//! The scan walks the parsed JSON body, not the fields farmhand happens to model, so a field a
//! client or a future API adds is scanned like any other: message text of every role, content
//! parts, tool-call arguments (and the JSON inside them), tool names and schemas,
//! `response_format`, `stop`, `metadata`, object keys and any extra field. Every frontier adapter
//! sends a subset of these strings (the Anthropic translation only rearranges them), so a clean
//! scan of the request covers what any provider would receive.

use std::sync::OnceLock;

use memchr::memmem;
use serde_json::Value;

use super::detect::{Detector, DetectorSet, scan_text};

/// Strings at least this long made only of base64 characters are treated as opaque blobs.
pub const BASE64_BLOB_CHARS: usize = 256;
/// JSON nested inside strings (tool-call arguments) is unpacked this many levels deep.
const MAX_NESTING: u8 = 4;
/// Strings longer than this are scanned as text but not unpacked as nested JSON.
const MAX_NESTED_JSON_BYTES: usize = 1 << 20;
/// Object keys up to this long are scanned together with their scalar value, as a label.
const MAX_LABEL_BYTES: usize = 64;
/// Strings shorter than this are scanned in batches: every scan has a fixed cost, and a request
/// holds hundreds of strings, so one scan of many costs less than many scans.
const BATCH_STRING_BYTES: usize = 64 * 1024;
/// A batch is scanned once it holds this much.
const BATCH_BYTES: usize = 256 * 1024;
/// What stands between two batched strings: a line break, so nothing reads across it as one
/// token, and more blank than any labelled detector looks past its label, so a label at the end
/// of one string never meets a value at the start of the next. It ends in a space, the plainest
/// boundary a detector can see before a match.
const BATCH_SEPARATOR: &str = "\n\n                                                      ";

/// Whether `key` is a field name of the Chat Completions API itself: as a key it carries no data
/// and labels nothing, so it is not scanned with its value. Any other key is.
fn is_structural(key: &str) -> bool {
    matches!(
        key,
        "additionalProperties"
            | "arguments"
            | "content"
            | "description"
            | "detail"
            | "enum"
            | "format"
            | "function"
            | "id"
            | "image_url"
            | "items"
            | "json_schema"
            | "max_completion_tokens"
            | "max_tokens"
            | "messages"
            | "model"
            | "name"
            | "parameters"
            | "properties"
            | "required"
            | "response_format"
            | "role"
            | "schema"
            | "stop"
            | "stream"
            | "stream_options"
            | "strict"
            | "temperature"
            | "text"
            | "tool_call_id"
            | "tool_calls"
            | "tool_choice"
            | "tools"
            | "top_p"
            | "type"
            | "url"
    )
}

/// Whether `text` is one of the API's own enumerated values (roles, part and tool types, tool
/// choices, JSON-schema types): such a string carries no data, and a request holds hundreds.
fn is_api_constant(text: &str) -> bool {
    matches!(
        text,
        "system"
            | "developer"
            | "user"
            | "assistant"
            | "tool"
            | "text"
            | "function"
            | "image_url"
            | "auto"
            | "none"
            | "required"
            | "low"
            | "high"
            | "json_object"
            | "json_schema"
            | "object"
            | "string"
            | "array"
            | "number"
            | "integer"
            | "boolean"
            | "null"
    )
}

/// How much of a value is put after its key for the labelled detectors (they look just past the label).
const MAX_LABELLED_VALUE_BYTES: usize = 64;

/// Content the detectors cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unscannable {
    /// An `image_url` content part.
    ImageUrl,
    /// An `input_audio` content part.
    InputAudio,
    /// A `file` content part.
    File,
    /// A `data:` URL anywhere in the request.
    DataUrl,
    /// A long base64 blob anywhere in the request.
    Base64,
    /// A content part of a type that carries no text (`video_url`, a type added later, …).
    ContentPart,
}

impl Unscannable {
    /// The sensitivity reason recorded when it keeps a request local: `unscannable:<kind>`.
    pub fn reason(self) -> &'static str {
        match self {
            Unscannable::ImageUrl => "unscannable:image_url",
            Unscannable::InputAudio => "unscannable:input_audio",
            Unscannable::File => "unscannable:file",
            Unscannable::DataUrl => "unscannable:data_url",
            Unscannable::Base64 => "unscannable:base64",
            Unscannable::ContentPart => "unscannable:content_part",
        }
    }

    /// The kind an opaque object key or content-part type names, if any.
    fn of_type(name: &str) -> Option<Unscannable> {
        match name {
            "image_url" | "image" => Some(Unscannable::ImageUrl),
            "input_audio" | "audio" => Some(Unscannable::InputAudio),
            "file" | "file_data" | "input_file" => Some(Unscannable::File),
            _ => None,
        }
    }
}

/// What a scan of the whole request found (names only, never the matched text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exposure {
    /// The first enabled detector that fired on any string.
    pub detector: Option<Detector>,
    /// The first content the detectors could not read.
    pub unscannable: Option<Unscannable>,
}

impl Exposure {
    /// Scans every string (and every object key) of `request` with the `enabled` detectors.
    pub fn of_request(request: &Value, enabled: DetectorSet) -> Exposure {
        let mut scan = Scan {
            enabled,
            found: Exposure::default(),
            pair: String::new(),
            batch: String::new(),
        };
        scan.request(request);
        scan.flush();
        scan.found
    }
}

struct Scan {
    enabled: DetectorSet,
    found: Exposure,
    /// Reused for `key: value` texts.
    pair: String,
    /// Short strings waiting to be scanned together, apart by [`BATCH_SEPARATOR`].
    batch: String,
}

impl Scan {
    fn done(&self) -> bool {
        self.found.detector.is_some()
    }

    /// The top level: the message content parts get their types checked, then everything is walked.
    fn request(&mut self, request: &Value) {
        let parts = request
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("content").and_then(Value::as_array))
            .flatten();
        for part in parts {
            if let Some(kind) = part.get("type").and_then(Value::as_str)
                && !matches!(kind, "text" | "refusal")
            {
                self.opaque(Unscannable::of_type(kind).unwrap_or(Unscannable::ContentPart));
            }
        }
        self.value(request, 0);
    }

    fn value(&mut self, value: &Value, nesting: u8) {
        if self.done() {
            return;
        }
        match value {
            Value::String(text) => self.string(text, nesting),
            Value::Number(number) => self.detect(&number.to_string()),
            Value::Array(items) => items.iter().for_each(|item| self.value(item, nesting)),
            Value::Object(fields) => {
                for (key, item) in fields {
                    if let Some(kind) = Unscannable::of_type(key).filter(|_| !item.is_null()) {
                        self.opaque(kind);
                    }
                    self.entry(key, item);
                    self.value(item, nesting);
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// The key, and for a short scalar value the pair as `key: value`: a JSON object splits a
    /// label from its value (`"ssn": 123456789`, `"password": "…"`, `"dob": "1990-04-12"`), and
    /// the labelled detectors need both in one text.
    fn entry(&mut self, key: &str, item: &Value) {
        if is_structural(key) {
            // The API's own field names label nothing; their values are scanned on their own.
            return;
        }
        let mut pair = std::mem::take(&mut self.pair);
        pair.clear();
        pair.push_str(key);
        if key.len() <= MAX_LABEL_BYTES {
            match item {
                Value::String(text) => {
                    pair.push_str(": ");
                    pair.push_str(head(text, MAX_LABELLED_VALUE_BYTES));
                }
                Value::Number(number) => {
                    pair.push_str(": ");
                    pair.push_str(&number.to_string());
                }
                _ => {}
            }
        }
        self.detect(&pair);
        self.pair = pair;
    }

    /// Scans `text`: one shorter than [`BATCH_STRING_BYTES`] joins the batch, a longer one is
    /// examined in place.
    fn detect(&mut self, text: &str) {
        if self.done() {
            return;
        }
        if text.len() >= BATCH_STRING_BYTES {
            self.examine(text);
            return;
        }
        self.batch.push_str(BATCH_SEPARATOR);
        self.batch.push_str(text);
        if self.batch.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    /// Examines the batched short strings.
    fn flush(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.examine(&batch);
            self.batch = batch;
        }
        self.batch.clear();
    }

    /// Looks for content no detector can read, then runs the detectors. `text` is one string or a
    /// batch of them: the separator between batched strings ends a data URL's header and a base64
    /// run, so neither check reads across two strings.
    fn examine(&mut self, text: &str) {
        if self.found.unscannable.is_none() {
            if is_data_url(text) {
                self.opaque(Unscannable::DataUrl);
            } else if has_base64_blob(text) {
                self.opaque(Unscannable::Base64);
            }
        }
        if !self.done() {
            self.found.detector = scan_text(text, self.enabled);
        }
    }

    fn string(&mut self, text: &str, nesting: u8) {
        if self.done() || is_api_constant(text) {
            return;
        }
        // JSON inside a string (tool-call arguments) is scanned unpacked, escapes undone, in
        // place of its raw text: every string, key and number of it is walked.
        if nesting < MAX_NESTING
            && text.len() <= MAX_NESTED_JSON_BYTES
            && matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
            && let Ok(inner) = serde_json::from_str::<Value>(text)
        {
            self.value(&inner, nesting + 1);
        } else {
            self.detect(text);
        }
    }

    fn opaque(&mut self, kind: Unscannable) {
        self.found.unscannable.get_or_insert(kind);
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// `data:` URLs carry their payload inline (usually base64), out of the detectors' reach. One
/// anywhere in a string counts: `data:` then a media type or `;base64`, with no space before `,`.
fn is_data_url(text: &str) -> bool {
    let bytes = text.as_bytes();
    [
        DATA_LOWER.get_or_init(|| memmem::Finder::new(b"ata:")),
        DATA_UPPER.get_or_init(|| memmem::Finder::new(b"ATA:")),
    ]
    .iter()
    .any(|finder| {
        finder.find_iter(bytes).any(|at| {
            let Some(start) = at.checked_sub(1) else {
                return false;
            };
            let word_start = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
            bytes[start].eq_ignore_ascii_case(&b'd')
                && bytes[start..start + 5].eq_ignore_ascii_case(b"data:")
                && word_start
                && data_url_header(&bytes[start + 5..])
        })
    })
}

static DATA_LOWER: OnceLock<memmem::Finder<'static>> = OnceLock::new();
static DATA_UPPER: OnceLock<memmem::Finder<'static>> = OnceLock::new();

/// `rest` starts with `[type/subtype][;param…],` (at most 128 bytes before the comma).
fn data_url_header(rest: &[u8]) -> bool {
    let Some(comma) = rest.iter().take(128).position(|b| *b == b',') else {
        return false;
    };
    let header = &rest[..comma];
    let media = header.split(|b| *b == b';').next().unwrap_or_default();
    let token = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'+' | b'-' | b'=' | b';' | b'_');
    header.iter().all(token)
        && (media.is_empty() || media.iter().filter(|b| **b == b'/').count() == 1)
        && !media.starts_with(b"/")
        && !media.ends_with(b"/")
}

/// A run of at least [`BASE64_BLOB_CHARS`] base64 characters with letters of both cases and digits.
///
/// Sublinear on ordinary text: from each candidate start it looks at the byte a whole run
/// further on first, so prose, with a space every few bytes, is passed over in long strides.
fn has_base64_blob(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start + BASE64_BLOB_CHARS <= bytes.len() {
        let probe = start + BASE64_BLOB_CHARS - 1;
        match bytes[start..=probe].iter().rposition(|b| !is_base64(*b)) {
            Some(gap) => start += gap + 1,
            None => {
                let end = bytes[probe..]
                    .iter()
                    .position(|b| !is_base64(*b))
                    .map_or(bytes.len(), |e| probe + e);
                let run = &bytes[start..end];
                if run.iter().any(u8::is_ascii_lowercase)
                    && run.iter().any(u8::is_ascii_uppercase)
                    && run.iter().any(u8::is_ascii_digit)
                {
                    return true;
                }
                start = end + 1;
            }
        }
    }
    false
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CARD: &str = "4111 1111 1111 1111";

    fn scan(request: Value) -> Exposure {
        Exposure::of_request(&request, DetectorSet::ALL)
    }

    fn with_card_at(place: &str) -> Value {
        let mut request = json!({"model": "reasoning", "messages": [{"role": "user", "content": "hello"}]});
        let secret = format!("card {CARD}");
        match place {
            "system" => {
                request["messages"] = json!([{"role": "system", "content": secret}, {"role": "user", "content": "hi"}])
            }
            "developer" => request["messages"][0] = json!({"role": "developer", "content": secret}),
            "tool" => {
                request["messages"] = json!([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c1", "content": secret}])
            }
            "text_part" => request["messages"][0]["content"] = json!([{"type": "text", "text": secret}]),
            "name" => request["messages"][0]["name"] = json!(secret),
            "tool_call_arguments" => {
                request["messages"] = json!([{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "pay", "arguments": json!({"card": CARD}).to_string()}}]}]);
            }
            "tool_description" => {
                request["tools"] = json!([{"type": "function", "function": {"name": "f", "description": secret, "parameters": {"type": "object"}}}])
            }
            "tool_schema" => {
                request["tools"] = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"card": {"type": "string", "enum": [CARD]}}}}}])
            }
            "response_format" => {
                request["response_format"] =
                    json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"description": secret}}})
            }
            "stop" => request["stop"] = json!(["END", secret]),
            "metadata" => request["metadata"] = json!({"ticket": secret}),
            "extra_field" => request["some_future_field"] = json!({"deep": [[{"x": secret}]]}),
            "object_key" => request["metadata"] = json!({ secret: "v" }),
            "user" => request["user"] = json!(secret),
            other => panic!("unknown place {other}"),
        }
        request
    }

    #[test]
    fn a_card_number_is_found_wherever_it_is_put() {
        for place in [
            "system",
            "developer",
            "tool",
            "text_part",
            "name",
            "tool_call_arguments",
            "tool_description",
            "tool_schema",
            "response_format",
            "stop",
            "metadata",
            "extra_field",
            "object_key",
            "user",
        ] {
            assert_eq!(
                scan(with_card_at(place)).detector,
                Some(Detector::CreditCard),
                "{place}"
            );
        }
        assert_eq!(scan(with_card_at("system")).unscannable, None);
    }

    #[test]
    fn json_inside_json_strings_is_unpacked() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----";
        let doubly = json!({"outer": json!({"key": key}).to_string()}).to_string();
        let request = json!({"model": "routine", "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": doubly}}]}]});
        assert_eq!(scan(request).detector, Some(Detector::PrivateKey));
    }

    #[test]
    fn labels_split_from_their_values_by_json_still_count() {
        for (body, detector) in [
            (json!({"metadata": {"card": 4111111111111111u64}}), Detector::CreditCard),
            (json!({"metadata": {"ssn": 123456789}}), Detector::NationalId),
            (json!({"metadata": {"SSN": "078051120"}}), Detector::NationalId),
            (
                json!({"metadata": {"password": "Hunter2Secret!9x"}}),
                Detector::SecretAssignment,
            ),
            (
                json!({"metadata": {"date_of_birth": "1990-04-12"}}),
                Detector::DateOfBirth,
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{\"passport_number\": \"K1234567\"}"}}]}]}),
                Detector::Passport,
            ),
        ] {
            assert_eq!(scan(body.clone()).detector, Some(detector), "{body}");
        }
        assert_eq!(
            scan(json!({"max_tokens": 4096, "temperature": 0.2, "metadata": {"count": 12}})),
            Exposure::default()
        );
    }

    #[test]
    fn batched_strings_neither_hide_nor_join_matches() {
        assert!(BATCH_SEPARATOR.len() >= 48 && BATCH_SEPARATOR.ends_with(' '));
        let labels =
            json!({"messages": [{"role": "user", "content": "DOB"}, {"role": "user", "content": "1990-04-12"}]});
        assert_eq!(
            scan(labels),
            Exposure::default(),
            "a label and a value in two strings do not meet"
        );
        for hit in [
            "+44 20 7946 0958",
            "jane@example.com",
            "4111 1111 1111 1111",
            "123-45-6789",
        ] {
            let many: Vec<Value> = (0..300)
                .map(|i| json!({"role": "user", "content": if i == 150 { hit.to_string() } else { format!("ok {i}") }}))
                .collect();
            assert!(
                scan(json!({"messages": many})).detector.is_some(),
                "{hit} in the middle of a batch"
            );
        }
    }

    #[test]
    fn only_the_apis_own_values_go_unscanned() {
        assert!(is_api_constant("assistant") && is_api_constant("string"));
        assert!(!is_api_constant("assistant ") && !is_api_constant("4111 1111 1111 1111"));
    }

    #[test]
    fn only_the_apis_own_field_names_are_structural() {
        assert!(is_structural("content") && is_structural("tool_call_id"));
        assert!(!is_structural("ssn") && !is_structural("Content") && !is_structural(""));
    }

    #[test]
    fn disabled_detectors_do_not_fire() {
        let request = with_card_at("metadata");
        assert_eq!(Exposure::of_request(&request, DetectorSet::NONE).detector, None);
    }

    #[test]
    fn non_text_parts_data_urls_and_blobs_are_unscannable() {
        let blob: String = "QUJDRGVmZ2gxMjM0".repeat(20);
        for (request, kind) in [
            (
                json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
                Unscannable::ImageUrl,
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}),
                Unscannable::InputAudio,
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]}),
                Unscannable::File,
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "video_url", "video_url": "https://x"}]}]}),
                Unscannable::ContentPart,
            ),
            (
                json!({"messages": [{"role": "user", "content": "hi"}], "attachment": "data:application/pdf;base64,JVBERi0xLjQK"}),
                Unscannable::DataUrl,
            ),
            (
                json!({"messages": [{"role": "user", "content": format!("decode {blob} please")}]}),
                Unscannable::Base64,
            ),
            (
                json!({"messages": [{"role": "user", "content": "hi"}], "extra": {"image_url": {"url": "https://x/y.png"}}}),
                Unscannable::ImageUrl,
            ),
        ] {
            let found = scan(request.clone());
            assert_eq!(found.unscannable, Some(kind), "{request}");
            assert_eq!(found.detector, None, "{request}");
        }
    }

    #[test]
    fn ordinary_requests_stay_clean() {
        let request = json!({
            "model": "routine",
            "messages": [
                {"role": "system", "content": "You are a support assistant."},
                {"role": "user", "content": [{"type": "text", "text": "Reset my password please; ticket 123e4567-e89b-12d3-a456-426614174000, commit 9fceb02d0ae598e95dc970b74767f19372d61af8, file aGVsbG8=.png"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"ticket\": 42}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"status\": \"open\"}"}
            ],
            "tools": [{"type": "function", "function": {"name": "lookup", "description": "Find a ticket", "parameters": {"type": "object", "properties": {"ticket": {"type": "integer"}}}}}],
            "response_format": {"type": "json_object"},
            "stop": ["\n\n"],
            "metadata": {"team": "support"},
            "image_url": null
        });
        assert_eq!(scan(request), Exposure::default());
    }

    #[test]
    fn base64_needs_a_long_mixed_run() {
        assert!(!has_base64_blob(&"a".repeat(1000)));
        let blob = "QUJDRGVmZ2gxMjM0".repeat(16);
        assert!(has_base64_blob(&format!("{} {blob}", "word ".repeat(100))));
        assert!(
            has_base64_blob(&format!("{}{blob}", "a".repeat(300))),
            "a mixed run after a long plain one"
        );
        assert!(!has_base64_blob(&format!(
            "{} {}",
            "a".repeat(300),
            "QUJDRGVmZ2gxMjM0".repeat(15)
        )));
        assert!(!has_base64_blob(&"Ab1 ".repeat(300)));
        assert!(!has_base64_blob(&"QUJDRGVmZ2gxMjM0".repeat(15)));
        assert!(has_base64_blob(&"QUJDRGVmZ2gxMjM0".repeat(16)));
        for url in [
            "data:image/png;base64,iVBOR",
            "  DATA:text/plain,hi",
            "see data:;base64,SGk= inline",
            "data:,plain",
            "{\"src\":\"data:application/pdf;base64,JVBE\"}",
        ] {
            assert!(is_data_url(url), "{url}");
        }
        for text in [
            "Data: the numbers, please",
            "metadata:image/png,x",
            "data:",
            "data:image/png no comma",
            "data: text/plain,x",
            "data:a/b/c,x",
        ] {
            assert!(!is_data_url(text), "{text}");
        }
    }
}
