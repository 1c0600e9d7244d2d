//! A PostgreSQL outage under load: routing goes on, and afterwards the store holds exactly one
//! decision row per request.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use support::outage::CuttableProxy;
use support::pg::TestDatabase;
use support::stack::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_seconds_without_postgres_lose_no_decision_and_duplicate_none() {
    let db = TestDatabase::create().await;
    let (proxy, via_proxy) = CuttableProxy::in_front_of(db.url()).await;

    let stack = Stack::start(3, Some(&via_proxy), |c| c.router.buffer_decisions = 50).await;
    let client = reqwest::Client::new();
    let total = 300u64;
    let mut tasks = Vec::new();
    for i in 0..total {
        let client = client.clone();
        let url = format!("{}/v1/chat/completions", stack.url);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 45)).await;
            let body = json!({"model": "routine", "messages": [{"role": "user", "content": format!("ticket {i}")}], "max_tokens": 8});
            client.post(url).json(&body).send().await.map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let journal = stack.dir.path().join("journal.ndjson");
    assert!(
        journal.exists(),
        "decisions past the memory bound were spilled to the journal during the outage"
    );
    proxy.restore();

    for task in tasks {
        assert_eq!(
            task.await.unwrap().expect("router answers"),
            200,
            "routing goes on while the store is down"
        );
    }
    stack.gateway.flush().await;
    let direct = farmhand::store::Store::connect(db.url()).await.unwrap();
    let mut rows = Vec::new();
    for _ in 0..60 {
        rows = direct.recent_decisions(10_000).await.unwrap();
        if rows.len() as u64 >= total && !journal.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ids: HashSet<&str> = rows.iter().map(|d| d.record.request_id.as_str()).collect();
    assert_eq!(rows.len() as u64, total, "exactly one row per request");
    assert_eq!(ids.len() as u64, total, "no request recorded twice");
    assert!(!journal.exists(), "the journal is replayed and removed");
    let summary = direct
        .spend_summary(chrono::Utc::now() - chrono::TimeDelta::hours(1), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        summary.total.requests as u64, total,
        "spend_hourly counted each decision once"
    );
}
