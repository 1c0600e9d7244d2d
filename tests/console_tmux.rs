//! End to end: `farmhand demo` under tmux, read off the screen like an operator would, then `q`
//! and a terminal back in cooked mode. Needs `tmux` (apt-get install tmux).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session that is killed however the test ends. Sessions run one at a time: each runs
/// a whole demo farm, and two at once on a small machine would only measure each other.
struct Session(String, #[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Session {
    fn start(command: &str) -> Session {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A tmux server of its own (-L): a shared server that is exiting after the previous test's
        // last session was killed would refuse the next session.
        let name = format!("farmhand-test-{}-{n}", std::process::id());
        let output = Command::new("tmux")
            .args([
                "-L",
                &name,
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "120",
                "-y",
                "40",
                command,
            ])
            .output()
            .expect("tmux is needed for this test: install it (apt-get install tmux, brew install tmux)");
        assert!(
            output.status.success(),
            "tmux could not start a session: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Session(name, turn)
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.0, "capture-pane", "-p", "-t", &self.0])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        let status = Command::new("tmux")
            .args(["-L", &self.0, "send-keys", "-t", &self.0, keys])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Waits until the screen satisfies `ready`; panics with the last screen after `limit`.
    fn wait_for(&self, what: &str, limit: Duration, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                started.elapsed() < limit,
                "no {what} within {limit:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.0, "kill-server"]).status();
    }
}

/// The process named `name` whose command line has `arg` among its arguments.
fn process_with_arg(name: &str, arg: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let has_arg = cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes());
        (comm.trim() == name && has_arg).then_some(pid)
    })
}

/// True once the command after the demo has printed its exit code and stty's `icanon` flag.
fn stty_reported(screen: &str) -> bool {
    screen.contains("exit=") && screen.lines().any(|l| matches!(l.trim(), "icanon" | "-icanon"))
}

#[test]
fn demo_shows_the_farm_and_quits_cleanly() {
    let logs = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "env -u FARMHAND_DATABASE_URL -u FARMHAND_CONFIG {} demo --log-dir {}; echo \"exit=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60",
        env!("CARGO_BIN_EXE_farmhand"),
        logs.path().display()
    );
    let session = Session::start(&command);
    let limit = Duration::from_secs(15);
    // The store may still be opening when the first polls land: both show within the limit.
    session.wait_for("12 healthy nodes with memory, and the store connected", limit, |s| {
        s.contains("12/12 up") && s.contains("mini-12") && s.contains("/64.0G") && s.contains("store connected")
    });
    session.keys("2");
    session.wait_for("decisions streaming, local and frontier", limit, |s| {
        s.contains(" local ") && s.contains(" frontier ") && s.contains("decision #")
    });
    session.keys("3");
    session.wait_for("spend moving", limit, |s| {
        s.contains("daily budget") && s.contains("today")
    });
    session.keys("?");
    session.wait_for("the help overlay", limit, |s| s.contains("Esc or ? closes this help"));
    session.keys("Escape");
    session.keys("q");
    let after = session.wait_for("the demo to exit and stty to report", limit, stty_reported);
    assert!(after.contains("exit=0"), "{after}");
    assert!(
        after.lines().any(|l| l.trim() == "icanon"),
        "the terminal is back in cooked mode:\n{after}"
    );
    assert!(!after.contains("12/12 up"), "the alternate screen is gone:\n{after}");
}

#[test]
fn a_panic_in_the_console_still_restores_the_terminal() {
    let logs = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "env -u FARMHAND_DATABASE_URL -u FARMHAND_CONFIG FARMHAND_CONSOLE_FORCE_PANIC=1 {} demo --log-dir {} 2>/dev/null; \
         echo \"exit=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60",
        env!("CARGO_BIN_EXE_farmhand"),
        logs.path().display()
    );
    let session = Session::start(&command);
    let after = session.wait_for(
        "the demo to die and stty to report",
        Duration::from_secs(30),
        stty_reported,
    );
    assert!(!after.contains("exit=0"), "a panic is a failure exit:\n{after}");
    assert!(
        after.lines().any(|l| l.trim() == "icanon"),
        "the terminal is back in cooked mode after a panic:\n{after}"
    );
    assert!(!after.contains("mini-01"), "the alternate screen is gone:\n{after}");
}

#[test]
fn sigterm_ends_the_console_with_the_terminal_restored() {
    let logs = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "env -u FARMHAND_DATABASE_URL -u FARMHAND_CONFIG {} demo --log-dir {}; echo \"exit=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60",
        env!("CARGO_BIN_EXE_farmhand"),
        logs.path().display()
    );
    let session = Session::start(&command);
    let limit = Duration::from_secs(15);
    session.wait_for("the console up", limit, |s| s.contains("12/12 up"));
    // What a service manager or `kill` sends, to this demo's process (not the shell around it).
    let pid = process_with_arg("farmhand", &logs.path().display().to_string()).expect("the demo process is found");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let after = session.wait_for("the demo to exit and stty to report", limit, stty_reported);
    assert!(after.contains("exit=0"), "SIGTERM is a clean stop:\n{after}");
    assert!(
        after.lines().any(|l| l.trim() == "icanon"),
        "the terminal is back in cooked mode after SIGTERM:\n{after}"
    );
    assert!(!after.contains("12/12 up"), "the alternate screen is gone:\n{after}");
}

