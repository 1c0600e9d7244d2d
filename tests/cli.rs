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
    for role in ["sim", "agent", "migrate"] {
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
