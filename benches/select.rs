//! Router decision core: `select` on a 12-node and a 200-node fleet, detector scans and feature
//! extraction. Budget (DESIGN.md): `select` ≤ 2 µs, at either size. Criterion reports every
//! figure; a verdict pass after it prints PASS/FAIL per `select` case and fleet size, and exits 1
//! on a miss or when a case measured nothing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use farmhand::config::FleetConfig;
use farmhand::domain::{Capabilities, Capability, DeclaredClass, DrainState, MemoryPressure};
use farmhand::fleet::Health;
use farmhand::router::{
    DetectorSet, FleetView, ModelBits, ModelName, NodeView, Overrides, Policy, RequestFeatures, RequestInput,
    SpendState, detect, select,
};

const MODELS: [&str; 4] = ["llama3.1:8b", "qwen3:14b", "qwen3:32b", "nomic-embed-text"];

/// Fleet sizes measured: the farm the design names, and the largest the console and router serve.
const FLEET_SIZES: [usize; 2] = [12, 200];

/// `size` nodes: per twelve, one degraded, one draining, one at `warn` and one at `critical`
/// memory pressure; a model loaded on each.
fn fleet(size: usize) -> FleetView {
    let nodes = (1..=size)
        .map(|i| NodeView {
            name: format!("mini-{i:02}").into(),
            health: if i % 12 == 7 { Health::Degraded } else { Health::Up },
            drain: if i % 12 == 0 {
                DrainState::Draining
            } else {
                DrainState::Active
            },
            installed: MODELS.iter().map(|m| ModelName::from(*m)).collect(),
            loaded: [ModelName::from(MODELS[i % 3])].into(),
            in_flight: (i % 4) as u32,
            parallel: 2,
            free_memory_bytes: ((i % 12 + 1) as u64) << 30,
            pressure: match i % 12 {
                3 => MemoryPressure::Warn,
                9 => MemoryPressure::Critical,
                _ => MemoryPressure::Normal,
            },
            name_order: 0,
            model_bits: ModelBits::default(),
        })
        .collect();
    FleetView::new(nodes)
}

/// Ordinary prose with code and numbers, no secrets, about `len` bytes.
fn prompt(len: usize) -> String {
    let chunk = "Summarise the incident: at 2024-01-15 12:30:45 node mini-03 (v1.2.3) dropped 17 requests; \
                 order #123456789012 and ticket 123e4567-e89b-12d3-a456-426614174000 refer to the risk-assessment. \
                 Call extension 4567 if icon@2x.png is missing.\n";
    chunk.repeat(len / chunk.len() + 1)[..len].to_string()
}

fn features(declared: DeclaredClass, text: &str, detectors: DetectorSet) -> RequestFeatures {
    let messages = [text];
    let body = serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": text}]});
    let input = RequestInput {
        declared,
        data_class: None,
        agent: "bench",
        messages: &messages,
        body: &body,
        tool_count: 0,
        max_tokens: Some(512),
    };
    RequestFeatures::from_request(&input, detectors)
}

/// The budget for one `select` call (DESIGN.md).
const BUDGET: Duration = Duration::from_micros(2);

/// Everything one `select` call reads.
struct Case {
    name: String,
    features: RequestFeatures,
    overrides: Overrides,
}