#[test]
fn an_operator_drains_pulls_and_flips_a_policy_from_the_console() {
    let logs = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "env -u FARMHAND_DATABASE_URL -u FARMHAND_CONFIG {} demo --log-dir {}; sleep 60",
        env!("CARGO_BIN_EXE_farmhand"),
        logs.path().display()
    );
    let session = Session::start(&command);
    let limit = Duration::from_secs(20);
    session.wait_for("the fleet", limit, |s| s.contains("12/12 up"));

    session.keys("j");
    session.keys("d");
    session.wait_for("a drain confirmation naming the node", limit, |s| {
        s.contains("Drain mini-02?") && s.contains("in flight")
    });
    session.keys("y");
    session.wait_for("the drain to finish", Duration::from_secs(60), |s| {
        s.contains("drained: nothing in flight on any router")
    });

    session.keys("p");
    session.wait_for("the model prompt", limit, |s| s.contains("Pull a model onto mini-02"));
    session.keys("mistral:7b");
    session.keys("Enter");
    session.wait_for("the pull to succeed", Duration::from_secs(60), |s| {
        s.contains("pull mistral:7b  succeeded")
    });

    session.keys("u");
    session.wait_for("an undrain confirmation", limit, |s| s.contains("Undrain mini-02?"));
    session.keys("y");
    session.wait_for("the node active again", limit, |s| s.contains("mini-02: active again"));

    session.keys("4");
    session.keys("Enter");
    session.wait_for("a policy confirmation", limit, |s| {
        s.contains("Set frontier.kill_switch = on?")
    });
    session.keys("y");
    session.wait_for("the new policy version", limit, |s| {
        s.contains("policy version 1: frontier.kill_switch = on")
    });
    session.wait_for("the audit trail", limit, |s| {
        s.contains("node.draining") && s.contains("node.pull") && s.contains("policy.set")
    });
    session.keys("q");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_started_while_postgres_is_down_shows_it_and_recovers() {
    let db = support::pg::TestDatabase::create().await;
    let (proxy, via_proxy) = support::outage::CuttableProxy::in_front_of(db.url()).await;
    proxy.cut();

    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("fleet.toml");
    std::fs::write(
        &config,
        "[[nodes]]\nname = \"mini-01\"\nhost = \"127.0.0.1\"\nollama_port = 1\nagent_port = 1\n",
    )
    .unwrap();
    let command = format!(
        "env -u FARMHAND_DATABASE_URL {} console --config {} --database-url '{}' --log-dir {}; sleep 60",
        env!("CARGO_BIN_EXE_farmhand"),
        config.display(),
        via_proxy,
        dir.path().display()
    );
    let proxy = std::sync::Arc::new(proxy);
    let restore = proxy.clone();
    let (down, up) = tokio::task::spawn_blocking(move || {
        let session = Session::start(&command);
        let down = session.wait_for("the store outage shown", Duration::from_secs(15), |s| {
            s.contains("store down") && s.contains("attempt")
        });
        restore.restore();
        let up = session.wait_for("the store connected", Duration::from_secs(20), |s| {
            s.contains("store connected")
        });
        session.keys("q");
        (down, up)
    })
    .await
    .expect("tmux task");
    assert!(
        down.contains("mini-01"),
        "the console runs while the store is down:\n{down}"
    );
    assert!(!up.contains("store down"), "{up}");
}

