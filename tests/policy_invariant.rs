//! The router's contract, checked as properties over random policies, overrides, spend,
//! fleets and requests: a sensitive request never gets a frontier target, whatever else.

use std::collections::HashSet;

use farmhand::config::CapabilityTable;
use farmhand::config::{OverBudget, UnscannableRoute};
use farmhand::domain::Capability;
use farmhand::domain::{DeclaredClass, DrainState, Endpoint, Fallback, MemoryPressure, TaskClass};
use farmhand::fleet::Health;
use farmhand::router::{
    ClassModels, ClassTarget, DataClass, Decision, Detector, DetectorSet, FleetView, FrontierRoute, FrontierRoutes,
    ModelBits, ModelCapabilities, ModelName, NodeView, Outcome, Overrides, Policy, RejectCode, RequestFeatures,
    RequestInput, SpendState, Target, select,
};
use proptest::prelude::*;
use proptest::sample::select as one_of;

const MODELS: &[&str] = &[
    "llama3.1:8b",
    "qwen3:14b",
    "qwen3:32b",
    "gemma3:4b",
    "mistral",
    "mistral:latest",
];
const CLASS_NAMES: &[&str] = &[
    "routine",
    "reasoning",
    "orchestration",
    "sensitive",
    "auto",
    "SENSITIVE",
    "",
];

fn route() -> impl Strategy<Value = FrontierRoute> {
    (
        one_of(&["anthropic", "openai"][..]),
        one_of(&["claude-sonnet-4-6", "claude-opus-4-7", "gpt-5.4-mini"][..]),
    )
        .prop_map(|(p, m)| FrontierRoute {
            provider: p.into(),
            model: m.into(),
        })
}

fn detector_set() -> impl Strategy<Value = DetectorSet> {
    // Every subset of the detectors, each bit as likely as any other.
    (0u32..(1u32 << Detector::ALL.len())).prop_map(|bits| {
        Detector::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .fold(DetectorSet::NONE, |s, (_, d)| s.with(*d))
    })
}

/// A capability list for each model (and none for some: they only complete text).
fn capabilities() -> impl Strategy<Value = ModelCapabilities> {
    const OFFERED: [Capability; 4] = [
        Capability::Completion,
        Capability::Tools,
        Capability::Vision,
        Capability::Thinking,
    ];
    proptest::collection::vec(proptest::option::of(0u8..16), MODELS.len()).prop_map(|lists| {
        let table: CapabilityTable = MODELS
            .iter()
            .zip(lists)
            .filter_map(|(model, bits)| {
                let bits = bits?;
                let list = OFFERED.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0);
                Some((model.to_string(), list.map(|(_, c)| *c).collect()))
            })
            .collect();
        ModelCapabilities::from_table(&table)
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        [one_of(MODELS), one_of(MODELS), one_of(MODELS), one_of(MODELS)],
        capabilities(),
        [route(), route(), route()],
        0u32..10_000,
        prop_oneof![Just(0.0), 0.0..100.0f64],
        prop_oneof![Just(OverBudget::Degrade), Just(OverBudget::Refuse)],
        detector_set(),
        prop_oneof![Just(UnscannableRoute::Local), Just(UnscannableRoute::Frontier)],
    )
        .prop_map(
            |(
                [r, re, o, s],
                capabilities,
                [fr, fre, fo],
                routine_token_budget,
                budget,
                over_budget,
                detectors,
                unscannable,
            )| {
                Policy {
                    local_models: ClassModels {
                        routine: r.into(),
                        reasoning: re.into(),
                        orchestration: o.into(),
                        sensitive: s.into(),
                    },
                    capabilities,
                    frontier: FrontierRoutes {
                        routine: fr,
                        reasoning: fre,
                        orchestration: fo,
                    },
                    routine_token_budget,
                    daily_frontier_budget_usd: budget,
                    over_budget,
                    detectors,
                    unscannable,
                }
            },
        )
}

