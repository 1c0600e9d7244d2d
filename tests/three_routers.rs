//! Three routers on one PostgreSQL, as a real deployment runs them: each sees the others'
//! presence, a drain set once through the store holds on every router and completes only when
//! none has work on the node, and a live policy change reaches all three.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use farmhand::domain::DrainState;
use serde_json::json;
use support::pg::TestDatabase;
use support::stack::{Stack, route};

async fn eventually<F, Fut>(what: &str, within: Duration, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !ready().await {
        assert!(Instant::now() < deadline, "no {what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_routers_share_presence_drains_and_live_control() {
    let db = TestDatabase::create().await;
    let mut routers = Vec::new();
    for _ in 0..3 {
        routers.push(Stack::start(2, Some(db.url()), |_| {}).await);
    }
    let store = routers[0].store.clone();

    eventually("presence of all three routers", Duration::from_secs(5), || async {
        let live = store
            .routers(Utc::now() - farmhand::presence::LIVE_WINDOW)
            .await
            .expect("routers");
        live.len() == 3 && live.iter().all(|r| r.status_url.is_some())
    })
    .await;

    // A drain set once, through the store.
    store
        .set_node_state("mini-01", DrainState::Draining, Some("maintenance"), "oncall")
        .await
        .expect("drain");
    let client = reqwest::Client::new();
    for router in &routers {
        eventually("the drain on every router", Duration::from_secs(5), || async {
            drained_on(router)
        })
        .await;
        for _ in 0..4 {
            let response = router
                .chat(
                    &client,
                    json!({"model": "routine", "messages": [{"role": "user", "content": "Label: refund please"}]}),
                )
                .await;
            assert_eq!(response.status(), 200);
            let served_by = route(&response);
            assert!(
                !served_by.contains("mini-01"),
                "a draining node takes no new work: {served_by}"
            );
        }
    }
    eventually(
        "the drain completing once no router has work on it",
        Duration::from_secs(10),
        || async {
            store
                .node_states()
                .await
                .expect("node states")
                .iter()
                .any(|n| n.name == "mini-01" && n.state == DrainState::Drained)
        },
    )
    .await;

    // A live policy change, also once: every router enforces the new version.
    let version = store
        .set_override("frontier.kill_switch", "on", Some("incident"), "oncall")
        .await
        .expect("override");
    for router in &routers {
        eventually(
            "the new policy version on every router",
            Duration::from_secs(5),
            || async { router.gateway.router_status().policy_version == version },
        )
        .await;
        let response = router
            .chat(
                &client,
                json!({"model": "reasoning", "messages": [{"role": "user", "content": "Plan the quarter."}]}),
            )
            .await;
        // The one active node holds no reasoning model: with the frontier off, a clear refusal.
        assert_eq!(response.status(), 503);
        let error: serde_json::Value = response.json().await.expect("an OpenAI error");
        assert_eq!(error["error"]["code"], "frontier_disabled", "{error}");
    }
    for router in &mut routers {
        router.shut_down().await.expect("the router stops cleanly");
    }
    drop(routers);
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Whether the router's live control has mini-01 draining or drained.
fn drained_on(router: &Stack) -> bool {
    router.gateway.control_snapshot().node_state("mini-01") != DrainState::Active
}
