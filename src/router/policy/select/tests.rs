//! `select` against the default fleet policy, one rule at a time.

use super::*;
use crate::config::FleetConfig;
use crate::domain::DrainState;
use crate::domain::{Capabilities, Capability};
use crate::fleet::Health;
use crate::router::data_class::DataClass;
use crate::router::detect::Detector;
use crate::router::exposure::Unscannable;
use crate::router::local_fit::OllamaGap;
use crate::router::{ModelCapabilities, ModelName};

fn policy() -> Policy {
    Policy::from_config(&FleetConfig::default())
}

fn node(name: &str, models: &[&str]) -> NodeView {
    NodeView {
        name: name.into(),
        health: Health::Up,
        drain: DrainState::Active,
        installed: models.iter().map(|m| ModelName::from(*m)).collect(),
        parallel: 2,
        free_memory_bytes: 16 << 30,
        ..NodeView::default()
    }
}

/// `fleet` with `model` on the disk of its node `index` as well.
fn install(fleet: FleetView, index: usize, model: &str) -> FleetView {
    let mut nodes = fleet.nodes;
    let node = &mut nodes[index];
    node.installed = node.installed.iter().cloned().chain([ModelName::from(model)]).collect();
    FleetView::new(nodes)
}

/// mini-01 and mini-02 carry every default model; mini-03 only the routine one.
fn fleet() -> FleetView {
    let all = ["llama3.1:8b", "qwen3:14b", "qwen3:32b"];
    FleetView::new(vec![
        node("mini-01", &all),
        node("mini-02", &all),
        node("mini-03", &["llama3.1:8b"]),
    ])
}

fn features(declared: DeclaredClass, est_tokens: u64) -> RequestFeatures {
    RequestFeatures {
        agent: "crawler".into(),
        declared,
        requested: declared.class().unwrap_or(TaskClass::Routine),
        data_class: None,
        est_tokens,
        message_count: 1,
        tool_count: 0,
        detector: None,
        unscannable: None,
        review_flagged: false,
        local: LocalFit::default(),
    }
}

fn overrides(rows: &[(&str, &str)]) -> Overrides {
    let rows: Vec<(String, String)> = rows.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (overrides, warnings) = Overrides::from_rows(&rows, 3);
    assert!(warnings.is_empty(), "{warnings:?}");
    overrides
}

fn run(f: &RequestFeatures, o: &Overrides, fleet: &FleetView, spend: f64) -> Decision {
    select(
        f,
        &policy(),
        o,
        fleet,
        &SpendState {
            frontier_usd_today: spend,
            resets_in_secs: 7_200,
        },
    )
}

fn labels(d: &Decision) -> Vec<(String, Fallback)> {
    d.plan().iter().map(|s| (s.target.route_label(), s.fallback)).collect()
}

fn step(label: &str, fallback: Fallback) -> (String, Fallback) {
    (label.to_string(), fallback)
}

#[test]
fn reasoning_goes_frontier_with_local_fallback() {
    let d = run(
        &features(DeclaredClass::Reasoning, 100),
        &Overrides::none(3),
        &fleet(),
        0.0,
    );
    assert_eq!(
        labels(&d),
        [
            step("frontier/anthropic/claude-sonnet-4-6", Fallback::None),
            step("local/mini-01/qwen3:32b", Fallback::ToLocal),
            step("local/mini-02/qwen3:32b", Fallback::ToLocal),
        ]
    );
    assert_eq!(d.header_value(), "class=reasoning;endpoint=frontier;reason=policy;v=3");
}

#[test]
fn small_routine_work_stays_local_then_may_leave() {
    let d = run(
        &features(DeclaredClass::Routine, 3_999),
        &Overrides::none(3),
        &fleet(),
        0.0,
    );
    assert_eq!(
        labels(&d),
        [
            step("local/mini-01/llama3.1:8b", Fallback::None),
            step("local/mini-02/llama3.1:8b", Fallback::NodeRetry),
            step("local/mini-03/llama3.1:8b", Fallback::NodeRetry),
            step("frontier/openai/gpt-5.4-mini", Fallback::ToFrontier),
        ]
    );
    let big = run(
        &features(DeclaredClass::Routine, 4_000),
        &Overrides::none(3),
        &fleet(),
        0.0,
    );
    assert_eq!((big.endpoint(), big.reason), (Endpoint::Frontier, Reason::TokenBudget));
}

