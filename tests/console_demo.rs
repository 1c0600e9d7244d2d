//! `farmhand demo --headless` as a process: the simulated farm, router and synthetic agents run
//! for a few seconds and the summary shows traffic both kept local and sent to the frontier.

use std::process::Command;

/// The count on a summary line `  NAME  N`.
fn count(summary: &str, name: &str) -> u64 {
    summary
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(name)).then(|| words.next().and_then(|n| n.parse().ok()))?
        })
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{summary}"))
}

#[test]
fn headless_demo_reports_local_and_frontier_traffic() {
    let logs = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_farmhand"))
        .args(["demo", "--headless", "--seconds", "5", "--log-dir"])
        .arg(logs.path())
        .env_remove("FARMHAND_DATABASE_URL")
        .env_remove("FARMHAND_CONFIG")
        .output()
        .expect("farmhand runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(count(&stdout, "local") > 0, "{stdout}");
    assert!(count(&stdout, "frontier") > 0, "{stdout}");
    assert!(stdout.contains("local token share:"), "{stdout}");
    assert!(stdout.contains("frontier spend: $"), "{stdout}");
    assert!(
        stdout.contains("detector:"),
        "some prompts trip the sensitivity detectors:\n{stdout}"
    );
    assert!(
        stderr.trim().is_empty(),
        "logs go to the log folder, not the terminal:\n{stderr}"
    );
    let logged = std::fs::read_dir(logs.path()).expect("log dir").count();
    assert!(logged > 0, "a log file is written");
}
