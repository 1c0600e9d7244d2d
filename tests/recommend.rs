//! `farmhand recommend` as a lead runs it, on a store holding a week of decisions and shadow
//! samples: one suggestion with its evidence and saving, applied with the command it prints.

use std::process::{Command, Output};

use chrono::{TimeDelta, Utc};
use farmhand::domain::{DecisionRecord, DeclaredClass, Endpoint, Fallback, TaskClass};
use farmhand::store::{QualitySample, Store};

fn farmhand(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_farmhand"))
        .args(args)
        .env_remove("FARMHAND_CONFIG")
        .env_remove("FARMHAND_DATABASE_URL")
        .env("RUST_LOG", "off")
        .output()
        .expect("the farmhand binary runs")
}

/// A reasoning request answered at the frontier, `est_tokens` estimated, costing `cost_usd`.
fn frontier_answer(i: usize, est_tokens: i64, cost_usd: f64) -> DecisionRecord {
    DecisionRecord {
        request_id: format!("req-{est_tokens}-{i}"),
        ts: Utc::now() - TimeDelta::hours(1 + (i % 100) as i64),
        agent: "planner".into(),
        declared_class: DeclaredClass::Reasoning,
        effective_class: TaskClass::Reasoning,
        sensitive: false,
        sensitivity_reason: None,
        endpoint: Endpoint::Frontier,
        provider: Some("anthropic".into()),
        node: None,
        model: Some("claude-sonnet-4-6".into()),
        est_tokens,
        prompt_tokens: est_tokens / 2,
        completion_tokens: 200,
        cost_usd,
        ttfb_ms: Some(400),
        latency_ms: 2_000,
        fallback: Fallback::None,
        policy_version: 1,
        status: 200,
        error: None,
        attempts: Vec::new(),
        job_id: None,
        quality: Default::default(),
    }
}

async fn seed(store: &Store) {
    // Under 2,000 tokens local twins agree well; between 2,000 and 4,000 they do not.
    let small: Vec<_> = (0..80).map(|i| frontier_answer(i, 1_500, 0.5)).collect();
    let large: Vec<_> = (0..60).map(|i| frontier_answer(i, 3_000, 1.0)).collect();
    store.insert_decisions(&small).await.expect("insert");
    store.insert_decisions(&large).await.expect("insert");
    for (decisions, base) in [(&small, 0.94), (&large, 0.35)] {
        for (i, d) in decisions.iter().enumerate() {
            let sample = QualitySample {
                request_id: d.request_id.clone(),
                twin_request_id: format!("twin-{}", d.request_id),
                twin_route: "local/qwen3:32b".into(),
                score: base + if i % 2 == 0 { 0.03 } else { -0.03 },
                method: "token_f1",
                ts: d.ts,
            };
            store.record_quality_sample(&sample).await.expect("sample");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_of_evidence_gives_one_applicable_suggestion() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    let store = Store::connect(&url).await.expect("store");
    store.migrate().await.expect("migrate");
    seed(&store).await;

    let json = farmhand(&["--database-url", &url, "--json", "recommend", "--since", "7d"]);
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let suggestions = report["recommendations"].as_array().expect("a list");
    assert_eq!(suggestions.len(), 1, "{report}");
    let s = &suggestions[0];
    assert_eq!(s["key"], "class.reasoning.local_under_tokens");
    assert_eq!(
        s["value"], "2000",
        "the large requests' twins disagree, so 4,000 and 8,000 fail"
    );
    assert_eq!(s["samples"], 80);
    // Priced over the span the store covers (traffic since about 80 hours ago), not the 7 days
    // asked for: a young farm's week is not yet a week.
    let per_day = s["usd_per_day"].as_f64().expect("a saving");
    let over_hours = |hours: f64| 40.0 / (hours / 24.0);
    assert!(per_day > over_hours(82.0) && per_day < over_hours(79.0), "{per_day}");
    assert!(s["agreement_low"].as_f64().expect("low") >= 0.85);

    let text = farmhand(&["--database-url", &url, "recommend"]);
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(
        out.contains("reasoning requests under 2,000 estimated tokens: local agreement 0.94 (n = 80"),
        "{out}"
    );
    assert!(
        out.contains("apply: farmhand policy set class.reasoning.local_under_tokens 2000"),
        "{out}"
    );
    let apply = farmhand(&[
        "--database-url",
        &url,
        "policy",
        "set",
        "class.reasoning.local_under_tokens",
        "2000",
    ]);
    assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
    let refused = farmhand(&[
        "--database-url",
        &url,
        "policy",
        "set",
        "class.sensitive.local_under_tokens",
        "2000",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("sensitive work is always local"));
}
