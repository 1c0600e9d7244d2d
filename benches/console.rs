//! Console budgets (DESIGN.md, issue 15): frame render ≤ 2 ms with 12 and with 200 nodes and
//! 10,000 decisions buffered;
//! idle CPU ≤ 2 %; RSS ≤ 40 MB after an hour of demo traffic; CPU ≤ 3 % polling 200 nodes at 1 Hz.
//!
//! `cargo bench --bench console`. Four parts:
//! 1. Frame: every view rendered into a 160×48 and an 80×24 buffer from a state holding 12 nodes
//!    and 10,000 decisions, many times; mean and p99 per frame; then again with 200 nodes (the
//!    Fleet view grouped, sorted by tok/s and scrolled to the middle).
//! 2. Resources: the real binary, `farmhand console`, in a tmux pane (it needs a terminal) against
//!    a `farmhand sim` of 12 nodes in another process and a SQLite store that already holds an
//!    hour of demo-rate traffic (20 decisions/s: 72,000 rows). The console tails all of it, then
//!    more traffic arrives for a while, then nothing: RSS (VmRSS, VmHWM) is read from its /proc
//!    entry and idle CPU from its utime + stime over the quiet period (it still polls 12 nodes
//!    every second and redraws what changed).
//!    The console's ring must be full (10,000 decisions held, read off its Decisions view).
//! 3. `farmhand demo` itself (farm, router, agents and console in one process) over a store
//!    pre-filled with an hour of demo traffic: its RSS after a minute of its own traffic, its
//!    ring full (checked the same way).
//! 4. Polling 200 nodes: the same console against `farmhand sim --nodes 200`, its CPU over the
//!    quiet period once every node shows up.
//!
//! `FARMHAND_BENCH_IDLE_SECS` (default 30) sets the quiet period. Exits 1 when a budget is missed.
//! Needs tmux (apt-get install tmux).

#[path = "../tests/support/console_fixture.rs"]
mod fixture;
#[path = "support/proc_status.rs"]
mod proc_status;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use farmhand::console::event::Event;
use farmhand::console::state::View;
use farmhand::console::update::apply;
use farmhand::console::views;
use farmhand::domain::DecisionRecord;
use farmhand::store::Store;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

const FRAME_BUDGET: Duration = Duration::from_millis(2);
const IDLE_CPU_BUDGET: f64 = 2.0;
const RSS_BUDGET_MB: f64 = 40.0;
/// CPU of a console polling 200 nodes every second, percent of one core.
const POLLING_200_CPU_BUDGET: f64 = 3.0;
/// The decisions a console holds at most (`DECISION_CAPACITY`).
const RING: usize = farmhand::console::state::DECISION_CAPACITY;
/// Demo traffic: about 20 decisions a second.
const DEMO_RATE: i64 = 20;

fn main() {
    let mut failed = false;
    failed |= !frames();
    failed |= !resources();
    failed |= !demo_process();
    failed |= !polling_200(idle_secs());
    std::process::exit(i32::from(failed));
}

fn frames() -> bool {
    let mut ok = true;
    for nodes in [12, 200] {
        ok &= frames_with(nodes);
    }
    ok
}