#[test]
fn routine_work_with_no_node_goes_to_the_frontier_as_a_fallback() {
    let d = run(
        &features(DeclaredClass::Routine, 10),
        &Overrides::none(3),
        &FleetView::default(),
        0.0,
    );
    assert_eq!(labels(&d), [step("frontier/openai/gpt-5.4-mini", Fallback::ToFrontier)]);
    assert_eq!(d.reason, Reason::NoLocalCapacity);
}

#[test]
fn sensitive_work_stays_local_for_every_reason() {
    let mut labelled = features(DeclaredClass::Reasoning, 10);
    labelled.data_class = Some(DataClass::Phi);
    let mut detected = features(DeclaredClass::Orchestration, 10);
    detected.detector = Some(Detector::ApiKey);
    let mut image = features(DeclaredClass::Reasoning, 10);
    image.unscannable = Some(Unscannable::ImageUrl);
    let mut reviewed = features(DeclaredClass::Routine, 100_000);
    reviewed.review_flagged = true;
    for (f, why) in [
        (features(DeclaredClass::Sensitive, 10), "declared"),
        (labelled, "header:phi"),
        (detected, "detector:api_key"),
        (image, "unscannable:image_url"),
        (reviewed, "review_model"),
    ] {
        let d = run(&f, &Overrides::none(3), &fleet(), 0.0);
        assert_eq!(d.class, TaskClass::Sensitive);
        assert_eq!(d.sensitivity.map(Sensitivity::as_str), Some(why));
        assert_eq!(
            labels(&d),
            [
                step("local/mini-01/qwen3:14b", Fallback::None),
                step("local/mini-02/qwen3:14b", Fallback::NodeRetry)
            ]
        );
        assert_eq!(
            d.header_value(),
            format!("class=sensitive;endpoint=local;reason=sensitive;v=3;sensitive={why}")
        );
    }
}

#[test]
fn sensitive_work_without_capacity_is_refused_never_sent_out() {
    let hostile = overrides(&[("class.routine.target", "frontier"), ("budget.daily_usd", "1000")]);
    let only_routine = FleetView::new(vec![node("mini-03", &["llama3.1:8b"])]);
    let d = run(&features(DeclaredClass::Sensitive, 10), &hostile, &only_routine, 0.0);
    assert_eq!(
        d.rejection(),
        Some(&Rejection {
            status: 503,
            retry_after_secs: Some(NO_LOCAL_CAPACITY_RETRY_SECS),
            code: RejectCode::NoLocalCapacity
        })
    );
    assert_eq!(d.endpoint(), Endpoint::Rejected);
}

#[test]
fn kill_switch_keeps_frontier_work_local_or_refuses_it() {
    let off = overrides(&[("frontier.kill_switch", "on")]);
    let d = run(&features(DeclaredClass::Reasoning, 10), &off, &fleet(), 0.0);
    assert_eq!(labels(&d)[0], step("local/mini-01/qwen3:32b", Fallback::ToLocal));
    assert_eq!(d.reason, Reason::KillSwitch);
    assert!(d.plan().iter().all(|s| s.target.endpoint() == Endpoint::Local));

    let routine = run(&features(DeclaredClass::Routine, 10), &off, &fleet(), 0.0);
    assert!(routine.plan().iter().all(|s| s.target.endpoint() == Endpoint::Local));

    let none = run(
        &features(DeclaredClass::Reasoning, 10),
        &off,
        &FleetView::default(),
        0.0,
    );
    assert_eq!(
        none.rejection().map(|r| (r.code, r.retry_after_secs)),
        Some((RejectCode::FrontierDisabled, Some(60)))
    );
}

