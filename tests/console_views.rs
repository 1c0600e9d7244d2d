//! The console's views at fixed sizes with fixed data: insta snapshots of the text, buffer
//! assertions where colour carries meaning, and no panics at any size down to 20×5.

mod support;

use support::console_fixture::*;

use farmhand::console::State;
use farmhand::console::state::{Mode, View};
use farmhand::console::theme::Theme;
use farmhand::console::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

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
snapshot!(fleet_200_nodes_80x24, two_hundred(false), 80, 24);
snapshot!(fleet_200_nodes_160x48, two_hundred(false), 160, 48);
snapshot!(fleet_200_nodes_grouped_160x48, two_hundred(true), 160, 48);
snapshot!(fleet_200_nodes_filtered_80x24, filtered_farm(), 80, 24);
snapshot!(decisions_80x24, in_view(View::Decisions), 80, 24);
snapshot!(decisions_160x48, in_view(View::Decisions), 160, 48);
snapshot!(spend_80x24, in_view(View::Spend), 80, 24);
snapshot!(spend_160x48, in_view(View::Spend), 160, 48);
snapshot!(policy_80x24, in_view(View::Policy), 80, 24);
snapshot!(policy_160x48, in_view(View::Policy), 160, 48);
snapshot!(quality_80x24, in_view(View::Quality), 80, 24);
snapshot!(quality_160x48, in_view(View::Quality), 160, 48);
snapshot!(quality_suggestion_160x48, with_suggestion(), 160, 48);
snapshot!(quality_suggestion_80x24, with_suggestion(), 80, 24);

/// 200 nodes: the selection far down the list (the table scrolls to it), or, `grouped`, by state
/// with the problems first and sorted by memory within each group.
fn two_hundred(grouped: bool) -> State {
    let mut s = farm_of(200);
    s.view = View::Fleet;
    s.fleet_row = 150;
    if grouped {
        s.fleet_order.grouped = true;
        s.fleet_order.sort = farmhand::console::fleet_order::NodeSort::Memory;
        s.fleet_row = 0;
    }
    s
}

/// 200 nodes narrowed by `/` to those named `mini-00…`.
fn filtered_farm() -> State {
    let mut s = farm_of(200);
    s.view = View::Fleet;
    s.fleet_order.filter = "mini-00".into();
    s
}

/// The Quality view with one suggestion in its panel.
fn with_suggestion() -> State {
    let mut s = in_view(View::Quality);
    s.recommendations = vec![suggestion()];
    s
}

fn with_help() -> State {
    let mut s = state();
    s.mode = Mode::Help;
    s
}

snapshot!(help_80x24, with_help(), 80, 24);