/// Every view rendered from a state holding `nodes` nodes (the Fleet view sorting, grouping and
/// scrolling them) and 10,000 decisions.
fn frames_with(nodes: usize) -> bool {
    let mut state = fixture::farm_of(nodes);
    apply(
        &mut state,
        Event::Decisions((61..=10_060).map(fixture::decision).collect()),
    );
    assert_eq!(state.decisions.len(), 10_000);
    assert_eq!(state.fleet.nodes.len(), nodes);
    state.fleet_order.grouped = nodes > 12;
    state.fleet_order.sort = farmhand::console::fleet_order::NodeSort::TokensPerSec;
    state.fleet_row = nodes / 2;
    println!(
        "frame render: {nodes} nodes, {} decisions buffered",
        state.decisions.len()
    );
    println!("  {:<12} {:>9} {:>10} {:>10}", "view", "size", "mean µs", "p99 µs");
    let mut worst = Duration::ZERO;
    let mut frames = 0usize;
    for (width, height) in [(160u16, 48u16), (80, 24)] {
        for view in View::ALL {
            state.view = view;
            let area = Rect::new(0, 0, width, height);
            let mut buffer = Buffer::empty(area);
            let mut samples = Vec::with_capacity(500);
            for _ in 0..500 {
                buffer.reset();
                let started = Instant::now();
                views::render(&state, area, &mut buffer);
                samples.push(started.elapsed());
            }
            frames += samples.len();
            samples.sort_unstable();
            let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
            let p99 = samples[samples.len() * 99 / 100];
            worst = worst.max(p99);
            println!(
                "  {:<12} {:>9} {:>10.1} {:>10.1}",
                view.title(),
                format!("{width}x{height}"),
                mean.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
    }
    if frames == 0 {
        return verdict("frame render: frames measured", "none".into(), false);
    }
    verdict(
        &format!("frame render p99 (worst view), {nodes} nodes <= 2 ms"),
        format!("{:.0} µs", worst.as_secs_f64() * 1e6),
        worst <= FRAME_BUDGET,
    )
}

fn verdict(what: &str, value: String, ok: bool) -> bool {
    println!("  {what:<44} {value:>12}  {}", if ok { "PASS" } else { "FAIL" });
    ok
}

/// Kills the child process and the tmux session, however the bench ends.
struct Cleanup {
    sim: Child,
    session: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        kill_session(&self.session);
        let _ = self.sim.kill();
        let _ = self.sim.wait();
    }
}

/// `FARMHAND_BENCH_IDLE_SECS`, default 30.
fn idle_secs() -> u64 {
    std::env::var("FARMHAND_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

fn resources() -> bool {
    let idle_secs = idle_secs();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("farm.db");
    let url = format!("sqlite://{}", db.display());
    let store = runtime.block_on(async {
        let store = Store::connect(&url).await.expect("store");
        store.migrate().await.expect("migrate");
        store
    });
    let started = Instant::now();
    let hour = 3600 * DEMO_RATE;
    runtime.block_on(insert(&store, 0, hour, Utc::now() - TimeDelta::hours(1)));
    println!();
    println!(
        "console resources: store pre-filled with an hour of demo traffic ({hour} decisions) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (cleanup, pid) = launch(12, dir.path(), &url);
    // More demo-rate traffic while it runs: it tails and renders all of it.
    let live_secs = 20;
    let live_from = Utc::now();
    runtime.block_on(async {
        for second in 0..live_secs {
            insert(
                &store,
                hour + second * DEMO_RATE,
                DEMO_RATE,
                live_from + TimeDelta::seconds(second),
            )
            .await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let held = held_decisions(&cleanup.session);
    let (rss, _) = memory(pid);
    println!(
        "  after the hour and {live_secs} s of live traffic: {} decisions held, VmRSS {:.1} MiB",
        held.map_or("no count of".to_string(), |n| n.to_string()),
        rss as f64 / 1024.0
    );

    let (cpu_before, at) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let ticks = cpu_ticks(pid) - cpu_before;
    let per_sec = ticks_per_second();
    let idle_cpu = ticks as f64 / per_sec / at.elapsed().as_secs_f64() * 100.0;
    let (rss_after, peak) = memory(pid);
    println!("  idle {idle_secs} s (12 nodes polled every second, no new decisions): CPU {idle_cpu:.2} % of one core");
    println!(
        "  VmRSS {:.1} MiB at the end, peak VmHWM {:.1} MiB",
        rss_after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    print_resident_split(pid);
    let rss_mb = rss.max(rss_after) as f64 * 1024.0 / 1e6;
    let ok_cpu = verdict(
        "idle CPU <= 2 %",
        format!("{idle_cpu:.2} %"),
        idle_cpu <= IDLE_CPU_BUDGET,
    );
    let ok_full = verdict(
        "console ring full (10,000 decisions held)",
        held.map_or("unread".to_string(), |n| n.to_string()),
        held == Some(RING),
    );
    let ok_rss = verdict(
        "RSS after an hour of demo traffic <= 40 MB",
        format!("{rss_mb:.1} MB"),
        rss_mb <= RSS_BUDGET_MB,
    );
    drop(cleanup);
    ok_cpu && ok_full && ok_rss
}

/// The `farmhand demo` process itself (simulated farm, router, synthetic agents and console in
/// one process) over a store that already holds an hour of demo traffic, so that its console's
/// ring is full from the start; its RSS after it has served its own traffic for a while.
fn demo_process() -> bool {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    runtime.block_on(async {
        let store = Store::connect(&url).await.expect("store");
        store.migrate().await.expect("migrate");
        let hour = 3600 * DEMO_RATE;
        insert(&store, 0, hour, Utc::now() - TimeDelta::hours(1)).await;
    });
    println!();
    println!("farmhand demo, one process, its store pre-filled with an hour of demo traffic:");
    let session = format!("farmhand-bench-demo-{}", std::process::id());
    let demo = format!(
        "exec {} --database-url {url} demo --log-dir {}",
        env!("CARGO_BIN_EXE_farmhand"),
        dir.path().display()
    );
    start_session(&session, &demo);
    let _session = TmuxSession(session.clone());
    let pid = pane_pid(&session);
    wait_until(Duration::from_secs(60), "the demo's console showing its farm", || {
        screen(&session).contains("12/12 up")
    });
    let live_secs = 60;
    std::thread::sleep(Duration::from_secs(live_secs));
    let held = held_decisions(&session);
    let (rss, peak) = memory(pid);
    println!(
        "  after {live_secs} s of its own traffic: {} decisions held, VmRSS {:.1} MiB, peak VmHWM {:.1} MiB",
        held.map_or("no count of".to_string(), |n| n.to_string()),
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    print_resident_split(pid);
    let rss_mb = rss as f64 * 1024.0 / 1e6;
    verdict(
        "demo console ring full (10,000 decisions held)",
        held.map_or("unread".to_string(), |n| n.to_string()),
        held == Some(RING),
    ) & verdict(
        "farmhand demo RSS, ring full <= 40 MB",
        format!("{rss_mb:.1} MB"),
        rss > 0 && rss_mb <= RSS_BUDGET_MB,
    )
}

/// A tmux session, killed however the bench ends.
struct TmuxSession(String);

impl Drop for TmuxSession {
    fn drop(&mut self) {
        kill_session(&self.0);
    }
}

/// The decisions the console in `session` holds, read off its Decisions view (`M shown · N held`);
/// the view is switched back to the Fleet after.
fn held_decisions(session: &str) -> Option<usize> {
    let keys = |key: &str| {
        let _ = Command::new("tmux").args(["send-keys", "-t", session, key]).status();
    };
    keys("2");
    std::thread::sleep(Duration::from_secs(1));
    let text = screen(session);
    keys("1");
    let (_, after) = text.split_once(" shown · ")?;
    let (held, _) = after.split_once(" held")?;
    held.trim().replace(',', "").parse().ok()
}

/// CPU of the console polling a 200-node `farmhand sim` every second (a second process), its
/// store idle: the 200-node budget of issue 15.
fn polling_200(idle_secs: u64) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("farm.db").display());
    println!();
    println!("console polling 200 nodes:");
    let (cleanup, pid) = launch(200, dir.path(), &url);
    // Past the start: every node seen, the first tags and metrics read.
    std::thread::sleep(Duration::from_secs(5));
    let (cpu_before, at) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let ticks = cpu_ticks(pid) - cpu_before;
    let cpu = ticks as f64 / ticks_per_second() / at.elapsed().as_secs_f64() * 100.0;
    let (rss, _) = memory(pid);
    println!(
        "  {idle_secs} s polling 200 nodes every second: CPU {cpu:.2} % of one core, VmRSS {:.1} MiB",
        rss as f64 / 1024.0
    );
    let alive = screen(&cleanup.session).contains("200/200 up");
    drop(cleanup);
    verdict("the console showed 200/200 nodes up", alive.to_string(), alive)
        & verdict(
            "CPU polling 200 nodes at 1 Hz <= 3 %",
            format!("{cpu:.2} %"),
            ticks > 0 && cpu <= POLLING_200_CPU_BUDGET,
        )
}

/// Starts `farmhand sim --nodes N` and, in a tmux pane, `farmhand console` on it and the store
/// `url`; returns once the console shows every node up, with the console's pid.
fn launch(nodes: u16, dir: &Path, url: &str) -> (Cleanup, u32) {
    let binary = env!("CARGO_BIN_EXE_farmhand");
    let config = dir.join("fleet.toml");
    let sim = Command::new(binary)
        .args([
            "sim",
            "--nodes",
            &nodes.to_string(),
            "--base-port",
            "0",
            "--frontier-port",
            "0",
            "--write-config",
        ])
        .arg(&config)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("farmhand sim starts");
    let session = format!("farmhand-bench-{}-{nodes}", std::process::id());
    let cleanup = Cleanup { sim, session };
    wait_until(Duration::from_secs(20), "the simulator's config", || config.exists());
    let console = format!(
        "exec {binary} console --config {} --database-url {url} --log-dir {}",
        config.display(),
        dir.display()
    );
    start_session(&cleanup.session, &console);
    let pid = pane_pid(&cleanup.session);
    let all_up = format!("{nodes}/{nodes} up");
    wait_until(Duration::from_secs(60), "the console showing the fleet", || {
        screen(&cleanup.session).contains(&all_up)
    });
    (cleanup, pid)
}

/// Inserts `count` demo-like decisions with request ids from `first`, spread from `from` on.
async fn insert(store: &Store, first: i64, count: i64, from: chrono::DateTime<Utc>) {
    let spacing = TimeDelta::milliseconds(1000 / DEMO_RATE);
    let mut batch: Vec<DecisionRecord> = Vec::with_capacity(1000);
    for i in 0..count {
        let mut record = fixture::decision(first + i + 1).record;
        record.request_id = format!("bench-{}", first + i);
        record.ts = from + spacing * i32::try_from(i).unwrap_or(i32::MAX);
        batch.push(record);
        if batch.len() == 1000 {
            store.insert_decisions(&batch).await.expect("insert");
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.insert_decisions(&batch).await.expect("insert");
    }
}

fn wait_until(limit: Duration, what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `command` in a new detached 160×48 tmux session named `session`.
fn start_session(session: &str, command: &str) {
    let status = Command::new("tmux")
        .args(["new-session", "-d", "-s", session, "-x", "160", "-y", "48", command])
        .status()
        .expect("tmux is needed: apt-get install tmux");
    assert!(status.success(), "tmux could not start `{command}`");
}

/// Ends the tmux session `session` and what runs in it.
fn kill_session(session: &str) {
    let _ = Command::new("tmux").args(["kill-session", "-t", session]).status();
}

fn screen(session: &str) -> String {
    let out = Command::new("tmux")
        .args(["capture-pane", "-p", "-t", session])
        .output()
        .expect("tmux capture-pane");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pid of the farmhand process in `session`'s pane, once the pane runs farmhand itself.
fn pane_pid(session: &str) -> u32 {
    let out = Command::new("tmux")
        .args(["display-message", "-p", "-t", session, "#{pane_pid}"])
        .output()
        .expect("tmux display-message");
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("a pane pid");
    // The figures read off this pid must be farmhand's own, not a shell's or a wrapper's (a
    // profiler in front of the binary would report its own few MB and pass): the pane's shell
    // execs the binary, so wait until it has.
    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_farmhand")).expect("the farmhand binary");
    wait_until(Duration::from_secs(10), "farmhand itself in the tmux pane", || {
        std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary)
    });
    pid
}

/// VmRSS and VmHWM in KiB.
fn memory(pid: u32) -> (u64, u64) {
    proc_status::memory_kib(&pid.to_string())
}

/// Prints how much of the resident set is heap and stacks, and how much the binary's code and
/// its libraries (pages of mapped files).
fn print_resident_split(pid: u32) {
    let (anon, file) = proc_status::resident_split_kib(&pid.to_string());
    println!(
        "    of which anonymous (heap, stacks) {:.1} MiB, mapped files (code of the binary and its libraries) {:.1} MiB",
        anon as f64 / 1024.0,
        file as f64 / 1024.0
    );
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let at = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    at(11) + at(12)
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
