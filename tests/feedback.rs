//! `POST /v1/feedback` over real HTTP: agents rate their own answers by request id, ratings are
//! stored as numbers and joined to decisions per class and route; everything else is a clear 4xx.

mod support;

use chrono::{TimeDelta, Utc};
use farmhand::config::{AgentKey, FeedbackKind, FeedbackMetric, Optimize, SecretRef};
use serde_json::{Value, json};
use support::pg::TestDatabase;
use support::stack::Stack;

/// Unique to this test binary, so no other test's keys collide.
const PLANNER_KEY: &str = "FARMHAND_TEST_FEEDBACK_PLANNER_KEY";
const WRITER_KEY: &str = "FARMHAND_TEST_FEEDBACK_WRITER_KEY";

async fn ask(stack: &Stack, client: &reqwest::Client, key: &str) -> (String, String) {
    let response = client
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(key)
        .json(&json!({"model": "routine", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Summarise: the build is green again."}]}))
        .send()
        .await
        .expect("router answers");
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .expect(name)
            .to_string()
    };
    (header("x-request-id"), header("x-farmhand-decision"))
}

async fn rate(stack: &Stack, client: &reqwest::Client, key: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(format!("{}/v1/feedback", stack.url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("router answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

async fn feedback_is_stored_checked_and_summed(store_url: Option<&str>) {
    // SAFETY of the test: these variable names are unique to this binary.
    unsafe {
        std::env::set_var(PLANNER_KEY, "k-feedback-planner");
        std::env::set_var(WRITER_KEY, "k-feedback-writer");
    }
    let stack = Stack::start(1, store_url, |c| {
        c.agents
            .push(AgentKey::new("planner", SecretRef::Env(PLANNER_KEY.into())));
        c.agents
            .push(AgentKey::new("writer", SecretRef::Env(WRITER_KEY.into())));
        let metric = |kind| FeedbackMetric {
            kind,
            optimize: Optimize::Max,
        };
        c.quality
            .feedback
            .insert("task_done".into(), metric(FeedbackKind::Boolean));
        c.quality.feedback.insert("score".into(), metric(FeedbackKind::Float));
    })
    .await;
    let client = reqwest::Client::new();
    let planner = "k-feedback-planner";
    let (first, decision) = ask(&stack, &client, planner).await;
    assert!(decision.ends_with(&format!(";id={first}")), "{decision}");
    let (second, _) = ask(&stack, &client, planner).await;

    // Straight after the answer: the decision may still be in the recorder, and is found.
    let (status, ack) = rate(
        &stack,
        &client,
        planner,
        json!({"request_id": first, "metric": "task_done", "value": true}),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["value"], 1.0);
    let (status, _) = rate(
        &stack,
        &client,
        planner,
        json!({"request_id": second, "metric": "task_done", "value": false}),
    )
    .await;
    assert_eq!(status, 200);
    // A new rating replaces the old one.
    for score in [0.2, 0.9] {
        let (status, _) = rate(
            &stack,
            &client,
            planner,
            json!({"request_id": first, "metric": "score", "value": score}),
        )
        .await;
        assert_eq!(status, 200);
    }

    let refused = [
        (
            "writer",
            json!({"request_id": first, "metric": "task_done", "value": true}),
            403,
            "not_your_decision",
        ),
        (
            "planner",
            json!({"request_id": first, "metric": "thumbs", "value": true}),
            400,
            "unknown_metric",
        ),
        (
            "planner",
            json!({"request_id": first, "metric": "task_done", "value": "yes"}),
            400,
            "invalid_feedback_value",
        ),
        (
            "planner",
            json!({"request_id": first, "metric": "score", "value": true}),
            400,
            "invalid_feedback_value",
        ),
        (
            "planner",
            json!({"request_id": "fh-0000000000-no-such-id", "metric": "task_done", "value": true}),
            404,
            "unknown_request_id",
        ),
        (
            "planner",
            json!({"request_id": first, "metric": "task_done"}),
            400,
            "invalid_json",
        ),
    ];
    for (agent, body, want_status, want_code) in refused {
        let key = if agent == "writer" {
            "k-feedback-writer"
        } else {
            planner
        };
        let (status, error) = rate(&stack, &client, key, body.clone()).await;
        assert_eq!(status, want_status, "{body} -> {error}");
        assert_eq!(error["error"]["code"], want_code, "{body} -> {error}");
        assert!(
            error["error"]["message"].as_str().is_some_and(|m| m.len() > 20),
            "{error}"
        );
    }
    let unknown = rate(
        &stack,
        &client,
        planner,
        json!({"request_id": first, "metric": "thumbs", "value": true}),
    )
    .await
    .1;
    let message = unknown["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("score, task_done"),
        "names the declared metrics: {message}"
    );
    let (status, _) = rate(
        &stack,
        &client,
        "not-a-key",
        json!({"request_id": first, "metric": "task_done", "value": true}),
    )
    .await;
    assert_eq!(status, 401);

    let now = Utc::now();
    let rows = stack
        .store
        .feedback_summary(now - TimeDelta::hours(1), now + TimeDelta::hours(1))
        .await
        .expect("feedback summary");
    let mean = |metric: &str| {
        rows.iter()
            .find(|r| r.metric == metric)
            .map(|r| (r.route.clone(), r.count, r.mean))
            .expect(metric)
    };
    let (route, count, done) = mean("task_done");
    assert!(route.starts_with("local/"), "{route}");
    assert_eq!((count, done), (2, 0.5));
    assert_eq!(mean("score").1, 1, "one score per decision: the latest");
    assert!((mean("score").2 - 0.9).abs() < 1e-9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_on_sqlite() {
    feedback_is_stored_checked_and_summed(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_on_postgres() {
    let db = TestDatabase::create().await;
    feedback_is_stored_checked_and_summed(Some(db.url())).await;
}
