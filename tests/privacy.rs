//! Sensitive never leaves, over real HTTP against the simulator: a marker in any field keeps the
//! request on the farm, `X-Data-Class` fails closed, unscannable content follows
//! `policy.unscannable`, and the on-farm reviewer has the last word before anything leaves.

mod support;

use std::time::{Duration, Instant};

use farmhand::config::{FleetConfig, FrontierTarget};
use farmhand::router::DataClass;
use farmhand::sim::FaultKind;
use serde_json::{Value, json};
use support::privacy::{PLACES, plain_marker, request_with, sensitive_marker};
use support::stack::{Stack, route};

fn ask(class: &str, text: &str) -> Value {
    json!({"model": class, "messages": [{"role": "user", "content": text}], "max_tokens": 16})
}

async fn reason_of(stack: &Stack, request_id: &str) -> Option<String> {
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(1_000).await.expect("decisions read");
    rows.into_iter()
        .find(|d| d.record.request_id == request_id)
        .expect("the request has a decision row")
        .record
        .sensitivity_reason
}

/// Reasoning work on the OpenAI-kind provider, which passes every field through, so a plain token
/// that reaches the simulated frontier proves its field is forwarded.
fn reasoning_on_openai(config: &mut FleetConfig) {
    config.frontier.reasoning = FrontierTarget {
        provider: "openai".into(),
        model: "gpt-5.4".into(),
    };
}

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_in_any_field_stays_on_the_farm_while_plain_text_there_leaves() {
    let stack = Stack::start(3, None, reasoning_on_openai).await;
    let client = reqwest::Client::new();
    let mut rng = rand::rng();
    for place in PLACES {
        let plain = plain_marker(&mut rng);
        let response = stack.chat(&client, request_with("reasoning", place, &plain)).await;
        assert_eq!(response.status(), 200, "{place}");
        assert!(
            route(&response).starts_with("frontier/openai/"),
            "{place}: {}",
            route(&response)
        );
        assert!(
            stack.farm.frontier_received_containing(&plain),
            "{place}: the plain control did not reach the frontier, so this field is not forwarded"
        );

        for class in ["reasoning", "orchestration"] {
            let marker = sensitive_marker(&mut rng);
            let response = stack.chat(&client, request_with(class, place, &marker)).await;
            assert_eq!(response.status(), 200, "{place}");
            assert!(
                route(&response).starts_with("local/"),
                "{class} {place}: {}",
                route(&response)
            );
            let reason = reason_of(&stack, &request_id(&response)).await;
            assert!(
                reason.as_deref().is_some_and(|r| r.starts_with("detector:")),
                "{place}: {reason:?}"
            );
            assert!(
                !stack.farm.frontier_received_containing(&marker),
                "{class} {place}: the marker reached the frontier"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_data_class_fails_closed() {
    let stack = Stack::start(2, None, |_| {}).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", stack.url);
    let mut rng = rand::rng();

    for labels in [
        vec!["PII"],
        vec!["public, Confidential"],
        vec!["internal", "phi"],
        vec!["secret,"],
    ] {
        let token = plain_marker(&mut rng);
        let mut request = client.post(&url).json(&ask("reasoning", &format!("Review {token}")));
        for label in &labels {
            request = request.header("X-Data-Class", *label);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{labels:?}");
        assert!(
            route(&response).starts_with("local/"),
            "{labels:?}: {}",
            route(&response)
        );
        let reason = reason_of(&stack, &request_id(&response)).await.unwrap_or_default();
        assert!(reason.starts_with("header:"), "{labels:?}: {reason}");
        assert!(!stack.farm.frontier_received_containing(&token), "{labels:?}");
    }
    let expected = ["header:pii", "header:confidential", "header:phi", "header:secret"];
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(100).await.unwrap();
    for reason in expected {
        assert!(
            rows.iter()
                .any(|d| d.record.sensitivity_reason.as_deref() == Some(reason)),
            "{reason}"
        );
    }

    let response = client
        .post(&url)
        .header("X-Data-Class", "public, Internal")
        .json(&ask("reasoning", "Plan the offsite agenda."))
        .send()
        .await
        .unwrap();
    assert!(route(&response).starts_with("frontier/"), "public and internal leave");

    for bad in ["top-secret", "public, sensitive", ""] {
        let response = client
            .post(&url)
            .header("X-Data-Class", bad)
            .json(&ask("reasoning", "Plan the offsite agenda."))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unknown_data_class", "{bad:?}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        for known in DataClass::ALL.map(DataClass::name) {
            assert!(message.contains(known), "{bad:?}: {message}");
        }
    }
}

/// A model that sees, for sensitive work with images (pulled onto `mini-01` by the test).
const SEEING: &str = "qwen3-vl:8b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unscannable_content_stays_local_until_policy_lets_it_leave() {
    let stack = Stack::start(2, None, |config| {
        reasoning_on_openai(config);
        config.models.sensitive = SEEING.into();
    })
    .await;
    stack.pull("mini-01", SEEING).await;
    let client = reqwest::Client::new();
    let mut rng = rand::rng();
    let image = |token: &str| {
        json!({"model": "reasoning", "max_tokens": 16, "messages": [{"role": "user", "content": [
            {"type": "text", "text": format!("What does this chart show? {token}")},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}
        ]}]})
    };

    let token = plain_marker(&mut rng);
    let response = stack.chat(&client, image(&token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(route(&response), format!("local/mini-01/{SEEING}"));
    let reason = reason_of(&stack, &request_id(&response)).await;
    assert_eq!(reason.as_deref(), Some("unscannable:image_url"));
    assert!(!stack.farm.frontier_received_containing(&token));

    // Audio stays on the farm too; no model there takes audio, so it is refused, never sent out.
    let token = plain_marker(&mut rng);
    let audio = json!({"model": "reasoning", "messages": [{"role": "user", "content": [
        {"type": "text", "text": format!("Transcribe this. {token}")},
        {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
    ]}]});
    let response = stack.chat(&client, audio).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("an error body");
    assert_eq!(error["error"]["code"], "unsupported_capability");
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(1).await.expect("decisions read");
    assert_eq!(
        rows[0].record.sensitivity_reason.as_deref(),
        Some("unscannable:input_audio")
    );
    assert!(!stack.farm.frontier_received_containing(&token));

    let version = stack
        .store
        .set_override("policy.unscannable", "frontier", Some("chart review"), "test")
        .await
        .expect("override set");
    let token = plain_marker(&mut rng);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = stack.chat(&client, image(&token)).await;
        if route(&response).starts_with("frontier/") {
            let decision = response.headers()["x-farmhand-decision"].to_str().unwrap().to_string();
            assert!(decision.contains(&format!("v={version}")), "{decision}");
            break;
        }
        assert!(Instant::now() < deadline, "the override was not picked up within 5 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(stack.farm.frontier_received_containing(&token));

    let marker = sensitive_marker(&mut rng);
    let response = stack.chat(&client, image(&marker)).await;
    assert!(
        route(&response).starts_with("local/"),
        "letting images leave never lets a detected marker leave"
    );
    assert!(!stack.farm.frontier_received_containing(&marker));
}

/// Every node carries `llama3.1:8b`, so it is always there to review.
const REVIEWER: &str = "llama3.1:8b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_farm_reviewer_has_the_last_word_and_fails_closed() {
    let stack = Stack::start(2, None, |c| {
        c.policy.review_model = Some(REVIEWER.into());
        c.policy.review_timeout_ms = 400;
        c.router.first_byte_timeout_secs = 1;
    })
    .await;
    let client = reqwest::Client::new();
    let mut rng = rand::rng();

    let token = plain_marker(&mut rng);
    let response = stack
        .chat(
            &client,
            ask("reasoning", &format!("Plan the {token} rollout step by step.")),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        route(&response).starts_with("frontier/"),
        "the reviewer cleared it: {}",
        route(&response)
    );
    assert_eq!(reason_of(&stack, &request_id(&response)).await, None);
    assert!(stack.farm.frontier_received_containing(&token));

    let token = plain_marker(&mut rng);
    let response = stack
        .chat(
            &client,
            ask("reasoning", &format!("Summarise the confidential minutes {token}.")),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(route(&response).starts_with("local/"), "{}", route(&response));
    let decision = response.headers()["x-farmhand-decision"].to_str().unwrap().to_string();
    assert!(decision.contains("sensitive=review_model"), "{decision}");
    assert_eq!(
        reason_of(&stack, &request_id(&response)).await.as_deref(),
        Some("review_model")
    );
    assert!(!stack.farm.frontier_received_containing(&token));

    let token = plain_marker(&mut rng);
    let local_first = ask("routine", &format!("Classify the confidential memo {token}."));
    let response = stack.chat(&client, local_first).await;
    assert!(route(&response).starts_with("local/"), "local work is not reviewed");
    assert_eq!(reason_of(&stack, &request_id(&response)).await, None);

    // A reviewer that errors, or answers too late, keeps the request local.
    for fault in [FaultKind::Error500, FaultKind::Hang] {
        for node in ["mini-01", "mini-02"] {
            stack.farm.set_fault(node, Some(fault)).unwrap();
        }
        let token = plain_marker(&mut rng);
        let started = Instant::now();
        let response = stack
            .chat(&client, ask("reasoning", &format!("Plan the {token} rollout.")))
            .await;
        assert_eq!(
            response.status(),
            503,
            "{fault}: no node can serve it and it may not leave"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "no_local_capacity", "{fault}");
        assert!(!stack.farm.frontier_received_containing(&token), "{fault}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{fault}: {:?}",
            started.elapsed()
        );
        for node in ["mini-01", "mini-02"] {
            stack.farm.set_fault(node, None).unwrap();
        }
    }
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(100).await.unwrap();
    let kept = rows
        .iter()
        .filter(|d| d.record.sensitivity_reason.as_deref() == Some("review_model"))
        .count();
    assert_eq!(
        kept, 3,
        "the flagged request and both failures are recorded as review_model"
    );
}
