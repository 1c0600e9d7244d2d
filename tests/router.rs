//! The router end to end: simulated farm, real HTTP, a real store.

mod support;

use std::time::Duration;

use farmhand::domain::Endpoint;
use farmhand::sim::FaultKind;
use serde_json::{Value, json};
use support::stack::{Stack, route};

fn ask(class: &str, text: &str) -> Value {
    json!({"model": class, "messages": [{"role": "user", "content": text}], "max_tokens": 16})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_class_is_answered_and_sensitive_work_stays_on_the_farm() {
    let stack = Stack::start(4, None, |_| {}).await;
    let client = reqwest::Client::new();

    for class in ["routine", "sensitive", "auto"] {
        let response = stack
            .chat(
                &client,
                ask(class, "Classify this ticket: printer on floor 3 is jammed."),
            )
            .await;
        assert_eq!(response.status(), 200, "{class}");
        assert!(
            route(&response).starts_with("local/mini-"),
            "{class} went to {}",
            route(&response)
        );
        let body: Value = response.json().await.unwrap();
        assert!(
            !body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    }
    for class in ["reasoning", "orchestration"] {
        let response = stack
            .chat(
                &client,
                ask(class, "Plan the migration of our billing system step by step."),
            )
            .await;
        assert_eq!(response.status(), 200, "{class}");
        assert!(
            route(&response).starts_with("frontier/"),
            "{class} went to {}",
            route(&response)
        );
    }

    let card = "Refund card 4111 1111 1111 1111 for the customer, expiry 09/29.";
    let response = stack.chat(&client, ask("reasoning", card)).await;
    assert_eq!(response.status(), 200);
    assert!(
        route(&response).starts_with("local/"),
        "a detector hit stays local: {}",
        route(&response)
    );
    let decision = response.headers()["x-farmhand-decision"].to_str().unwrap().to_string();
    assert!(decision.contains("class=sensitive"), "{decision}");

    let restricted = "Summarise the quarterly HR review for employee 1142.";
    let response = client
        .post(format!("{}/v1/chat/completions", stack.url))
        .header("X-Data-Class", "restricted")
        .json(&ask("reasoning", restricted))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(route(&response).starts_with("local/"));

    assert!(
        !stack.farm.frontier_saw(card),
        "the frontier simulator saw the card number"
    );
    assert!(
        !stack.farm.frontier_saw(restricted),
        "the frontier simulator saw restricted work"
    );
    assert!(
        stack
            .farm
            .frontier_saw("Plan the migration of our billing system step by step.")
    );

    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(100).await.unwrap();
    assert_eq!(rows.len(), 7, "one decision per request");
    let sensitive: Vec<_> = rows.iter().filter(|d| d.record.sensitive).collect();
    assert_eq!(sensitive.len(), 3);
    assert!(sensitive.iter().all(|d| d.record.endpoint == Endpoint::Local));
    assert!(
        sensitive
            .iter()
            .any(|d| d.record.sensitivity_reason.as_deref() == Some("detector:credit_card"))
    );
    assert!(
        sensitive
            .iter()
            .any(|d| d.record.sensitivity_reason.as_deref() == Some("header:restricted"))
    );
    let frontier: Vec<_> = rows
        .iter()
        .filter(|d| d.record.endpoint == Endpoint::Frontier)
        .collect();
    assert!(
        frontier
            .iter()
            .all(|d| d.record.cost_usd > 0.0 && d.record.prompt_tokens > 0),
        "frontier calls are priced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_relays_chunks_with_done_and_optional_usage() {
    let stack = Stack::start(2, None, |_| {}).await;
    let client = reqwest::Client::new();
    for (class, with_usage) in [("routine", true), ("routine", false), ("reasoning", true)] {
        let mut body = ask(class, "Draft a two-line status update.");
        body["stream"] = json!(true);
        if with_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let response = stack.chat(&client, body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let text = response.text().await.unwrap();
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.last(), Some(&"data: [DONE]"), "{class}: {text}");
        let has_usage = events.iter().any(|e| e.contains("\"usage\":{"));
        assert_eq!(has_usage, with_usage, "{class} usage chunk only when asked: {text}");
        assert!(events.iter().any(|e| e.contains("\"content\"")), "{text}");
    }
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(10).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|d| d.record.completion_tokens > 0 && d.record.ttfb_ms.is_some()),
        "usage is recorded even when the agent did not ask for it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_status_and_the_router_stays_up() {
    let stack = Stack::start(1, None, |c| c.router.max_body_bytes = 4096).await;
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client
            .post(format!("{}/v1/chat/completions", stack.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let response = post(b"{\"model\": \"routine\", \"messages\": [".to_vec())
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["code"], "invalid_json");

    let response = stack.chat(&client, ask("gpt-4o", "hi")).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("routine, reasoning, orchestration, sensitive or auto")
    );

    let big = serde_json::to_vec(&ask("routine", &"x".repeat(10_000))).unwrap();
    let response = post(big).await.unwrap();
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "request_too_large");

    let models: Value = client
        .get(format!("{}/v1/models", stack.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["auto", "routine", "reasoning", "orchestration", "sensitive"]);
    assert_eq!(
        client
            .get(format!("{}/healthz", stack.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = client
        .get(format!("{}/metrics", stack.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("farmhand_requests_total{status=\"400\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("farmhand_requests_total{status=\"413\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_keys_are_required_when_configured() {
    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var("FARMHAND_TEST_ROUTER_KEY", "k-ticket-classifier") };
    let stack = Stack::start(1, None, |c| {
        c.agents.push(farmhand::config::AgentKey::new(
            "ticket-classifier",
            farmhand::config::SecretRef::Env("FARMHAND_TEST_ROUTER_KEY".into()),
        ))
    })
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", stack.url);
    let missing = client.post(&url).json(&ask("routine", "hi")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let wrong = client
        .post(&url)
        .bearer_auth("k-ticket-classifie")
        .json(&ask("routine", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .post(&url)
        .bearer_auth("k-ticket-classifier")
        .json(&ask("routine", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].record.agent, "ticket-classifier", "the key names the agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_two_nodes_under_load_fails_nothing_another_node_could_serve() {
    let stack = Stack::start(4, None, |_| {}).await;
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..120u32 {
        let client = client.clone();
        let url = format!("{}/v1/chat/completions", stack.url);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(u64::from(i) * 15)).await;
            let class = if i % 3 == 0 { "sensitive" } else { "routine" };
            client
                .post(url)
                .json(&ask(class, &format!("ticket {i}: reset my password")))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.farm.set_fault("mini-01", Some(FaultKind::Down)).unwrap();
    stack.farm.set_fault("mini-02", Some(FaultKind::Down)).unwrap();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().expect("the router always answers"));
    }
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {failed:?}",
        failed.len(),
        statuses.len()
    );
    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(500).await.unwrap();
    assert_eq!(rows.len(), 120);
    assert!(rows.iter().all(|d| d.record.endpoint == Endpoint::Local));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_reach_the_router_within_a_second_and_sensitive_to_frontier_is_refused() {
    let stack = Stack::start(2, None, |_| {}).await;
    let client = reqwest::Client::new();
    assert!(farmhand::router::validate_override("class.sensitive.target", "frontier").is_err());

    stack
        .store
        .set_override("frontier.kill_switch", "on", Some("test"), "tester")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = stack
        .chat(&client, ask("reasoning", "Weigh these two vendor offers."))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        route(&response).starts_with("local/"),
        "kill switch keeps reasoning local: {}",
        route(&response)
    );
    let decision = response.headers()["x-farmhand-decision"].to_str().unwrap().to_string();

    stack
        .store
        .clear_override("frontier.kill_switch", None, "tester")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = stack
        .chat(&client, ask("reasoning", "Weigh these two vendor offers."))
        .await;
    assert!(route(&response).starts_with("frontier/"));

    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(10).await.unwrap();
    assert_eq!(rows[0].record.policy_version, 1, "{decision}");
    assert_eq!(rows[1].record.policy_version, 2);
}

/// Telemetry that polls once and then not for a minute: the router keeps believing every node is up.
fn frozen_telemetry() -> farmhand::fleet::Cadence {
    let minute = Duration::from_secs(60);
    farmhand::fleet::Cadence {
        ps: minute,
        tags: minute,
        metrics: minute,
        timeout: Duration::from_millis(500),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_nodes_fall_back_to_other_nodes_then_the_frontier_but_never_for_sensitive_work() {
    let stack = Stack::start_with(3, None, frozen_telemetry(), |_| {}).await;
    let client = reqwest::Client::new();
    stack.farm.set_fault("mini-01", Some(FaultKind::Error500)).unwrap();
    stack.farm.set_fault("mini-02", Some(FaultKind::Error500)).unwrap();
    let response = stack.chat(&client, ask("routine", "Tag this invoice.")).await;
    assert_eq!(response.status(), 200);
    assert!(route(&response).starts_with("local/mini-03/"), "{}", route(&response));

    stack.farm.set_fault("mini-03", Some(FaultKind::Error500)).unwrap();
    let response = stack.chat(&client, ask("routine", "Tag this invoice.")).await;
    assert_eq!(response.status(), 200);
    assert!(route(&response).starts_with("frontier/"), "{}", route(&response));
    assert!(
        response.headers()["x-farmhand-decision"]
            .to_str()
            .unwrap()
            .contains("fallback=to_frontier")
    );

    let secret = "Payroll export for mini-03 staff, sensitive.";
    let response = stack.chat(&client, ask("sensitive", secret)).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "no_local_capacity");
    assert!(
        !stack.farm.frontier_saw(secret),
        "sensitive work reached the frontier on a fallback path"
    );

    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(10).await.unwrap();
    let kinds: Vec<&str> = rows.iter().map(|d| d.record.fallback.as_str()).collect();
    assert_eq!(kinds, ["node_retry", "to_frontier", "node_retry"], "{rows:?}");
    let failed = &rows[2].record;
    assert_eq!(
        failed.endpoint,
        Endpoint::Local,
        "the failed sensitive request names the last node tried"
    );
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (503, Some("no_local_capacity"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_frontier_falls_back_to_the_farm() {
    let stack = Stack::start(2, None, |_| {}).await;
    let client = reqwest::Client::new();
    stack
        .farm
        .set_fault(farmhand::sim::FRONTIER, Some(FaultKind::Overloaded))
        .unwrap();
    let response = stack
        .chat(&client, ask("reasoning", "Compare the two rollout plans."))
        .await;
    assert_eq!(response.status(), 200);
    assert!(route(&response).starts_with("local/"), "{}", route(&response));
    assert!(
        response.headers()["x-farmhand-decision"]
            .to_str()
            .unwrap()
            .contains("fallback=to_local")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_budget_degrades_or_refuses_frontier_work() {
    let stack = Stack::start(2, None, |_| {}).await;
    let client = reqwest::Client::new();
    let first = stack
        .chat(&client, ask("reasoning", "Draft the quarterly plan in detail."))
        .await;
    assert!(route(&first).starts_with("frontier/"));
    stack
        .store
        .set_override("budget.daily_usd", "0.000001", None, "lead")
        .await
        .unwrap();
    stack
        .store
        .set_override("budget.over", "refuse", None, "lead")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refused = stack
        .chat(&client, ask("reasoning", "Draft the quarterly plan in detail."))
        .await;
    assert_eq!(refused.status(), 503);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "budget_exhausted");

    stack
        .store
        .set_override("budget.over", "degrade", None, "lead")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let degraded = stack
        .chat(&client, ask("reasoning", "Draft the quarterly plan in detail."))
        .await;
    assert_eq!(degraded.status(), 200);
    assert!(route(&degraded).starts_with("local/"), "{}", route(&degraded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_answers_garbage_or_hangs_gets_a_clear_error_and_the_router_stays_up() {
    let stack = Stack::start(1, None, |c| c.router.first_byte_timeout_secs = 1).await;
    let client = reqwest::Client::new();
    let sensitive = || ask("sensitive", "summarise this contract");

    stack.farm.set_fault("mini-01", Some(FaultKind::Garbage)).unwrap();
    let garbage = stack.chat(&client, sensitive()).await;
    assert_eq!(garbage.status(), 503, "sensitive work cannot go elsewhere");
    let body: Value = garbage.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("node sent a malformed answer"), "{body}");
    let routine = stack.chat(&client, ask("routine", "hello")).await;
    assert_eq!(routine.status(), 200, "routine work falls back to the frontier");
    assert!(route(&routine).starts_with("frontier/"), "{}", route(&routine));

    stack.farm.set_fault("mini-01", Some(FaultKind::Hang)).unwrap();
    let started = std::time::Instant::now();
    let hung = stack.chat(&client, sensitive()).await;
    assert_eq!(hung.status(), 503);
    let body: Value = hung.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no answer within 1s"),
        "{body}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the router gave up on its own"
    );

    stack.farm.set_fault("mini-01", None).unwrap();
    let health = client.get(format!("{}/healthz", stack.url)).send().await.unwrap();
    assert_eq!(health.status(), 200, "the router stayed up");
    let back = stack.chat(&client, sensitive()).await;
    assert_eq!(back.status(), 200, "{}", back.text().await.unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_of_the_fallback_chain_is_recorded_in_order() {
    use farmhand::domain::{AttemptOutcome, Fallback};
    let stack = Stack::start_with(2, None, frozen_telemetry(), |c| c.router.first_byte_timeout_secs = 1).await;
    let client = reqwest::Client::new();
    // With nothing wrong, the plan's first node serves; that is the node made to fail below.
    let healthy = stack.chat(&client, ask("routine", "Tag this invoice.")).await;
    assert_eq!(healthy.status(), 200);
    let first = route(&healthy)
        .split('/')
        .nth(1)
        .expect("local/<node>/<model>")
        .to_string();
    let second = if first == "mini-01" { "mini-02" } else { "mini-01" };

    for fault in [FaultKind::Hang, FaultKind::Overloaded, FaultKind::Down] {
        stack.farm.set_fault(&first, Some(fault)).unwrap();
        // A node going down cuts its connections; let the router's pool see them go.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let response = stack.chat(&client, ask("routine", "Tag this invoice.")).await;
        assert_eq!(response.status(), 200, "{fault}");
        assert!(
            route(&response).starts_with(&format!("local/{second}/")),
            "{fault}: {}",
            route(&response)
        );
    }
    stack.farm.set_fault(&first, None).unwrap();
    stack
        .farm
        .set_fault(farmhand::sim::FRONTIER, Some(FaultKind::Overloaded))
        .unwrap();
    let degraded = stack
        .chat(&client, ask("reasoning", "Compare the two rollout plans."))
        .await;
    assert_eq!(degraded.status(), 200);
    assert!(route(&degraded).starts_with("local/"), "{}", route(&degraded));

    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(10).await.unwrap();
    assert_eq!(rows.len(), 5);
    for row in &rows {
        eprintln!("attempts: {:?}", row.record.attempts);
    }
    let outcomes = |i: usize| -> Vec<(String, AttemptOutcome)> {
        rows[i]
            .record
            .attempts
            .iter()
            .map(|a| (a.target.clone(), a.outcome))
            .collect()
    };
    let ok_on = |node: &str| (node.to_string(), AttemptOutcome::Ok);
    assert_eq!(outcomes(0), [ok_on(&first)]);
    assert_eq!(outcomes(1), [(first.clone(), AttemptOutcome::Timeout), ok_on(second)]);
    assert_eq!(
        outcomes(2),
        [(first.clone(), AttemptOutcome::Status(503)), ok_on(second)]
    );
    assert_eq!(outcomes(3), [(first.clone(), AttemptOutcome::Connect), ok_on(second)]);
    for row in &rows[1..4] {
        assert_eq!(row.record.fallback, Fallback::NodeRetry);
        assert_eq!(
            row.record.node.as_deref(),
            Some(second),
            "the record names the node that served"
        );
    }
    let timed_out = rows[1].record.attempts[0].ms;
    assert!(
        (1000..2000).contains(&timed_out),
        "the 1 s first-byte timeout: {timed_out} ms"
    );

    // The frontier is overloaded: each retry is an attempt, then the farm serves.
    let chain = &rows[4].record.attempts;
    let (last, frontier) = chain.split_last().expect("attempts");
    assert_eq!(frontier.len(), 3, "one try and two retries: {chain:?}");
    for attempt in frontier {
        assert!(attempt.target.contains('/'), "provider/model: {}", attempt.target);
        assert_eq!(attempt.outcome, AttemptOutcome::Status(529));
    }
    assert_eq!(last.outcome, AttemptOutcome::Ok);
    assert_eq!(Some(last.target.as_str()), rows[4].record.node.as_deref());
    assert_eq!(rows[4].record.fallback, Fallback::ToLocal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_at_critical_pressure_gives_back_its_idle_model_keeps_the_busy_one_and_stays_calm() {
    let stack = Stack::start(1, None, |config| config.router.unload_idle_on_critical_secs = 2).await;
    let client = reqwest::Client::new();
    let node = stack.farm.node_names()[0].clone();
    let loaded = || -> Vec<String> {
        stack.farm.node_summaries()[0]
            .loaded
            .iter()
            .map(|m| m.name.clone())
            .collect()
    };
    let warm_for = std::time::Instant::now() + Duration::from_secs(15);
    while !(loaded().contains(&"llama3.1:8b".to_string()) && loaded().contains(&"qwen3:14b".to_string())) {
        assert!(
            std::time::Instant::now() < warm_for,
            "the keeper warms the routine and sensitive models: {:?}",
            loaded()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Someone opens enough applications on the node to take it to `critical`.
    let summary = &stack.farm.node_summaries()[0];
    let crowd = summary.memory_total_bytes / 100 * 97 - summary.memory_used_bytes;
    assert!(stack.farm.set_other_apps(&node, crowd));

    // Agents keep using the routine model; the sensitive one sits idle and is given back.
    let relieved_within = std::time::Instant::now() + Duration::from_secs(30);
    while loaded().contains(&"qwen3:14b".to_string()) {
        let answer = stack
            .chat(&client, ask("routine", "Classify: the printer is jammed"))
            .await;
        assert_eq!(answer.status(), 200);
        assert!(
            std::time::Instant::now() < relieved_within,
            "the idle model is unloaded from the critical node: {:?}",
            loaded()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        loaded().contains(&"llama3.1:8b".to_string()),
        "the model in use stays: {:?}",
        loaded()
    );

    // Calm again, the node is not warmed back into `critical` by the keeper of warm models.
    tokio::time::sleep(farmhand::gateway::warmth::CHECK_EVERY + Duration::from_secs(2)).await;
    assert_eq!(loaded(), ["llama3.1:8b"], "nothing loaded back onto the relieved node");
    let calm = stack.fleet.borrow().nodes[0].pressure();
    assert_eq!(calm, Some(farmhand::domain::MemoryPressure::Normal));
}
