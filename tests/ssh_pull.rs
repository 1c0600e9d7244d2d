//! `ollama pull` over SSH against a real OpenSSH sshd on loopback with a stand-in `ollama`.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use farmhand::config::{Node, PullTransport, SshConfig};
use farmhand::fleet::ssh::{SshPullError, SshTarget, pull_over_ssh};
use farmhand::fleet::{PullEvent, PullProgress};
use support::sshd::{Agent, Sshd, fingerprint_of, pid_alive};

/// A target for `sshd` authenticating with `key` only (the agent is skipped via the target,
/// so the test never depends on the runner's `SSH_AUTH_SOCK`).
fn target(sshd: &Sshd, known_hosts: &Path, key: &Path, accept_new: bool) -> SshTarget {
    let node = Node {
        name: "mini-test".into(),
        host: "127.0.0.1".into(),
        ollama_url: "http://127.0.0.1:11434".into(),
        agent_url: "http://127.0.0.1:9100".into(),
        ssh_port: sshd.port(),
        parallel: 1,
        pull: PullTransport::Ssh,
        agent_token: None,
        metrics: farmhand::config::MetricsSource::Agent,
        macmon_url: "http://127.0.0.1:9090".into(),
    };
    let ssh = SshConfig {
        user: sshd.user().into(),
        key_file: key.display().to_string(),
        known_hosts: known_hosts.display().to_string(),
        accept_new_host_keys: accept_new,
        timeout_secs: 10,
        ollama_bin: "ollama".into(),
    };
    SshTarget::new(&node, &ssh).without_agent()
}

/// Runs one pull, collecting its events with the time each arrived.
fn pull(target: &SshTarget, model: &str) -> (Result<(), SshPullError>, Vec<(Instant, PullEvent)>) {
    let cancel = AtomicBool::new(false);
    let mut events = Vec::new();
    let result = pull_over_ssh(target, model, &cancel, &mut |e| events.push((Instant::now(), e)));
    (result, events)
}

fn progress(events: &[(Instant, PullEvent)]) -> Vec<PullProgress> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            PullEvent::Progress(p) => Some(p.clone()),
            PullEvent::HostKeyLearned { .. } => None,
        })
        .collect()
}

fn learned(events: &[(Instant, PullEvent)]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            PullEvent::HostKeyLearned { host, fingerprint } => Some((host.clone(), fingerprint.clone())),
            PullEvent::Progress(_) => None,
        })
        .collect()
}

#[test]
fn pull_reports_live_progress_and_succeeds() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    sshd.write_known_hosts(&known_hosts);
    let target = target(&sshd, &known_hosts, &sshd.client_key(), false);

    let (result, events) = pull(&target, "qwen3:8b");
    let done = Instant::now();
    result.unwrap_or_else(|e| panic!("pull failed: {e}\nsshd log:\n{}", sshd.log()));

    assert_eq!(sshd.argv_log(), "pull qwen3:8b\n");
    assert!(
        learned(&events).is_empty(),
        "a known host key must not be learned again"
    );
    let progress = progress(&events);
    let statuses: Vec<&str> = progress.iter().map(|p| p.status.as_str()).collect();
    for status in [
        "pulling manifest",
        "pulling 8eeb52dfb3bb",
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ] {
        assert!(statuses.contains(&status), "no {status:?} in {statuses:?}");
    }
    assert!(
        progress.contains(&PullProgress {
            status: "pulling 8eeb52dfb3bb".into(),
            completed: Some(2_000_000_000),
            total: Some(4_700_000_000),
        }),
        "{progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|p| p.fraction().is_some_and(|f| f > 0.0 && f < 1.0)),
        "{progress:?}"
    );
    let layer_done = progress
        .iter()
        .find(|p| p.status == "pulling 62fbfd9ed093" && p.fraction() == Some(1.0));
    assert_eq!(layer_done.and_then(|p| p.total), Some(182), "{progress:?}");
    assert_eq!(statuses.last(), Some(&"success"));
    // Redraws repeat every line every frame; only changes are reported.
    let manifest_reports = statuses.iter().filter(|s| **s == "pulling manifest").count();
    assert_eq!(manifest_reports, 1, "{statuses:?}");
    // Live: the first report arrives long before the ~1.5 s pull ends.
    let first = events.first().map(|(at, _)| *at).expect("some events");
    assert!(
        done - first > Duration::from_millis(700),
        "progress arrived only at the end"
    );
}