#[test]
fn past_the_budget_work_degrades_or_is_refused() {
    let d = run(
        &features(DeclaredClass::Orchestration, 10),
        &Overrides::none(3),
        &fleet(),
        50.0,
    );
    assert_eq!((d.endpoint(), d.reason), (Endpoint::Local, Reason::OverBudget));

    let refuse = overrides(&[("budget.over", "refuse")]);
    let d = run(&features(DeclaredClass::Orchestration, 10), &refuse, &fleet(), 50.0);
    assert_eq!(
        d.rejection().map(|r| (r.code, r.retry_after_secs)),
        Some((RejectCode::BudgetExhausted, Some(7_200)))
    );

    let raised = overrides(&[("budget.daily_usd", "80"), ("budget.over", "refuse")]);
    let d = run(&features(DeclaredClass::Orchestration, 10), &raised, &fleet(), 50.0);
    assert_eq!(d.endpoint(), Endpoint::Frontier);

    let unlimited = overrides(&[("budget.daily_usd", "0")]);
    assert_eq!(
        run(&features(DeclaredClass::Reasoning, 10), &unlimited, &fleet(), 1e9).endpoint(),
        Endpoint::Frontier
    );

    let no_nodes = run(
        &features(DeclaredClass::Reasoning, 10),
        &Overrides::none(3),
        &FleetView::default(),
        50.0,
    );
    assert_eq!(no_nodes.rejection().map(|r| r.code), Some(RejectCode::BudgetExhausted));
}

#[test]
fn class_targets_and_model_pins_apply() {
    let o = overrides(&[
        ("class.reasoning.target", "local"),
        ("class.routine.target", "frontier"),
        ("class.reasoning.model", "qwen3:14b"),
    ]);
    let d = run(&features(DeclaredClass::Reasoning, 10), &o, &fleet(), 0.0);
    assert_eq!(
        labels(&d),
        [
            step("local/mini-01/qwen3:14b", Fallback::None),
            step("local/mini-02/qwen3:14b", Fallback::NodeRetry)
        ],
        "an explicit local target has no frontier fallback"
    );
    assert_eq!(d.reason, Reason::Override);
    let d = run(&features(DeclaredClass::Routine, 10), &o, &fleet(), 0.0);
    assert_eq!((d.endpoint(), d.reason), (Endpoint::Frontier, Reason::Override));

    let pinned_local_no_nodes = run(&features(DeclaredClass::Reasoning, 10), &o, &FleetView::default(), 0.0);
    assert_eq!(
        pinned_local_no_nodes.rejection().map(|r| r.code),
        Some(RejectCode::NoLocalCapacity)
    );
}

#[test]
fn exclusions_and_drains_remove_nodes() {
    let o = overrides(&[("node.mini-01.excluded", "true")]);
    let mut fleet = fleet();
    fleet.nodes[1].drain = DrainState::Draining;
    let d = run(&features(DeclaredClass::Routine, 10), &o, &fleet, 0.0);
    assert_eq!(
        labels(&d),
        [
            step("local/mini-03/llama3.1:8b", Fallback::None),
            step("frontier/openai/gpt-5.4-mini", Fallback::ToFrontier)
        ]
    );
}

#[test]
fn auto_requests_use_their_classified_class() {
    let mut f = features(DeclaredClass::Auto, 10);
    f.requested = TaskClass::Orchestration;
    let d = run(&f, &Overrides::none(3), &fleet(), 0.0);
    assert_eq!((d.declared, d.class), (DeclaredClass::Auto, TaskClass::Orchestration));
    assert_eq!(
        labels(&d)[0],
        step("frontier/anthropic/claude-opus-4-7", Fallback::None)
    );
}

