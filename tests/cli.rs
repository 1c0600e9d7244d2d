//! The binary as a user meets it: help text, and one clear line for every kind of bad input.

use std::process::{Command, Output};

fn farmhand(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_farmhand"))
        .args(args)
        .env_remove("FARMHAND_CONFIG")
        .env_remove("FARMHAND_DATABASE_URL")
        .env("RUST_LOG", "off")
        .output()
        .expect("the farmhand binary runs")
}

/// Asserts a failed run: exit code 1 and exactly one line on stderr, no panic or backtrace.
fn one_line_error(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "expected one line, got: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(stderr.starts_with("farmhand: error: "), "{stderr}");
    stderr
}

#[test]
fn help_lists_every_role_with_its_purpose() {
    let output = farmhand(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for role in ["sim", "agent", "router", "policy", "decisions", "spend", "migrate"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{role} ")))
            .unwrap_or_else(|| panic!("{role} missing from:\n{help}"));
        assert!(
            line.split_whitespace().count() > 3,
            "{role} has no one-line purpose: {line}"
        );
    }
}

#[test]
fn a_bad_config_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, "[router]\nrouting_budget = 5\n").unwrap();
    let stderr = one_line_error(&farmhand(&["--config", path.to_str().unwrap(), "migrate"]));
    assert!(
        stderr.contains("fleet.toml: key `router.routing_budget`: unknown field"),
        "{stderr}"
    );

    let missing = dir.path().join("nope.toml");
    let stderr = one_line_error(&farmhand(&["--config", missing.to_str().unwrap(), "migrate"]));
    assert!(stderr.contains("nope.toml: cannot read"), "{stderr}");
}

#[test]
fn bad_database_urls_are_one_line_without_the_password() {
    let stderr = one_line_error(&farmhand(&[
        "--database-url",
        "mysql://root:hunter2@localhost/x",
        "migrate",
    ]));
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let stderr = one_line_error(&farmhand(&["--database-url", "not a url", "migrate"]));
    assert!(stderr.contains("store URL"), "{stderr}");
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://farmhand:hunter2@127.0.0.1:{unused}/farmhand");
    let stderr = one_line_error(&farmhand(&["--database-url", &url, "migrate"]));
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stderr.contains(&unused.to_string()),
        "the error says which server: {stderr}"
    );
}

#[test]
fn migrate_creates_a_sqlite_schema_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    let first = farmhand(&["--database-url", &url, "migrate"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = farmhand(&["--database-url", &url, "migrate"]);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("0 migration(s) applied"));
}

#[test]
fn a_port_in_use_is_one_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let stderr = one_line_error(&farmhand(&["agent", "--listen", &format!("127.0.0.1:{port}")]));
    assert!(stderr.contains(&format!("port {port} is in use")), "{stderr}");
}