#[test]
fn unknown_host_key_is_refused_with_the_fingerprint() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    std::fs::write(&known_hosts, "").expect("write empty known_hosts");
    let target = target(&sshd, &known_hosts, &sshd.client_key(), false);

    let (result, events) = pull(&target, "qwen3:8b");
    let err = result.expect_err("an unknown host key must be refused");
    assert!(matches!(err, SshPullError::UnknownHostKey { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&sshd.host_fingerprint()), "{message}");
    assert!(message.contains("known_hosts"), "{message}");
    assert!(
        message.contains(&format!("ssh-keyscan -p {} 127.0.0.1 >> ", sshd.port())),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(events.is_empty());
    assert_eq!(std::fs::read_to_string(&known_hosts).expect("read known_hosts"), "");
    assert_eq!(sshd.argv_log(), "");
}

#[test]
fn accept_new_learns_the_key_once_and_records_it() {
    let sshd = Sshd::start();
    // Missing file in a missing directory: treated as empty, created when accepting.
    let known_hosts = sshd.dir().join("fresh/.ssh/known_hosts");
    let target = target(&sshd, &known_hosts, &sshd.client_key(), true);

    let (result, events) = pull(&target, "qwen3:8b");
    result.unwrap_or_else(|e| panic!("first pull failed: {e}"));
    let entry = format!("[127.0.0.1]:{}", sshd.port());
    assert_eq!(learned(&events), [(entry.clone(), sshd.host_fingerprint())]);
    assert!(
        matches!(events.first(), Some((_, PullEvent::HostKeyLearned { .. }))),
        "learned before progress"
    );
    let text = std::fs::read_to_string(&known_hosts).expect("known_hosts created");
    assert_eq!(text, format!("{}\n", sshd.known_hosts_line()));

    let (result, events) = pull(&target, "qwen3:8b");
    result.unwrap_or_else(|e| panic!("second pull failed: {e}"));
    assert!(learned(&events).is_empty(), "learned twice: {events:?}");
    assert_eq!(
        std::fs::read_to_string(&known_hosts).expect("read known_hosts"),
        text,
        "file rewritten"
    );
    assert_eq!(sshd.argv_log(), "pull qwen3:8b\npull qwen3:8b\n");
}

#[test]
fn changed_host_key_is_refused_even_with_accept_new() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    sshd.write_changed_known_hosts(&known_hosts);
    let before = std::fs::read_to_string(&known_hosts).expect("read known_hosts");
    let target = target(&sshd, &known_hosts, &sshd.client_key(), true);

    let (result, events) = pull(&target, "qwen3:8b");
    let err = result.expect_err("a changed host key must be refused");
    assert!(matches!(err, SshPullError::ChangedHostKey { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&sshd.host_fingerprint()), "{message}");
    assert!(message.contains("man-in-the-middle"), "{message}");
    let remove = format!(
        "ssh-keygen -R '[127.0.0.1]:{}' -f {}",
        sshd.port(),
        known_hosts.display()
    );
    assert!(message.contains(&remove), "{message}");
    assert!(events.is_empty());
    assert_eq!(std::fs::read_to_string(&known_hosts).expect("read known_hosts"), before);
    assert_eq!(sshd.argv_log(), "");
}

#[test]
fn unauthorized_key_fails_auth_without_leaking_it() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    sshd.write_known_hosts(&known_hosts);
    let key = sshd.stranger_key();
    let target = target(&sshd, &known_hosts, &key, false);

    let (result, _) = pull(&target, "qwen3:8b");
    let err = result.expect_err("an unauthorized key must fail");
    assert!(matches!(err, SshPullError::Auth { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}@127.0.0.1:{}", sshd.user(), sshd.port())),
        "{message}"
    );
    assert!(message.contains(&key.display().to_string()), "{message}");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("read public key");
    let blob = public.split_whitespace().nth(1).expect("key blob");
    assert!(!message.contains(blob) && !message.contains("PRIVATE KEY"), "{message}");
    assert_eq!(sshd.argv_log(), "");
}

#[test]
fn every_agent_identity_is_tried_before_the_key_file() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    sshd.write_known_hosts(&known_hosts);
    // The first identity is refused; only trying the next one gets in. No key file at all.
    let agent = Agent::start(sshd.dir(), &[sshd.stranger_key(), sshd.client_key()]);
    let target = target(&sshd, &known_hosts, &sshd.dir().join("no_such_key"), false).with_agent_socket(agent.socket());

    let (result, _) = pull(&target, "qwen3:8b");
    result.unwrap_or_else(|e| panic!("pull through the agent failed: {e}\nsshd log:\n{}", sshd.log()));
    let log = sshd.log();
    let stranger = fingerprint_of(&sshd.stranger_key());
    let client = fingerprint_of(&sshd.client_key());
    let refused = log
        .lines()
        .position(|l| l.contains("Failed publickey") && l.contains(&stranger));
    let accepted = log
        .lines()
        .position(|l| l.contains("Accepted publickey") && l.contains(&client));
    assert!(matches!((refused, accepted), (Some(r), Some(a)) if r < a), "{log}");
    assert_eq!(sshd.argv_log(), "pull qwen3:8b\n");
}

