//! Two `farmhand router` processes on one PostgreSQL run one batch; one is killed with SIGKILL
//! in the middle. Its leases run out, the other router takes its jobs over, and every line ends
//! in the output or the error file exactly once; the runs show the attempts the dead router lost.

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use farmhand::sim::{SimFarm, SimOptions};
use support::batch::{self, Agent, CLASSIFIER};
use support::pg::TestDatabase;

const LINES: usize = 240;

/// A router process on `port`, logging to `log`.
fn router(config: &std::path::Path, port: u16, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).expect("router log");
    Command::new(env!("CARGO_BIN_EXE_farmhand"))
        .args(["--config", &config.display().to_string(), "router", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "farmhand=info")
        .env(batch::KEY_VAR, batch::KEY)
        .env(CLASSIFIER.1, CLASSIFIER.2)
        .env(batch::SUMMARISER.1, batch::SUMMARISER.2)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("farmhand router starts")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn healthy(url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_killed_mid_batch_loses_and_doubles_nothing() {
    let db = TestDatabase::create().await;
    let farm = SimFarm::start(SimOptions {
        tokens_per_sec: 120.0,
        ..SimOptions::ephemeral(2, 1.0)
    })
    .await
    .expect("the simulated farm starts");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = farm.fleet_config();
    config.store.url = db.url().to_string();
    batch::enable(&mut config);
    config.jobs.lease_secs = 3;
    config.jobs.idle_after_secs = 0;
    let (ports, urls): (Vec<u16>, Vec<String>) = (0..2)
        .map(|_| {
            let port = free_port();
            (port, format!("http://127.0.0.1:{port}"))
        })
        .unzip();
    let mut routers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let mut own = config.clone();
        own.router.journal_path = Some(dir.path().join(format!("journal-{i}.ndjson")));
        let path = dir.path().join(format!("fleet-{i}.toml"));
        std::fs::write(&path, own.to_toml()).expect("config written");
        routers.push(router(&path, *port, &dir.path().join(format!("router-{i}.log"))));
    }
    for url in &urls {
        healthy(url).await;
    }

    let first = Agent::new(&urls[0], CLASSIFIER.2);
    let submitted = first.submit(&batch::tickets(LINES)).await;
    let batch_id = submitted["id"].as_str().expect("a batch id").to_string();
    // Kill the first router once the batch is well under way, with jobs in its hands.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, b) = first.get_json(&format!("/v1/batches/{batch_id}")).await;
        let completed = b["request_counts"]["completed"].as_i64().unwrap_or(0);
        if completed >= (LINES / 4) as i64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the batch never got going: {b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    routers[0].kill().expect("SIGKILL");
    let _ = routers[0].wait();

    let second = Agent::new(&urls[1], CLASSIFIER.2);
    let done = second
        .wait_for(&batch_id, &["completed"], Duration::from_secs(180))
        .await;
    let (output, errors) = second.results(&done).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in output.iter().chain(&errors) {
        *seen
            .entry(line["custom_id"].as_str().expect("custom_id").to_string())
            .or_default() += 1;
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "lines doubled: {doubled:?}");
    assert_eq!(seen.len(), LINES, "every line ends in a file");
    assert_eq!(output.len(), LINES, "no line failed: {errors:?}");

    let store = farmhand::store::Store::connect(db.url()).await.expect("store");
    let runs = store.job_runs(&batch_id).await.expect("runs");
    let lost = runs.iter().filter(|r| r.outcome == "lost").count();
    let routers_seen: std::collections::BTreeSet<&str> = runs.iter().map(|r| r.router_id.as_str()).collect();
    println!(
        "failover: {LINES} lines, {} runs, {lost} lost with the killed router, {} routers ran jobs",
        runs.len(),
        routers_seen.len()
    );
    assert!(
        lost > 0,
        "the killed router held jobs whose attempts were lost: {runs:?}"
    );
    assert!(routers_seen.len() >= 2, "both routers ran jobs");
    let _ = routers[1].kill();
    let _ = routers[1].wait();
}
