//! `farmhand spend` as a lead and finance run it, on SQLite and on PostgreSQL: a month of
//! decisions exported with `--since 30d --csv` adds up day by day and by every breakdown, and the
//! JSON report carries the money saved and today's burn.

mod support;

use std::collections::HashMap;
use std::process::{Command, Output};

use chrono::{TimeDelta, Utc};
use farmhand::domain::{DecisionRecord, DeclaredClass, Endpoint, Fallback, TaskClass};
use farmhand::store::Store;

fn farmhand(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_farmhand"))
        .args(args)
        .env_remove("FARMHAND_CONFIG")
        .env_remove("FARMHAND_DATABASE_URL")
        .env("RUST_LOG", "off")
        .output()
        .expect("the farmhand binary runs")
}

/// Decision `i` of a month: every 6 hours; one in four at the frontier, one in ten a shadow twin,
/// the rest on three nodes. One agent's name needs quoting in CSV.
fn decision(i: i64) -> DecisionRecord {
    let frontier = i % 4 == 0;
    let agent = match i % 10 {
        0 => "shadow:planner",
        1..=4 => "planner",
        _ => "billing, \"eu\"",
    };
    DecisionRecord {
        request_id: format!("month-{i}"),
        ts: Utc::now() - TimeDelta::hours(6 * i + 1),
        agent: agent.into(),
        declared_class: DeclaredClass::Routine,
        effective_class: if frontier {
            TaskClass::Reasoning
        } else {
            TaskClass::Routine
        },
        sensitive: false,
        sensitivity_reason: None,
        endpoint: if frontier { Endpoint::Frontier } else { Endpoint::Local },
        provider: Some(if frontier { "anthropic" } else { "ollama" }.into()),
        node: (!frontier).then(|| format!("mini-0{}", i % 3 + 1)),
        model: Some(if frontier { "claude-sonnet-4-6" } else { "llama3.1:8b" }.into()),
        est_tokens: 1_000,
        prompt_tokens: 800,
        completion_tokens: 200,
        cost_usd: if frontier { 0.25 } else { 0.0 },
        ttfb_ms: Some(100),
        latency_ms: 900,
        fallback: Fallback::None,
        policy_version: 1,
        status: 200,
        error: None,
        attempts: Vec::new(),
        job_id: None,
        quality: Default::default(),
    }
}

/// 110 decisions over 27.5 days: all inside a 30-day window.
const DECISIONS: i64 = 110;

async fn exports_add_up(url: &str) {
    let store = Store::connect(url).await.expect("store");
    store.migrate().await.expect("migrate");
    let batch: Vec<DecisionRecord> = (0..DECISIONS).map(decision).collect();
    store.insert_decisions(&batch).await.expect("insert");

    let out = farmhand(&["--database-url", url, "spend", "--since", "30d", "--csv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(
        reader.headers().expect("a header").iter().collect::<Vec<_>>(),
        [
            "since",
            "until",
            "section",
            "key",
            "endpoint",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    let number = |row: &csv::StringRecord, column: usize| -> f64 { row[column].parse().expect("a number") };
    let section = |name: &'static str| rows.iter().filter(move |row| &row[2] == name);
    let total = section("total").next().expect("a total row");
    assert_eq!(number(total, 5), DECISIONS as f64);
    let frontier_cost = 0.25 * batch.iter().filter(|d| d.endpoint == Endpoint::Frontier).count() as f64;
    assert!((number(total, 8) - frontier_cost).abs() < 1e-9, "{total:?}");

    let days: f64 = section("day").map(|row| number(row, 5)).sum();
    assert_eq!(days, DECISIONS as f64, "the days add up to the window");
    assert!(section("day").count() >= 3 * 27, "every day, by endpoint");
    let day_cost: f64 = section("day").map(|row| number(row, 8)).sum();
    assert!((day_cost - frontier_cost).abs() < 1e-9);

    let agents: HashMap<&str, f64> = section("agent").map(|row| (&row[3], number(row, 5))).collect();
    assert_eq!(
        agents.get("billing, \"eu\""),
        Some(&55.0),
        "quoted names read back: {agents:?}"
    );
    assert!(
        !agents.keys().any(|a| a.starts_with("shadow:")),
        "twins are quality spend: {agents:?}"
    );
    let quality = section("quality").next().expect("a quality row");
    assert_eq!(number(quality, 5), 11.0);

    let nodes: f64 = section("node").map(|row| number(row, 5)).sum();
    let local = batch.iter().filter(|d| d.endpoint == Endpoint::Local).count() as f64;
    assert_eq!(nodes, local, "the farm's volume by node");
    assert_eq!(section("model").count(), 2);
    let saved = section("saved").next().expect("a saved row");
    assert!(
        number(saved, 8) > 0.0,
        "the local volume priced at frontier rates: {saved:?}"
    );

    let json = farmhand(&["--database-url", url, "--json", "spend", "--since", "30d"]);
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["total"]["requests"], DECISIONS);
    assert!(report["saved_usd"].as_f64().is_some_and(|usd| usd > 0.0), "{report}");
    assert!(report["today"]["usd_per_hour"].is_number(), "{report}");
    assert_eq!(report["quality"]["requests"], 11);
    assert_eq!(report["by_node"].as_array().map(Vec::len), Some(3));
    assert!(report["daily"].as_array().is_some_and(|d| d.len() >= 27), "{report}");

    let text = farmhand(&["--database-url", url, "spend", "--since", "30d"]);
    let text = String::from_utf8_lossy(&text.stdout);
    for line in [
        "saved: $",
        "quality spend: $",
        "by node (farm volume)",
        "by day (UTC)",
        "today: $",
    ] {
        assert!(text.contains(line), "`{line}` in:\n{text}");
    }

    let both = farmhand(&["--database-url", url, "--json", "spend", "--csv"]);
    assert_eq!(both.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&both.stderr).contains("--csv and --json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_exports_to_csv_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    exports_add_up(&format!("sqlite://{}", dir.path().join("farm.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_exports_to_csv_on_postgres() {
    let db = support::pg::TestDatabase::create().await;
    exports_add_up(db.url()).await;
}
