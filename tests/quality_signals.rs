//! Quality signals measured in flight, end to end: real HTTP through the router to the simulated
//! farm and frontier, decisions recorded in the store (PostgreSQL and SQLite), and the hourly
//! rollup read back per class and route. No text is stored, only the signals.

mod support;

use chrono::{TimeDelta, Utc};
use farmhand::config::SloConfig;
use farmhand::domain::{DecisionRecord, FinishReason};
use farmhand::sim::FaultKind;
use serde_json::{Value, json};
use support::pg::TestDatabase;
use support::stack::Stack;

/// A schema the simulated models answer to.
fn label_format() -> Value {
    json!({"type": "json_schema", "json_schema": {"name": "label", "strict": true, "schema": {"type": "object",
        "properties": {"label": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["label", "confidence"]}}})
}

fn ask(class: &str, extra: Value) -> Value {
    let mut body = json!({"model": class, "max_tokens": 256,
        "messages": [{"role": "user", "content": "Label this support ticket: the printer is on fire."}]});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

/// Sends `body` and reads the whole answer; returns the request id the router gave it.
async fn send(stack: &Stack, client: &reqwest::Client, body: Value) -> String {
    let response = stack.chat(client, body).await;
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

async fn quality_of(stack: &Stack, request_id: &str) -> DecisionRecord {
    stack.gateway.flush().await;
    stack
        .store
        .recent_decisions(100)
        .await
        .expect("decisions")
        .into_iter()
        .map(|d| d.record)
        .find(|d| d.request_id == request_id)
        .expect("the request's decision")
}

async fn signals_are_measured_and_rolled_up(store_url: Option<&str>) {
    let stack = Stack::start(2, store_url, |c| {
        c.quality.slo_min_requests = 3;
        c.quality.slo.insert(
            "routine".into(),
            SloConfig {
                truncation_rate: Some(0.10),
                json_valid_rate: Some(0.4),
                ..SloConfig::default()
            },
        );
    })
    .await;
    let client = reqwest::Client::new();

    // A schema asked for and met, whole.
    let id = send(
        &stack,
        &client,
        ask("routine", json!({"response_format": label_format()})),
    )
    .await;
    let d = quality_of(&stack, &id).await;
    let q = &d.quality;
    assert_eq!(q.finish_reason, Some(FinishReason::Stop), "{d:?}");
    assert_eq!((q.empty_answer, q.json_valid), (Some(false), Some(true)), "{d:?}");
    assert_eq!(q.ttft_ms, None, "no first token is seen in a whole answer");
    assert!(q.tokens_per_sec.is_some_and(|tps| tps > 0.0), "{d:?}");

    // JSON cut at max_tokens, streamed: truncated and invalid, with a time to first token.
    let id = send(
        &stack,
        &client,
        ask(
            "routine",
            json!({"response_format": {"type": "json_object"}, "max_tokens": 3, "stream": true}),
        ),
    )
    .await;
    let d = quality_of(&stack, &id).await;
    let q = &d.quality;
    assert_eq!(q.finish_reason, Some(FinishReason::Length), "{d:?}");
    assert_eq!(q.json_valid, Some(false), "{d:?}");
    assert!(q.ttft_ms.is_some_and(|t| t <= d.latency_ms), "{d:?}");

    // Free text is not judged as JSON.
    let id = send(&stack, &client, ask("routine", json!({"stream": true}))).await;
    let q = quality_of(&stack, &id).await.quality;
    assert_eq!((q.finish_reason, q.json_valid), (Some(FinishReason::Stop), None));

    // The frontier's answers (Anthropic's, translated) are read the same way.
    let id = send(
        &stack,
        &client,
        ask("reasoning", json!({"response_format": {"type": "json_object"}})),
    )
    .await;
    let d = quality_of(&stack, &id).await;
    assert_eq!(d.endpoint, farmhand::domain::Endpoint::Frontier, "{d:?}");
    assert_eq!(d.quality.finish_reason, Some(FinishReason::Stop), "{d:?}");
    assert_eq!(d.quality.json_valid, Some(true), "{d:?}");

    // A stream the node breaks off ends in an error.
    for node in stack.farm.node_names() {
        stack.farm.set_fault(&node, Some(FaultKind::Drop)).expect("fault");
    }
    let id = send(&stack, &client, ask("routine", json!({"stream": true}))).await;
    let d = quality_of(&stack, &id).await;
    assert_eq!(d.quality.finish_reason, Some(FinishReason::Error), "{d:?}");
    assert_eq!(d.quality.empty_answer, None, "a broken answer is not judged: {d:?}");
    for node in stack.farm.node_names() {
        stack.farm.set_fault(&node, None).expect("fault cleared");
    }

    // The rollup holds the same signals per class and route.
    let now = Utc::now();
    let rows = stack
        .store
        .quality_summary(now - TimeDelta::hours(1), now + TimeDelta::hours(1))
        .await
        .expect("quality summary");
    let local: Vec<_> = rows.iter().filter(|r| r.route.starts_with("local/")).collect();
    assert_eq!(local.iter().map(|r| r.line.requests).sum::<i64>(), 4, "{rows:?}");
    assert_eq!(local.iter().map(|r| r.line.truncated).sum::<i64>(), 1, "{rows:?}");
    assert_eq!(local.iter().map(|r| r.line.errors).sum::<i64>(), 1, "{rows:?}");
    assert_eq!(
        local
            .iter()
            .map(|r| (r.line.json_checked, r.line.json_valid))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
        (2, 1),
        "{rows:?}"
    );
    assert_eq!(
        local.iter().map(|r| r.line.ttft_count).sum::<i64>(),
        3,
        "every stream had a first token, the broken one too: {rows:?}"
    );
    let frontier: Vec<_> = rows.iter().filter(|r| r.route.starts_with("frontier/")).collect();
    assert_eq!(frontier.len(), 1, "{rows:?}");
    assert_eq!((frontier[0].line.requests, frontier[0].line.json_valid), (1, 1));

    // This router judges its last hour against the objectives, in /metrics.
    let metrics = client
        .get(format!("{}/metrics", stack.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    for line in [
        "farmhand_quality_slo_observed{class=\"routine\",slo=\"truncation_rate\"} 0.25",
        "farmhand_quality_slo_breached{class=\"routine\",slo=\"truncation_rate\"} 1",
        "farmhand_quality_slo_observed{class=\"routine\",slo=\"json_valid_rate\"} 0.5",
        "farmhand_quality_slo_breached{class=\"routine\",slo=\"json_valid_rate\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in:\n{metrics}");
    }

    // Nothing of the answers' text reached the store.
    let all: Vec<String> = stack
        .store
        .recent_decisions(100)
        .await
        .expect("decisions")
        .iter()
        .map(|d| serde_json::to_string(&d.record).expect("serialises"))
        .collect();
    assert!(
        all.iter()
            .all(|row| !row.contains("printer") && !row.contains("label\\\""))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_on_sqlite() {
    signals_are_measured_and_rolled_up(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_on_postgres() {
    let db = TestDatabase::create().await;
    signals_are_measured_and_rolled_up(Some(db.url())).await;
}
