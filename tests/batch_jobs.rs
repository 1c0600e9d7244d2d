//! Batch jobs running on the farm, end to end over real HTTP, on PostgreSQL and the simulator:
//! every line lands once, with its runs and its routing decisions joined by job; sensitive jobs
//! never leave the farm (the same markers as live traffic); jobs wait while their node is down;
//! pause, resume, cancel and expiry; a store outage mid-batch loses nothing.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use farmhand::sim::FaultKind;
use serde_json::{Value, json};
use sqlx::Connection;
use support::batch::{self, Agent, CLASSIFIER};
use support::outage::CuttableProxy;
use support::pg::TestDatabase;
use support::privacy;

const WITHIN: Duration = Duration::from_secs(90);

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("an id")
}

/// The custom ids of result lines; panics on one seen twice.
fn custom_ids(lines: &[Value]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in lines {
        let custom_id = line["custom_id"].as_str().expect("a custom_id").to_string();
        assert!(seen.insert(custom_id.clone()), "{custom_id} appears twice");
    }
    seen
}

fn expected_ids(n: usize) -> BTreeSet<String> {
    (1..=n).map(|i| format!("t-{i}")).collect()
}

/// One SQL value from the test database.
async fn scalar(db: &TestDatabase, sql: &'static str, batch_id: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(db.url()).await.expect("connect");
    sqlx::query_scalar(sql)
        .bind(batch_id)
        .fetch_one(&mut conn)
        .await
        .expect(sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_drains_through_idle_slots_and_every_line_lands_once() {
    let db = TestDatabase::create().await;
    let stack = batch::farm(&db, 2, |_| {}).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let submitted = agent.submit(&batch::tickets(40)).await;
    let done = agent.wait_for(id(&submitted), &["completed"], WITHIN).await;
    assert_eq!(
        done["request_counts"],
        json!({"total": 40, "completed": 40, "failed": 0})
    );
    let (output, errors) = agent.results(&done).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(custom_ids(&output), expected_ids(40));
    for line in &output {
        assert_eq!(line["response"]["status_code"], 200, "{line}");
        assert_eq!(line["response"]["body"]["object"], "chat.completion", "{line}");
        assert!(line["error"].is_null(), "{line}");
    }
    stack.gateway.flush().await;
    let joined = scalar(
        &db,
        "SELECT count(*) FROM routing_decisions d JOIN jobs j ON j.id = d.job_id WHERE j.batch_id = $1 AND d.status = 200",
        id(&done),
    )
    .await;
    assert_eq!(joined, 40, "every job's routing decision is recorded with its job id");
    let runs = stack.store.job_runs(id(&done)).await.expect("runs");
    assert_eq!(runs.len(), 40, "{runs:?}");
    let nodes = stack.farm.node_names();
    for run in &runs {
        assert_eq!(run.outcome, "ok", "{run:?}");
        assert!(nodes.contains(run.target.as_ref().expect("a target")), "{run:?}");
        assert!(run.request_id.is_some(), "{run:?}");
    }
    let leaked = scalar(
        &db,
        "SELECT count(*) FROM routing_decisions WHERE position($1 in CAST(routing_decisions AS text)) > 0",
        batch::MARKER,
    )
    .await;
    assert_eq!(leaked, 0, "no prompt text in the decisions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_jobs_never_leave_the_farm_and_the_rest_follow_policy() {
    let db = TestDatabase::create().await;
    let stack = batch::farm(&db, 2, |_| {}).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let mut rng = rand::rng();
    let mut markers = Vec::new();
    let mut content = String::new();
    for i in 1..=24 {
        let (class, text) = match i % 3 {
            // Reasoning goes to the frontier first, unless a detector fires.
            0 => {
                let marker = privacy::sensitive_marker(&mut rng);
                markers.push(marker.clone());
                ("reasoning", format!("Weigh this case for {marker} carefully"))
            }
            1 => {
                let marker = privacy::plain_marker(&mut rng);
                markers.push(marker.clone());
                ("sensitive", format!("Summarise the file of {marker}"))
            }
            _ => ("reasoning", format!("Plan step {i} of the migration")),
        };
        content.push_str(&batch::line(
            &format!("t-{i}"),
            json!({"model": class, "messages": [{"role": "user", "content": text}], "max_tokens": 16}),
        ));
    }
    let submitted = agent.submit(&content).await;
    let done = agent.wait_for(id(&submitted), &["completed"], WITHIN).await;
    let (output, errors) = agent.results(&done).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(custom_ids(&output), expected_ids(24));
    for marker in &markers {
        assert!(!stack.farm.frontier_saw(marker), "the frontier saw {marker}");
    }
    stack.gateway.flush().await;
    let frontier = scalar(
        &db,
        "SELECT count(*) FROM routing_decisions d JOIN jobs j ON j.id = d.job_id WHERE j.batch_id = $1 AND d.endpoint = 'frontier'",
        id(&done),
    )
    .await;
    assert_eq!(frontier, 8, "the plain reasoning jobs follow policy to the frontier");
    let sensitive_local = scalar(
        &db,
        "SELECT count(*) FROM routing_decisions d JOIN jobs j ON j.id = d.job_id WHERE j.batch_id = $1 AND d.sensitive AND d.endpoint = 'local'",
        id(&done),
    )
    .await;
    assert_eq!(sensitive_local, 16);
}

/// Takes the farm's one node down and waits until the router's poller sees it: from then on a
/// claimed job waits for a node and never starts. Returns the node's name.
async fn take_the_node_down(stack: &support::stack::Stack) -> String {
    let node = stack.farm.node_names()[0].clone();
    stack.farm.set_fault(&node, Some(FaultKind::Down)).expect("fault set");
    let mut fleet = stack.fleet.clone();
    tokio::time::timeout(
        WITHIN,
        fleet.wait_for(|f| f.nodes.iter().all(|n| n.health == farmhand::fleet::Health::Down)),
    )
    .await
    .expect("the poller sees the node down")
    .expect("the poller runs");
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_wait_while_their_node_is_down_and_run_once_it_is_back() {
    let db = TestDatabase::create().await;
    let stack = batch::farm(&db, 1, |_| {}).await;
    let node = take_the_node_down(&stack).await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let submitted = agent.submit(&batch::tickets(3)).await;
    let batch_id = id(&submitted).to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, waiting) = agent.get_json(&format!("/v1/batches/{batch_id}")).await;
    assert_eq!(waiting["request_counts"]["completed"], 0, "{waiting}");
    assert_eq!(
        waiting["request_counts"]["failed"], 0,
        "a down node is no attempt: {waiting}"
    );
    stack.farm.set_fault(&node, None).expect("fault cleared");
    let done = agent.wait_for(&batch_id, &["completed"], WITHIN).await;
    let (output, errors) = agent.results(&done).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(custom_ids(&output), expected_ids(3));
    let runs = stack.store.job_runs(&batch_id).await.expect("runs");
    assert!(runs.iter().all(|r| r.outcome == "ok"), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_cancel_and_expiry() {
    let db = TestDatabase::create().await;
    batch::set_keys();
    // Slow generation: a pause, a cancel or a window's end comes while most jobs still wait.
    let stack = support::stack::Stack::start_sim(
        1,
        Some(db.url()),
        support::stack::fast_cadence(),
        |sim| sim.tokens_per_sec = 10.0,
        batch::enable,
    )
    .await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);

    // Paused at once: nothing more is claimed until resumed. The dispatcher may have claimed
    // some before the pause landed (it claims up to 32 at a time) and give them back within its
    // next batch check, so a few may finish; far from all 20 can.
    let file = agent.upload(&batch::tickets(20)).await;
    let (_, paused) = agent.create_batch(id(&file)).await;
    stack.store.set_batch_paused(id(&paused), true).await.expect("pause");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, still) = agent.get_json(&format!("/v1/batches/{}", id(&paused))).await;
    assert!(
        still["request_counts"]["completed"].as_i64().unwrap_or(0) < 20,
        "a paused batch stops being claimed: {still}"
    );
    stack.store.set_batch_paused(id(&paused), false).await.expect("resume");
    let done = agent.wait_for(id(&paused), &["completed"], WITHIN).await;
    assert_eq!(done["request_counts"]["completed"], 20);

    // Expiry: a paused batch whose window ends keeps what it has and fails the rest. Enough
    // tickets that the pause lands before the workers can finish them all.
    let file = agent.upload(&batch::tickets(40)).await;
    let (_, expiring) = agent.create_batch(id(&file)).await;
    stack.store.set_batch_paused(id(&expiring), true).await.expect("pause");
    let mut conn = sqlx::PgConnection::connect(db.url()).await.expect("connect");
    sqlx::query("UPDATE batches SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(id(&expiring))
        .execute(&mut conn)
        .await
        .expect("window moved into the past");
    let expired = agent.wait_for(id(&expiring), &["expired"], WITHIN).await;
    let (output, errors) = agent.results(&expired).await;
    let all: BTreeSet<String> = custom_ids(&output).union(&custom_ids(&errors)).cloned().collect();
    assert_eq!(all, expected_ids(40));
    for line in &errors {
        assert_eq!(line["error"]["code"], "batch_expired", "{line}");
    }

    // Cancel: queued jobs end as cancelled lines. The node is down first, so that no job can
    // start between the batch's creation and its pause (a worker claims and starts at once when
    // its poll falls in between, and a started job runs to its end).
    take_the_node_down(&stack).await;
    let file = agent.upload(&batch::tickets(4)).await;
    let (_, cancelling) = agent.create_batch(id(&file)).await;
    stack
        .store
        .set_batch_paused(id(&cancelling), true)
        .await
        .expect("pause");
    let (status, _) = agent
        .post_json(&format!("/v1/batches/{}/cancel", id(&cancelling)), json!({}))
        .await;
    assert_eq!(status, 200);
    let cancelled = agent.wait_for(id(&cancelling), &["cancelled"], WITHIN).await;
    let (_, errors) = agent.results(&cancelled).await;
    assert_eq!(custom_ids(&errors), expected_ids(4));
    for line in &errors {
        assert_eq!(line["error"]["code"], "batch_cancelled", "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_mid_batch_pauses_the_workers_and_loses_nothing() {
    let db = TestDatabase::create().await;
    let (proxy, url) = CuttableProxy::in_front_of(db.url()).await;
    batch::set_keys();
    let stack = support::stack::Stack::start_sim(
        2,
        Some(&url),
        support::stack::fast_cadence(),
        |sim| sim.tokens_per_sec = 400.0,
        batch::enable,
    )
    .await;
    let agent = Agent::new(&stack.url, CLASSIFIER.2);
    let submitted = agent.submit(&batch::tickets(60)).await;
    let batch_id = id(&submitted).to_string();
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let (_, b) = agent.get_json(&format!("/v1/batches/{batch_id}")).await;
        if b["request_counts"]["completed"].as_i64().unwrap_or(0) >= 10 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the batch never got going: {b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    let done = agent.wait_for(&batch_id, &["completed"], WITHIN).await;
    let (output, errors) = agent.results(&done).await;
    let all: BTreeSet<String> = custom_ids(&output).union(&custom_ids(&errors)).cloned().collect();
    assert_eq!(all, expected_ids(60));
    assert!(
        output.len() + errors.len() == 60,
        "every line once: {} + {}",
        output.len(),
        errors.len()
    );
}
