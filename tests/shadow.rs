//! Shadow twins over real HTTP against the simulated farm and frontier: a sampled answer is run
//! again on the other side after the agent has it, recorded as its own `shadow:` decision, and
//! only the agreement score is stored. Sensitive work is twinned only on the farm.

mod support;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use farmhand::config::ShadowConfig;
use farmhand::domain::Endpoint;
use farmhand::store::AgreementRow;
use serde_json::json;
use support::stack::Stack;

fn shadow(rate: f64, model: Option<&str>) -> ShadowConfig {
    ShadowConfig {
        rate,
        model: model.map(String::from),
    }
}

async fn ask(stack: &Stack, client: &reqwest::Client, class: &str, text: &str) -> String {
    let response = stack
        .chat(
            client,
            json!({"model": class, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id")
        .to_string();
    let _ = response.bytes().await;
    id
}

/// Waits (up to 10 s) until `n` agreement samples are stored, and returns the rows.
async fn samples(stack: &Stack, n: i64) -> Vec<AgreementRow> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        stack.gateway.flush().await;
        let now = Utc::now();
        let rows = stack
            .store
            .agreement_summary(now - TimeDelta::hours(1), now + TimeDelta::hours(1))
            .await
            .expect("agreement summary");
        if rows.iter().map(|r| r.n).sum::<i64>() >= n || tokio::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_answers_are_twinned_on_the_other_side_and_scored() {
    let stack = Stack::start(2, None, |c| {
        c.quality.shadow.insert("routine".into(), shadow(1.0, None));
        c.quality
            .shadow
            .insert("reasoning".into(), shadow(1.0, Some("llama3.1:8b")));
        c.quality
            .shadow
            .insert("sensitive".into(), shadow(1.0, Some("llama3.1:8b")));
    })
    .await;
    let client = reqwest::Client::new();
    let local = ask(&stack, &client, "routine", "Label this ticket: printer jam on floor 3.").await;
    let frontier = ask(
        &stack,
        &client,
        "reasoning",
        "Plan the migration of the billing system.",
    )
    .await;
    let secret = "Summarise the case file of patient 4417 for the ward round.";
    let sensitive = ask(&stack, &client, "sensitive", secret).await;

    let rows = samples(&stack, 3).await;
    assert_eq!(rows.iter().map(|r| r.n).sum::<i64>(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| (0.0..=1.0).contains(&r.mean)), "{rows:?}");

    let decisions: Vec<_> = stack
        .store
        .recent_decisions(100)
        .await
        .expect("decisions")
        .into_iter()
        .map(|d| d.record)
        .collect();
    let twins: Vec<_> = decisions.iter().filter(|d| d.agent.starts_with("shadow:")).collect();
    assert_eq!(twins.len(), 3, "one twin decision each: {twins:?}");
    let of = |id: &str| {
        decisions
            .iter()
            .find(|d| d.request_id == id)
            .expect("the agent's decision")
    };
    assert_eq!(of(&local).endpoint, Endpoint::Local);
    assert_eq!(of(&frontier).endpoint, Endpoint::Frontier);
    let frontier_twins = twins.iter().filter(|d| d.endpoint == Endpoint::Frontier).count();
    assert_eq!(
        frontier_twins, 1,
        "only the farm answer's twin ran at the frontier: {twins:?}"
    );
    let sensitive_twin = twins
        .iter()
        .find(|d| d.effective_class == farmhand::domain::TaskClass::Sensitive)
        .expect("the sensitive twin");
    assert_eq!(sensitive_twin.endpoint, Endpoint::Local);
    assert_eq!(sensitive_twin.model.as_deref(), Some("llama3.1:8b"), "the second model");
    assert!(
        !stack.farm.frontier_saw(secret),
        "sensitive work never reaches the frontier, twin or not"
    );
    assert!(of(&sensitive).sensitive);
    assert!(twins.iter().all(|t| t.status == 200), "{twins:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sampling_nothing_is_twinned() {
    let stack = Stack::start(1, None, |_| {}).await;
    let client = reqwest::Client::new();
    ask(&stack, &client, "routine", "Label this ticket: printer jam on floor 3.").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.gateway.flush().await;
    let decisions = stack.store.recent_decisions(10).await.expect("decisions");
    assert_eq!(decisions.len(), 1);
    assert!(samples(&stack, 0).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_stops_frontier_twins() {
    let stack = Stack::start(1, None, |c| {
        c.quality.shadow.insert("routine".into(), shadow(1.0, None));
        c.policy.daily_frontier_budget_usd = 1e-9;
    })
    .await;
    let client = reqwest::Client::new();
    // A frontier request starts only when the budget's lease can pay for it, twins as agents.
    for _ in 0..4 {
        ask(&stack, &client, "routine", "Label this ticket: printer jam on floor 3.").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.gateway.flush().await;
    let decisions = stack.store.recent_decisions(20).await.expect("decisions");
    let twins = decisions
        .iter()
        .filter(|d| d.record.agent.starts_with("shadow:"))
        .count();
    assert_eq!(decisions.len() - twins, 4);
    assert_eq!(twins, 0, "no twin starts: the budget cannot pay for one");
    assert_eq!(samples(&stack, 0).await.iter().map(|r| r.n).sum::<i64>(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_keeps_twins_off_the_frontier() {
    use farmhand::actions::{Access, Operator};
    let stack = Stack::start(1, None, |c| {
        c.quality.shadow.insert("routine".into(), shadow(1.0, None));
    })
    .await;
    let mut config = stack.farm.fleet_config();
    config.store.url = String::new();
    let ops = Operator::new(&config, stack.store.clone(), "oncall@test".into(), Access::ReadWrite);
    ops.set_override("frontier.kill_switch", "on", None).await.expect("set");
    // The router mirrors control within a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !stack.gateway.frontier_disabled() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stack.gateway.frontier_disabled());
    let client = reqwest::Client::new();
    ask(&stack, &client, "routine", "Label this ticket: printer jam on floor 3.").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    stack.gateway.flush().await;
    let decisions = stack.store.recent_decisions(10).await.expect("decisions");
    assert_eq!(decisions.len(), 1, "no twin while the kill switch is on: {decisions:?}");
    assert!(stack.farm.frontier_log().is_empty(), "the frontier saw nothing");
}
