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
