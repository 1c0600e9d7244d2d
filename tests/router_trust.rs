//! What the router trusts, over real HTTP: `/metrics` behind the agent keys, upstream redirects
//! never followed, and a frontier key that cannot be read named in the 502, never its value.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;
use farmhand::control::ControlSnapshot;
use farmhand::domain::DrainState;
use serde_json::{Value, json};
use support::stack::Stack;

fn ask(class: &str) -> Value {
    json!({"model": class, "messages": [{"role": "user", "content": "Plan the migration."}], "max_tokens": 16})
}

/// Every node drained, so work that can leave goes to the frontier with nothing to fall back to.
fn all_drained(stack: &Stack) -> Arc<ControlSnapshot> {
    let node_states: HashMap<String, DrainState> = stack
        .gateway
        .in_flight
        .all()
        .into_iter()
        .map(|(node, _)| (node, DrainState::Drained))
        .collect();
    Arc::new(ControlSnapshot {
        node_states,
        ..ControlSnapshot::default()
    })
}

/// Serves `app` on a free loopback port; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_an_agent_key_when_keys_are_configured() {
    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var("FARMHAND_TEST_TRUST_KEY", "k-scraper") };
    let stack = Stack::start(1, None, |c| {
        c.agents.push(farmhand::config::AgentKey::new(
            "scraper",
            farmhand::config::SecretRef::Env("FARMHAND_TEST_TRUST_KEY".into()),
        ))
    })
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", stack.url);
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let error: Value = anonymous.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_api_key");
    let keyed = client.get(&url).bearer_auth("k-scraper").send().await.unwrap();
    assert_eq!(keyed.status(), 200);
    assert!(keyed.text().await.unwrap().contains("farmhand_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_redirect_is_never_followed() {
    let followed = Arc::new(AtomicUsize::new(0));
    let elsewhere = {
        let followed = followed.clone();
        serve(Router::new().fallback(any(move || {
            followed.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::OK }
        })))
        .await
    };
    let redirecting = serve(Router::new().fallback(any(move || {
        let location = format!("{elsewhere}/v1/chat/completions");
        async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response() }
    })))
    .await;
    let (stack, control) = Stack::start_controlled(
        1,
        |_| {},
        |c| {
            for provider in c.frontier.providers.values_mut() {
                provider.base_url = redirecting.clone();
            }
        },
    )
    .await;
    control.send_replace(all_drained(&stack));
    let response = stack.chat(&reqwest::Client::new(), ask("reasoning")).await;
    assert_eq!(response.status(), 502, "{}", response.text().await.unwrap());
    assert_eq!(followed.load(Ordering::SeqCst), 0, "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_frontier_key_is_a_502_naming_the_reference() {
    let (stack, control) = Stack::start_controlled(
        1,
        |_| {},
        |c| {
            for provider in c.frontier.providers.values_mut() {
                provider.api_key = Some(farmhand::config::SecretRef::Env("FARMHAND_TEST_NEVER_SET_KEY".into()));
            }
        },
    )
    .await;
    control.send_replace(all_drained(&stack));
    let response = stack.chat(&reqwest::Client::new(), ask("reasoning")).await;
    assert_eq!(response.status(), 502);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("env:FARMHAND_TEST_NEVER_SET_KEY"), "{message}");
    assert!(message.contains("is not set"), "{message}");
}
