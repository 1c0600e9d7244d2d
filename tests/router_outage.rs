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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_endpoint_counts_what_the_router_holds_while_postgres_is_away() {
    let db = TestDatabase::create().await;
    let (proxy, via_proxy) = CuttableProxy::in_front_of(db.url()).await;
    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var("FARMHAND_TEST_STATUS_TOKEN", "s-status") };
    let stack = Stack::start(2, Some(&via_proxy), |c| {
        c.router.buffer_decisions = 4;
        c.router.status_token = Some(farmhand::config::SecretRef::Env("FARMHAND_TEST_STATUS_TOKEN".into()));
    })
    .await;
    let client = reqwest::Client::new();
    let status_url = format!("{}{}", stack.url, farmhand::wire::ROUTER_STATUS_PATH);
    let status = || async {
        client
            .get(&status_url)
            .bearer_auth("s-status")
            .send()
            .await
            .expect("status answers")
            .json::<farmhand::wire::RouterStatus>()
            .await
            .expect("a status")
    };
    let refused = client.get(&status_url).send().await.expect("answers");
    assert_eq!(refused.status(), 401, "the token is required, loopback or not");
    let wrong = client
        .get(&status_url)
        .bearer_auth("s-statu")
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 401);
    let before = status().await;
    assert!(before.store_up);
    assert_eq!(before.held(), 0);

    proxy.silence();
    let send = |i: u64| {
        let client = client.clone();
        let url = format!("{}/v1/chat/completions", stack.url);
        async move {
            let body = json!({"model": "routine", "messages": [{"role": "user", "content": format!("ticket {i}")}], "max_tokens": 8});
            client.post(url).json(&body).send().await.map(|r| r.status().as_u16())
        }
    };
    for i in 0..20 {
        assert_eq!(send(i).await.expect("router answers"), 200, "routing goes on");
    }
    let mut during = status().await;
    for _ in 0..40 {
        if !during.store_up && during.held() == 20 && during.journaled > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        during = status().await;
    }
    assert!(!during.store_up, "{during:?}");
    assert_eq!(
        during.held(),
        20,
        "every decision is held, in memory or journaled: {during:?}"
    );
    assert!(during.journaled > 0, "past the memory bound, the journal: {during:?}");

    proxy.restore();
    let mut after = status().await;
    for _ in 0..60 {
        if after.held() == 0 && after.store_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = status().await;
    }
    assert_eq!((after.held(), after.store_up), (0, true), "written back: {after:?}");
    let direct = farmhand::store::Store::connect(db.url()).await.unwrap();
    assert_eq!(direct.recent_decisions(100).await.unwrap().len(), 20);
}
