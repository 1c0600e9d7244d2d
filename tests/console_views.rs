//! The console's views at fixed sizes with fixed data: insta snapshots of the text, buffer
//! assertions where colour carries meaning, and no panics at any size down to 20×5.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use farmhand::console::State;
use farmhand::console::state::{Mode, SpendWindows, StoreStatus, View};
use farmhand::console::theme::Theme;
use farmhand::console::views;
use farmhand::control::ControlSnapshot;
use farmhand::domain::{DecisionRecord, DeclaredClass, DrainState, Endpoint, Fallback, StoredDecision, TaskClass};
use farmhand::fleet::{FleetSnapshot, Health, InstalledModel, LoadedModel, NodeSnapshot};
use farmhand::store::{AuditRow, HourlySpend, SpendGroup, SpendLine, SpendSummary};
use farmhand::wire::AgentMetrics;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

const GIB: u64 = 1 << 30;

fn now() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().expect("fixed time")
}

fn node(index: usize) -> NodeSnapshot {
    let name = format!("mini-{:02}", index + 1);
    let total = if index < 4 { 64 * GIB } else { 32 * GIB };
    let used = total / 8 * (1 + index as u64 % 6);
    let mut node = NodeSnapshot::unseen(&name, if index < 4 { 4 } else { 1 });
    node.health = match index {
        4 => Health::Degraded,
        8 => Health::Down,
        _ => Health::Up,
    };
    node.last_seen = Some(now() - TimeDelta::seconds(if index == 8 { 95 } else { 1 }));
    node.poll_latency_ms = Some(2 + index as u64);
    if index == 8 {
        node.consecutive_failures = 4;
        node.last_error = Some("timed out".into());
    }
    node.installed = vec![
        InstalledModel {
            name: "llama3.1:8b".into(),
            size_bytes: 4_900_000_000,
        },
        InstalledModel {
            name: "qwen3:14b".into(),
            size_bytes: 9_300_000_000,
        },
    ];
    if index < 3 {
        node.loaded = vec![LoadedModel {
            name: "llama3.1:8b".into(),
            size_bytes: 6_200_000_000,
            expires_at: now() + TimeDelta::seconds(252 + index as i64 * 60),
        }];
    }
    if index != 4 {
        node.metrics = Some(AgentMetrics {
            hostname: name.clone(),
            sampled_at: now(),
            memory_total_bytes: total,
            memory_used_bytes: used,
            memory_available_bytes: total - used,
            swap_total_bytes: 2 * GIB,
            swap_used_bytes: 0,
            cpu_percent: 12.5,
            cpu_count: 10,
            load_average: [1.25, 0.75, 0.5],
            uptime_secs: 86_400,
            ollama: None,
        });
    }
    node
}

const AGENTS: [&str; 5] = [
    "ticket-classifier",
    "summariser",
    "planner",
    "code-reviewer",
    "hr-extractor",
];

fn decision(id: i64) -> StoredDecision {
    let i = id as usize;
    let (class, endpoint) = match i % 5 {
        0 => (TaskClass::Routine, Endpoint::Local),
        1 => (TaskClass::Routine, Endpoint::Frontier),
        2 => (TaskClass::Orchestration, Endpoint::Frontier),
        3 => (TaskClass::Reasoning, Endpoint::Rejected),
        _ => (TaskClass::Sensitive, Endpoint::Local),
    };
    let (provider, node, model) = match endpoint {
        Endpoint::Local => (
            Some("ollama"),
            Some(format!("mini-{:02}", i % 12 + 1)),
            Some("llama3.1:8b"),
        ),
        Endpoint::Frontier => (Some("anthropic"), None, Some("claude-sonnet-4-6")),
        Endpoint::Rejected => (None, None, None),
    };
    StoredDecision {
        id,
        record: DecisionRecord {
            request_id: format!("fh-test-{id:04}"),
            ts: now() - TimeDelta::seconds(60 - id),
            agent: AGENTS[i % AGENTS.len()].into(),
            declared_class: if class == TaskClass::Sensitive {
                DeclaredClass::Routine
            } else {
                class.into()
            },
            effective_class: class,
            sensitive: class == TaskClass::Sensitive,
            sensitivity_reason: (class == TaskClass::Sensitive).then(|| "detector:email".to_string()),
            endpoint,
            provider: provider.map(String::from),
            node,
            model: model.map(String::from),
            est_tokens: 120,
            prompt_tokens: if endpoint == Endpoint::Rejected { 0 } else { 100 },
            completion_tokens: if endpoint == Endpoint::Rejected { 0 } else { 40 },
            cost_usd: if endpoint == Endpoint::Frontier { 0.0021 } else { 0.0 },
            ttfb_ms: (endpoint != Endpoint::Rejected).then_some(40),
            latency_ms: 100 + id,
            fallback: Fallback::None,
            policy_version: 3,
            status: if endpoint == Endpoint::Rejected { 503 } else { 200 },
            error: (endpoint == Endpoint::Rejected).then(|| "no_capacity".to_string()),
        },
    }
}

