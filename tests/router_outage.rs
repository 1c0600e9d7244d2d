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

/// The value of an unlabelled counter in the router's `/metrics`.
async fn counter(client: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}")) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_without_postgres_past_the_journal_cap_drops_an_exact_count_and_lands_the_rest_once() {
    const OUTAGE: Duration = Duration::from_secs(60);
    const PER_SECOND: u64 = 40;
    const BUFFER: usize = 100;
    const JOURNAL_CAP: u64 = 64 * 1024;
    let (before, after) = (Duration::from_secs(3), Duration::from_secs(3));
    let db = TestDatabase::create().await;
    let (proxy, via_proxy) = CuttableProxy::in_front_of(db.url()).await;
    let stack = Stack::start(3, Some(&via_proxy), |c| {
        c.router.buffer_decisions = BUFFER;
        c.router.journal_max_bytes = JOURNAL_CAP;
    })
    .await;
    let client = reqwest::Client::new();
    let sent = PER_SECOND * (before + OUTAGE + after).as_secs();
    let mut tasks = Vec::new();
    for i in 0..sent {
        let client = client.clone();
        let url = format!("{}/v1/chat/completions", stack.url);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 1000 / PER_SECOND)).await;
            let body = json!({"model": "routine", "messages": [{"role": "user", "content": format!("ticket {i}")}], "max_tokens": 8});
            let response = client.post(url).json(&body).send().await.expect("router answers");
            let id = response.headers()["x-request-id"].to_str().expect("ascii id").to_string();
            (response.status().as_u16(), id)
        }));
    }
    tokio::time::sleep(before).await;
    proxy.cut();
    let journal = stack.dir.path().join("journal.ndjson");
    let cut_at = std::time::Instant::now();
    let mut largest = 0;
    while cut_at.elapsed() < OUTAGE {
        tokio::time::sleep(Duration::from_millis(250)).await;
        largest = largest.max(std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0));
    }
    assert!(
        largest > 0,
        "decisions past the memory bound were spilled to the journal"
    );
    assert!(
        largest <= JOURNAL_CAP,
        "the journal stayed under its cap: {largest} bytes"
    );
    let dropped_during = counter(&client, &stack.url, "farmhand_decisions_dropped_total").await;
    assert!(dropped_during > 0, "the outage outgrew memory and journal");
    proxy.restore();

    let mut ids = HashSet::new();
    for task in tasks {
        let (status, id) = task.await.expect("request task");
        assert_eq!(status, 200, "routing goes on while the store is down");
        assert!(ids.insert(id), "request ids are unique");
    }
    stack.gateway.flush().await;
    let direct = farmhand::store::Store::connect(db.url()).await.unwrap();
    let mut rows = Vec::new();
    for _ in 0..60 {
        rows = direct.recent_decisions(100_000).await.unwrap();
        if !journal.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!journal.exists(), "the journal is replayed and removed");
    let landed_ids: HashSet<&str> = rows.iter().map(|d| d.record.request_id.as_str()).collect();
    let landed = rows.len() as u64;
    let dropped = counter(&client, &stack.url, "farmhand_decisions_dropped_total").await;
    eprintln!(
        "store outage {} s at {PER_SECOND} req/s, memory buffer {BUFFER} decisions, journal cap {JOURNAL_CAP} bytes \
         (largest seen {largest}): sent {sent}, landed {landed}, dropped {dropped}",
        OUTAGE.as_secs()
    );
    assert_eq!(landed_ids.len() as u64, landed, "no decision landed twice");
    assert!(
        landed_ids.iter().all(|id| ids.contains(*id)),
        "every row is one of the requests sent"
    );
    assert!(dropped >= dropped_during, "a counter never goes back");
    assert_eq!(sent, landed + dropped, "sent = landed + dropped, exactly");
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
    let mut before = status().await;
    for _ in 0..40 {
        if before.control_store_reachable {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        before = status().await;
    }
    assert!(before.store_up);
    assert!(
        before.control_store_reachable,
        "the router reads its control state: {before:?}"
    );
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
    // Cut off from the store, the router keeps its last control snapshot and says so.
    for _ in 0..40 {
        if !during.control_store_reachable {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        during = status().await;
    }
    assert!(!during.control_store_reachable, "{during:?}");
    let health = client
        .get(format!("{}/healthz", stack.url))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200, "the router serves on");
    let health = health.text().await.expect("healthz text");
    assert!(health.contains("the store is unreachable"), "{health}");
    let metrics = client
        .get(format!("{}/metrics", stack.url))
        .send()
        .await
        .expect("metrics answer");
    let metrics = metrics.text().await.expect("metrics text");
    assert!(metrics.contains("farmhand_control_store_reachable 0"), "{metrics}");
    assert!(metrics.contains("farmhand_control_age_seconds "), "{metrics}");

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