/// The Fleet view with a drain dialog open over a drain and two pulls under way.
fn with_operations() -> State {
    use farmhand::actions::{DrainStatus, PullOutcome};
    use farmhand::console::command::ActionEvent;
    use farmhand::console::event::Event;
    use farmhand::console::update::apply;
    use farmhand::fleet::PullProgress;
    let mut s = state();
    let drain = DrainStatus {
        node: "mini-07".into(),
        state: farmhand::domain::DrainState::Draining,
        live_routers: 2,
        busy_routers: 1,
        in_flight: 3,
    };
    let events = [
        ActionEvent::Drain(drain),
        ActionEvent::PullStarted {
            node: "mini-02".into(),
            model: "qwen3:8b".into(),
        },
        ActionEvent::PullProgress {
            node: "mini-02".into(),
            fraction: Some(0.42),
            progress: PullProgress {
                status: "pulling a3de86cd1c13".into(),
                completed: Some(2_000_000_000),
                total: Some(4_700_000_000),
            },
        },
        ActionEvent::PullStarted {
            node: "mini-03".into(),
            model: "qwen3:8b".into(),
        },
        ActionEvent::PullEnded {
            node: "mini-03".into(),
            outcome: PullOutcome::Failed("unknown SSH host key for mac03.tail3c9e1.ts.net".into()),
        },
    ];
    for event in events {
        apply(&mut s, Event::Action(event));
    }
    for key in ['j', 'd'] {
        apply(
            &mut s,
            Event::Key(ratatui::crossterm::event::KeyEvent::new(
                ratatui::crossterm::event::KeyCode::Char(key),
                ratatui::crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
    s
}

snapshot!(operations_80x24, with_operations(), 80, 24);
snapshot!(operations_160x48, with_operations(), 160, 48);

fn read_only_help() -> State {
    let mut s = with_help();
    s.read_only = true;
    s
}

snapshot!(help_read_only_80x24, read_only_help(), 80, 24);
snapshot!(help_160x48, with_help(), 160, 48);

/// The store unreachable for 41 s, the third reconnection attempt due in 2 s; one router
/// holding decisions, another not answering.
fn store_down(view: View) -> State {
    use chrono::TimeDelta;
    use farmhand::console::state::{RouterHold, StoreOutage, StoreStatus};
    let mut s = in_view(view);
    s.fleet_row = 2;
    s.in_flight_from_store = true;
    s.store = StoreStatus::Down(StoreOutage {
        since: now() - TimeDelta::seconds(41),
        attempt: 3,
        retry_at: Some(now() + TimeDelta::seconds(2)),
        error: "no answer within 1.0 s".into(),
    });
    s.routers = vec![
        RouterHold {
            router_id: "router-a:4242".into(),
            report: Ok(farmhand::wire::RouterStatus {
                router_id: "router-a:4242".into(),
                store_up: false,
                buffered: 1000,
                journaled: 234,
                written: 90_210,
                dropped: 0,
                in_flight: 7,
                policy_version: 12,
                control_age_ms: Some(41_300),
                control_store_reachable: false,
            }),
        },
        RouterHold {
            router_id: "router-b:77".into(),
            report: Err("no answer within 0.8 s".into()),
        },
    ];
    s
}

snapshot!(fleet_store_down_80x24, store_down(View::Fleet), 80, 24);
snapshot!(fleet_store_down_160x48, store_down(View::Fleet), 160, 48);
snapshot!(decisions_store_down_80x24, store_down(View::Decisions), 80, 24);
snapshot!(decisions_store_down_160x48, store_down(View::Decisions), 160, 48);
snapshot!(spend_store_down_80x24, store_down(View::Spend), 80, 24);
snapshot!(spend_store_down_160x48, store_down(View::Spend), 160, 48);
snapshot!(policy_store_down_160x48, store_down(View::Policy), 160, 48);

fn help_store_down() -> State {
    let mut s = store_down(View::Fleet);
    s.mode = Mode::Help;
    s
}

snapshot!(help_store_down_80x24, help_store_down(), 80, 24);

#[test]
fn figures_from_an_unreachable_store_keep_their_last_values_in_the_stale_role() {
    let theme = Theme::load("dark", None).expect("dark");
    let live = draw(&in_view(View::Fleet), 160, 48);
    let down = draw(&store_down(View::Fleet), 160, 48);
    let (live_buf, down_buf) = (live.backend().buffer(), down.backend().buffer());
    let (x, y) = find(down_buf, "REQ/S stale 41s");
    assert_eq!(down_buf[(x, y)].fg, theme.dim, "the column header says how old");
    let (_, row) = find(down_buf, "mini-03");
    let cell = &down_buf[(x, row)];
    assert_eq!(
        cell.fg,
        theme.stale,
        "the rate cell `{}` is in the stale role",
        cell.symbol()
    );
    assert!(cell.modifier.contains(ratatui::style::Modifier::ITALIC));
    let rate: String = (x..x + 15).map(|x| down_buf[(x, row)].symbol().to_string()).collect();
    assert!(
        !rate.trim_end().ends_with(" 0.0"),
        "the last rate, not a false zero: `{rate}`"
    );
    let (infl_x, _) = find(down_buf, "INFL");
    assert_eq!(
        down_buf[(infl_x, row)].fg,
        theme.stale,
        "in-flight counts reported through the store"
    );
    let (live_x, _) = find(live_buf, "REQ/S (10 s)");
    let (_, live_row) = find(live_buf, "mini-03");
    assert_eq!(live_x, x);
    assert_eq!(live_buf[(x, live_row)].fg, theme.gauge, "live rates use the gauge role");
    let (sx, sy) = find(down_buf, "store down 41s (since 11:59:19) · attempt 3 in 2 s");
    assert_eq!(down_buf[(sx, sy)].fg, theme.down);
    let (fx, fy) = find(down_buf, "frontier today");
    assert_eq!(
        down_buf[(fx, fy)].fg,
        theme.stale,
        "today's spend is from the store: stale"
    );
}

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

#[test]
fn the_decision_detail_traces_every_attempt_in_order() {
    let mut s = in_view(View::Decisions);
    let terminal = draw(&s, 80, 24);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "attempts mini-03 timeout 1,000 ms → mini-01 ok 212 ms");
    assert!(y > find(buf, "decision #60").1, "in the detail pane, below its title");
    assert_eq!(
        find(buf, "fallback node_retry").1,
        y - 1,
        "right under the route and fallback"
    );
    assert_eq!(x, 1);

    // A refused request tried nothing.
    s.decision_row = 2;
    let terminal = draw(&s, 80, 24);
    let buf = terminal.backend().buffer();
    find(buf, "decision #58");
    find(buf, "attempts –");
}

#[test]
fn the_spend_view_shows_each_limited_agent_used_of_limit() {
    use farmhand::store::{AgentLimitLine, LimitUse};
    let mut s = in_view(View::Spend);
    let used = |used: f64, limit: Option<f64>| LimitUse { used, limit };
    if let Some(spend) = s.spend.as_mut() {
        spend.limits = vec![
            AgentLimitLine {
                agent: "planner".into(),
                routers: 2,
                rpm: used(7.0, Some(10.0)),
                tpm: used(1200.0, Some(50_000.0)),
                max_in_flight: used(1.0, None),
                daily_usd: used(0.5, Some(2.0)),
            },
            AgentLimitLine {
                agent: "ticket-classifier".into(),
                routers: 2,
                rpm: used(60.0, Some(60.0)),
                tpm: used(0.0, None),
                max_in_flight: used(0.0, Some(4.0)),
                daily_usd: used(0.0, None),
            },
        ];
    }
    let terminal = draw(&s, 160, 48);
    let buf = terminal.backend().buffer();
    let (_, title) = find(buf, "agent limits");
    let below = |text: &str| {
        (title..buf.area.height)
            .find_map(|y| find_in_row(buf, y, text).map(|x| (x, y)))
            .unwrap_or_else(|| panic!("`{text}` is not in the limits table"))
    };
    let (_, planner) = below("planner");
    assert!(find_in_row(buf, planner, "7 / 10").is_some());
    assert!(find_in_row(buf, planner, "1200 / 50000").is_some());
    assert!(find_in_row(buf, planner, "$0.50 / $2.00").is_some());
    let (x, busy) = below("ticket-classifier");
    assert!(find_in_row(buf, busy, "60 / 60").is_some());
    let theme = Theme::load("dark", None).expect("dark");
    assert_eq!(
        buf[(x, busy)].fg,
        theme.warning().fg.unwrap_or(Color::Reset),
        "a reached limit stands out"
    );
    assert_ne!(buf[(x, planner)].fg, buf[(x, busy)].fg);
}

snapshot!(jobs_80x24, in_view(View::Jobs), 80, 24);
snapshot!(jobs_160x48, in_view(View::Jobs), 160, 48);
snapshot!(jobs_60x20, in_view(View::Jobs), 60, 20);
snapshot!(jobs_store_down_80x24, store_down(View::Jobs), 80, 24);

/// The Jobs view once the store answered that there are no batches.
fn jobs_empty() -> State {
    use farmhand::console::event::Event;
    use farmhand::console::jobs::JobsRead;
    let mut s = State::new(now(), Theme::load("dark", None).expect("dark"));
    s.view = View::Jobs;
    s.store = farmhand::console::state::StoreStatus::Connected;
    farmhand::console::update::apply(
        &mut s,
        Event::Jobs(Ok(Box::new(JobsRead {
            at: now(),
            batches: Vec::new(),
            depth: Vec::new(),
            running: Vec::new(),
            failures: Vec::new(),
        }))),
    );
    s
}

snapshot!(jobs_empty_80x24, jobs_empty(), 80, 24);

/// The Jobs view before its first read, the store answering but batch jobs unreadable.
fn jobs_unreadable() -> State {
    let mut s = State::new(now(), Theme::load("dark", None).expect("dark"));
    s.view = View::Jobs;
    s.store = farmhand::console::state::StoreStatus::Connected;
    s.jobs_error = Some("store query failed: no such table: batches".into());
    s
}

snapshot!(jobs_unreadable_80x24, jobs_unreadable(), 80, 24);

/// The cancel confirmation of the selected batch, the first one.
fn jobs_cancel_dialog() -> State {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut s = in_view(View::Jobs);
    farmhand::console::update::apply(
        &mut s,
        farmhand::console::event::Event::Key(KeyEvent::new(KeyCode::Char('C'), KeyModifiers::SHIFT)),
    );
    s
}

snapshot!(jobs_cancel_dialog_80x24, jobs_cancel_dialog(), 80, 24);

#[test]
fn batch_states_are_coloured_by_what_they_mean() {
    let theme = Theme::load("dark", None).expect("dark");
    let terminal = draw(&in_view(View::Jobs), 160, 48);
    let buf = terminal.backend().buffer();
    let status_colour = |id: &str, status: &str| {
        let (_, y) = find(buf, id);
        let x = find_in_row(buf, y, status).unwrap_or_else(|| panic!("{id}: no `{status}`"));
        buf[(x, y)].fg
    };
    let warning = theme.warning().fg.unwrap_or(Color::Reset);
    assert_eq!(status_colour("batch_5b20d8e6a1c347f09e8b", "paused"), warning);
    assert_eq!(status_colour("batch_3f9a1c2e7d6b48a5b0c9", "cancelling"), warning);
    assert_eq!(status_colour("batch_2e8b7a6c5d4f43e2a1b0", "completed"), theme.up);
    assert_eq!(status_colour("batch_1a2b3c4d5e6f47a8b9c0", "failed"), theme.down);
    assert_ne!(status_colour("batch_7c1e9a52f04b4e8a9d31", "in_progress"), warning);

    let (_, running) = find(buf, "batch_7c1e9a52f04b4e8a9d31");
    assert!(
        find_in_row(buf, running, "122/min").is_some(),
        "throughput from two reads"
    );
    assert!(find_in_row(buf, running, "8m56s").is_some(), "1088 left at 122/min");
    let (_, late) = find(buf, "batch_4d71c0b9e2a64f5c8b3e");
    let x = find_in_row(buf, late, "8h10m").expect("an ETA of 490 min");
    assert_eq!(buf[(x, late)].fg, warning, "an ETA past the window's end stands out");
    assert!(find_in_row(buf, late, "10m00s").is_some(), "ten minutes of window left");
}

#[test]
fn batch_figures_from_an_unreachable_store_are_stale() {
    let theme = Theme::load("dark", None).expect("dark");
    let terminal = draw(&store_down(View::Jobs), 160, 48);
    let buf = terminal.backend().buffer();
    find(buf, "stale 41s: the store is unreachable");
    find(buf, "store unreachable: no actions");
    let (_, y) = find(buf, "batch_7c1e9a52f04b4e8a9d31");
    let x = find_in_row(buf, y, "in_progress").expect("status");
    assert_eq!(buf[(x, y)].fg, theme.stale);
    let x = find_in_row(buf, y, "900/12/2000").expect("done/failed/total");
    assert_eq!(buf[(x, y)].fg, theme.stale, "the counts keep their last values, stale");
}

#[test]
fn the_fleet_shows_each_nodes_batch_slots() {
    let terminal = draw(&in_view(View::Fleet), 160, 48);
    let buf = terminal.backend().buffer();
    let (x, _) = find(buf, "BATCH");
    for (node, slots) in [("mini-01", "2"), ("mini-04", "3"), ("mini-05", "0")] {
        let (_, y) = find(buf, node);
        assert_eq!(buf[(x, y)].symbol(), slots, "{node}");
    }
}

/// The last hour breaches `routine`'s error-rate objective and meets its truncation one.
fn with_slo_breach() -> State {
    use farmhand::config::SloConfig;
    use farmhand::domain::TaskClass;
    use farmhand::quality::QualityLine;
    use farmhand::store::QualityRow;
    let mut s = in_view(View::Fleet);
    s.quality.slo.clear();
    s.quality.slo.insert(
        "routine".into(),
        SloConfig {
            error_rate: Some(0.02),
            truncation_rate: Some(0.10),
            ..SloConfig::default()
        },
    );
    if let Some(spend) = s.spend.as_mut() {
        spend.quality.hour.rows = vec![QualityRow {
            class: TaskClass::Routine,
            route: "local/llama3.1:8b".into(),
            line: QualityLine {
                requests: 200,
                errors: 9,
                truncated: 4,
                ..QualityLine::default()
            },
        }];
    }
    s
}

#[test]
fn a_breached_objective_shows_in_the_header_with_its_figures() {
    let s = with_slo_breach();
    let wide = draw(&s, 160, 48);
    let buf = wide.backend().buffer();
    let (x, y) = find(buf, "⚠ SLO routine error_rate 4.5% > 2.0%");
    assert_eq!(y, 0, "in the header");
    let theme = Theme::load("dark", None).expect("dark");
    assert_eq!(buf[(x, y)].fg, theme.warning().fg.unwrap_or(Color::Reset));
    assert!(
        find_in_row(buf, 0, "truncation_rate").is_none(),
        "a met objective is not an alert"
    );
    let narrow = draw(&s, 80, 24);
    assert!(find_in_row(narrow.backend().buffer(), 0, "⚠ 1 SLO").is_some());
    let mut met = with_slo_breach();
    if let Some(spend) = met.spend.as_mut() {
        spend.quality.hour.rows[0].line.errors = 2;
    }
    assert!(find_in_row(draw(&met, 160, 48).backend().buffer(), 0, "SLO").is_none());
}