#[test]
fn policy_overrides_are_validated_versioned_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    let db = ["--database-url", url.as_str()];
    let run = |args: &[&str]| farmhand(&[&db[..], args].concat());

    let refused = run(&[
        "policy",
        "set",
        "class.sensitive.target",
        "frontier",
        "--actor",
        "oncall",
    ]);
    let stderr = one_line_error(&refused);
    assert!(stderr.contains("refused") && stderr.contains("sensitive"), "{stderr}");

    let set = run(&[
        "policy",
        "set",
        "frontier.kill_switch",
        "on",
        "--reason",
        "incident 42",
        "--actor",
        "oncall",
    ]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert_eq!(
        String::from_utf8_lossy(&set.stdout).trim(),
        "policy version 1: frontier.kill_switch = on"
    );

    let show = run(&["policy", "show", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["version"], 1);
    assert_eq!(shown["overrides"][0]["key"], "frontier.kill_switch");
    assert_eq!(shown["overrides"][0]["set_by"], "oncall");

    let clear = run(&["policy", "clear", "frontier.kill_switch", "--actor", "oncall"]);
    assert!(clear.status.success());
    let show = run(&["policy", "show"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("policy version 2") && text.contains("no overrides"),
        "{text}"
    );
}

#[test]
fn reports_work_on_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    let spend = farmhand(&["--database-url", &url, "spend", "--since", "7d", "--json"]);
    assert!(spend.status.success(), "{}", String::from_utf8_lossy(&spend.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&spend.stdout).unwrap();
    assert_eq!(summary["total"]["requests"], 0);
    let text = farmhand(&["--database-url", &url, "spend"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("no traffic in this window"));
    let bad = farmhand(&["--database-url", &url, "spend", "--since", "forever"]);
    assert!(one_line_error(&bad).contains("--since"));
    let decisions = farmhand(&["--database-url", &url, "decisions", "--limit", "5", "--json"]);
    assert!(decisions.status.success());
    assert!(decisions.stdout.is_empty());
}

#[test]
fn node_drain_and_undrain_work_from_the_cli_and_refuse_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fleet.toml");
    std::fs::write(&config, "[[nodes]]\nname = \"mini-01\"\nhost = \"127.0.0.1\"\n").unwrap();
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    let base = ["--config", config.to_str().unwrap(), "--database-url", url.as_str()];
    let run = |args: &[&str]| farmhand(&[&base[..], args].concat());

    // No router is running, so nothing can be in flight: the drain completes at once.
    let drained = run(&[
        "node", "drain", "mini-01", "--wait", "--reason", "ram test", "--actor", "oncall",
    ]);
    assert!(drained.status.success(), "{}", String::from_utf8_lossy(&drained.stderr));
    assert_eq!(String::from_utf8_lossy(&drained.stdout).trim(), "mini-01: drained");

    let again = one_line_error(&run(&["node", "drain", "mini-01"]));
    assert!(again.contains("already drained"), "{again}");
    let unknown = one_line_error(&run(&["node", "drain", "mini-77"]));
    assert!(unknown.contains("unknown node `mini-77`"), "{unknown}");
    let hostile = one_line_error(&run(&["node", "pull", "mini-01", "x; rm -rf ~"]));
    assert!(hostile.contains("not a model name"), "{hostile}");

    let undrained = run(&["node", "undrain", "mini-01", "--actor", "oncall", "--json"]);
    assert!(undrained.status.success());
    let value: serde_json::Value = serde_json::from_slice(&undrained.stdout).unwrap();
    assert_eq!(value["state"], "active");
}

#[test]
fn fleet_discover_turns_tailscale_status_into_node_entries() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status.json");
    std::fs::write(
        &status,
        r#"{"BackendState":"Running","Peer":{
            "nodekey:1":{"HostName":"Mac mini","DNSName":"mac01.tail3c9e1.ts.net.","TailscaleIPs":["100.101.7.1"],"Online":true,"Tags":["tag:llm-node"]},
            "nodekey:2":{"HostName":"laptop","DNSName":"laptop.tail3c9e1.ts.net.","TailscaleIPs":["100.101.7.2"],"Online":true}}}"#,
    )
    .unwrap();
    let output = farmhand(&[
        "fleet",
        "discover",
        "--from",
        status.to_str().unwrap(),
        "--tag",
        "tag:llm-node",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let parsed: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(parsed["nodes"][0]["name"].as_str(), Some("mac01"));
    assert_eq!(parsed["nodes"][0]["host"].as_str(), Some("mac01.tail3c9e1.ts.net"));
    assert_eq!(parsed["nodes"].as_array().map(Vec::len), Some(1));

    let missing = one_line_error(&farmhand(&["fleet", "discover", "--from", "/nonexistent/status.json"]));
    assert!(missing.contains("cannot read /nonexistent/status.json"), "{missing}");
}

/// Kills a child process however the test ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn node_actions_from_the_cli_act_on_a_running_demo() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("demo.toml");
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let _demo = Running(
        Command::new(env!("CARGO_BIN_EXE_farmhand"))
            .args([
                "demo",
                "--headless",
                "--seconds",
                "120",
                "--database-url",
                &url,
                "--write-config",
            ])
            .arg(&config)
            .env_remove("FARMHAND_CONFIG")
            .env("RUST_LOG", "off")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the demo starts"),
    );
    let started = std::time::Instant::now();
    while !config.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the demo wrote no config"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let base = ["--config", config.to_str().unwrap(), "--actor", "oncall"];
    let run = |args: &[&str]| {
        let output = farmhand(&[args, &base[..]].concat());
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };

    assert_eq!(
        run(&["node", "drain", "mini-03", "--wait", "--unload"]).lines().next(),
        Some("mini-03: drained")
    );
    assert_eq!(run(&["node", "undrain", "mini-03"]), "mini-03: active");
    assert!(run(&["node", "pull", "mini-05", "mistral:7b"]).starts_with("mini-05: pulled mistral:7b"));
    assert_eq!(
        run(&["policy", "set", "budget.daily_usd", "25"]),
        "policy version 1: budget.daily_usd = 25"
    );
    let audit = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = farmhand::store::Store::connect(&url).await.unwrap();
        store.audit_log(20).await.unwrap()
    });
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .rev()
        .map(|a| (a.actor.as_str(), a.action.as_str(), a.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("oncall", "node.draining", "mini-03"),
            ("oncall", "node.unload", "mini-03"),
            ("oncall", "node.active", "mini-03"),
            ("oncall", "node.pull", "mini-05"),
            ("oncall", "policy.set", "budget.daily_usd"),
        ],
        "exactly one audit row per action"
    );
}