#[test]
fn unscannable_content_leaves_only_when_policy_lets_it() {
    let mut image = features(DeclaredClass::Reasoning, 10);
    image.unscannable = Some(Unscannable::File);
    let kept = run(&image, &Overrides::none(3), &fleet(), 0.0);
    assert_eq!(kept.sensitivity, Some(Sensitivity::Unscannable(Unscannable::File)));
    let allowed = overrides(&[("policy.unscannable", "frontier")]);
    let left = run(&image, &allowed, &fleet(), 0.0);
    assert_eq!((left.class, left.sensitivity), (TaskClass::Reasoning, None));
    assert_eq!(left.plan()[0].target.endpoint(), Endpoint::Frontier);
    let mut base = policy();
    base.unscannable = crate::config::UnscannableRoute::Frontier;
    let spend = SpendState::default();
    let by_config = select(&image, &base, &Overrides::none(3), &fleet(), &spend);
    assert_eq!(by_config.sensitivity, None);
    let back = overrides(&[("policy.unscannable", "local")]);
    assert!(
        select(&image, &base, &back, &fleet(), &spend).is_sensitive(),
        "the override wins over the fleet file"
    );
    let mut detected = image.clone();
    detected.detector = Some(Detector::Email);
    assert_eq!(
        run(&detected, &allowed, &fleet(), 0.0).sensitivity,
        Some(Sensitivity::Detector(Detector::Email)),
        "letting images leave never lets a detected secret leave"
    );
}

fn needing(declared: DeclaredClass, capability: Capability) -> RequestFeatures {
    let mut f = features(declared, 10);
    f.local.needs = Capabilities::NONE.with(capability);
    f
}

#[test]
fn requests_go_only_to_local_models_that_can_serve_them() {
    let d = run(
        &needing(DeclaredClass::Routine, Capability::Tools),
        &Overrides::none(3),
        &fleet(),
        0.0,
    );
    assert_eq!(
        labels(&d)[0],
        step("local/mini-01/llama3.1:8b", Fallback::None),
        "llama3.1 calls tools"
    );
    assert_eq!(&*d.local_model, "llama3.1:8b");

    let fleet = install(fleet(), 0, "phi4:14b");
    let pinned = overrides(&[("class.routine.model", "phi4:14b")]);
    let d = run(
        &needing(DeclaredClass::Routine, Capability::Tools),
        &pinned,
        &fleet,
        0.0,
    );
    assert_eq!(labels(&d), [step("frontier/openai/gpt-5.4-mini", Fallback::ToFrontier)]);
    assert_eq!(d.reason, Reason::Capability);
    assert!(d.header_value().contains("reason=capability"), "{}", d.header_value());
    let plain = run(&features(DeclaredClass::Routine, 10), &pinned, &fleet, 0.0);
    assert_eq!(labels(&plain)[0], step("local/mini-01/phi4:14b", Fallback::None));

    let d = run(
        &needing(DeclaredClass::Reasoning, Capability::Vision),
        &Overrides::none(3),
        &fleet,
        0.0,
    );
    assert_eq!(
        labels(&d),
        [step("frontier/anthropic/claude-sonnet-4-6", Fallback::None)],
        "no local fallback on a model that cannot see"
    );
}

#[test]
fn a_model_on_the_farm_that_can_serve_stands_in_for_one_that_cannot() {
    let mut image = needing(DeclaredClass::Routine, Capability::Vision);
    image.unscannable = Some(Unscannable::ImageUrl);
    let farm = install(fleet(), 1, "qwen3-vl:8b");
    let d = run(&image, &Overrides::none(3), &farm, 0.0);
    assert_eq!(d.class, TaskClass::Sensitive, "an image stays on the farm");
    assert_eq!(&*d.local_model, "qwen3-vl:8b");
    assert_eq!(labels(&d), [step("local/mini-02/qwen3-vl:8b", Fallback::None)]);

    let pinned = overrides(&[("class.sensitive.model", "qwen3:14b")]);
    let d = run(&image, &pinned, &farm, 0.0);
    assert_eq!(
        d.rejection().map(|r| r.status),
        Some(400),
        "an operator's pin is never swapped for another model"
    );
}