/// Override rows: valid ones, hostile ones and garbage.
fn row() -> impl Strategy<Value = (String, String)> {
    let pair = |k: String, v: &str| (k, v.to_string());
    prop_oneof![
        one_of(&["on", "off", "yes", "ON", ""][..]).prop_map(move |v| pair("frontier.kill_switch".into(), v)),
        (
            one_of(CLASS_NAMES),
            one_of(&["local", "frontier", "cloud", "Frontier"][..])
        )
            .prop_map(move |(c, v)| pair(format!("class.{c}.target"), v)),
        Just(("class.sensitive.target".to_string(), "frontier".to_string())),
        Just(("class.sensitive.target".to_string(), " frontier".to_string())),
        (
            one_of(CLASS_NAMES),
            one_of(&["llama3.1:8b", "qwen3:14b", "gemma3:4b", "mistral", "$(id)", ""][..])
        )
            .prop_map(move |(c, v)| pair(format!("class.{c}.model"), v)),
        one_of(&["0", "0.5", "5", "1000", "-1", "NaN", "inf", "abc", "1e400"][..])
            .prop_map(move |v| pair("budget.daily_usd".into(), v)),
        one_of(&["degrade", "refuse", "panic"][..]).prop_map(move |v| pair("budget.over".into(), v)),
        one_of(&["local", "frontier", "LOCAL", ""][..]).prop_map(move |v| pair("policy.unscannable".into(), v)),
        (1usize..=14, one_of(&["true", "false", "maybe"][..]))
            .prop_map(move |(i, v)| pair(format!("node.mini-{i:02}.excluded"), v)),
        (".{0,24}", ".{0,24}"),
    ]
}

fn node() -> impl Strategy<Value = NodeView> {
    (
        one_of(&[Health::Up, Health::Degraded, Health::Down][..]),
        one_of(DrainState::ALL),
        proptest::collection::vec(any::<bool>(), MODELS.len()),
        proptest::collection::vec(any::<bool>(), MODELS.len()),
        0u32..6,
        0u32..4,
        0u64..(64 << 30),
        one_of(MemoryPressure::ALL),
    )
        .prop_map(
            |(health, drain, installed, loaded, in_flight, parallel, free_memory_bytes, pressure)| {
                let pick = |mask: Vec<bool>| {
                    MODELS
                        .iter()
                        .zip(mask)
                        .filter(|(_, on)| *on)
                        .map(|(m, _)| ModelName::from(*m))
                        .collect()
                };
                NodeView {
                    name: "".into(),
                    health,
                    drain,
                    installed: pick(installed),
                    loaded: pick(loaded),
                    in_flight,
                    parallel,
                    free_memory_bytes,
                    pressure,
                    name_order: 0,
                    model_bits: ModelBits::default(),
                }
            },
        )
}

fn fleet() -> impl Strategy<Value = FleetView> {
    proptest::collection::vec(node(), 0..=12).prop_map(|nodes| {
        FleetView::new(
            nodes
                .into_iter()
                .enumerate()
                .map(|(i, n)| NodeView {
                    name: format!("mini-{:02}", i + 1).into(),
                    ..n
                })
                .collect(),
        )
    })
}

fn spend() -> impl Strategy<Value = SpendState> {
    (prop_oneof![Just(0.0), 0.0..200.0f64, Just(f64::NAN)], any::<u32>()).prop_map(
        |(frontier_usd_today, resets_in_secs)| SpendState {
            frontier_usd_today,
            resets_in_secs,
        },
    )
}

