//! Operator actions against a running simulated farm and router: drain end to end, unload,
//! pulls over the simulator's `/api/pull`, overrides, one audit row per action, and read-only.

mod support;

use std::time::Duration;

use farmhand::actions::{Access, ActionError, Operator, PullOutcome};
use farmhand::domain::DrainState;
use farmhand::fleet::PullEvent;
use serde_json::{Value, json};
use support::stack::{Stack, fast_cadence, route};

fn ask(text: &str, max_tokens: u32) -> Value {
    json!({"model": "routine", "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens})
}

fn operator(stack: &Stack, access: Access) -> Operator {
    let mut config = stack.farm.fleet_config();
    config.store.url = String::new();
    Operator::new(&config, stack.store.clone(), "oncall@test".into(), access)
}

async fn audit_actions(stack: &Stack) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = stack
        .store
        .audit_log(100)
        .await
        .expect("audit log")
        .into_iter()
        .map(|a| (a.actor, a.action, a.target, a.detail))
        .collect();
    rows.reverse();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_stops_new_work_lets_in_flight_finish_and_ends_drained() {
    // Slow generation: 60 tokens at 40 tokens/s keeps a request in flight for about 1.5 s.
    let stack = Stack::start_sim(2, None, fast_cadence(), |sim| sim.tokens_per_sec = 40.0, |_| {}).await;
    let client = reqwest::Client::new();
    let ops = operator(&stack, Access::ReadWrite);

    let mut long = Vec::new();
    for i in 0..6 {
        let (client, url) = (client.clone(), stack.url.clone());
        long.push(tokio::spawn(async move {
            let response = client
                .post(format!("{url}/v1/chat/completions"))
                .json(&ask(&format!("long request {i}"), 60))
                .send()
                .await
                .expect("router answers");
            (response.status().as_u16(), route(&response))
        }));
    }
    let busy = async {
        while stack.gateway.in_flight.get("mini-01") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), busy)
        .await
        .expect("mini-01 gets work");

    let started = ops.drain("mini-01", Some("disk swap")).await.expect("drain starts");
    assert_eq!(started.state, DrainState::Draining);
    let refused = ops.drain("mini-01", None).await.unwrap_err();
    assert!(refused.to_string().contains("already draining"), "{refused}");

    // Within a second no router places anything new on it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..8 {
        let response = stack.chat(&client, ask(&format!("after drain {i}"), 4)).await;
        assert_eq!(response.status(), 200);
        assert!(
            !route(&response).contains("mini-01"),
            "a draining node got new work: {}",
            route(&response)
        );
    }

    let mut looks = 0;
    let done = ops
        .wait_drained("mini-01", Duration::from_secs(30), |_| looks += 1)
        .await
        .expect("the drain completes");
    assert_eq!(done.state, DrainState::Drained);
    assert_eq!(done.in_flight, 0);
    for request in long {
        let (status, _) = request.await.expect("request task");
        assert_eq!(status, 200, "an in-flight request failed during the drain");
    }
    assert_eq!(stack.gateway.in_flight.get("mini-01"), 0);

    let unloaded = ops.unload("mini-01").await.expect("unload");
    assert!(!unloaded.is_empty(), "the routine model was loaded on mini-01");
    let ps: Value = client
        .get(format!("{}/api/ps", stack.farm.node_url("mini-01").expect("url")))
        .send()
        .await
        .expect("ps")
        .json()
        .await
        .expect("ps json");
    assert_eq!(ps["models"].as_array().map(Vec::len), Some(0), "{ps}");

    ops.undrain("mini-01", Some("disk swapped")).await.expect("undrain");
    assert!(matches!(
        ops.undrain("mini-01", None).await,
        Err(ActionError::Refused(_))
    ));

    let audit = audit_actions(&stack).await;
    let actions: Vec<&str> = audit
        .iter()
        .filter(|(_, _, target, _)| target == "mini-01")
        .map(|(_, action, _, _)| action.as_str())
        .collect();
    assert_eq!(
        actions,
        ["node.draining", "node.unload", "node.active"],
        "one audit row per action: {audit:?}"
    );
    assert!(audit.iter().all(|(actor, ..)| actor == "oncall@test"));
    assert!(audit[0].3.contains("active -> draining (disk swap)"), "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_report_progress_keep_one_per_node_and_record_the_outcome() {
    let stack = Stack::start(2, None, |_| {}).await;
    let ops = operator(&stack, Access::ReadWrite);

    let mut pull = ops.start_pull("mini-02", "mistral:7b").await.expect("pull starts");
    let second = ops.start_pull("mini-02", "gemma3:4b").await.unwrap_err();
    assert!(second.to_string().contains("already pulling"), "{second}");
    let other_console = operator(&stack, Access::ReadWrite);
    let across = other_console.start_pull("mini-02", "gemma3:4b").await.unwrap_err();
    assert!(across.to_string().contains("already pulling mistral:7b"), "{across}");

    let mut fractions = Vec::new();
    let mut statuses = Vec::new();
    while let Some(event) = pull.next_event().await {
        if let PullEvent::Progress(p) = event {
            fractions.extend(p.fraction());
            statuses.push(p.status);
        }
    }
    assert_eq!(pull.finish().await, PullOutcome::Succeeded);
    assert_eq!(statuses.first().map(String::as_str), Some("pulling manifest"));
    assert_eq!(statuses.last().map(String::as_str), Some("success"));
    assert!(fractions.iter().any(|f| *f > 0.0 && *f < 1.0), "{fractions:?}");

    let tags: Value = reqwest::get(format!("{}/api/tags", stack.farm.node_url("mini-02").expect("url")))
        .await
        .expect("tags")
        .json()
        .await
        .expect("tags json");
    assert!(tags.to_string().contains("mistral:7b"), "the model is installed");

    let missing = ops
        .start_pull("mini-02", "no-such-model:1b")
        .await
        .expect("pull starts");
    let outcome = missing.finish().await;
    assert!(
        matches!(&outcome, PullOutcome::Failed(why) if why.contains("file does not exist")),
        "{outcome:?}"
    );

    for hostile in ["x; rm -rf ~", "$(id)", "`id`", "a\nb", &"a".repeat(200), "--help"] {
        let refused = ops.start_pull("mini-02", hostile).await.unwrap_err();
        assert!(matches!(refused, ActionError::Refused(_)), "{hostile:?}: {refused}");
    }
    assert!(matches!(
        ops.start_pull("mini-99", "qwen3:8b").await,
        Err(ActionError::UnknownNode(_))
    ));

    let jobs = stack.store.pull_jobs(10).await.expect("pull jobs");
    let states: Vec<(&str, &str)> = jobs.iter().map(|j| (j.model.as_str(), j.state.as_str())).collect();
    assert_eq!(states, [("no-such-model:1b", "failed"), ("mistral:7b", "succeeded")]);
    assert_eq!(jobs[1].progress, 1.0);
    assert!(
        jobs[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("file does not exist")
    );

    let audit = audit_actions(&stack).await;
    let details: Vec<&str> = audit.iter().map(|(_, _, _, d)| d.as_str()).collect();
    assert_eq!(audit.len(), 2, "one audit row per pull: {audit:?}");
    assert_eq!(details[0], "mistral:7b: succeeded");
    assert!(details[1].starts_with("no-such-model:1b: failed"), "{details:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_are_validated_versioned_and_audited() {
    let stack = Stack::start(1, None, |_| {}).await;
    let ops = operator(&stack, Access::ReadWrite);
    let version = ops.set_override("frontier.kill_switch", "on", None).await.expect("set");
    assert_eq!(version, 1);
    let refused = ops
        .set_override("class.sensitive.target", "frontier", None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("sensitive"),
        "a refusal says why: {refused}"
    );
    assert_eq!(
        ops.clear_override("frontier.kill_switch", None).await.expect("clear"),
        2
    );
    assert!(matches!(
        ops.clear_override("frontier.kill_switch", None).await,
        Err(ActionError::Refused(_))
    ));
    let actions: Vec<String> = audit_actions(&stack).await.into_iter().map(|a| a.1).collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_operator_changes_nothing() {
    let stack = Stack::start(1, None, |_| {}).await;
    let ops = operator(&stack, Access::ReadOnly);
    let results = [
        ops.drain("mini-01", None).await.map(|_| ()),
        ops.undrain("mini-01", None).await,
        ops.unload("mini-01").await.map(|_| ()),
        ops.start_pull("mini-01", "mistral:7b").await.map(|_| ()),
        ops.set_override("frontier.kill_switch", "on", None).await.map(|_| ()),
        ops.clear_override("frontier.kill_switch", None).await.map(|_| ()),
    ];
    for result in results {
        let err = result.expect_err("read-only refuses");
        assert!(matches!(err, ActionError::ReadOnly(_)), "{err}");
        assert!(err.to_string().starts_with("read-only"), "{err}");
    }
    assert!(stack.store.audit_log(10).await.expect("audit").is_empty());
    assert!(stack.store.node_states().await.expect("states").is_empty());
    assert!(stack.store.pull_jobs(10).await.expect("jobs").is_empty());
    assert_eq!(stack.store.policy_version().await.expect("version"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_carries_on_through_a_store_outage_and_is_audited_when_the_store_returns() {
    let db = support::pg::TestDatabase::create().await;
    let (proxy, via_proxy) = support::outage::CuttableProxy::in_front_of(db.url()).await;
    let stack = Stack::start(2, Some(&via_proxy), |_| {}).await;
    let ops = operator(&stack, Access::ReadWrite);
    let mut pull = ops.start_pull("mini-02", "mistral:7b").await.expect("pull starts");
    proxy.silence();
    let mut last = String::new();
    while last != "success" {
        match tokio::time::timeout(Duration::from_secs(60), pull.next_event()).await {
            Ok(Some(PullEvent::Progress(p))) => last = p.status,
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("the pull stalled while the store was away (last status `{last}`)"),
        }
    }
    assert_eq!(last, "success", "the pull ran to its end with the store away");
    let tags: Value = reqwest::get(format!("{}/api/tags", stack.farm.node_url("mini-02").expect("url")))
        .await
        .expect("tags")
        .json()
        .await
        .expect("tags json");
    assert!(tags.to_string().contains("mistral:7b"), "the model is installed");

    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    let outcome = tokio::time::timeout(Duration::from_secs(30), pull.finish())
        .await
        .expect("the end is recorded once the store is back");
    assert_eq!(outcome, PullOutcome::Succeeded);
    let direct = farmhand::store::Store::connect(db.url()).await.expect("store");
    let jobs = direct.pull_jobs(10).await.expect("pull jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "succeeded");
    let audit = direct.audit_log(10).await.expect("audit");
    let pulls: Vec<&str> = audit
        .iter()
        .filter(|a| a.action == "node.pull")
        .map(|a| a.detail.as_str())
        .collect();
    assert_eq!(
        pulls,
        ["mistral:7b: succeeded"],
        "exactly one audit row, written after the outage"
    );
}
