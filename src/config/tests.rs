use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<FleetConfig, ConfigError> {
    FleetConfig::parse(text, Path::new("fleet.toml"))
}

#[test]
fn empty_file_is_the_embedded_defaults() {
    assert_eq!(parse("").unwrap(), FleetConfig::default());
}

#[test]
fn a_file_overrides_only_what_it_sets() {
    let config = parse("[router]\nroutine_token_budget = 900\n").unwrap();
    assert_eq!(config.router.routine_token_budget, 900);
    assert_eq!(config.router.listen, RouterConfig::default().listen);
    assert_eq!(config.models, LocalModels::default());
}

#[test]
fn the_example_file_parses_and_sets_every_default_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/fleet.example.toml");
    let example = FleetConfig::load(&path).unwrap();
    assert_eq!(example.nodes.len(), 12);
    let example_keys = keys(&toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
    let default_keys = keys(&toml::Value::try_from(FleetConfig::default()).unwrap());
    let missing: Vec<_> = default_keys.iter().filter(|k| !example_keys.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "assets/fleet.example.toml does not show: {missing:?}"
    );
}

fn keys(value: &toml::Value) -> std::collections::BTreeSet<String> {
    fn walk(prefix: &str, value: &toml::Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            toml::Value::Table(table) => {
                for (k, v) in table {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.insert(key.clone());
                    walk(&key, v, out);
                }
            }
            toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => {
                for item in items {
                    walk(&format!("{prefix}[]"), item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk("", value, &mut out);
    out
}

#[test]
fn wrong_type_names_file_and_key() {
    let err = parse("[[nodes]]\nname = \"mini-01\"\nhost = \"a\"\n\n[[nodes]]\nname = \"mini-02\"\nhost = \"b\"\nollama_port = \"x\"\n").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("fleet.toml: key `nodes[1].ollama_port`:"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

#[test]
fn unknown_key_is_refused() {
    let text = parse("[router]\nlisten_addr = \"127.0.0.1:1\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("router.listen_addr") && text.contains("unknown field"),
        "{text}"
    );
}

#[test]
fn syntax_error_names_the_line() {
    let text = parse("[router]\n\nlisten = \n").unwrap_err().to_string();
    assert!(text.starts_with("fleet.toml:3:"), "{text}");
}

#[test]
fn syntax_error_at_the_start_of_a_line_names_that_line() {
    // Found by the `fleet_toml` fuzz target: an error on a line's first character was reported
    // on the line before.
    let text = parse("[[nodes]]\nname = \"mini-01\"\n@host = \"h\"\n")
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("fleet.toml:3:"), "{text}");
}

#[test]
fn quoted_values_cannot_break_the_error_line() {
    // Caught by the `fleet_toml` fuzz target's one-line check: a value with a newline made a two-line error.
    let text = parse("[[nodes]]\nname = \"a\\nb\\u001b[31m\"\nhost = \"h\"\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        text,
        "fleet.toml: key `nodes[0].name`: `a\\nb\\u{1b}[31m` must be 1-63 characters of a-z, 0-9 and -"
    );
}

#[test]
fn keys_that_are_not_bare_are_quoted() {
    // Caught by the `fleet_toml` fuzz target: an unknown empty key was named as ``.
    let text = parse("[\"\"]\n").unwrap_err().to_string();
    assert!(text.starts_with("fleet.toml: key `\"\"`: unknown field"), "{text}");
    let text = parse("[frontier.providers.\"my provider\"]\nkind = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("fleet.toml: key `frontier.providers.\"my provider\".kind`"),
        "{text}"
    );
}

#[test]
fn cross_references_are_checked() {
    let text = parse("[frontier.reasoning]\nprovider = \"mistral\"\nmodel = \"m\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("key `frontier.reasoning.provider`") && text.contains("anthropic, openai"),
        "{text}"
    );
    let text = parse("[[nodes]]\nname = \"a\"\nhost = \"h\"\n[[nodes]]\nname = \"a\"\nhost = \"h\"\n")
        .unwrap_err()
        .to_string();
    assert!(text.contains("key `nodes[1].name`") && text.contains("twice"), "{text}");
    let text = parse("[models]\nroutine = \"x; rm -rf ~\"\n").unwrap_err().to_string();
    assert!(text.contains("key `models.routine`"), "{text}");
    let text = parse("[policy]\ndetectors = [\"email\", \"horoscope\"]\n")
        .unwrap_err()
        .to_string();
    assert!(text.contains("key `policy.detectors[1]`"), "{text}");
}

#[test]
fn literal_secrets_are_refused() {
    let text = parse("[[agents]]\nname = \"a\"\nkey = \"sk-live-123\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("key `agents[0].key`") && !text.contains("sk-live-123"),
        "{text}"
    );
}

#[test]
fn nodes_resolve_with_defaults() {
    let config = parse("[node_defaults]\nparallel = 4\n[[nodes]]\nname = \"mini-01\"\nhost = \"mini-01.tail3c9e1.ts.net\"\n[[nodes]]\nname = \"mini-02\"\nhost = \"127.0.0.1\"\nollama_port = 21435\npull = \"http\"\n").unwrap();
    let nodes = config.resolved_nodes();
    assert_eq!(nodes[0].ollama_url, "http://mini-01.tail3c9e1.ts.net:11434");
    assert_eq!(nodes[0].agent_url, "http://mini-01.tail3c9e1.ts.net:9464");
    assert_eq!(nodes[0].parallel, 4);
    assert_eq!(nodes[1].ollama_url, "http://127.0.0.1:21435");
    assert_eq!(nodes[1].pull, PullTransport::Http);
}

#[test]
fn written_config_reads_back_identically() {
    let mut config = FleetConfig::default();
    config.nodes.push(NodeConfig {
        name: "mini-01".into(),
        host: "127.0.0.1".into(),
        ollama_port: Some(21434),
        agent_port: Some(21434),
        ssh_port: None,
        parallel: Some(2),
        pull: Some(PullTransport::Http),
        agent_token: None,
        metrics: None,
        macmon_port: None,
    });
    config.frontier.providers.get_mut("openai").unwrap().api_key = None;
    assert_eq!(parse(&config.to_toml()).unwrap(), config);
}

#[test]
fn capabilities_merge_over_the_defaults_one_model_at_a_time() {
    use crate::domain::Capability::{Completion, Tools, Vision};
    let config = parse("[models.capabilities]\n\"llama3.1\" = [\"completion\"]\n\"my-vision:7b\" = [\"completion\", \"tools\", \"vision\"]\n").unwrap();
    let table = &config.models.capabilities;
    assert_eq!(table["llama3.1"], [Completion], "a file's entry replaces the default");
    assert_eq!(table["my-vision:7b"], [Completion, Tools, Vision]);
    assert_eq!(
        table["qwen3"],
        LocalModels::default().capabilities["qwen3"],
        "the other defaults stay"
    );
    assert_eq!(
        parse("").unwrap().models.capabilities,
        LocalModels::default().capabilities
    );
}

#[test]
fn bad_capabilities_name_the_key() {
    let text = parse("[models.capabilities]\n\"llama3.1\" = [\"completion\", \"tool\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("fleet.toml: key `models.capabilities.\"llama3.1\"[1]`:")
            && text.contains("unknown capability `tool`"),
        "{text}"
    );
    let text = parse("[models.capabilities]\n\"bad name!\" = [\"tools\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("fleet.toml: key `models.capabilities.\"bad name!\"`:"),
        "{text}"
    );
    let text = parse("[models.capabilities]\n\"qwen3\" = \"tools\"\n")
        .unwrap_err()
        .to_string();
    assert!(text.contains("key `models.capabilities.qwen3`"), "{text}");
}

#[test]
fn journal_settings_are_checked_and_name_their_key() {
    let config =
        parse("[router]\njournal_path = \"/srv/farmhand/journal.ndjson\"\njournal_max_bytes = 65536\n").unwrap();
    assert_eq!(
        config.router.journal_path.as_deref(),
        Some(Path::new("/srv/farmhand/journal.ndjson"))
    );
    assert_eq!(config.router.journal_max_bytes, 65536);
    assert_eq!(
        parse("").unwrap().router.journal_path,
        None,
        "unset: the state directory"
    );
    for (text, key, why) in [
        (
            "journal_path = \"journal.ndjson\"",
            "router.journal_path",
            "must be an absolute path",
        ),
        ("journal_max_bytes = 100", "router.journal_max_bytes", "at least 4096"),
        ("journal_max_bytes = -1", "router.journal_max_bytes", ""),
        ("journal_max_bytes = \"1G\"", "router.journal_max_bytes", ""),
    ] {
        let err = parse(&format!("[router]\n{text}\n")).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("fleet.toml: key `{key}`:")) && err.contains(why),
            "{text}: {err}"
        );
    }
}

#[test]
fn router_door_settings_and_shared_agent_keys_name_their_key() {
    let text = parse("[router]\nmax_in_flight = 0\n").unwrap_err().to_string();
    assert!(
        text.contains("key `router.max_in_flight`") && text.contains("at least 1"),
        "{text}"
    );
    let text = parse("[router]\nheader_read_timeout_secs = 0\n")
        .unwrap_err()
        .to_string();
    assert!(text.contains("key `router.header_read_timeout_secs`"), "{text}");
    let text = parse("[secrets]\ntimeout_secs = 0\n").unwrap_err().to_string();
    assert!(text.contains("key `secrets.timeout_secs`"), "{text}");
    let shared = "[[agents]]\nname = \"a\"\nkey = \"env:KEY_A\"\n[[agents]]\nname = \"b\"\nkey = \"env:KEY_A\"\n";
    let text = parse(shared).unwrap_err().to_string();
    assert!(
        text.contains("key `agents[1].key`") && text.contains("also the key of `a`"),
        "{text}"
    );
    let token = parse("[node_defaults]\nagent_token = \"op://farm/agents/token\"\n[[nodes]]\nname = \"mini-01\"\nhost = \"h\"\n[[nodes]]\nname = \"mini-02\"\nhost = \"h2\"\nagent_token = \"env:MINI_02_TOKEN\"\n").unwrap();
    let nodes = token.resolved_nodes();
    assert_eq!(
        nodes[0].agent_token.as_ref().unwrap().to_string(),
        "op://farm/agents/token"
    );
    assert_eq!(nodes[1].agent_token.as_ref().unwrap().to_string(), "env:MINI_02_TOKEN");
    assert!(
        parse("[node_defaults]\nagent_token = \"hunter2\"\n").is_err(),
        "literal tokens are refused"
    );
}

#[test]
fn completion_windows_must_be_durations() {
    let text = parse("[jobs]\ncompletion_windows = [\"24h\", \"tomorrow\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("jobs.completion_windows[1]") && text.contains("`tomorrow`"),
        "{text}"
    );
    assert!(parse("[jobs]\ncompletion_windows = [\"90m\", \"7d\"]\n").is_ok());
}

#[test]
fn feedback_metrics_are_read_and_bad_ones_name_their_key() {
    let config = parse("[quality.feedback.task_done]\ntype = \"boolean\"\n[quality.feedback.latency_felt]\ntype = \"float\"\noptimize = \"min\"\n").unwrap();
    assert_eq!(config.quality.feedback.len(), 2);
    assert_eq!(
        config.quality.feedback["latency_felt"].optimize,
        crate::config::Optimize::Min
    );
    let err = parse("[quality.feedback.Thumbs-Up]\ntype = \"boolean\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("quality.feedback.Thumbs-Up") && err.contains("a-z, 0-9 and _"),
        "{err}"
    );
    let err = parse("[quality.feedback.score]\ntype = \"integer\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("quality.feedback.score") && err.contains("boolean"),
        "{err}"
    );
}

#[test]
fn objectives_name_their_key_when_wrong() {
    let config = parse("[quality.slo.routine]\nerror_rate = 0.02\nttft_p95_ms = 900\n").unwrap();
    assert_eq!(config.quality.slo["routine"].error_rate, Some(0.02));
    for (text, key) in [
        ("[quality.slo.chitchat]\nerror_rate = 0.1\n", "quality.slo.chitchat"),
        (
            "[quality.slo.routine]\nerror_rate = 2.0\n",
            "quality.slo.routine.error_rate",
        ),
        (
            "[quality.slo.routine]\njson_valid_rate = 1.0\n",
            "quality.slo.routine.json_valid_rate",
        ),
        (
            "[quality.slo.routine]\nttft_p95_ms = 0\n",
            "quality.slo.routine.ttft_p95_ms",
        ),
        ("[quality.slo.routine]\np99_ms = 5\n", "p99_ms"),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}