/// The decisions measured: every declared class, a tool request (capabilities looked up before
/// placement) and a class under live overrides.
fn cases(policy: &Policy) -> Vec<Case> {
    let none = Overrides::none(1);
    let rows: Vec<(String, String)> = [
        ("frontier.kill_switch", "off"),
        ("class.reasoning.target", "local"),
        ("class.routine.model", "qwen3:14b"),
        ("budget.daily_usd", "100"),
        ("node.mini-02.excluded", "true"),
        ("node.mini-05.excluded", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (overridden, _) = Overrides::from_rows(&rows, 2);
    let text = prompt(2 * 1024);
    let mut cases: Vec<Case> = [
        DeclaredClass::Routine,
        DeclaredClass::Reasoning,
        DeclaredClass::Orchestration,
        DeclaredClass::Sensitive,
    ]
    .into_iter()
    .map(|declared| Case {
        name: format!("select/{declared}"),
        features: features(declared, &text, policy.detectors),
        overrides: none.clone(),
    })
    .collect();
    let mut tools = features(DeclaredClass::Routine, &text, policy.detectors);
    tools.local.needs = Capabilities::NONE.with(Capability::Tools);
    cases.push(Case {
        name: "select/routine+tools".into(),
        features: tools,
        overrides: none,
    });
    cases.push(Case {
        name: "select/reasoning+overrides".into(),
        features: features(DeclaredClass::Reasoning, &text, policy.detectors),
        overrides: overridden,
    });
    cases
}

const SPEND: SpendState = SpendState {
    frontier_usd_today: 12.0,
    resets_in_secs: 3_600,
};

fn bench_select(c: &mut Criterion) {
    let policy = Policy::from_config(&FleetConfig::default());
    for size in FLEET_SIZES {
        let fleet = fleet(size);
        for case in cases(&policy) {
            c.bench_function(&format!("{}/{size}-nodes", case.name), |b| {
                b.iter(|| {
                    select(
                        black_box(&case.features),
                        black_box(&policy),
                        black_box(&case.overrides),
                        black_box(&fleet),
                        black_box(&SPEND),
                    )
                })
            });
        }
    }
}

/// The p50 of one call per case, from 2,000 batches of 100 calls, against the budget: prints a
/// verdict per case and exits 1 on a miss or when nothing was measured.
fn verdict() {
    let policy = Policy::from_config(&FleetConfig::default());
    let mut ok = true;
    let mut measured = 0;
    let mut expected = 0;
    for size in FLEET_SIZES {
        let fleet = fleet(size);
        for case in cases(&policy) {
            expected += 1;
            let mut per_call: Vec<Duration> = (0..2_000)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..100 {
                        black_box(select(
                            black_box(&case.features),
                            black_box(&policy),
                            black_box(&case.overrides),
                            black_box(&fleet),
                            black_box(&SPEND),
                        ));
                    }
                    start.elapsed() / 100
                })
                .collect();
            per_call.sort();
            let p50 = per_call[per_call.len() / 2];
            measured += usize::from(!p50.is_zero());
            let pass = p50 <= BUDGET;
            ok &= pass;
            println!(
                "{} on {size} nodes: p50 {:.2} µs per call (budget {} µs) {}",
                case.name,
                p50.as_secs_f64() * 1e6,
                BUDGET.as_micros(),
                if pass { "PASS" } else { "FAIL" }
            );
        }
    }
    if measured < expected {
        println!("FAIL: {} of {expected} cases measured nothing", expected - measured);
        std::process::exit(1);
    }
    if !ok {
        std::process::exit(1);
    }
}

fn bench_detectors(c: &mut Criterion) {
    for (label, len) in [("2KiB", 2 * 1024), ("16KiB", 16 * 1024)] {
        let text = prompt(len);
        c.bench_function(&format!("detect/all/{label}"), |b| {
            b.iter(|| detect::scan(black_box(&[text.as_str()]), DetectorSet::ALL))
        });
        for detector in detect::Detector::ALL {
            c.bench_function(&format!("detect/{detector}/{label}"), |b| {
                b.iter(|| detector.fires_on(black_box(&text)))
            });
        }
    }
}

fn bench_features(c: &mut Criterion) {
    for (label, len) in [("2KiB", 2 * 1024), ("16KiB", 16 * 1024)] {
        let text = prompt(len);
        c.bench_function(&format!("features/auto/{label}"), |b| {
            b.iter(|| features(DeclaredClass::Auto, black_box(&text), DetectorSet::ALL))
        });
    }
}

criterion_group!(benches, bench_select, bench_detectors, bench_features);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    verdict();
}
