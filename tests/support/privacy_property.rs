//! The sensitive-never-leaves property over the whole gateway: rounds of random requests (a
//! marker in a random field, random class, data label, image, stream) under random overrides,
//! budgets, drains, node faults and frontier faults, all through real HTTP against the
//! simulator. After each round the simulated frontier is asked, by keyed hash, whether any string
//! it received contained a marker of a request that had to stay on the farm.
//!
//! Shared by `tests/privacy_property.rs` (about 1k cases) and `benches/privacy_property.rs`
//! (100k cases); the seed is printed so a failure can be replayed with `FARMHAND_PRIVACY_SEED`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use farmhand::config::FleetConfig;
use farmhand::control::ControlSnapshot;
use farmhand::domain::DrainState;
use farmhand::router::DataClass;
use farmhand::sim::FaultKind;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::privacy::{PLACES, plain_marker, request_with, sensitive_marker};
use super::stack::{Stack, route};

/// Simulated nodes in the property's farm.
pub const NODES: usize = 3;

const NODE_FAULTS: &[FaultKind] = &[
    FaultKind::Down,
    FaultKind::Error500,
    FaultKind::RateLimited,
    FaultKind::Overloaded,
    FaultKind::Garbage,
    FaultKind::Drop,
    FaultKind::Echo,
    FaultKind::Hang,
];
const FRONTIER_FAULTS: &[FaultKind] = &[
    FaultKind::Error500,
    FaultKind::RateLimited,
    FaultKind::Overloaded,
    FaultKind::Garbage,
    FaultKind::Drop,
    FaultKind::Echo,
    FaultKind::Slow,
    FaultKind::Hang,
    FaultKind::Down,
];
const CLASSES: &[&str] = &["routine", "reasoning", "orchestration", "auto", "sensitive"];

/// Why a case had to stay on the farm, if it had to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MustStay {
    Declared,
    Label,
    Detector,
    Image,
}

/// One generated request and what the property expects of it.
#[derive(Debug, Clone)]
struct Case {
    body: Value,
    label: Option<&'static str>,
    marker: String,
    must_stay: Option<MustStay>,
}

/// What a run saw.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// The seed the run used.
    pub seed: u64,
    /// Rounds run.
    pub rounds: usize,
    /// Requests sent.
    pub cases: usize,
    /// Requests that had to stay on the farm.
    pub must_stay: usize,
    /// Requests answered by a frontier provider.
    pub frontier_answers: usize,
    /// Requests answered by a node.
    pub local_answers: usize,
    /// Requests refused or failed.
    pub failures: usize,
    /// Markers that reached the frontier although the request had to stay (must be empty).
    pub leaks: Vec<String>,
}

/// The router settings the property runs under: short timeouts, so hangs cost a second.
pub fn adjust(config: &mut FleetConfig) {
    config.router.first_byte_timeout_secs = 1;
    config.router.idle_timeout_secs = 1;
}

/// Runs `cases` requests in rounds of `per_round` against `stack`, whose control is `control`.
pub async fn run(
    stack: &Stack,
    control: &watch::Sender<Arc<ControlSnapshot>>,
    cases: usize,
    per_round: usize,
    seed: u64,
) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut report = Report {
        seed,
        ..Report::default()
    };
    let mut version = 0;
    while report.cases < cases {
        version += 1;
        let unscannable_leaves = set_up_round(stack, control, &mut rng, version);
        let count = per_round.min(cases - report.cases);
        let round: Vec<Case> = (0..count).map(|_| case(&mut rng, unscannable_leaves)).collect();
        let sends = round.iter().map(|case| send(stack, &client, case));
        let routes = futures::future::join_all(sends).await;
        for (case, route) in round.iter().zip(routes) {
            match route.as_deref() {
                Some(r) if r.starts_with("frontier/") => {
                    report.frontier_answers += 1;
                    if case.must_stay.is_some() {
                        report.leaks.push(format!("{:?} answered by {r}", case.must_stay));
                    }
                }
                Some(_) => report.local_answers += 1,
                None => report.failures += 1,
            }
        }
        // Let hung upstream calls end before asking what the frontier received.
        for target in (1..=NODES).map(node_name).chain(["frontier".to_string()]) {
            stack.farm.set_fault(&target, None).expect("fault cleared");
        }
        for case in round.iter().filter(|c| c.must_stay.is_some()) {
            report.must_stay += 1;
            if stack.farm.frontier_received_containing(&case.marker) {
                report.leaks.push(format!(
                    "{:?} marker reached the frontier (label {:?}): {}",
                    case.must_stay, case.label, case.body
                ));
            }
        }
        stack.farm.clear_frontier_sightings();
        report.cases += count;
        report.rounds += 1;
    }
    report
}

fn node_name(i: usize) -> String {
    format!("mini-{i:02}")
}

/// Rounds at the start of a run in which no spend is added (the budget can still run out).
const FRESH_BUDGET_ROUNDS: i64 = 5;
/// Every this many rounds, one runs with the frontier open: no frontier fault, kill switch off and
/// a budget above today's spend. Random faults alone can keep it closed for a whole run, and then
/// the property says nothing about what happens when leaving is possible.
const OPEN_FRONTIER_EVERY: i64 = 3;

