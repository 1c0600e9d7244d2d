//! The official `openai` clients, Python and npm, drive the router against the simulated farm as a
//! new user would (tests/clients/): for every task class, tool calls (single, parallel, streamed,
//! multi-turn with the results sent back), JSON schema output, an image part and `n: 2`. Then the
//! router's decision records and the simulated frontier's log show where each case went, so that
//! a pass proves the Anthropic translation and the farm's own route, not a friendly stub.
//!
//! Needs python3 with the pinned `openai` package (tests/clients/requirements.txt) and node with
//! `npm ci` run in tests/clients; `.ci/run` installs both. A missing one fails the test with the
//! command that installs it.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use farmhand::config::UnscannableRoute;
use farmhand::domain::{Endpoint, StoredDecision};
use support::stack::Stack;
use tokio::process::Command;

/// Where the client scripts, their pins and `node_modules` live.
const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
/// The local model for sensitive work: one that calls tools and sees, so every case can stay on the farm.
const SENSITIVE_MODEL: &str = "qwen3-vl:8b";
/// Every class the scripts exercise.
const CLASSES: [&str; 5] = ["routine", "reasoning", "orchestration", "sensitive", "auto"];
/// Every case the scripts run per class, with the requests each one makes.
const CASES: [(&str, usize); 7] = [
    ("tool_single", 1),
    ("tool_parallel", 1),
    ("tool_stream", 1),
    ("tool_multi_turn", 2),
    ("json_schema", 1),
    ("image", 1),
    ("n_two", 1),
];

/// The version a pin file asks for: `name==version` in requirements.txt, `"name": "version"` in
/// package.json.
fn pinned(file: &str, name: &str) -> String {
    let text = std::fs::read_to_string(Path::new(CLIENTS).join(file)).expect("the pin file is readable");
    if file.ends_with(".json") {
        let json: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
        return json["dependencies"][name]
            .as_str()
            .expect("a pinned version")
            .to_string();
    }
    text.lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{name}==")))
        .expect("a pinned version")
        .to_string()
}

/// Runs a prerequisite check; its trimmed stdout, or why it could not run.
fn probe(program: &str, args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("`{program}` could not be started ({e})"))?;
    if !output.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Fails the test, with the command that fixes it, unless the pinned Python client is installed.
fn require_python_client() {
    let wanted = pinned("requirements.txt", "openai");
    let install = "python3 -m pip install -r tests/clients/requirements.txt (or run .ci/run)";
    match probe("python3", &["-c", "import openai; print(openai.__version__)"]) {
        Ok(found) if found == wanted => {}
        Ok(found) => panic!("python3 has openai {found}, the tests pin {wanted}: {install}"),
        Err(why) => panic!("the official openai Python client is missing ({why}): {install}"),
    }
}

/// Fails the test, with the command that fixes it, unless node and the pinned npm client are installed.
fn require_node_client() {
    if let Err(why) = probe("node", &["--version"]) {
        panic!("node is missing ({why}): install Node.js 20 or later (apt-get install nodejs npm)");
    }
    let wanted = pinned("package.json", "openai");
    let install = "cd tests/clients && npm ci (or run .ci/run)";
    let installed = Path::new(CLIENTS).join("node_modules/openai/package.json");
    let found = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(String::from));
    match found {
        Some(found) if found == wanted => {}
        Some(found) => panic!("tests/clients has openai {found} installed, package.json pins {wanted}: {install}"),
        None => panic!("the official openai npm client is not installed in tests/clients: {install}"),
    }
}

/// Runs one client script against the router; its exit status and what it printed.
async fn run_client(program: &str, script: &str, base_url: &str) -> Output {
    Command::new(program)
        .arg(Path::new(CLIENTS).join(script))
        .args(["--base-url", base_url])
        .current_dir(CLIENTS)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("`{program} {script}` could not be started: {e}"))
}

/// Where the router must have sent one case's requests.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Expected {
    /// `None`: anywhere but the frontier.
    endpoint: Option<Endpoint>,
    /// `None`: any provider.
    provider: Option<&'static str>,
    /// The class the request was routed as.
    effective: &'static str,
    /// The status the agent got.
    status: i32,
}

/// The route each class's case takes under the default policy with `policy.unscannable = frontier`
/// and a sensitive model that sees (the field table in README.md).
fn expected(class: &'static str, case: &str) -> Expected {
    let served = |endpoint, provider, effective| Expected {
        endpoint: Some(endpoint),
        provider: Some(provider),
        effective,
        status: 200,
    };
    match (class, case) {
        // Anthropic translates everything but `n`, which it refuses before any call.
        ("reasoning" | "orchestration", "n_two") => Expected {
            status: 400,
            ..served(Endpoint::Frontier, "anthropic", class)
        },
        ("reasoning" | "orchestration", _) => served(Endpoint::Frontier, "anthropic", class),
        // Sensitive work never leaves the farm; Ollama cannot answer two choices, so `n: 2` is a 400.
        ("sensitive", "n_two") => Expected {
            endpoint: None,
            provider: None,
            effective: "sensitive",
            status: 400,
        },
        ("sensitive", _) => served(Endpoint::Local, "ollama", "sensitive"),
        // Routine work (and `auto` work that reads as routine) stays on the farm unless no node can
        // carry it: two choices go to the OpenAI-kind frontier; an image goes to a farm model that
        // can see (the stack pulls one), since routine's own model cannot.
        (_, "n_two") => served(Endpoint::Frontier, "openai", "routine"),
        _ => served(Endpoint::Local, "ollama", "routine"),
    }
}

