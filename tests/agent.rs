//! The node agent over real HTTP: schema, Prometheus text, bearer token.

use farmhand::wire::AgentMetrics;

async fn serve(token: Option<&str>) -> String {
    let metrics = farmhand::agent::spawn_sampler().expect("sysinfo works on this machine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = farmhand::agent::router(metrics, token.map(String::from));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn serves_this_machines_metrics_as_json_and_prometheus() {
    let base = serve(None).await;
    let m: AgentMetrics = reqwest::get(format!("{base}/v1/metrics"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(m.memory_total_bytes > 0 && m.memory_used_bytes <= m.memory_total_bytes);
    assert!(m.cpu_count > 0);

    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4");
    let text = response.text().await.unwrap();
    assert!(text.contains("# TYPE farmhand_node_memory_total_bytes gauge"), "{text}");
    assert!(text.contains("farmhand_node_load_average{window=\"5m\"}"), "{text}");
}

#[tokio::test]
async fn a_token_is_required_when_configured() {
    let base = serve(Some("agent-s3cret")).await;
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/metrics");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        client
            .get(&url)
            .bearer_auth("agent-s3cre")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        client
            .get(&url)
            .bearer_auth("agent-s3cret")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client.get(format!("{base}/metrics")).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        client.get(format!("{base}/healthz")).send().await.unwrap().status(),
        200
    );
}

/// Polls one node whose Ollama is simulated and whose agent is `agent` (started with a token),
/// sending `token` (a secret reference) or nothing; returns the health the poller settles on.
async fn health_polled_with(agent: &str, token: Option<farmhand::config::SecretRef>) -> farmhand::fleet::Health {
    use std::time::Duration;

    use farmhand::fleet::{Cadence, FleetPoller, Health};
    use farmhand::sim::{SimFarm, SimOptions};

    let farm = SimFarm::start(SimOptions::ephemeral(1, 0.01))
        .await
        .expect("the simulator starts");
    let mut node = farm.fleet_config().resolved_nodes().remove(0);
    node.agent_url = agent.to_string();
    node.agent_token = token;
    let cadence = Cadence {
        ps: Duration::from_millis(100),
        tags: Duration::from_millis(300),
        metrics: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
    };
    let fleet = FleetPoller::start(&[node], cadence);
    let mut watched = fleet.clone();
    let up = tokio::time::timeout(
        Duration::from_secs(3),
        watched.wait_for(|f| f.nodes[0].health == Health::Up),
    )
    .await
    .is_ok_and(|seen| seen.is_ok());
    if up { Health::Up } else { fleet.borrow().nodes[0].health }
}

#[tokio::test]
async fn the_poller_sends_the_agent_token_so_a_guarded_agent_reads_as_up() {
    use farmhand::config::SecretRef;
    use farmhand::fleet::Health;

    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var("FARMHAND_TEST_POLLER_AGENT_TOKEN", "agent-t0ken") };
    let agent = serve(Some("agent-t0ken")).await;
    let with_token = SecretRef::Env("FARMHAND_TEST_POLLER_AGENT_TOKEN".into());
    assert_eq!(health_polled_with(&agent, Some(with_token)).await, Health::Up);
    assert_eq!(
        health_polled_with(&agent, None).await,
        Health::Degraded,
        "without the token the agent refuses, and the node is degraded"
    );
}