#[test]
fn remote_failure_reports_ollamas_error_line() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    sshd.write_known_hosts(&known_hosts);
    let target = target(&sshd, &known_hosts, &sshd.client_key(), false);

    let (result, events) = pull(&target, "missing:latest");
    match &result {
        Err(SshPullError::RemoteFailed {
            exit_code, last_line, ..
        }) => {
            assert_eq!(*exit_code, 1);
            assert_eq!(last_line, "Error: pull model manifest: file does not exist");
        }
        other => panic!("expected RemoteFailed, got {other:?}"),
    }
    let message = result.expect_err("failed").to_string();
    assert!(
        message.contains("(exit 1): Error: pull model manifest: file does not exist"),
        "{message}"
    );
    assert!(progress(&events).iter().any(|p| p.status == "pulling manifest"));
    assert_eq!(sshd.argv_log(), "pull missing:latest\n");
}

#[test]
fn cancel_stops_the_remote_pull() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    sshd.write_known_hosts(&known_hosts);
    let target = target(&sshd, &known_hosts, &sshd.client_key(), false);

    let cancel = AtomicBool::new(false);
    let mut cancelled_at = None;
    let result = pull_over_ssh(&target, "slow:latest", &cancel, &mut |e| {
        if let PullEvent::Progress(p) = e
            && p.fraction().is_some()
            && cancelled_at.is_none()
        {
            cancelled_at = Some(Instant::now());
            cancel.store(true, Ordering::SeqCst);
        }
    });
    let returned = Instant::now();
    let cancelled_at = cancelled_at.expect("progress with a fraction before cancelling");
    assert!(matches!(result, Err(SshPullError::Cancelled { .. })), "{result:?}");
    assert!(
        returned - cancelled_at < Duration::from_secs(2),
        "took {:?} to cancel",
        returned - cancelled_at
    );

    let pid = sshd.ollama_pid().expect("stand-in wrote its PID");
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "remote ollama (pid {pid}) still running 5 s after cancel"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sshd.argv_log(), "pull slow:latest\n");
}

