//! Nothing of a prompt or a completion lands in the router's log, the store or the journal, on
//! any path: marker strings go out in prompts (every field) and come back in completions, through
//! healthy, failing, garbled, cut and echoing nodes and providers, streamed and not, on SQLite and
//! on PostgreSQL with an outage that spills decisions to the journal. Then the log file, the
//! store (every row of every table, and SQLite's raw files) and the journal are searched for them.

mod support;

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use farmhand::config::FleetConfig;
use farmhand::sim::FaultKind;
use farmhand::sim::text::ECHO_CUE;
use rand::Rng;
use serde_json::Value;
use sqlx::{Connection, PgConnection, Row};
use support::outage::CuttableProxy;
use support::pg::TestDatabase;
use support::privacy::{PLACES, plain_marker, request_with, sensitive_marker};
use support::stack::Stack;

/// Node and frontier faults the traffic goes through, one round each.
const ROUNDS: &[(Option<FaultKind>, Option<FaultKind>)] = &[
    (None, None),
    (Some(FaultKind::Echo), Some(FaultKind::Echo)),
    (Some(FaultKind::Error500), Some(FaultKind::Error500)),
    (Some(FaultKind::Garbage), Some(FaultKind::Garbage)),
    (Some(FaultKind::Drop), Some(FaultKind::Drop)),
    (Some(FaultKind::Overloaded), Some(FaultKind::RateLimited)),
    (Some(FaultKind::Hang), Some(FaultKind::Hang)),
];

fn adjust(config: &mut FleetConfig) {
    config.router.first_byte_timeout_secs = 1;
    config.router.idle_timeout_secs = 1;
    config.router.buffer_decisions = 2;
}

/// Sends one round of traffic; returns every marker it put in a prompt or asked back in a completion.
async fn traffic(stack: &Stack, client: &reqwest::Client) -> Vec<String> {
    let mut rng = rand::rng();
    let mut markers = Vec::new();
    let mut sends = Vec::new();
    // The user field names the agent (it is stored as such by design), so it carries no marker here.
    for place in PLACES.iter().filter(|p| **p != "user_field") {
        for class in ["routine", "reasoning", "orchestration", "sensitive"] {
            let stream = rng.random_bool(0.5);
            let marker = if rng.random_bool(0.5) {
                sensitive_marker(&mut rng)
            } else {
                plain_marker(&mut rng)
            };
            let echoed = plain_marker(&mut rng);
            let mut body = request_with(class, place, &marker);
            let last = body["messages"].as_array().map_or(0, Vec::len) - 1;
            body["messages"][last]["content"] = Value::from(format!("Answer this. {ECHO_CUE}{echoed} {echoed}"));
            body["stream"] = Value::from(stream);
            body["max_tokens"] = Value::from(64);
            markers.push(marker);
            markers.push(echoed);
            sends.push(stack.chat(client, body));
        }
    }
    for response in futures::future::join_all(sends).await {
        // Every status is fine here (faults fail requests); the body is read to the end.
        let _ = response.bytes().await;
    }
    markers
}

async fn run_rounds(stack: &Stack) -> Vec<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut markers = Vec::new();
    for (node_fault, frontier_fault) in ROUNDS {
        for node in ["mini-01", "mini-02"] {
            stack.farm.set_fault(node, *node_fault).unwrap();
        }
        stack.farm.set_fault("frontier", *frontier_fault).unwrap();
        markers.extend(traffic(stack, &client).await);
    }
    for node in ["mini-01", "mini-02"] {
        stack.farm.set_fault(node, None).unwrap();
    }
    stack.farm.set_fault("frontier", None).unwrap();
    markers
}

fn assert_clean(what: &str, haystack: &[u8], markers: &[String]) {
    assert!(!haystack.is_empty(), "{what} is empty: nothing was checked");
    let text = String::from_utf8_lossy(haystack);
    let found: Vec<&String> = markers.iter().filter(|m| text.contains(m.as_str())).collect();
    assert!(
        found.is_empty(),
        "{what} holds prompt or completion text: {} markers, the first {:?}",
        found.len(),
        &found[..found.len().min(5)]
    );
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// Every row of every table of the database, as text.
async fn postgres_dump(url: &str) -> Vec<u8> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
        .fetch_all(&mut conn)
        .await
        .expect("tables");
    assert!(tables.iter().any(|t| t == "routing_decisions"), "{tables:?}");
    let mut dump = Vec::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT t::text FROM \"{table}\" t")))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        for row in rows {
            dump.extend(row.get::<String, _>(0).into_bytes());
            dump.push(b'\n');
        }
    }
    dump
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_prompt_or_completion_text_reaches_logs_store_or_journal() {
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("router.log");
    let log_file = File::create(&log_path).unwrap();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("farmhand=trace,debug"))
        .with_writer(Mutex::new(log_file))
        .with_ansi(false)
        .init();

    // SQLite: the database files themselves are searched.
    let stack = Stack::start(2, None, adjust).await;
    let mut markers = run_rounds(&stack).await;
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(10_000).await.unwrap();
    assert!(
        rows.len() >= markers.len() / 2,
        "one decision per request: {}",
        rows.len()
    );
    for name in ["farm.db", "farm.db-wal", "farm.db-shm"] {
        let bytes = file_bytes(&stack.dir.path().join(name));
        if name == "farm.db" {
            assert_clean("the SQLite database", &bytes, &markers);
        } else if !bytes.is_empty() {
            assert_clean(name, &bytes, &markers);
        }
    }
    drop(stack);

    // PostgreSQL, cut off mid-traffic so that decisions spill to the journal.
    let db = TestDatabase::create().await;
    let (proxy, via_proxy) = CuttableProxy::in_front_of(db.url()).await;
    let stack = Stack::start(2, Some(&via_proxy), adjust).await;
    let journal = stack.dir.path().join("journal.ndjson");
    let client = reqwest::Client::new();
    proxy.cut();
    let mut during_outage = Vec::new();
    for _ in 0..2 {
        during_outage.extend(traffic(&stack, &client).await);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let journaled = file_bytes(&journal);
    proxy.restore();
    markers.extend(during_outage);
    markers.extend(run_rounds(&stack).await);
    assert_clean("the journal", &journaled, &markers);
    stack.gateway.flush().await;
    let mut stored = 0;
    for _ in 0..60 {
        stored = stack.store.recent_decisions(10_000).await.map_or(0, |r| r.len());
        if !journal.exists() && stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(stored > 0);
    assert_clean("every PostgreSQL table", &postgres_dump(db.url()).await, &markers);
    drop(stack);

    let log = file_bytes(&log_path);
    assert!(
        String::from_utf8_lossy(&log).contains("upstream failed before the first byte"),
        "the log saw the failures it is checked for"
    );
    assert_clean("the router's log", &log, &markers);
    println!(
        "privacy hygiene: {} markers, log {} bytes, journal {} bytes, {stored} PostgreSQL decisions: none found",
        markers.len(),
        log.len(),
        journaled.len()
    );
}