/// What the decision records say against what every case of `client` should have done.
fn check_decisions(client: &str, decisions: &[StoredDecision], problems: &mut Vec<String>) {
    let mut by_agent: BTreeMap<&str, Vec<&StoredDecision>> = BTreeMap::new();
    for decision in decisions {
        by_agent
            .entry(decision.record.agent.as_str())
            .or_default()
            .push(decision);
    }
    for class in CLASSES {
        for (case, requests) in CASES {
            let agent = format!("{client}/{class}/{case}");
            let records = by_agent.remove(agent.as_str()).unwrap_or_default();
            if records.len() != requests {
                problems.push(format!(
                    "{agent}: {} decision record(s), expected {requests}",
                    records.len()
                ));
            }
            let want = expected(class, case);
            for record in records.iter().map(|d| &d.record) {
                let endpoint_ok = match want.endpoint {
                    Some(endpoint) => record.endpoint == endpoint,
                    None => record.endpoint != Endpoint::Frontier,
                };
                let provider_ok = want.provider.is_none_or(|p| record.provider.as_deref() == Some(p));
                if !endpoint_ok
                    || !provider_ok
                    || record.status != want.status
                    || record.declared_class.as_str() != class
                    || record.effective_class.as_str() != want.effective
                {
                    problems.push(format!(
                        "{agent}: routed as {} to {} {} {} (status {}, error {}), expected {} to {} {} (status {})",
                        record.effective_class,
                        record.endpoint,
                        record.provider.as_deref().unwrap_or("-"),
                        record.model.as_deref().unwrap_or("-"),
                        record.status,
                        record.error.as_deref().unwrap_or("-"),
                        want.effective,
                        want.endpoint.map_or("anywhere but the frontier", Endpoint::as_str),
                        want.provider.unwrap_or("any provider"),
                        want.status,
                    ));
                }
            }
        }
    }
    for agent in by_agent.keys().filter(|a| a.starts_with(&format!("{client}/"))) {
        problems.push(format!("{agent}: a decision for a case the test does not know"));
    }
}

/// What the simulated frontier received: Anthropic's shapes for both Anthropic classes, and no
/// OpenAI-shaped tool history (the only OpenAI-kind requests the cases make carry no tools).
fn check_frontier(stack: &Stack, problems: &mut Vec<String>) {
    let log = stack.farm.frontier_log();
    for model in ["claude-sonnet-4-6", "claude-opus-4-7"] {
        for stream in [false, true] {
            if !log
                .iter()
                .any(|e| e.provider == "anthropic" && e.model == model && e.stream == stream)
            {
                problems.push(format!(
                    "the Anthropic simulator got no {} request for {model}",
                    if stream { "streamed" } else { "whole" }
                ));
            }
        }
    }
    let farm = &stack.farm;
    for (needle, what) in [
        ("input_schema", "tools as Anthropic tools"),
        ("tool_use_id", "tool results as tool_result blocks"),
        ("4 C, cloudy in Oslo", "the tool result's text"),
        ("media_type", "the image as an Anthropic image block"),
    ] {
        if !farm.frontier_received_containing(needle) {
            problems.push(format!("the frontier never received `{needle}` ({what})"));
        }
    }
    for (needle, what) in [
        ("tool_call_id", "an OpenAI tool message"),
        ("parameters", "an OpenAI tool definition"),
    ] {
        if farm.frontier_received_containing(needle) {
            problems.push(format!(
                "the frontier received `{needle}` ({what}) that should have been translated or kept local"
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_and_node_clients_work_for_every_class() {
    require_python_client();
    require_node_client();
    let stack = Stack::start(2, None, |config| {
        // Images may leave, or every image case would stay on the farm as sensitive work.
        config.policy.unscannable = UnscannableRoute::Frontier;
        // The default sensitive model calls tools but cannot see; this one does both.
        config.models.sensitive = SENSITIVE_MODEL.into();
    })
    .await;
    for node in ["mini-01", "mini-02"] {
        stack.pull(node, SENSITIVE_MODEL).await;
    }
    let base_url = format!("{}/v1", stack.url);
    let (python, node) = tokio::join!(
        run_client("python3", "openai_python.py", &base_url),
        run_client("node", "openai_node.mjs", &base_url),
    );

    stack.gateway.flush().await;
    let decisions = stack.store.recent_decisions(1_000).await.expect("decisions read back");
    let mut problems = Vec::new();
    check_decisions("python", &decisions, &mut problems);
    check_decisions("node", &decisions, &mut problems);
    check_frontier(&stack, &mut problems);

    let mut report = String::new();
    for (name, output) in [("python", &python), ("node", &node)] {
        report.push_str(&format!(
            "\n=== {name} client ({})\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if python.status.success() && node.status.success() && problems.is_empty() {
        println!("{report}");
        return;
    }
    report.push_str("\n=== router side\n");
    report.push_str(&problems.join("\n"));
    panic!("the official clients or the router's records disagree with the expected behaviour:{report}");
}