/// How long after `since` the screen first satisfied `ready`, polled every 50 ms.
fn measure(
    session: &Session,
    what: &str,
    since: Instant,
    limit: Duration,
    ready: impl Fn(&str) -> bool,
) -> (Duration, String) {
    loop {
        let screen = session.screen();
        if ready(&screen) {
            return (since.elapsed(), screen);
        }
        assert!(since.elapsed() < limit, "no {what} within {limit:?}; screen:\n{screen}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The per-second request rates in the Fleet view's REQ/S column (the figure after the sparkline).
fn request_rates(screen: &str) -> Vec<f64> {
    screen
        .lines()
        .filter(|l| l.contains("│mini-") || l.trim_start_matches('│').trim_start().starts_with("mini-"))
        .filter_map(|l| {
            let after_poll = l.split("ms ").nth(1)?;
            after_poll.split_whitespace().nth(1)?.parse().ok()
        })
        .collect()
}

/// The number in `… #<n> …` or `<n> shown` style text: the first integer after `marker`.
fn number_after(screen: &str, marker: &str) -> Option<i64> {
    let rest = &screen[screen.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The number right before `marker` (`312 shown`).
fn number_before(screen: &str, marker: &str) -> Option<i64> {
    let head = &screen[..screen.find(marker)?];
    let digits: String = head.chars().rev().take_while(char::is_ascii_digit).collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// One outage of the store under the demo, as an operator lives it: the loss within seconds, the
/// last figures kept and marked stale, changes refused in plain words, then the return.
fn live_through_an_outage(session: &Session, kind: &str, start: impl Fn(), end: impl Fn()) -> (Duration, Duration) {
    let limit = Duration::from_secs(20);
    session.keys("1");
    // Traffic on several nodes, so the rates frozen at the loss are not all zero by chance.
    session.wait_for("rates in the fleet view", limit, |s| {
        s.contains("store connected") && request_rates(s).iter().filter(|r| **r > 0.0).count() >= 3
    });
    let cut_at = Instant::now();
    start();
    let (detected, _) = measure(session, "the loss in the header", cut_at, Duration::from_secs(5), |s| {
        s.contains("store down")
    });
    eprintln!(
        "{kind}: the header showed the loss {} ms after it",
        detected.as_millis()
    );

    let stale = session.wait_for("stale rates, not zeros", limit, |s| s.contains("REQ/S stale"));
    assert!(
        request_rates(&stale).iter().any(|r| *r > 0.0),
        "the last rates stay on screen, marked stale, never 0.0 everywhere:\n{stale}"
    );
    session.wait_for("the attempt number and a countdown", limit, |s| {
        s.contains("attempt ") && (s.contains(" s)") || s.contains("now…") || s.contains(" in "))
    });

    session.keys("d");
    let refused = session.wait_for("the drain refused in plain words", limit, |s| {
        s.contains("the store is unreachable: routers learn of drains through it")
    });
    assert!(!refused.contains("Drain mini-"), "no confirmation opens:\n{refused}");
    assert!(!refused.contains("pool timed out"), "{refused}");

    session.keys("?");
    session.wait_for("the overlay saying what is unavailable", limit, |s| {
        s.contains("unavailable: no store")
    });
    session.keys("Escape");
    // A key right after Esc would read as Alt-<key>.
    std::thread::sleep(Duration::from_millis(300));

    session.keys("2");
    let decisions = session.wait_for("the decisions view saying routing continues", limit, |s| {
        s.contains("routing continues") && s.contains("decisions to write when it returns")
    });
    assert!(decisions.contains("stale"), "the stream is marked stale:\n{decisions}");
    session.wait_for("the routers holding decisions", limit, |s| {
        number_after(s, "the routers hold ").is_some_and(|n| n > 0)
    });

    let back_at = Instant::now();
    end();
    let (recovered, _) = measure(
        session,
        "the store back in the header",
        back_at,
        Duration::from_secs(10),
        |s| s.contains("store connected"),
    );
    eprintln!(
        "{kind}: the header showed the store back {} ms after it returned",
        recovered.as_millis()
    );
    session.wait_for(
        "the stream live again and the routers' backlog written",
        Duration::from_secs(30),
        |s| !s.contains("stale") && !s.contains("held decisions") && !s.contains("routers hold"),
    );
    session.keys("1");
    session.wait_for("live rates again", limit, |s| {
        s.contains("REQ/S (10 s)") && request_rates(s).iter().any(|r| *r > 0.0)
    });
    (detected, recovered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_the_truth_through_a_postgres_outage_refused_or_silent() {
    let db = support::pg::TestDatabase::create().await;
    let (proxy, via_proxy) = support::outage::CuttableProxy::in_front_of(db.url()).await;
    let logs = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "env -u FARMHAND_DATABASE_URL -u FARMHAND_CONFIG {} demo --database-url '{}' --log-dir {}; sleep 60",
        env!("CARGO_BIN_EXE_farmhand"),
        via_proxy,
        logs.path().display()
    );
    let proxy = std::sync::Arc::new(proxy);
    let control = proxy.clone();
    let (newest, shown) = tokio::task::spawn_blocking(move || {
        let session = Session::start(&command);
        session.wait_for("the fleet", Duration::from_secs(20), |s| s.contains("12/12 up"));
        let refused = live_through_an_outage(&session, "refused connection", || control.cut(), || control.restore());
        let silent = live_through_an_outage(&session, "silent network", || control.silence(), || control.restore());
        eprintln!(
            "detection / recovery: refused {} / {} ms, silent {} / {} ms",
            refused.0.as_millis(),
            refused.1.as_millis(),
            silent.0.as_millis(),
            silent.1.as_millis()
        );
        session.keys("2");
        session.keys(" ");
        let paused = session.wait_for("the stream paused", Duration::from_secs(10), |s| {
            s.contains("paused") && s.contains("decision #")
        });
        let newest = number_after(&paused, "decision #").expect("the selected decision's id");
        let shown = number_before(&paused, " shown").expect("the count shown");
        session.keys("q");
        (newest, shown)
    })
    .await
    .expect("tmux task");
    let store = farmhand::store::Store::connect(db.url()).await.expect("store");
    let mut stored = 0i64;
    let mut cursor = 0;
    loop {
        let page = store.decisions_after(cursor, 1000).await.expect("decisions");
        let Some(last) = page.last() else { break };
        cursor = last.id;
        stored += page.iter().filter(|d| d.id <= newest).count() as i64;
    }
    assert_eq!(
        shown, stored,
        "every decision up to #{newest} is in the Decisions view, those written after the outages included"
    );
}
