//! The node agent over real HTTP: schema, Prometheus text, bearer token.

use std::time::Duration;

use farmhand::wire::AgentMetrics;
use tokio::sync::watch;

async fn serve(token: Option<&str>) -> String {
    serve_with_power(token, watch::channel(None).1).await
}

async fn serve_with_power(token: Option<&str>, power: watch::Receiver<Option<farmhand::wire::PowerReading>>) -> String {
    let metrics = farmhand::agent::spawn_sampler(power).expect("sysinfo works on this machine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = farmhand::agent::router(metrics, token.map(String::from));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The agent's `/v1/metrics` at `base`.
async fn metrics(base: &str) -> AgentMetrics {
    reqwest::get(format!("{base}/v1/metrics"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn serves_this_machines_metrics_as_json_and_prometheus() {
    let base = serve(None).await;
    let m = metrics(&base).await;
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

/// A stand-in for `macmon serve` on a real socket, answering `/json` as macmon does.
async fn fake_macmon() -> String {
    let sample = serde_json::json!({
        "all_power": 21.4, "ane_power": 0.0, "cpu_power": 3.1, "gpu_power": 18.3, "sys_power": 31.9,
        "cpu_scaled_ratio": 0.12, "gpu_usage": [1398, 0.93],
        "temp": {"cpu_temp_avg": 52.5, "gpu_temp_avg": 61.0},
        "memory": {"ram_total": 68719476736u64, "ram_usage": 51539607552u64, "swap_total": 0, "swap_usage": 0},
        "soc": {"chip_name": "Apple M4 Pro"}, "timestamp": "2026-11-28T05:00:00Z"
    });
    let app = axum::Router::new().route("/json", axum::routing::get(move || async move { axum::Json(sample) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn reports_macmon_power_and_the_os_memory_pressure() {
    let macmon = fake_macmon().await;
    let (tx, power) = watch::channel(None);
    tokio::spawn(farmhand::agent::follow_macmon(format!("{macmon}/json"), tx));
    let base = serve_with_power(None, power).await;
    let mut seen = None;
    for _ in 0..50 {
        let m = metrics(&base).await;
        if m.power.is_some() {
            seen = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = seen.expect("the agent reports macmon's power within a few samples");
    let power = m.power.as_ref().unwrap();
    assert_eq!(
        (power.gpu_watts, power.sys_watts, power.gpu_temp_c),
        (Some(18.3), Some(31.9), Some(61.0))
    );
    if std::path::Path::new("/proc/pressure/memory").exists() {
        let pressure = m
            .pressure
            .as_ref()
            .expect("PSI is readable here, so the agent reports pressure");
        assert_eq!(pressure.source, "psi");
    }
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("farmhand_node_gpu_watts 18.3"), "{text}");
}

#[tokio::test]
async fn a_node_polled_through_macmon_reads_as_up_with_power_and_memory() {
    use farmhand::config::MetricsSource;
    use farmhand::fleet::{Cadence, FleetPoller, Health};
    use farmhand::sim::{SimFarm, SimOptions};

    let farm = SimFarm::start(SimOptions::ephemeral(1, 0.01))
        .await
        .expect("the simulator starts");
    let mut node = farm.fleet_config().resolved_nodes().remove(0);
    // No farmhand agent: the poller reads macmon's `/json` (the simulated node serves one).
    node.agent_url = "http://127.0.0.1:9".into();
    node.macmon_url = farm.node_urls()[0].clone();
    node.metrics = MetricsSource::Macmon;
    let cadence = Cadence {
        ps: Duration::from_millis(100),
        tags: Duration::from_millis(300),
        metrics: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
    };
    let mut fleet = FleetPoller::start(&[node], cadence);
    let seen = tokio::time::timeout(
        Duration::from_secs(3),
        fleet.wait_for(|f| f.nodes[0].health == Health::Up && f.nodes[0].metrics.is_some()),
    )
    .await
    .expect("the node reads as up through macmon")
    .expect("the poller runs")
    .clone();
    let metrics = seen.nodes[0].metrics.as_ref().unwrap();
    assert!(metrics.memory_total_bytes > 0 && metrics.memory_used_bytes <= metrics.memory_total_bytes);
    assert!(metrics.power.as_ref().and_then(|p| p.watts()).is_some_and(|w| w > 0.0));
    assert!(metrics.pressure.is_none(), "macmon reports no pressure level");
}