/// Secret-bearing text embedded in a prompt, and the detector that must catch it.
fn secret() -> impl Strategy<Value = (String, Detector)> {
    let card = (proptest::collection::vec(0u8..10, 14), any::<bool>()).prop_map(|(body, spaced)| {
        let mut digits = vec![4u8];
        digits.extend(body);
        digits.push(luhn_check_digit(&digits));
        let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        let text = if spaced {
            text.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            text
        };
        (text, Detector::CreditCard)
    });
    prop_oneof![
        card,
        one_of(&["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "][..]).prop_map(|l| (
            format!("-----BEGIN {l}PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END {l}PRIVATE KEY-----"),
            Detector::PrivateKey
        )),
        (
            "[a-z][a-z0-9.]{0,8}[a-z0-9]",
            "[a-z]{2,10}",
            one_of(&["com", "org", "io", "co.uk"][..])
        )
            .prop_map(|(l, d, t)| (format!("{l}@{d}.{t}"), Detector::Email)),
        "[A-Z0-9]{16}".prop_map(|k| (format!("AKIA{k}"), Detector::Aws)),
        "[a-z]{12}[0-9]{6}[A-Z]{12}[0-9]{6}".prop_map(|k| (format!("ghp_{k}"), Detector::Github)),
        "[a-zA-Z]{20}[0-9]{12}".prop_map(|k| (format!("sk-proj-{k}"), Detector::ApiKey)),
        (1u32..900, 1u32..100, 1u32..10_000)
            .prop_filter("666 is never issued", |(a, _, _)| *a != 666)
            .prop_map(|(a, g, s)| (format!("{a:03}-{g:02}-{s:04}"), Detector::NationalId)),
    ]
}

fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[derive(Debug, Clone)]
struct Request {
    declared: DeclaredClass,
    data_class: Option<DataClass>,
    text: String,
    image: bool,
    secret: Option<Detector>,
    tool_count: usize,
    max_tokens: Option<u32>,
    /// The image is an `https` URL (Ollama takes data URLs only).
    remote_image: bool,
    /// `tool_choice: "required"` (Ollama cannot force a call).
    forced: bool,
    /// `reasoning_effort: "low"` (needs a thinking model locally).
    effort: bool,
}

fn request() -> impl Strategy<Value = Request> {
    (
        one_of(DeclaredClass::ALL),
        proptest::option::of(one_of(&DataClass::ALL[..])),
        "[a-z ]{0,80}",
        proptest::option::of(secret()),
        "[a-z ]{0,80}",
        0usize..5,
        proptest::option::of(0u32..8_000),
        0u8..8,
    )
        .prop_map(
            |(declared, data_class, before, secret, after, tool_count, max_tokens, flags)| {
                let (middle, detector) = secret.map_or((String::new(), None), |(s, d)| (s, Some(d)));
                Request {
                    declared,
                    data_class: data_class.filter(|c| c.is_sensitive()),
                    image: tool_count % 2 == 1,
                    text: format!("{before} {middle} {after}"),
                    secret: detector,
                    tool_count,
                    max_tokens,
                    remote_image: flags & 1 != 0,
                    forced: flags & 2 != 0,
                    effort: flags & 4 != 0,
                }
            },
        )
}

fn eligible(node: &NodeView, model: &str, overrides: &Overrides) -> bool {
    node.health != Health::Down
        && node.drain == DrainState::Active
        && !overrides.is_excluded(&node.name)
        && node.has_installed(model)
        && (node.pressure < MemoryPressure::Critical || node.has_loaded(model))
}