fn line(requests: i64, cost_usd: f64) -> SpendLine {
    SpendLine {
        requests,
        prompt_tokens: requests * 100,
        completion_tokens: requests * 40,
        cost_usd,
    }
}

fn summary(scale: i64) -> SpendSummary {
    let group = |name: &str, l: SpendLine| SpendGroup {
        name: name.into(),
        line: l,
    };
    SpendSummary {
        since: now() - TimeDelta::hours(24),
        until: now(),
        total: line(30 * scale, 1.26 * scale as f64),
        by_endpoint: vec![
            group("local", line(18 * scale, 0.0)),
            group("frontier", line(8 * scale, 1.26 * scale as f64)),
            group("rejected", line(4 * scale, 0.0)),
        ],
        by_class: vec![
            group("orchestration", line(4 * scale, 0.8 * scale as f64)),
            group("routine", line(20 * scale, 0.46 * scale as f64)),
            group("sensitive", line(6 * scale, 0.0)),
        ],
        by_provider: Vec::new(),
        by_model: Vec::new(),
        by_agent: AGENTS
            .iter()
            .map(|a| group(a, line(6 * scale, 0.25 * scale as f64)))
            .collect(),
        hourly: (0..24)
            .map(|h| HourlySpend {
                hour: now() - TimeDelta::hours(23 - h),
                frontier: line(h % 5 * scale, 0.05 * (h % 7) as f64 * scale as f64),
                local: line((10 + h % 4 * 3) * scale, 0.0),
                rejected: line(h % 2, 0.0),
            })
            .collect(),
        local_by_class: vec![
            group("routine", line(14 * scale, 0.0)),
            group("sensitive", line(4 * scale, 0.0)),
        ],
    }
}

/// A full console state with fixed data and no clocks.
fn state() -> State {
    let mut state = State::new(now(), Theme::load("dark", None).expect("dark theme"));
    state.fleet = FleetSnapshot {
        nodes: (0..12).map(node).collect(),
    };
    state.control = Arc::new(ControlSnapshot {
        version: 3,
        overrides: vec![
            ("frontier.enabled".into(), "true".into()),
            ("budget.daily_usd".into(), "20".into()),
        ],
        node_states: HashMap::from([
            ("mini-07".to_string(), DrainState::Draining),
            ("mini-12".to_string(), DrainState::Drained),
        ]),
        read_at: Some(now()),
        store_error: None,
    });
    farmhand::console::update::apply(
        &mut state,
        farmhand::console::event::Event::Decisions((1..=60).map(decision).collect()),
    );
    state.spend = Some(SpendWindows {
        today: summary(1),
        day: summary(2),
        week: summary(9),
    });
    state.audit = vec![
        AuditRow {
            id: 2,
            ts: now() - TimeDelta::minutes(5),
            actor: "ops@farm".into(),
            action: "node.draining".into(),
            target: "mini-07".into(),
            detail: "active -> draining (memory pressure)".into(),
        },
        AuditRow {
            id: 1,
            ts: now() - TimeDelta::hours(2),
            actor: "lead@farm".into(),
            action: "policy.set".into(),
            target: "budget.daily_usd".into(),
            detail: "(unset) -> 20 (quarter end)".into(),
        },
    ];
    state.budget_usd = 20.0;
    let config = farmhand::config::FleetConfig::default();
    state.policy_base = farmhand::console::settings::base_values(&config);
    state.frontier_prices = farmhand::console::settings::frontier_prices(&config, now().date_naive());
    state.store = StoreStatus::Connected;
    state.store_label = "sqlite://farm.db".into();
    state.in_flight = Some(
        (0..12)
            .map(|i| (format!("mini-{:02}", i + 1), (i % 3) as u32))
            .collect(),
    );
    state
}

fn draw(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| {
            let area = frame.area();
            views::render(state, area, frame.buffer_mut());
        })
        .expect("draw");
    terminal
}

fn in_view(view: View) -> State {
    let mut s = state();
    s.view = view;
    s
}

macro_rules! snapshot {
    ($name:ident, $state:expr, $w:expr, $h:expr) => {
        #[test]
        fn $name() {
            let terminal = draw(&$state, $w, $h);
            insta::assert_snapshot!(terminal.backend());
        }
    };
}