#[test]
fn hostile_names_never_reach_the_network() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    sshd.write_known_hosts(&known_hosts);
    let target = target(&sshd, &known_hosts, &sshd.client_key(), false);

    let long = "a".repeat(200);
    for model in ["x; rm -rf ~", "$(id)", "`id`", "a\nb", long.as_str(), "--help"] {
        let (result, events) = pull(&target, model);
        let err = result.expect_err("hostile name accepted");
        assert!(matches!(err, SshPullError::InvalidModel { .. }), "{model:?}: {err:?}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        assert!(events.is_empty());
    }
    for bin in ["ollama; id", "bin/ollama", "$(id)", "-ollama"] {
        let mut bad = target.clone();
        bad.ssh.ollama_bin = bin.into();
        let (result, _) = pull(&bad, "qwen3:8b");
        assert!(
            matches!(result, Err(SshPullError::InvalidOllamaBin { .. })),
            "{bin:?}: {result:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sshd.argv_log(), "");
    assert_eq!(sshd.connections(), 0, "sshd saw a connection:\n{}", sshd.log());

    // The connection count is live: a valid pull shows up in it.
    let (result, _) = pull(&target, "qwen3:8b");
    result.unwrap_or_else(|e| panic!("valid pull failed: {e}"));
    assert_eq!(sshd.connections(), 1, "{}", sshd.log());
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir().join("known_hosts");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut target = target(&sshd, &known_hosts, &sshd.client_key(), false);
    target.port = port;

    let (result, _) = pull(&target, "qwen3:8b");
    let err = result.expect_err("nothing listens there");
    assert!(matches!(err, SshPullError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn silent_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts the connection and never says a word (no SSH banner).
    let silent = std::thread::spawn(move || {
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let target = SshTarget {
        host: "127.0.0.1".into(),
        port,
        ssh: SshConfig {
            known_hosts: dir.path().join("known_hosts").display().to_string(),
            timeout_secs: 1,
            ..SshConfig::default()
        },
        use_agent: false,
        agent_socket: None,
    };

    let started = Instant::now();
    let (result, _) = pull(&target, "qwen3:8b");
    let err = result.expect_err("a silent server must time out");
    assert!(matches!(err, SshPullError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("timed out after 1 s"), "{err}");
    silent.join().expect("silent server thread");
}

#[test]
fn the_cli_pulls_over_ssh_refuses_an_unknown_host_and_audits_both() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let known = dir.path().join("known_hosts");
    sshd.write_known_hosts(&known);
    let config = dir.path().join("fleet.toml");
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{url}\"\n\n[ssh]\nuser = \"{}\"\nkey_file = \"{}\"\nknown_hosts = \"{}\"\ntimeout_secs = 10\n\n\
             [[nodes]]\nname = \"mini-01\"\nhost = \"127.0.0.1\"\nssh_port = {}\n",
            sshd.user(),
            sshd.client_key().display(),
            known.display(),
            sshd.port()
        ),
    )
    .expect("write config");
    let run = |model: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_farmhand"))
            .args(["node", "pull", "mini-01", model, "--actor", "oncall", "--config"])
            .arg(&config)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("FARMHAND_DATABASE_URL")
            .env("RUST_LOG", "off")
            .output()
            .expect("farmhand runs")
    };

    let pulled = run("qwen3:8b");
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));
    assert!(String::from_utf8_lossy(&pulled.stdout).starts_with("mini-01: pulled qwen3:8b"));
    assert_eq!(sshd.argv_log().trim(), "pull qwen3:8b");

    std::fs::write(&known, "").expect("forget the host");
    let refused = run("qwen3:8b");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unknown SSH host key") && stderr.contains("ssh-keyscan"),
        "{stderr}"
    );

    let audit = tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let store = farmhand::store::Store::connect(&url).await.expect("store");
        store.audit_log(10).await.expect("audit")
    });
    let details: Vec<String> = audit
        .iter()
        .rev()
        .map(|a| format!("{} {} {}", a.actor, a.action, a.detail))
        .collect();
    assert_eq!(details.len(), 2, "one audit row per pull: {details:?}");
    assert_eq!(details[0], "oncall node.pull qwen3:8b: succeeded");
    assert!(
        details[1].starts_with("oncall node.pull qwen3:8b: failed (unknown SSH host key"),
        "{details:?}"
    );
}
