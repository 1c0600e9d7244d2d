//! Per-agent limits end to end: real HTTP, the simulated farm, a real store; a 429 with
//! `Retry-After` in OpenAI's shape, the rejected decision naming the limit, a live override
//! (validated, versioned, audited) raising it, and the usage the routers report.

mod support;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use farmhand::actions::{Access, Operator};
use farmhand::config::{AgentKey, SecretRef};
use farmhand::domain::Endpoint;
use serde_json::{Value, json};
use support::stack::Stack;

const KEY_VAR: &str = "FARMHAND_TEST_LIMITS_KEY";

fn ask() -> Value {
    json!({"model": "routine", "messages": [{"role": "user", "content": "Classify: printer jammed."}], "max_tokens": 16})
}

async fn send(stack: &Stack, client: &reqwest::Client) -> reqwest::Response {
    client
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth("k-planner")
        .json(&ask())
        .send()
        .await
        .expect("router answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_over_its_rpm_gets_a_429_until_an_override_raises_it() {
    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var(KEY_VAR, "k-planner") };
    let stack = Stack::start(1, None, |c| {
        let mut planner = AgentKey::new("planner", SecretRef::Env(KEY_VAR.into()));
        planner.rpm = Some(2);
        planner.tpm = Some(100_000);
        c.agents.push(planner);
    })
    .await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        assert_eq!(send(&stack, &client).await.status(), 200);
    }
    let refused = send(&stack, &client).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u32 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let error: Value = refused.json().await.expect("an OpenAI error");
    assert_eq!(error["error"]["code"], "agent_limit:rpm");
    assert_eq!(error["error"]["type"], "rate_limit_error");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("2 requests per minute") && message.contains("agent.planner.rpm"),
        "{message}"
    );

    stack.gateway.flush().await;
    let decisions = stack.store.recent_decisions(10).await.expect("decisions");
    let rejected: Vec<_> = decisions
        .iter()
        .filter(|d| d.record.error.as_deref() == Some("agent_limit:rpm"))
        .collect();
    assert_eq!(rejected.len(), 1, "one refusal recorded");
    assert_eq!(rejected[0].record.status, 429);
    assert_eq!(rejected[0].record.endpoint, Endpoint::Rejected);
    assert_eq!(rejected[0].record.agent, "planner");

    let mut config = (*stack.gateway.config).clone();
    config.store.url = String::new();
    let ops = Operator::new(&config, stack.store.clone(), "lead@test".into(), Access::ReadWrite);
    let unknown = ops
        .set_override("agent.ghost.rpm", "10", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("unknown agent `ghost`") && unknown.contains("planner"),
        "{unknown}"
    );
    let bad = ops
        .set_override("agent.planner.rpm", "lots", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("a whole number"), "{bad}");
    let no_limit = ops
        .set_override("agent.planner.rph", "10", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(no_limit.contains("unknown agent limit `rph`"), "{no_limit}");
    let version = ops
        .set_override("agent.planner.rpm", "10", Some("launch day"))
        .await
        .expect("a valid override");
    assert_eq!(version, 1, "the first policy version");
    let audit = stack.store.audit_log(10).await.expect("audit");
    assert_eq!(audit.len(), 1, "only the accepted override is audited");
    assert_eq!(audit[0].target, "agent.planner.rpm");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        send(&stack, &client).await.status(),
        200,
        "the override raised the limit"
    );

    // The router reports what it counts and enforces, as `farmhand spend --json` shows it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let now = Utc::now();
    let lines = stack
        .store
        .agent_limits(now, now - TimeDelta::seconds(3))
        .await
        .expect("limit usage");
    let planner = lines
        .iter()
        .find(|l| l.agent == "planner")
        .expect("planner is reported");
    assert_eq!(planner.rpm.limit, Some(10.0));
    assert_eq!(
        planner.rpm.used, 3.0,
        "admitted requests count, the refused one does not"
    );
    assert_eq!(planner.tpm.limit, Some(100_000.0));
    assert!(planner.tpm.used > 0.0, "finished requests' tokens count");
    assert_eq!(planner.max_in_flight.used, 0.0);
    assert_eq!(planner.routers, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_refuses_the_request_past_it_while_the_others_run() {
    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var("FARMHAND_TEST_LIMITS_KEY_2", "k-batcher") };
    let stack = Stack::start_sim(
        1,
        None,
        support::stack::fast_cadence(),
        |sim| sim.tokens_per_sec = 50.0,
        |c| {
            let mut agent = AgentKey::new("batcher", SecretRef::Env("FARMHAND_TEST_LIMITS_KEY_2".into()));
            agent.max_in_flight = Some(1);
            c.agents.push(agent);
        },
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", stack.url);
    // A stream holds its agent's slot until it ends.
    let streaming = client
        .post(&url)
        .bearer_auth("k-batcher")
        .json(&json!({"model": "routine", "messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 40, "stream": true}))
        .send()
        .await
        .expect("router answers");
    assert_eq!(streaming.status(), 200);
    let second = client
        .post(&url)
        .bearer_auth("k-batcher")
        .json(&ask())
        .send()
        .await
        .expect("router answers");
    assert_eq!(second.status(), 429);
    assert_eq!(
        second.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let error: Value = second.json().await.expect("an OpenAI error");
    assert_eq!(error["error"]["code"], "agent_limit:max_in_flight");
    streaming.bytes().await.expect("the whole stream");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        client
            .post(&url)
            .bearer_auth("k-batcher")
            .json(&ask())
            .send()
            .await
            .expect("router answers")
            .status(),
        200,
        "the slot is free again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_usd_stops_frontier_work_but_not_the_farm() {
    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var("FARMHAND_TEST_LIMITS_KEY_3", "k-analyst") };
    let stack = Stack::start(1, None, |c| {
        let mut agent = AgentKey::new("analyst", SecretRef::Env("FARMHAND_TEST_LIMITS_KEY_3".into()));
        agent.daily_usd = Some(0.000_001);
        c.agents.push(agent);
    })
    .await;
    let client = reqwest::Client::new();
    let post = |class: &str| {
        client
            .post(format!("{}/v1/chat/completions", stack.url))
            .bearer_auth("k-analyst")
            .json(&json!({"model": class, "messages": [{"role": "user", "content": "Plan the quarter, step by step."}], "max_tokens": 16}))
            .send()
    };
    assert_eq!(
        post("reasoning").await.expect("answer").status(),
        200,
        "nothing spent yet"
    );
    let refused = post("reasoning").await.expect("answer");
    assert_eq!(refused.status(), 429);
    let retry_after: u32 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After");
    assert!(retry_after >= 60, "until midnight UTC: {retry_after}");
    let error: Value = refused.json().await.expect("an OpenAI error");
    assert_eq!(error["error"]["code"], "agent_limit:daily_usd");
    assert_eq!(
        post("routine").await.expect("answer").status(),
        200,
        "farm work goes on"
    );
}