#[test]
fn what_ollama_cannot_carry_never_goes_to_a_node() {
    let mut forced = features(DeclaredClass::Routine, 10);
    forced.local = LocalFit {
        needs: Capabilities::NONE.with(Capability::Tools),
        gap: Some(OllamaGap::ForcedToolChoice),
    };
    let d = run(&forced, &Overrides::none(3), &fleet(), 0.0);
    assert_eq!(labels(&d), [step("frontier/openai/gpt-5.4-mini", Fallback::ToFrontier)]);
    assert_eq!(d.reason, Reason::Capability);

    let local_only = overrides(&[("class.routine.target", "local")]);
    let d = run(&forced, &local_only, &fleet(), 0.0);
    assert_eq!(
        d.rejection(),
        Some(&Rejection {
            status: 400,
            retry_after_secs: None,
            code: RejectCode::Unservable(LocalMiss::Gap(OllamaGap::ForcedToolChoice))
        })
    );
    assert_eq!(d.rejection().map(|r| r.code.as_str()), Some("unsupported_field"));
}

#[test]
fn sensitive_work_its_model_cannot_serve_is_a_400_never_a_frontier_call() {
    let mut image = needing(DeclaredClass::Routine, Capability::Vision);
    image.unscannable = Some(Unscannable::ImageUrl);
    let d = run(&image, &Overrides::none(3), &fleet(), 0.0);
    assert_eq!(d.class, TaskClass::Sensitive);
    let rejection = d.rejection().expect("refused");
    assert_eq!(
        (rejection.status, rejection.retry_after_secs, rejection.code),
        (
            400,
            None,
            RejectCode::Unservable(LocalMiss::Capability(Capability::Vision))
        )
    );
    assert_eq!(rejection.code.as_str(), "unsupported_capability");
    assert_eq!(LocalMiss::Capability(Capability::Vision).field(), "image_url");
    assert_eq!(&*d.local_model, "qwen3:14b");

    let mut seeing = policy();
    let mut table = crate::config::LocalModels::default().capabilities;
    table.insert(
        "qwen3:14b".into(),
        vec![Capability::Completion, Capability::Tools, Capability::Vision],
    );
    seeing.capabilities = ModelCapabilities::from_table(&table);
    let d = select(&image, &seeing, &Overrides::none(3), &fleet(), &SpendState::default());
    assert_eq!(
        labels(&d)[0],
        step("local/mini-01/qwen3:14b", Fallback::None),
        "a capability list in config is all it takes"
    );
}

#[test]
fn a_blocked_frontier_with_an_unfit_local_model_is_still_a_503() {
    let off = overrides(&[("frontier.kill_switch", "on")]);
    let d = run(
        &needing(DeclaredClass::Reasoning, Capability::Vision),
        &off,
        &fleet(),
        0.0,
    );
    assert_eq!(
        d.rejection().map(|r| (r.status, r.code)),
        Some((503, RejectCode::FrontierDisabled)),
        "waiting for the kill switch to lift can help"
    );
}

#[test]
fn a_class_token_threshold_keeps_small_requests_local_and_may_still_fall_back() {
    let o = overrides(&[("class.reasoning.local_under_tokens", "2000")]);
    let small = run(&features(DeclaredClass::Reasoning, 1_999), &o, &fleet(), 0.0);
    assert_eq!(small.endpoint(), Endpoint::Local);
    assert_eq!(small.reason, Reason::Override);
    assert!(
        small.plan().iter().any(|s| matches!(s.target, Target::Frontier { .. })),
        "a threshold is not a pin: the frontier stays a fallback"
    );
    let large = run(&features(DeclaredClass::Reasoning, 2_000), &o, &fleet(), 0.0);
    assert_eq!(large.endpoint(), Endpoint::Frontier);
    let off = overrides(&[("class.reasoning.local_under_tokens", "0")]);
    assert_eq!(
        run(&features(DeclaredClass::Reasoning, 10), &off, &fleet(), 0.0).endpoint(),
        Endpoint::Frontier
    );
    assert!(crate::router::validate_override("class.sensitive.local_under_tokens", "10").is_err());
    assert!(crate::router::validate_override("class.routine.local_under_tokens", "lots").is_err());
}
