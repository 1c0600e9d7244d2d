//! Batch API clients for tests: a router with the API on, agents with keys, JSONL files, and
//! multipart uploads written by hand (what every SDK sends).
#![allow(dead_code)]

use std::time::Duration;

use farmhand::config::{AgentKey, FleetConfig, SecretRef};
use serde_json::{Value, json};

use super::pg::TestDatabase;
use super::stack::Stack;

/// The payload key's variable, and a key (32 bytes, base64) every test sets it to.
pub const KEY_VAR: &str = "FARMHAND_TEST_BATCH_KEY";
/// The payload key itself.
pub const KEY: &str = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";
/// Two agents with keys of their own: (name, variable, key).
pub const CLASSIFIER: (&str, &str, &str) = ("classifier", "FARMHAND_TEST_BATCH_AGENT_A", "k-batch-classifier");
/// The second agent.
pub const SUMMARISER: (&str, &str, &str) = ("summariser", "FARMHAND_TEST_BATCH_AGENT_B", "k-batch-summariser");
/// Text that appears in every request of [`tickets`], and must never appear in the store.
pub const MARKER: &str = "refund-me-now-4417";

/// Sets the payload key and the agents' keys in this process's environment.
pub fn set_keys() {
    // SAFETY of the test: these variables belong to the batch tests, which all set the same values.
    unsafe {
        std::env::set_var(KEY_VAR, KEY);
        std::env::set_var(CLASSIFIER.1, CLASSIFIER.2);
        std::env::set_var(SUMMARISER.1, SUMMARISER.2);
    }
}

/// Turns the Batch API on in `config`, with both agents' keys.
pub fn enable(config: &mut FleetConfig) {
    config.jobs.encryption_key = Some(SecretRef::Env(KEY_VAR.into()));
    for (name, var, _) in [CLASSIFIER, SUMMARISER] {
        config.agents.push(AgentKey::new(name, SecretRef::Env(var.into())));
    }
}

/// A router with the Batch API on (and two agent keys) over `nodes` simulated nodes and a fresh
/// PostgreSQL database.
pub async fn farm(db: &TestDatabase, nodes: u16, adjust: impl FnOnce(&mut FleetConfig)) -> Stack {
    set_keys();
    Stack::start(nodes, Some(db.url()), |config| {
        enable(config);
        adjust(config);
    })
    .await
}

/// One JSONL line calling `/v1/chat/completions` with `body`.
pub fn line(custom_id: &str, body: Value) -> String {
    json!({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}).to_string() + "\n"
}

/// `n` ticket classifications of class `routine`, one JSONL line each, custom ids `t-1`…
pub fn tickets(n: usize) -> String {
    (1..=n)
        .map(|i| {
            line(
                &format!("t-{i}"),
                json!({
                    "model": "routine",
                    "messages": [{"role": "user", "content": format!("Classify ticket {i}: {MARKER}")}],
                    "max_tokens": 16
                }),
            )
        })
        .collect()
}

/// A multipart/form-data body of `(name, filename, bytes)` parts, and its content type.
pub fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "farmhand-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(file) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/jsonl\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A small Batch API client for one agent of a router at `url`.
pub struct Agent {
    url: String,
    key: String,
    http: reqwest::Client,
}

impl Agent {
    /// A client of the router at `url` (`http://…`) with bearer `key`.
    pub fn new(url: &str, key: &str) -> Self {
        Agent {
            url: url.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Posts a multipart upload; the status and the answer.
    pub async fn upload_form(&self, parts: &[(&str, Option<&str>, &[u8])]) -> (u16, Value) {
        let (content_type, body) = form(parts);
        let response = self
            .http
            .post(format!("{}/v1/files", self.url))
            .bearer_auth(&self.key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the router answers");
        (
            response.status().as_u16(),
            response.json().await.expect("a JSON answer"),
        )
    }

    /// Uploads `content` as a batch input file; its `File` object.
    pub async fn upload(&self, content: &str) -> Value {
        let (status, file) = self
            .upload_form(&[
                ("purpose", None, b"batch"),
                ("file", Some("tickets.jsonl"), content.as_bytes()),
            ])
            .await;
        assert_eq!(status, 200, "{file}");
        file
    }

    /// A GET with the agent's key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("the router answers")
    }

    /// A GET answered with JSON; the status and the answer.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        (
            response.status().as_u16(),
            response.json().await.expect("a JSON answer"),
        )
    }

    /// A POST of JSON answered with JSON; the status and the answer.
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("the router answers");
        (
            response.status().as_u16(),
            response.json().await.expect("a JSON answer"),
        )
    }

    /// Creates a batch on `file_id` with window `24h`; the status and the answer.
    pub async fn create_batch(&self, file_id: &str) -> (u16, Value) {
        self.create_batch_within(file_id, "24h").await
    }

    /// Creates a batch on `file_id` with `window`; the status and the answer.
    pub async fn create_batch_within(&self, file_id: &str, window: &str) -> (u16, Value) {
        self.post_json(
            "/v1/batches",
            json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": window}),
        )
        .await
    }

    /// Uploads `content` and starts a batch on it; the batch.
    pub async fn submit(&self, content: &str) -> Value {
        let file = self.upload(content).await;
        let (status, batch) = self.create_batch(file["id"].as_str().expect("a file id")).await;
        assert_eq!(status, 200, "{batch}");
        batch
    }

    /// Polls the batch until its status is one of `statuses`, at most `within`; the batch.
    pub async fn wait_for(&self, batch_id: &str, statuses: &[&str], within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (status, batch) = self.get_json(&format!("/v1/batches/{batch_id}")).await;
            assert_eq!(status, 200, "{batch}");
            if statuses.contains(&batch["status"].as_str().unwrap_or_default()) {
                return batch;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "batch {batch_id} did not reach {statuses:?} within {within:?}: {batch}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The lines of a result file (output or error), parsed.
    pub async fn file_lines(&self, file_id: &str) -> Vec<Value> {
        let response = self.get(&format!("/v1/files/{file_id}/content")).await;
        assert_eq!(response.status(), 200, "content of {file_id}");
        let text = response.text().await.expect("file content");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// The output and error lines of an ended batch.
    pub async fn results(&self, batch: &Value) -> (Vec<Value>, Vec<Value>) {
        let read = |id: &Value| {
            let id = id.as_str().map(str::to_string);
            async move {
                match id {
                    Some(id) => self.file_lines(&id).await,
                    None => Vec::new(),
                }
            }
        };
        (
            read(&batch["output_file_id"]).await,
            read(&batch["error_file_id"]).await,
        )
    }
}
