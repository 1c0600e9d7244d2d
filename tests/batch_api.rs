//! The Batch API over real HTTP through the real gateway, on PostgreSQL, with the simulated farm:
//! uploads and their content, every input fault with its line, batch create / retrieve / list /
//! cancel, one agent's objects invisible to another, the key checked before the body, the API
//! off without `jobs.encryption_key`, payloads sealed at rest, and the official `openai` Python
//! client doing the same as a new user would (tests/clients/openai_batch.py).
//!
//! The Python test needs python3 with the pinned `openai` package
//! (`python3 -m pip install -r tests/clients/requirements.txt`, or `.ci/run`).

mod support;

use std::path::Path;
use std::time::Duration;

use farmhand::config::FleetConfig;
use farmhand::jobs::{Binding, Sealer};
use serde_json::{Value, json};
use support::batch::{self, Agent, CLASSIFIER, KEY, MARKER, SUMMARISER, tickets};
use support::pg::TestDatabase;
use support::stack::Stack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the client scripts and their pins live.
const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");

/// A router with the Batch API on (and two agent keys), over one slow node and a fresh PostgreSQL
/// database: its workers run, but no batch here ends before the test has looked at it.
async fn farm(db: &TestDatabase, adjust: impl FnOnce(&mut FleetConfig)) -> Stack {
    batch::set_keys();
    Stack::start_sim(
        1,
        Some(db.url()),
        support::stack::fast_cadence(),
        |sim| sim.tokens_per_sec = 10.0,
        |config| {
            batch::enable(config);
            adjust(config);
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_file_reads_back_whole_and_is_sealed_at_rest() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |_| {}).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let content = tickets(3);
    let file = agent.upload(&content).await;
    let id = file["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("file-"), "{file}");
    assert_eq!(file["object"], "file");
    assert_eq!(file["purpose"], "batch");
    assert_eq!(file["filename"], "tickets.jsonl");
    assert_eq!(file["bytes"], content.len());

    let (status, retrieved) = agent.get_json(&format!("/v1/files/{id}")).await;
    assert_eq!((status, &retrieved), (200, &file));
    let read_back = agent.get(&format!("/v1/files/{id}/content")).await;
    assert_eq!(read_back.status(), 200);
    assert_eq!(read_back.text().await.unwrap(), content);

    let stored = stack.store.batch_file(&id).await.unwrap().expect("the file is stored");
    assert_eq!((stored.agent.as_str(), stored.lines), ("classifier", 3));
    let sealed = stored.content.expect("its content is kept until retention");
    assert!(
        !sealed.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "the stored file holds no request text"
    );
    let key = Sealer::from_base64(KEY).unwrap();
    assert_eq!(
        key.open_for(Binding::File { id: &id }, &sealed).unwrap(),
        content.as_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_created_retrieved_listed_and_cancelled() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |_| {}).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let first_file = agent.upload(&tickets(5)).await;
    let (status, first) = agent
        .post_json(
            "/v1/batches",
            json!({
                "input_file_id": first_file["id"],
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
                "metadata": {"run": "nightly"}
            }),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("batch_"), "{first}");
    assert_eq!(first["object"], "batch");
    assert_eq!(first["status"], "in_progress");
    assert_eq!(first["input_file_id"], first_file["id"]);
    assert_eq!(
        first["request_counts"],
        json!({"total": 5, "completed": 0, "failed": 0})
    );
    assert_eq!(first["metadata"], json!({"run": "nightly"}));
    assert_eq!(first["errors"], Value::Null);
    let created = first["created_at"].as_i64().unwrap();
    assert_eq!(first["expires_at"].as_i64().unwrap() - created, 24 * 3600);

    let (status, retrieved) = agent.get_json(&format!("/v1/batches/{id}")).await;
    assert_eq!((status, retrieved["id"].as_str()), (200, Some(id.as_str())));

    let second_file = agent.upload(&tickets(2)).await;
    let (_, second) = agent.create_batch(second_file["id"].as_str().unwrap()).await;
    let (status, page) = agent.get_json("/v1/batches?limit=1").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["object"].as_str(), page["has_more"].as_bool()),
        (Some("list"), Some(true))
    );
    assert_eq!(page["data"][0]["id"], second["id"], "newest first");
    assert_eq!(page["last_id"], second["id"]);
    let (_, next) = agent
        .get_json(&format!("/v1/batches?limit=1&after={}", second["id"].as_str().unwrap()))
        .await;
    assert_eq!(next["data"][0]["id"], json!(id));
    assert_eq!(next["has_more"], false);
    let (status, bad_limit) = agent.get_json("/v1/batches?limit=0").await;
    assert_eq!((status, bad_limit["error"]["param"].as_str()), (400, Some("limit")));

    let (status, cancelled) = agent.post_json(&format!("/v1/batches/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(
        ["cancelling", "cancelled"].contains(&cancelled["status"].as_str().unwrap()),
        "{cancelled}"
    );
    assert!(cancelled["cancelling_at"].is_i64(), "{cancelled}");
    let stored = stack.store.batch(&id).await.unwrap().unwrap();
    assert_eq!(stored.counts.queued, 0, "the queued jobs were cancelled");
}

/// A queued job as the table holds it.
struct Queued {
    batch_id: String,
    custom_id: String,
    class: String,
    request: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_request_bodies_are_sealed_to_their_job() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |_| {}).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let content = tickets(2);
    let file = agent.upload(&content).await;
    let (status, batch) = agent.create_batch(file["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{batch}");
    let batch_id = batch["id"].as_str().unwrap();
    // What the queue holds, read straight from the table (the workers may be running the jobs).
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let rows: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT custom_id, class, request FROM jobs WHERE batch_id = $1 ORDER BY line")
            .bind(batch_id)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let claimed: Vec<Queued> = rows
        .into_iter()
        .map(|(custom_id, class, request)| Queued {
            batch_id: batch_id.to_string(),
            custom_id,
            class,
            request,
        })
        .collect();
    assert_eq!(claimed.len(), 2);
    let key = Sealer::from_base64(KEY).unwrap();
    for (job, line) in claimed.iter().zip(content.lines()) {
        assert_eq!((job.batch_id.as_str(), job.class.as_str()), (batch_id, "routine"));
        assert!(!job.request.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
        let binding = Binding::Job {
            batch_id,
            custom_id: &job.custom_id,
        };
        let body: Value = serde_json::from_slice(&key.open_for(binding, &job.request).unwrap()).unwrap();
        let sent: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (body, job.custom_id.as_str()),
            (sent["body"].clone(), sent["custom_id"].as_str().unwrap())
        );
        let elsewhere = Binding::Job {
            batch_id,
            custom_id: "another-line",
        };
        assert!(
            key.open_for(elsewhere, &job.request).is_err(),
            "a body opens only for its own job"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_line_fails_the_batch_with_its_line_number() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |_| {}).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let good = tickets(1);
    let good = good.trim_end();
    let content = [
        good.to_string(),
        "{\"custom_id\": \"t-2\", not json".to_string(),
        good.to_string(),
        good.replace("t-1", "t-4").replace("routine", "gpt-4o"),
        good.replace("t-1", "t-5")
            .replace("/v1/chat/completions", "/v1/embeddings"),
        good.replace("t-1", "t-6").replace("POST", "GET"),
    ]
    .join("\n");
    let file = agent.upload(&content).await;
    let (status, batch) = agent.create_batch(file["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["status"], "failed");
    assert!(batch["failed_at"].is_i64(), "{batch}");
    assert_eq!(batch["request_counts"]["total"], 0);
    assert_eq!(batch["errors"]["object"], "list");
    let errors: Vec<(i64, String, String)> = batch["errors"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let lines_and_codes: Vec<(i64, &str)> = errors.iter().map(|(l, c, _)| (*l, c.as_str())).collect();
    assert_eq!(
        lines_and_codes,
        vec![
            (2, "invalid_json_line"),
            (3, "duplicate_custom_id"),
            (4, "unknown_task_class"),
            (5, "url_mismatch"),
            (6, "invalid_method"),
        ]
    );
    assert!(errors[1].2.contains("already used on line 1"), "{}", errors[1].2);
    assert!(errors[2].2.contains("gpt-4o"), "{}", errors[2].2);
    let stored = stack.store.batch(batch["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.counts.total, 0, "a refused batch queues nothing");
    let (_, empty) = agent
        .create_batch(agent.upload("\n\n").await["id"].as_str().unwrap())
        .await;
    assert_eq!(empty["errors"]["data"][0]["code"], "empty_file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_and_bad_batch_requests_name_what_is_wrong() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |config| config.jobs.max_file_bytes = 1024).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let content = tickets(1);

    let (status, err) = agent
        .upload_form(&[
            ("purpose", None, b"fine-tune"),
            ("file", Some("t.jsonl"), content.as_bytes()),
        ])
        .await;
    assert_eq!((status, err["error"]["param"].as_str()), (400, Some("purpose")));
    assert!(
        err["error"]["message"].as_str().unwrap().contains("`fine-tune`"),
        "{err}"
    );
    let (status, err) = agent
        .upload_form(&[("file", Some("t.jsonl"), content.as_bytes())])
        .await;
    assert_eq!((status, err["error"]["param"].as_str()), (400, Some("purpose")));
    let (status, err) = agent.upload_form(&[("purpose", None, b"batch")]).await;
    assert_eq!((status, err["error"]["param"].as_str()), (400, Some("file")));

    let big = tickets(20);
    assert!(big.len() > 1024);
    let (status, err) = agent
        .upload_form(&[("purpose", None, b"batch"), ("file", Some("big.jsonl"), big.as_bytes())])
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (413, Some("file_too_large")));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("jobs.max_file_bytes"),
        "{err}"
    );
    let not_a_form = reqwest::Client::new()
        .post(format!("{}/v1/files", stack.url))
        .bearer_auth(CLASSIFIER.2)
        .json(&json!({"purpose": "batch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), 400);

    let file = agent.upload(&content).await;
    let file_id = file["id"].as_str().unwrap();
    let asks = [
        (
            json!({"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h"}),
            400,
            "endpoint",
        ),
        (
            json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "1h"}),
            400,
            "completion_window",
        ),
        (
            json!({"endpoint": "/v1/chat/completions", "completion_window": "24h"}),
            400,
            "input_file_id",
        ),
        (
            json!({"input_file_id": "file-doesnotexist", "endpoint": "/v1/chat/completions", "completion_window": "24h"}),
            404,
            "input_file_id",
        ),
        (
            json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h", "metadata": {"n": 1}}),
            400,
            "metadata",
        ),
    ];
    for (ask, want_status, want_param) in asks {
        let (status, err) = agent.post_json("/v1/batches", ask.clone()).await;
        assert_eq!(
            (status, err["error"]["param"].as_str()),
            (want_status, Some(want_param)),
            "{ask} → {err}"
        );
    }
    let (status, err) = agent
        .post_json(
            "/v1/batches",
            json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "1h"}),
        )
        .await;
    assert!(
        status == 400
            && err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("jobs.completion_windows"),
        "{err}"
    );
    let (status, _) = agent.get_json("/v1/batches/batch_doesnotexist").await;
    assert_eq!(status, 404);
    let (status, _) = agent.get_json("/v1/files/file-doesnotexist/content").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agents_files_and_batches_do_not_exist_for_an_agent() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |_| {}).await;
    let owner = Agent::new(&stack.url, CLASSIFIER.2);
    let other = Agent::new(&stack.url, SUMMARISER.2);
    let file = owner.upload(&tickets(2)).await;
    let file_id = file["id"].as_str().unwrap();
    let (_, batch) = owner.create_batch(file_id).await;
    let batch_id = batch["id"].as_str().unwrap();

    for path in [
        format!("/v1/files/{file_id}"),
        format!("/v1/files/{file_id}/content"),
        format!("/v1/batches/{batch_id}"),
    ] {
        let (status, err) = other.get_json(&path).await;
        assert_eq!(status, 404, "{path}: {err}");
        assert!(
            !err.to_string().contains("classifier"),
            "{path} says nothing of its owner: {err}"
        );
    }
    let (status, _) = other
        .post_json(&format!("/v1/batches/{batch_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = other.create_batch(file_id).await;
    assert_eq!(status, 404, "another agent's file is no input");
    let (_, page) = other.get_json("/v1/batches").await;
    assert_eq!(page["data"], json!([]));
    let (_, page) = owner.get_json("/v1/batches").await;
    assert_eq!(page["data"][0]["id"], json!(batch_id));
    assert_eq!(
        stack.store.batch(batch_id).await.unwrap().unwrap().status.as_str(),
        "in_progress",
        "the other agent's cancel did nothing"
    );
}

/// Sends `head` and no body, and returns what the router answers within 10 s.
async fn answer_to_head(stack: &Stack, head: &str) -> String {
    let addr = stack.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("the router accepts");
    stream.write_all(head.as_bytes()).await.expect("head sent");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = stream.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || whole_response(&answer) {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `bytes` hold a response's head and all of its `content-length` body.
fn whole_response(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse::<usize>().ok());
    length.is_some_and(|length| body.len() >= length)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_key_is_refused_before_the_body_is_read() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |config| config.router.body_read_timeout_secs = 60).await;
    // The heads promise a body that never comes: an answer can only come from the headers.
    for (path, content_type) in [
        ("/v1/files", "multipart/form-data; boundary=x"),
        ("/v1/batches", "application/json"),
    ] {
        for authorization in ["", "authorization: Bearer k-wrong\r\n"] {
            let head = format!(
                "POST {path} HTTP/1.1\r\nhost: farm\r\n{authorization}content-type: {content_type}\r\ncontent-length: 100000\r\n\r\n"
            );
            let answer = answer_to_head(&stack, &head).await;
            assert!(answer.starts_with("HTTP/1.1 401"), "{path} {authorization:?}: {answer}");
            assert!(answer.contains("invalid_api_key"), "{answer}");
        }
    }
    let agent = Agent::new(&stack.url, "k-wrong");
    let (status, _) = agent.get_json("/v1/batches").await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_encryption_key_the_api_names_the_key_to_set() {
    let db = TestDatabase::create().await;
    let stack = farm(&db, |config| config.jobs.encryption_key = None).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let (status, err) = agent
        .upload_form(&[("purpose", None, b"batch"), ("file", Some("t.jsonl"), b"{}")])
        .await;
    assert_eq!(status, 503, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("jobs.encryption_key"),
        "{err}"
    );
    let (status, err) = agent.get_json("/v1/batches").await;
    assert_eq!((status, err["error"]["code"].as_str()), (503, Some("batch_api_off")));
    let stranger = Agent::new(&stack.url, "k-wrong");
    let (status, _) = stranger.get_json("/v1/batches").await;
    assert_eq!(status, 401, "the key is checked first");
}

/// The version of `name` that requirements.txt pins.
fn pinned(name: &str) -> String {
    let text = std::fs::read_to_string(Path::new(CLIENTS).join("requirements.txt")).expect("requirements.txt reads");
    text.lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{name}==")))
        .expect("a pinned version")
        .to_string()
}

/// Fails the test, with the command that fixes it, unless python3 has the pinned `openai`.
fn require_python_client() {
    let wanted = pinned("openai");
    let install = "python3 -m pip install -r tests/clients/requirements.txt (or run .ci/run)";
    let found = std::process::Command::new("python3")
        .args(["-c", "import openai; print(openai.__version__)"])
        .output()
        .map_err(|e| format!("python3 could not be started ({e})"))
        .and_then(|out| {
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
            } else {
                Err("`import openai` failed".to_string())
            }
        });
    match found {
        Ok(found) if found == wanted => {}
        Ok(found) => panic!("python3 has openai {found}, the tests pin {wanted}: {install}"),
        Err(why) => panic!("the official openai Python client is missing ({why}): {install}"),
    }
}

/// Runs tests/clients/openai_batch.py against `stack` with `--then then` on `lines` tickets; its summary.
async fn python_client(stack: &Stack, lines: usize, then: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tickets.jsonl");
    std::fs::write(&input, tickets(lines)).unwrap();
    let output = tokio::process::Command::new("python3")
        .arg(Path::new(CLIENTS).join("openai_batch.py"))
        .args(["--base-url", &format!("{}/v1", stack.url), "--api-key", CLASSIFIER.2])
        .arg("--input")
        .arg(&input)
        .args(["--then", then])
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .kill_on_drop(true)
        .output()
        .await
        .expect("python3 starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON summary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_uploads_creates_finds_and_cancels_a_batch() {
    require_python_client();
    let db = TestDatabase::create().await;
    // Slow generation, so that the batch is still running when the client cancels it.
    let stack = farm(&db, |_| {}).await;
    let summary = python_client(&stack, 25, "cancel").await;
    let batch_id = summary["batch_id"].as_str().unwrap();
    let stored = stack.store.batch(batch_id).await.unwrap().expect("the batch is stored");
    assert_eq!(stored.agent, "classifier", "the batch belongs to the key's agent");
    assert_eq!(stored.counts.total, 25);
    assert!(stored.cancelling_at.is_some(), "the client's cancel reached the store");
    let file = stack
        .store
        .batch_file(summary["file_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((file.agent.as_str(), file.lines), ("classifier", 25));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_waits_for_a_batch_and_reads_its_output() {
    require_python_client();
    let db = TestDatabase::create().await;
    let stack = batch::farm(&db, 1, |_| {}).await;
    let summary = python_client(&stack, 20, "wait").await;
    assert_eq!(summary["status"], "completed", "{summary}");
    assert_eq!(summary["output_lines"], 20, "{summary}");
}
