//! One daily frontier budget for the whole fleet: three routers on one PostgreSQL database, each
//! with its own simulated farm and frontier, under concurrent load.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use farmhand::config::OverBudget;
use serde_json::{Value, json};
use support::pg::TestDatabase;
use support::stack::Stack;

/// The fleet's daily budget in USD: a few dozen reasoning requests.
const BUDGET: f64 = 0.03;
/// Concurrent agents per router.
const WORKERS: usize = 4;

fn ask() -> Value {
    json!({
        "model": "reasoning",
        "messages": [{"role": "user", "content": "Plan the migration of our billing system, step by step."}],
        "max_tokens": 64
    })
}

/// Sends requests until the router has refused five in a row over more than a refresh window.
async fn agent(url: String, served: Arc<AtomicU32>, refused: Arc<AtomicU32>) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 5 && Instant::now() < deadline {
        let response = client
            .post(format!("{url}/v1/chat/completions"))
            .json(&ask())
            .send()
            .await
            .expect("router answers");
        match response.status().as_u16() {
            200 => {
                response.bytes().await.expect("the whole answer");
                served.fetch_add(1, Ordering::Relaxed);
                refused_in_a_row = 0;
            }
            503 => {
                let error: Value = response.json().await.expect("an OpenAI error");
                assert_eq!(error["error"]["code"], "budget_exhausted", "{error}");
                assert!(error["error"]["message"].is_string());
                refused.fetch_add(1, Ordering::Relaxed);
                refused_in_a_row += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_routers_share_one_daily_budget() {
    let db = TestDatabase::create().await;
    let mut routers = Vec::new();
    for _ in 0..3 {
        routers.push(
            Stack::start(1, Some(db.url()), |config| {
                config.policy.daily_frontier_budget_usd = BUDGET;
                config.policy.over_budget = OverBudget::Refuse;
            })
            .await,
        );
    }
    // Every router has seen the other two before the load starts.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let served = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU32::new(0));
    let mut agents = Vec::new();
    for router in &routers {
        for _ in 0..WORKERS {
            agents.push(tokio::spawn(agent(router.url.clone(), served.clone(), refused.clone())));
        }
    }
    for agent in agents {
        agent.await.expect("the agent does not panic");
    }
    for router in &mut routers {
        router.shut_down().await.expect("the router stops cleanly");
    }
    // One more refresh writes each router's last spend to its ledger row.
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let pool = sqlx::PgPool::connect(db.url()).await.expect("connect");
    let (total, dearest, frontier_rows, rejected_rows): (f64, f64, i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(cost_usd), 0), coalesce(max(cost_usd), 0), \
         count(*) FILTER (WHERE endpoint = 'frontier'), count(*) FILTER (WHERE endpoint = 'rejected') \
         FROM routing_decisions",
    )
    .fetch_one(&pool)
    .await
    .expect("the decisions add up");
    let ledger: f64 = sqlx::query_scalar("SELECT coalesce(sum(cost_usd), 0) FROM router_spend")
        .fetch_one(&pool)
        .await
        .expect("the routers' spend adds up");
    pool.close().await;
    // The routers' refresh tasks let go of the database before it is dropped.
    drop(routers);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let served = served.load(Ordering::Relaxed);
    let refused = refused.load(Ordering::Relaxed);
    eprintln!(
        "fleet budget: 3 routers x {WORKERS} agents; budget ${BUDGET:.4}, total spent ${total:.6} \
         (routers' ledger ${ledger:.6}), bound ${:.6}, max single request ${dearest:.6}; \
         served {served}, refused {refused}",
        BUDGET + 3.0 * dearest
    );
    assert_eq!(i64::from(served), frontier_rows, "every served request is recorded");
    assert_eq!(i64::from(refused), rejected_rows, "every refusal is recorded");
    assert!(dearest > 0.0, "the frontier is priced");
    assert!(
        total <= BUDGET + 3.0 * dearest + 1e-9,
        "spent ${total} against a budget of ${BUDGET} (+3 x ${dearest})"
    );
    assert!(
        total >= BUDGET * 0.5,
        "the budget was used, not refused early: ${total}"
    );
    assert!(refused > 0, "the budget ran out");
    assert!(
        (ledger - total).abs() < 1e-9,
        "the routers' ledger matches the decisions: {ledger} vs {total}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_disconnects_mid_stream_is_charged_for_what_it_got() {
    // A "frontier" provider that streams slowly: a simulated node's OpenAI-compatible endpoint,
    // priced like a frontier model, so the agent can hang up halfway through.
    let stack = Stack::start_sim(
        1,
        None,
        support::stack::fast_cadence(),
        |sim| sim.tokens_per_sec = 20.0,
        |config| {
            let node_url = config.resolved_nodes()[0].ollama_url.clone();
            let model = config.models.routine.clone();
            if let Some(openai) = config.frontier.providers.get_mut("openai") {
                openai.base_url = node_url;
                openai.api_key = None;
            }
            config.frontier.reasoning = farmhand::config::FrontierTarget {
                provider: "openai".into(),
                model: model.clone(),
            };
            let mut price = config.pricing[0].clone();
            price.model = model;
            price.effective = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("a date");
            price.input = 1_000.0;
            price.output = 1_000.0;
            config.pricing.push(price);
        },
    )
    .await;
    let mut response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", stack.url))
        .header("x-agent-id", "quitter")
        .json(&json!({
            "model": "reasoning",
            "messages": [{"role": "user", "content": "Plan the migration of our billing system, step by step."}],
            "max_tokens": 200,
            "stream": true
        }))
        .send()
        .await
        .expect("router answers");
    assert_eq!(response.status(), 200);
    assert!(support::stack::route(&response).starts_with("frontier/"));
    let mut received = 0;
    while received < 3 {
        response.chunk().await.expect("a chunk").expect("the stream goes on");
        received += 1;
    }
    drop(response);

    let deadline = Instant::now() + Duration::from_secs(10);
    let decision = loop {
        stack.gateway.flush().await;
        let decisions = stack.store.recent_decisions(5).await.expect("decisions");
        if let Some(d) = decisions.into_iter().find(|d| d.record.agent == "quitter") {
            break d.record;
        }
        assert!(Instant::now() < deadline, "the abandoned stream was recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "disconnect: status {}, error {:?}, {} prompt + {} completion tokens (estimate {}), ${:.6}",
        decision.status,
        decision.error,
        decision.prompt_tokens,
        decision.completion_tokens,
        decision.est_tokens,
        decision.cost_usd
    );
    assert_eq!(decision.status, 499);
    assert_eq!(decision.error.as_deref(), Some("client_disconnected"));
    assert!(decision.completion_tokens > 0, "the tokens relayed so far are known");
    assert_eq!(
        decision.prompt_tokens,
        decision.est_tokens - 200,
        "the prompt, as estimated (the estimate less max_tokens), was read"
    );
    assert!(decision.cost_usd > 0.0, "and priced");
    let counted = stack.gateway.spend().agent_today("quitter", chrono::Utc::now());
    assert!((counted - decision.cost_usd).abs() < 1e-12, "and counted: {counted}");
}