snapshot!(fleet_80x24, in_view(View::Fleet), 80, 24);
snapshot!(fleet_160x48, in_view(View::Fleet), 160, 48);
snapshot!(decisions_80x24, in_view(View::Decisions), 80, 24);
snapshot!(decisions_160x48, in_view(View::Decisions), 160, 48);
snapshot!(spend_80x24, in_view(View::Spend), 80, 24);
snapshot!(spend_160x48, in_view(View::Spend), 160, 48);
snapshot!(policy_80x24, in_view(View::Policy), 80, 24);
snapshot!(policy_160x48, in_view(View::Policy), 160, 48);

fn with_help() -> State {
    let mut s = state();
    s.mode = Mode::Help;
    s
}

snapshot!(help_80x24, with_help(), 80, 24);
snapshot!(help_160x48, with_help(), 160, 48);

fn filtered() -> State {
    let mut s = in_view(View::Decisions);
    s.filter = "planner".into();
    s.decision_row = 2;
    s
}

snapshot!(decisions_filtered_80x24, filtered(), 80, 24);

/// The first cell where `text` starts on row `y`, if any.
fn find_in_row(buf: &Buffer, y: u16, text: &str) -> Option<u16> {
    let row: Vec<String> = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
    let joined: String = row.concat();
    let byte = joined.find(text)?;
    let mut seen = 0;
    for (x, symbol) in row.iter().enumerate() {
        if seen == byte {
            return Some(x as u16);
        }
        seen += symbol.len();
    }
    None
}

/// The first (x, y) where `text` starts.
fn find(buf: &Buffer, text: &str) -> (u16, u16) {
    (0..buf.area.height)
        .find_map(|y| find_in_row(buf, y, text).map(|x| (x, y)))
        .unwrap_or_else(|| panic!("`{text}` is not on screen"))
}

#[test]
fn node_health_is_coloured_by_health() {
    let terminal = draw(&in_view(View::Fleet), 160, 48);
    let buf = terminal.backend().buffer();
    for (node, colour) in [
        ("mini-01", Color::Green),
        ("mini-05", Color::Yellow),
        ("mini-09", Color::Red),
    ] {
        let (x, y) = find(buf, node);
        // The health column starts after the name column (8 cells) and one space.
        let health = &buf[(x + 9, y)];
        assert_eq!(health.fg, colour, "{node}: health cell `{}`", health.symbol());
    }
    let (x, y) = find(buf, "mini-09");
    assert_eq!(find_in_row(buf, y, "down (stale)"), Some(x + 9));
}

#[test]
fn decisions_are_coloured_by_endpoint() {
    let terminal = draw(&in_view(View::Decisions), 160, 48);
    let buf = terminal.backend().buffer();
    let theme = Theme::load("dark", None).expect("dark");
    for (endpoint, colour) in [
        ("local", theme.local),
        ("frontier", theme.frontier),
        ("rejected", theme.rejected),
    ] {
        // Skip the header, the title and the detail pane: look at the table's rows only.
        let (x, y) = (3..30)
            .find_map(|y| find_in_row(buf, y, &format!(" {endpoint} ")).map(|x| (x + 1, y)))
            .unwrap_or_else(|| panic!("no {endpoint} row"));
        assert_eq!(buf[(x, y)].fg, colour, "{endpoint} at ({x}, {y})");
        assert_eq!(buf[(1, y)].fg, colour, "the whole {endpoint} row is coloured");
    }
    assert_ne!(theme.local, theme.frontier);
}

#[test]
fn no_color_keeps_meaning_in_text() {
    let mut s = in_view(View::Fleet);
    s.theme = s.theme.clone().monochrome();
    let terminal = draw(&s, 120, 30);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "mini-09");
    assert_eq!(find_in_row(buf, y, "down (stale)"), Some(x + 9));
    assert!(
        (0..buf.area.height).all(|y| (0..buf.area.width).all(|x| buf[(x, y)].fg == Color::Reset)),
        "NO_COLOR: no cell has a colour"
    );
}

#[test]
fn any_size_down_to_20x5_renders_without_panic() {
    let mut states: Vec<State> = View::ALL.iter().map(|v| in_view(*v)).collect();
    states.push(with_help());
    states.push(filtered());
    let mut empty = State::new(now(), Theme::default());
    empty.view = View::Decisions;
    states.push(empty);
    for state in &states {
        for width in (20..=160).step_by(7).chain([1, 2, 20, 80, 160]) {
            for height in (5..=48).step_by(3).chain([1, 2, 5, 24, 48]) {
                let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
                views::render(state, buf.area, &mut buf);
            }
        }
    }
}