fn has_frontier(decision: &Decision) -> bool {
    decision
        .plan()
        .iter()
        .any(|s| s.target.endpoint() == Endpoint::Frontier)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn sensitive_never_leaves_and_plans_are_sound(
        policy in policy(),
        rows in proptest::collection::vec(row(), 0..8),
        version in 0i64..1_000,
        fleet in fleet(),
        spend in spend(),
        req in request(),
    ) {
        let (overrides, _warnings) = Overrides::from_rows(&rows, version);
        let messages = [req.text.as_str(), "thanks"];
        let mut content = vec![serde_json::json!({"type": "text", "text": req.text})];
        if req.image {
            let url = if req.remote_image { "https://example.com/scan.png" } else { "data:image/png;base64,iVBORw0KGgo=" };
            content.push(serde_json::json!({"type": "image_url", "image_url": {"url": url}}));
        }
        let mut body = serde_json::json!({
            "model": "routine",
            "messages": [{"role": "user", "content": content}, {"role": "user", "content": "thanks"}],
        });
        if req.tool_count > 0 {
            let tools: Vec<serde_json::Value> = (0..req.tool_count)
                .map(|i| serde_json::json!({"type": "function", "function": {"name": format!("t{i}"), "parameters": {"type": "object"}}}))
                .collect();
            body["tools"] = tools.into();
            if req.forced {
                body["tool_choice"] = "required".into();
            }
        }
        if req.effort {
            body["reasoning_effort"] = "low".into();
        }
        let input = RequestInput {
            declared: req.declared,
            data_class: req.data_class,
            agent: "prop",
            messages: &messages,
            body: &body,
            tool_count: req.tool_count,
            max_tokens: req.max_tokens,
        };
        let features = RequestFeatures::from_request(&input, policy.detectors);
        let decision = select(&features, &policy, &overrides, &fleet, &spend);

        // (d) no override row can point sensitive work at the frontier.
        prop_assert_ne!(overrides.target(TaskClass::Sensitive), Some(ClassTarget::Frontier));

        // (a) the invariant.
        let already = req.declared == DeclaredClass::Sensitive || req.data_class.is_some();
        let images_stay = overrides.unscannable.unwrap_or(policy.unscannable) == UnscannableRoute::Local;
        if req.image && images_stay && !already {
            prop_assert!(decision.is_sensitive(), "an image left the farm with policy.unscannable = local");
        }
        let detector_on = req.secret.is_some_and(|d| policy.detectors.contains(d));
        if detector_on && !already {
            prop_assert!(features.detector.is_some(), "an enabled detector missed {:?}", req.secret);
        }
        if already || detector_on || features.detector.is_some() {
            prop_assert_eq!(decision.class, TaskClass::Sensitive);
            prop_assert!(decision.is_sensitive());
            prop_assert!(!has_frontier(&decision), "sensitive plan with a frontier target: {:?}", decision.plan());
        }
        if decision.class == TaskClass::Sensitive {
            prop_assert!(!has_frontier(&decision));
        }

        // Rejections are a 503 with a Retry-After, or a 400 when the local model can never serve
        // the request; a plan is never empty.
        // The class's (pinned) model, or a farm model that stands in for it when it lacks a
        // capability the request needs: never in place of a pin, never one that cannot serve.
        let pin = overrides.model_pin(decision.class);
        let class_model = pin.unwrap_or_else(|| policy.local_models.for_class(decision.class));
        let fits = |m: &str| policy.capabilities.of(m).first_missing(features.local.needs).is_none() && features.local.gap.is_none();
        let model = &decision.local_model;
        let unfit = !fits(model);
        if **model != **class_model {
            prop_assert!(pin.is_none() && !fits(class_model) && !unfit, "{model} stands in for {class_model}: {:?}", features.local);
        }
        match &decision.outcome {
            Outcome::Rejected(r) if r.status == 400 => {
                prop_assert!(matches!(r.code, RejectCode::Unservable(_)) && r.retry_after_secs.is_none(), "{:?}", r);
                prop_assert!(unfit, "refused as unservable, yet {model} can serve it: {:?}", features.local);
                let stand_in = pin.is_none()
                    && fleet.nodes.iter().any(|n| n.installed.iter().any(|m| fits(m) && eligible(n, m, &overrides)));
                prop_assert!(!stand_in, "refused as unservable, yet a farm model could serve it");
            }
            Outcome::Rejected(r) => prop_assert!(r.status == 503 && r.retry_after_secs.is_some_and(|s| s >= 1), "{:?}", r),
            Outcome::Plan(steps) => prop_assert!(!steps.is_empty()),
        }

        // The kill switch and a refused budget keep everything off the frontier.
        let budget = overrides.daily_budget_usd.unwrap_or(policy.daily_frontier_budget_usd);
        let spent = budget > 0.0 && spend.frontier_usd_today.partial_cmp(&budget) != Some(std::cmp::Ordering::Less);
        let refuse = overrides.over_budget.unwrap_or(policy.over_budget) == OverBudget::Refuse;
        if overrides.kill_switch || (spent && refuse) {
            prop_assert!(!has_frontier(&decision));
        }

        // (b) every local target is an eligible node running the class's (pinned) model, that
        // model can serve what the request needs, and all eligible nodes of the best health tier
        // are offered.
        let eligible_nodes: Vec<&NodeView> = fleet
            .nodes
            .iter()
            .filter(|n| !unfit && eligible(n, model, &overrides))
            .collect();
        let any_up = eligible_nodes.iter().any(|n| n.health == Health::Up);
        let mut locals = 0;
        for step in decision.plan() {
            match &step.target {
                Target::Local { node, model: m } => {
                    locals += 1;
                    let view = fleet.nodes.iter().find(|n| n.name == *node);
                    prop_assert!(view.is_some_and(|n| eligible(n, model, &overrides)), "ineligible node {node}");
                    prop_assert!(!unfit, "{model} placed for a request it cannot serve: {:?}", features.local);
                    prop_assert!(!any_up || view.is_some_and(|n| n.health == Health::Up), "degraded node {node} while one is up");
                    prop_assert_eq!(&**m, &**model);
                }
                Target::Frontier { provider, model } => {
                    let route = policy.frontier.for_class(decision.class);
                    prop_assert!(route.is_some_and(|r| r.provider == *provider && r.model == *model));
                }
            }
        }
        // Calmer nodes come first: a node under memory pressure only after its calmer peers.
        let pressures: Vec<MemoryPressure> = decision
            .plan()
            .iter()
            .filter_map(|s| match &s.target {
                Target::Local { node, .. } => fleet.nodes.iter().find(|n| n.name == *node).map(|n| n.pressure),
                Target::Frontier { .. } => None,
            })
            .collect();
        prop_assert!(pressures.is_sorted(), "pressure order {:?}", pressures);
        let tier = eligible_nodes.iter().filter(|n| !any_up || n.health == Health::Up).count();
        prop_assert!(locals == 0 || locals == tier, "{locals} local steps for {tier} eligible nodes");

        // (c) no duplicates; fallback kinds match their position.
        let plan = decision.plan();
        let unique: HashSet<&Target> = plan.iter().map(|s| &s.target).collect();
        prop_assert_eq!(unique.len(), plan.len());
        prop_assert!(plan.iter().filter(|s| s.target.endpoint() == Endpoint::Frontier).count() <= 1);
        if let Some(first) = plan.first() {
            let preferred_local = first.target.endpoint() == Endpoint::Local && first.fallback == Fallback::None;
            for (i, step) in plan.iter().enumerate() {
                let expected: &[Fallback] = match (step.target.endpoint(), i) {
                    (Endpoint::Frontier, 0) => &[Fallback::None, Fallback::ToFrontier],
                    (Endpoint::Frontier, _) => &[Fallback::ToFrontier],
                    (_, 0) => &[Fallback::None, Fallback::ToLocal],
                    _ if preferred_local => &[Fallback::NodeRetry],
                    _ => &[Fallback::ToLocal],
                };
                prop_assert!(expected.contains(&step.fallback), "step {i} of {:?}", plan);
            }
            if first.fallback == Fallback::ToFrontier {
                prop_assert_eq!(plan.len(), 1, "a frontier fallback first means no local candidate");
            }
        }
        prop_assert_eq!(decision.policy_version, version);
    }

    #[test]
    fn no_row_sends_sensitive_work_out(rows in proptest::collection::vec((".{0,40}", ".{0,40}"), 0..16)) {
        let mut rows = rows;
        rows.push(("class.sensitive.target".into(), "frontier".into()));
        let (overrides, warnings) = Overrides::from_rows(&rows, 1);
        prop_assert_ne!(overrides.target(TaskClass::Sensitive), Some(ClassTarget::Frontier));
        prop_assert!(!warnings.is_empty());
    }
}