/// Random faults, overrides, drains and spend for a round; returns whether unscannable content may leave.
fn set_up_round(stack: &Stack, control: &watch::Sender<Arc<ControlSnapshot>>, rng: &mut StdRng, version: i64) -> bool {
    for i in 1..=NODES {
        let fault = rng.random_bool(0.3).then(|| *NODE_FAULTS.choose(rng).expect("faults"));
        stack.farm.set_fault(&node_name(i), fault).expect("node fault set");
    }
    let open_frontier = version % OPEN_FRONTIER_EVERY == 0;
    let fault = rng
        .random_bool(0.3)
        .then(|| *FRONTIER_FAULTS.choose(rng).expect("faults"))
        .filter(|_| !open_frontier);
    stack.farm.set_fault("frontier", fault).expect("frontier fault set");

    let mut rows: Vec<(String, String)> = Vec::new();
    let mut unscannable_leaves = false;
    for _ in 0..rng.random_range(0..6) {
        let (key, value) = override_row(rng);
        if key == "policy.unscannable" && (value == "local" || value == "frontier") {
            unscannable_leaves = value == "frontier";
        }
        rows.push((key, value));
    }
    if open_frontier {
        rows.retain(|(key, _)| key != "frontier.kill_switch" && key != "budget.daily_usd");
        let spent = stack.gateway.spend().state(chrono::Utc::now()).frontier_usd_today;
        rows.push(("frontier.kill_switch".into(), "off".into()));
        rows.push(("budget.daily_usd".into(), format!("{:.2}", spent + 1000.0)));
    }
    let mut node_states: HashMap<String, DrainState> = HashMap::new();
    for i in 1..=NODES {
        if rng.random_bool(0.15) {
            let state = if rng.random_bool(0.5) {
                DrainState::Draining
            } else {
                DrainState::Drained
            };
            node_states.insert(node_name(i), state);
        }
    }
    control.send_replace(Arc::new(ControlSnapshot {
        version,
        overrides: rows,
        node_states,
        ..ControlSnapshot::default()
    }));
    // Spend only grows within a day: spent from the first round, it would leave the frontier
    // unexercised for the whole run. The first rounds run on a fresh budget.
    if version > FRESH_BUDGET_ROUNDS && rng.random_bool(0.2) {
        stack
            .gateway
            .spend()
            .add("property", rng.random_range(0.0..80.0), chrono::Utc::now());
    }
    unscannable_leaves
}

/// An override row: valid ones, the one that must always be refused, and garbage.
fn override_row(rng: &mut StdRng) -> (String, String) {
    let class = *["routine", "reasoning", "orchestration", "sensitive"]
        .choose(rng)
        .expect("classes");
    let pick = |rng: &mut StdRng, values: &[&str]| values.choose(rng).expect("values").to_string();
    match rng.random_range(0..8) {
        0 => ("frontier.kill_switch".into(), pick(rng, &["on", "off"])),
        1 => (format!("class.{class}.target"), pick(rng, &["local", "frontier"])),
        2 => ("class.sensitive.target".into(), "frontier".into()),
        3 => ("budget.daily_usd".into(), pick(rng, &["0", "0.01", "5", "1000"])),
        4 => ("budget.over".into(), pick(rng, &["degrade", "refuse"])),
        5 => (
            "policy.unscannable".into(),
            pick(rng, &["local", "frontier", "LOCAL", "cloud"]),
        ),
        6 => (
            format!("node.{}.excluded", node_name(rng.random_range(1..=NODES))),
            pick(rng, &["true", "false"]),
        ),
        _ => (
            format!("class.{class}.model"),
            pick(rng, &["llama3.1:8b", "qwen3:14b", "$(id)"]),
        ),
    }
}

fn case(rng: &mut StdRng, unscannable_leaves: bool) -> Case {
    let class = *CLASSES.choose(rng).expect("classes");
    let place = *PLACES.choose(rng).expect("places");
    let label = rng
        .random_bool(0.2)
        .then(|| DataClass::ALL.choose(rng).expect("labels").name());
    let sensitive_text = rng.random_bool(0.4);
    let marker = if sensitive_text {
        sensitive_marker(rng)
    } else {
        plain_marker(rng)
    };
    let mut body = request_with(class, place, &marker);
    let image = rng.random_bool(0.15);
    if image && let Some(messages) = body["messages"].as_array_mut() {
        messages.push(json!({"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/photo.jpg"}}
        ]}));
    }
    body["stream"] = Value::from(rng.random_bool(0.5));
    let must_stay = if class == "sensitive" {
        Some(MustStay::Declared)
    } else if label.is_some_and(|l| l != "public" && l != "internal") {
        Some(MustStay::Label)
    } else if sensitive_text {
        Some(MustStay::Detector)
    } else if image && !unscannable_leaves {
        Some(MustStay::Image)
    } else {
        None
    };
    Case {
        body,
        label,
        marker,
        must_stay,
    }
}

/// Sends a case; the route that answered it with a 200, or `None`.
async fn send(stack: &Stack, client: &reqwest::Client, case: &Case) -> Option<String> {
    let mut request = client
        .post(format!("{}/v1/chat/completions", stack.url))
        .json(&case.body);
    if let Some(label) = case.label {
        request = request.header("X-Data-Class", label);
    }
    let response = request.send().await.ok()?;
    let ok = response.status().is_success();
    let answered_by = route(&response);
    let _ = response.bytes().await;
    ok.then_some(answered_by)
}

/// The seed from `FARMHAND_PRIVACY_SEED`, else a random one.
pub fn seed() -> u64 {
    std::env::var("FARMHAND_PRIVACY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// Starts the farm and router the property runs against.
pub async fn start() -> (Stack, watch::Sender<Arc<ControlSnapshot>>) {
    Stack::start_controlled(NODES as u16, |sim| sim.max_queue = 512, adjust).await
}