/// One HTTP/1.1 exchange over a plain socket (these tests have no async runtime); returns the status line.
fn http_post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the router accepts");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply.lines().next().unwrap_or_default().to_string()
}

#[test]
fn the_router_stops_on_sigterm_and_keeps_every_decision() {
    let dir = tempfile::tempdir().unwrap();
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("fleet.toml");
    std::fs::write(
        &config,
        format!(
            "[router]\nsensitive_wait_secs = 0\ntrust_loopback = true\n\n[[nodes]]\nname = \"mini-01\"\nhost = \"127.0.0.1\"\nollama_port = {dead_port}\n"
        ),
    )
    .unwrap();
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    let addr: std::net::SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let mut router = Running(
        Command::new(env!("CARGO_BIN_EXE_farmhand"))
            .args([
                "--config",
                config.to_str().unwrap(),
                "--database-url",
                &url,
                "router",
                "--listen",
            ])
            .arg(addr.to_string())
            .current_dir(dir.path())
            .env_remove("FARMHAND_CONFIG")
            .env_remove("STATE_DIRECTORY")
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env("RUST_LOG", "off")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the router starts"),
    );
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the router never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The only node is dead and sensitive work cannot leave the farm: a 503, recorded as a decision.
    let status = http_post(
        addr,
        "/v1/chat/completions",
        r#"{"model":"sensitive","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert!(status.contains("503"), "{status}");
    // What a service manager sends, right away: the decision is still on its way to the store.
    let pid = router.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exit = router.0.wait().unwrap();
    assert!(
        exit.success(),
        "the router exits cleanly on SIGTERM, not killed by it: {exit:?}"
    );

    let decisions = farmhand(&["--database-url", &url, "decisions", "--limit", "5", "--json"]);
    assert!(
        decisions.status.success(),
        "{}",
        String::from_utf8_lossy(&decisions.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&decisions.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], 503);
    // Refused before any upstream was tried: the fallback chain is there, and empty.
    assert_eq!(rows[0]["attempts"], serde_json::json!([]), "{rows:?}");
    // No journal_path configured: the journal's lock is in the state directory.
    assert!(dir.path().join("state/farmhand/journal.ndjson.lock").exists());
}
