//! Key sessions and events through [`super::apply`].

use chrono::{DateTime, TimeDelta, Utc};
use ratatui::crossterm::event::KeyModifiers;

use super::*;
use crate::console::command::Command;
use crate::console::ring::DecisionRing;
use crate::console::state::Modal;
use crate::console::theme::Theme;
use crate::domain::{DecisionRecord, DeclaredClass, Endpoint, Fallback, StoredDecision, TaskClass};
use ratatui::crossterm::event::{KeyCode, KeyEvent};

fn now() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().expect("time")
}

fn decision(id: i64, agent: &str, endpoint: Endpoint) -> StoredDecision {
    StoredDecision {
        id,
        record: DecisionRecord {
            request_id: format!("r{id}"),
            ts: now() + TimeDelta::seconds(id),
            agent: agent.into(),
            declared_class: DeclaredClass::Routine,
            effective_class: TaskClass::Routine,
            sensitive: false,
            sensitivity_reason: None,
            endpoint,
            provider: None,
            node: Some("mini-03".into()),
            model: None,
            est_tokens: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            ttfb_ms: None,
            latency_ms: 1,
            fallback: Fallback::None,
            policy_version: 0,
            status: 200,
            error: None,
            attempts: Vec::new(),
            job_id: None,
            quality: Default::default(),
        },
    }
}

fn key(state: &mut State, code: KeyCode) -> Outcome {
    apply(state, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(state: &mut State, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c));
    }
}

fn ids(state: &State) -> Vec<i64> {
    state.visible_decisions().map(|d| d.id).collect()
}

#[test]
fn a_session_of_keys_drives_views_filter_pause_and_quit() {
    let mut state = State::new(now(), Theme::default());
    let stream = (1..=6).map(|id| {
        let (agent, endpoint) = if id % 2 == 0 {
            ("planner", Endpoint::Frontier)
        } else {
            ("summariser", Endpoint::Local)
        };
        decision(id, agent, endpoint)
    });
    assert!(apply(&mut state, Event::Decisions(stream.collect())).changed);
    assert_eq!(state.view, View::Fleet);
    key(&mut state, KeyCode::Tab);
    assert_eq!(state.view, View::Decisions);
    assert_eq!(ids(&state), [6, 5, 4, 3, 2, 1]);

    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Down);
    assert_eq!(state.selected_decision().map(|d| d.id), Some(4));

    key(&mut state, KeyCode::Char('/'));
    assert_eq!(state.mode, Mode::Filter);
    typed(&mut state, "plan");
    assert_eq!(state.filter, "plan");
    assert_eq!(ids(&state), [6, 4, 2], "q typed in a filter is text, not quit");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.mode, Mode::Normal);
    key(&mut state, KeyCode::Char('/'));
    typed(&mut state, "x");
    key(&mut state, KeyCode::Backspace);
    key(&mut state, KeyCode::Esc);
    assert!(state.filter.is_empty());

    key(&mut state, KeyCode::Char(' '));
    apply(
        &mut state,
        Event::Decisions(vec![decision(7, "planner", Endpoint::Frontier)]),
    );
    assert_eq!(ids(&state).first(), Some(&6), "paused: new decisions wait");
    key(&mut state, KeyCode::Char(' '));
    assert_eq!(ids(&state).first(), Some(&7));

    key(&mut state, KeyCode::Char('?'));
    assert_eq!(state.mode, Mode::Help);
    assert!(!key(&mut state, KeyCode::Char('d')).changed, "help swallows other keys");
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.mode, Mode::Normal);

    key(&mut state, KeyCode::Char('4'));
    assert_eq!(state.view, View::Policy);
    assert!(key(&mut state, KeyCode::Char('q')).quit);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    state.mode = Mode::Filter;
    assert!(
        apply(&mut state, Event::Key(ctrl_c)).quit,
        "Ctrl-C quits even while filtering"
    );
}

#[test]
fn an_older_selected_decision_stays_selected_as_new_ones_arrive() {
    let mut state = State::new(now(), Theme::default());
    state.view = View::Decisions;
    apply(
        &mut state,
        Event::Decisions((1..=3).map(|i| decision(i, "a", Endpoint::Local)).collect()),
    );
    key(&mut state, KeyCode::Down);
    assert_eq!(state.selected_decision().map(|d| d.id), Some(2));
    apply(
        &mut state,
        Event::Decisions((4..=5).map(|i| decision(i, "a", Endpoint::Local)).collect()),
    );
    assert_eq!(state.selected_decision().map(|d| d.id), Some(2));
}

#[test]
fn the_ring_is_bounded_and_counts_what_it_dropped() {
    let mut ring = DecisionRing::new(3);
    ring.extend((1..=5).map(|i| decision(i, "a", Endpoint::Local)));
    ring.extend([decision(4, "a", Endpoint::Local)]);
    assert_eq!(ring.iter().map(|d| d.id).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(ring.dropped(), 2);
    assert_eq!(ring.newest_id(), Some(5));
}

#[test]
fn a_full_ring_reserves_no_slot_past_its_size() {
    let mut ring = DecisionRing::new(5_000);
    ring.extend((1..=6_000).map(|i| decision(i, "a", Endpoint::Local)));
    assert_eq!(ring.len(), 5_000);
    assert!(ring.reserved() <= 5_000, "{} slots reserved", ring.reserved());
}

#[test]
fn fleet_selection_stays_within_the_nodes() {
    let mut state = State::new(now(), Theme::default());
    let nodes = (1..=3)
        .map(|i| crate::fleet::NodeSnapshot::unseen(&format!("mini-0{i}"), 1))
        .collect();
    apply(&mut state, Event::Fleet(crate::fleet::FleetSnapshot { nodes }));
    for _ in 0..5 {
        key(&mut state, KeyCode::Char('j'));
    }
    assert_eq!(state.fleet_row, 2);
    apply(&mut state, Event::Fleet(crate::fleet::FleetSnapshot::default()));
    assert_eq!(state.fleet_row, 0);
}

fn farm_of(names: &[&str]) -> crate::fleet::FleetSnapshot {
    crate::fleet::FleetSnapshot {
        nodes: names.iter().map(|n| crate::fleet::NodeSnapshot::unseen(n, 4)).collect(),
    }
}

#[test]
fn drain_asks_first_and_sends_only_on_y() {
    let mut state = State::new(now(), Theme::default());
    apply(&mut state, Event::Fleet(farm_of(&["mini-01", "mini-02"])));
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char('d'));
    match &state.modal {
        Some(Modal::Confirm(c)) => assert_eq!(c.title, "Drain mini-02?"),
        other => panic!("expected a confirmation, got {other:?}"),
    }
    assert!(
        !key(&mut state, KeyCode::Char('q')).quit,
        "q does not quit from a dialog"
    );
    assert!(state.outbox.is_empty());
    key(&mut state, KeyCode::Esc);
    assert!(state.modal.is_none() && state.outbox.is_empty(), "Esc cancels");

    key(&mut state, KeyCode::Char('d'));
    key(&mut state, KeyCode::Char('m'));
    key(&mut state, KeyCode::Char('y'));
    assert_eq!(
        state.outbox,
        [Command::Drain {
            node: "mini-02".into(),
            unload: true
        }]
    );
}

#[test]
fn pull_prompts_refuse_hostile_names_and_pull_all_confirms() {
    let mut state = State::new(now(), Theme::default());
    apply(&mut state, Event::Fleet(farm_of(&["mini-01", "mini-02"])));
    key(&mut state, KeyCode::Char('p'));
    typed(&mut state, "x; rm -rf ~");
    key(&mut state, KeyCode::Enter);
    match &state.modal {
        Some(Modal::Prompt(p)) => assert!(p.error.as_deref().unwrap_or("").contains("not a model name")),
        other => panic!("expected the prompt to stay open, got {other:?}"),
    }
    assert!(state.outbox.is_empty());
    for _ in 0..20 {
        key(&mut state, KeyCode::Backspace);
    }
    typed(&mut state, "qwen3:8b");
    key(&mut state, KeyCode::Enter);
    assert_eq!(
        state.outbox.drain(..).collect::<Vec<_>>(),
        [Command::Pull {
            node: "mini-01".into(),
            model: "qwen3:8b".into()
        }]
    );

    key(&mut state, KeyCode::Char('P'));
    typed(&mut state, "gemma3:4b");
    key(&mut state, KeyCode::Enter);
    assert!(matches!(state.modal, Some(Modal::Confirm(_))));
    key(&mut state, KeyCode::Char('y'));
    assert_eq!(state.outbox.len(), 2, "one pull per active node");
}

#[test]
fn policy_changes_are_confirmed_and_read_only_binds_nothing() {
    let mut state = State::new(now(), Theme::default());
    state.policy_base = crate::console::settings::base_values(&crate::config::FleetConfig::default());
    key(&mut state, KeyCode::Char('4'));
    key(&mut state, KeyCode::Enter);
    key(&mut state, KeyCode::Char('y'));
    assert_eq!(
        state.outbox.drain(..).collect::<Vec<_>>(),
        [Command::SetOverride {
            key: "frontier.kill_switch".into(),
            value: "on".into()
        }]
    );
    key(&mut state, KeyCode::Char('x'));
    assert!(state.modal.is_none(), "nothing to clear");
    assert!(state.notice.as_ref().is_some_and(|n| !n.ok));

    key(&mut state, KeyCode::Down);
    key(&mut state, KeyCode::Enter);
    typed(&mut state, "-3");
    key(&mut state, KeyCode::Enter);
    assert!(
        matches!(&state.modal, Some(Modal::Prompt(p)) if p.error.is_some()),
        "a bad budget is refused"
    );
    key(&mut state, KeyCode::Esc);

    state.read_only = true;
    apply(&mut state, Event::Fleet(farm_of(&["mini-01"])));
    for code in [KeyCode::Enter, KeyCode::Char('x')] {
        key(&mut state, code);
    }
    key(&mut state, KeyCode::Char('1'));
    for c in ['d', 'u', 'p', 'P'] {
        key(&mut state, KeyCode::Char(c));
    }
    assert!(
        state.modal.is_none() && state.outbox.is_empty(),
        "read-only opens no dialog"
    );
}

fn store_down() -> crate::console::state::StoreStatus {
    crate::console::state::StoreStatus::Down(crate::console::state::StoreOutage {
        since: now() - TimeDelta::seconds(12),
        attempt: 2,
        retry_at: None,
        error: "no answer within 1.0 s".into(),
    })
}

#[test]
fn with_the_store_away_changes_are_refused_before_any_confirmation() {
    let mut state = State::new(now(), Theme::default());
    apply(&mut state, Event::Fleet(farm_of(&["mini-01", "mini-02"])));
    apply(&mut state, Event::StoreStatus(store_down()));
    key(&mut state, KeyCode::Char('d'));
    assert!(state.modal.is_none(), "no confirmation opens");
    let notice = state.notice.clone().expect("a refusal");
    assert!(!notice.ok);
    assert!(
        notice
            .text
            .starts_with("the store is unreachable: routers learn of drains through it"),
        "{}",
        notice.text
    );
    key(&mut state, KeyCode::Char('p'));
    assert!(state.modal.is_none(), "no pull prompt either");
    key(&mut state, KeyCode::Char(':'));
    typed(&mut state, "undrain mini-01");
    key(&mut state, KeyCode::Enter);
    assert!(state.modal.is_none());
    assert!(state.notice.as_ref().is_some_and(|n| n.text.contains("undrains")));
    key(&mut state, KeyCode::Char('4'));
    key(&mut state, KeyCode::Enter);
    assert!(state.modal.is_none(), "no policy change either");
    assert!(state.outbox.is_empty());

    apply(
        &mut state,
        Event::StoreStatus(crate::console::state::StoreStatus::Connected),
    );
    key(&mut state, KeyCode::Char('1'));
    key(&mut state, KeyCode::Char('d'));
    assert!(
        matches!(state.modal, Some(Modal::Confirm(_))),
        "back to normal once the store answers"
    );
    apply(&mut state, Event::StoreStatus(store_down()));
    key(&mut state, KeyCode::Char('y'));
    assert!(
        state.outbox.is_empty(),
        "a dialog opened before the loss is refused on y"
    );
    assert!(state.notice.as_ref().is_some_and(|n| n.text.contains("unreachable")));
}

/// Batch jobs read at [`now`]: `batch_b` (newest, 2 failed) above `batch_a`.
fn jobs_read(batches: Vec<crate::store::BatchRow>) -> Event {
    Event::Jobs(Ok(Box::new(crate::console::jobs::JobsRead {
        at: now(),
        batches,
        depth: Vec::new(),
        running: vec![("mini-01".into(), 2)],
        failures: Vec::new(),
    })))
}

fn two_batches() -> Vec<crate::store::BatchRow> {
    use crate::console::jobs::test_batch;
    vec![test_batch("batch_b", 5, 2, 20), test_batch("batch_a", 1, 0, 10)]
}

fn confirm_title(state: &State) -> String {
    match &state.modal {
        Some(Modal::Confirm(c)) => c.title.clone(),
        other => panic!("expected a confirmation, got {other:?}"),
    }
}

#[test]
fn batch_keys_ask_first_and_send_only_on_y() {
    use crate::actions::BatchAction;
    let mut state = State::new(now(), Theme::default());
    apply(&mut state, jobs_read(two_batches()));
    key(&mut state, KeyCode::Char('5'));
    assert_eq!(state.view, View::Jobs);
    key(&mut state, KeyCode::Char('j'));
    assert_eq!(state.selected_batch().map(|b| b.id.as_str()), Some("batch_a"));

    key(&mut state, KeyCode::Char('s'));
    assert_eq!(confirm_title(&state), "Pause batch_a?");
    key(&mut state, KeyCode::Char('n'));
    assert!(state.modal.is_none() && state.outbox.is_empty(), "n cancels");

    key(&mut state, KeyCode::Char('s'));
    key(&mut state, KeyCode::Char('y'));
    assert_eq!(
        state.outbox.drain(..).collect::<Vec<_>>(),
        [Command::Batch {
            id: "batch_a".into(),
            action: BatchAction::Pause
        }]
    );

    key(&mut state, KeyCode::Char('r'));
    assert!(state.modal.is_none(), "batch_a has nothing to retry");
    assert_eq!(
        state.notice.as_ref().map(|n| (n.text.as_str(), n.ok)),
        Some(("batch_a has no failed jobs to retry", false))
    );

    key(&mut state, KeyCode::Char('k'));
    key(&mut state, KeyCode::Char('r'));
    assert_eq!(confirm_title(&state), "Retry the failed jobs of batch_b?");
    key(&mut state, KeyCode::Esc);
    key(&mut state, KeyCode::Char('C'));
    assert_eq!(confirm_title(&state), "Cancel batch_b?");
    match &state.modal {
        Some(Modal::Confirm(c)) => assert!(
            c.lines
                .iter()
                .any(|l| l.contains("13 queued job(s) go to its error file")),
            "{:?}",
            c.lines
        ),
        _ => unreachable!(),
    }
    key(&mut state, KeyCode::Char('y'));
    assert_eq!(
        state.outbox,
        [Command::Batch {
            id: "batch_b".into(),
            action: BatchAction::Cancel
        }]
    );
    state.outbox.clear();

    let mut paused = two_batches();
    paused[0].paused = true;
    apply(&mut state, jobs_read(paused));
    key(&mut state, KeyCode::Char('s'));
    assert_eq!(confirm_title(&state), "Resume batch_b?", "s resumes a paused batch");
    key(&mut state, KeyCode::Char('y'));
    assert!(matches!(
        state.outbox.as_slice(),
        [Command::Batch {
            action: BatchAction::Resume,
            ..
        }]
    ));
}

#[test]
fn batch_keys_do_nothing_outside_the_jobs_view_read_only_or_without_the_store() {
    let mut state = State::new(now(), Theme::default());
    apply(&mut state, jobs_read(two_batches()));
    for c in ['s', 'C', 'r'] {
        key(&mut state, KeyCode::Char(c));
    }
    assert!(state.modal.is_none(), "the Fleet view has no batch keys");

    key(&mut state, KeyCode::Char('5'));
    apply(&mut state, Event::StoreStatus(store_down()));
    key(&mut state, KeyCode::Char('C'));
    assert!(state.modal.is_none(), "no confirmation opens");
    let notice = state.notice.clone().expect("a refusal");
    assert!(
        notice
            .text
            .starts_with("the store is unreachable: batches are queued there"),
        "{}",
        notice.text
    );
    apply(
        &mut state,
        Event::StoreStatus(crate::console::state::StoreStatus::Connected),
    );
    key(&mut state, KeyCode::Char('C'));
    apply(&mut state, Event::StoreStatus(store_down()));
    key(&mut state, KeyCode::Char('y'));
    assert!(
        state.outbox.is_empty(),
        "a dialog opened before the loss is refused on y"
    );

    let mut state = State::new(now(), Theme::default());
    state.read_only = true;
    apply(&mut state, jobs_read(two_batches()));
    key(&mut state, KeyCode::Char('5'));
    for c in ['s', 'C', 'r'] {
        key(&mut state, KeyCode::Char(c));
    }
    assert!(state.modal.is_none() && state.outbox.is_empty(), "read-only binds none");
    key(&mut state, KeyCode::Char(':'));
    typed(&mut state, "cancel batch_b");
    key(&mut state, KeyCode::Enter);
    assert!(state.modal.is_none() && state.outbox.is_empty());
    assert_eq!(
        state.notice.as_ref().map(|n| n.text.as_str()),
        Some("read-only: this console changes nothing")
    );
}

#[test]
fn batch_commands_select_the_batch_by_id_or_unique_prefix() {
    use crate::console::jobs::test_batch;
    let mut state = State::new(now(), Theme::default());
    let mut batches = two_batches();
    batches.push(test_batch("batch_c1", 0, 0, 5));
    batches.push(test_batch("batch_c2", 0, 0, 5));
    apply(&mut state, jobs_read(batches));
    state.batch_filter = "batch_b".into();
    key(&mut state, KeyCode::Char(':'));
    typed(&mut state, "pause batch_a");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.view, View::Jobs);
    assert!(state.batch_filter.is_empty(), "a filter hiding the batch is cleared");
    assert_eq!(confirm_title(&state), "Pause batch_a?");
    key(&mut state, KeyCode::Esc);

    let run = |state: &mut State, line: &str| {
        key(state, KeyCode::Char(':'));
        typed(state, line);
        key(state, KeyCode::Enter);
        state.notice.as_ref().map(|n| n.text.clone()).unwrap_or_default()
    };
    assert_eq!(
        run(&mut state, "retry batch_zz"),
        "unknown batch `batch_zz`: not among the 4 newest (`farmhand jobs list` shows them all)"
    );
    assert_eq!(
        run(&mut state, "cancel batch_c"),
        "`batch_c` matches 2 batches: give more of the id"
    );
    assert_eq!(run(&mut state, "resume batch_c2"), "batch_c2 is not paused");
    assert!(state.modal.is_none() && state.outbox.is_empty());
    run(&mut state, "cancel batch_c2");
    assert_eq!(confirm_title(&state), "Cancel batch_c2?");
    assert_eq!(state.selected_batch().map(|b| b.id.as_str()), Some("batch_c2"));
}

#[test]
fn the_jobs_filter_and_selection_follow_the_batches() {
    use crate::console::jobs::test_batch;
    let mut state = State::new(now(), Theme::default());
    apply(&mut state, jobs_read(two_batches()));
    key(&mut state, KeyCode::Char('5'));
    key(&mut state, KeyCode::Char('j'));
    let mut newer = vec![test_batch("batch_new", 0, 0, 3)];
    newer.extend(two_batches());
    apply(&mut state, jobs_read(newer));
    assert_eq!(
        state.selected_batch().map(|b| b.id.as_str()),
        Some("batch_a"),
        "a new batch above does not move the selection"
    );

    key(&mut state, KeyCode::Char('/'));
    typed(&mut state, "_B");
    assert_eq!(state.batch_filter, "_B");
    assert!(state.filter.is_empty(), "the decision filter is untouched");
    let shown: Vec<&str> = state.visible_batches().map(|b| b.id.as_str()).collect();
    assert_eq!(shown, ["batch_b"]);
    key(&mut state, KeyCode::Enter);
    key(&mut state, KeyCode::Esc);
    assert!(state.batch_filter.is_empty(), "Esc clears it");
    assert_eq!(state.visible_batches().count(), 3);

    apply(
        &mut state,
        Event::Jobs(Err("store query failed: no such table: batches".into())),
    );
    assert_eq!(
        state.jobs_error.as_deref(),
        Some("store query failed: no such table: batches")
    );
    assert_eq!(state.visible_batches().count(), 3, "the last figures stay");
    apply(&mut state, jobs_read(two_batches()));
    assert_eq!(state.jobs_error, None);
}

#[test]
fn the_help_overlay_scrolls_with_the_row_keys() {
    let mut state = State::new(now(), Theme::default());
    key(&mut state, KeyCode::Char('?'));
    key(&mut state, KeyCode::Char('k'));
    assert_eq!(state.help_row, 0);
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Down);
    assert_eq!(state.help_row, 2);
    assert_eq!(state.mode, Mode::Help);
    key(&mut state, KeyCode::Esc);
    assert_eq!((state.mode, state.help_row), (Mode::Normal, 0));
}

#[test]
fn the_fleet_view_sorts_groups_and_filters_its_nodes_and_the_selection_follows() {
    use crate::console::fleet_order::NodeSort;
    let mut state = State::new(now(), Theme::default());
    state.fleet.nodes = ["mini-03", "mini-01", "mini-02"]
        .iter()
        .map(|n| crate::fleet::NodeSnapshot::unseen(n, 1))
        .collect();
    key(&mut state, KeyCode::Char('o'));
    assert_eq!(state.fleet_order.sort, NodeSort::State);
    key(&mut state, KeyCode::Char('O'));
    assert!(state.fleet_order.reversed);
    key(&mut state, KeyCode::Char('o'));
    assert!(!state.fleet_order.reversed, "a new column starts the right way round");
    key(&mut state, KeyCode::Char('g'));
    assert!(state.fleet_order.grouped);
    state.fleet_order = Default::default();
    key(&mut state, KeyCode::Down);
    key(&mut state, KeyCode::Down);
    key(&mut state, KeyCode::Down);
    assert_eq!(
        state.selected_node().map(|n| n.name.as_str()),
        Some("mini-03"),
        "sorted by name"
    );
    key(&mut state, KeyCode::Char('/'));
    assert_eq!(
        (state.view, state.mode),
        (View::Fleet, Mode::Filter),
        "/ filters nodes here"
    );
    typed(&mut state, "02");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.listed_nodes().len(), 1);
    assert_eq!(state.selected_node().map(|n| n.name.as_str()), Some("mini-02"));
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.listed_nodes().len(), 3, "Esc clears the node filter");
    key(&mut state, KeyCode::PageDown);
    assert_eq!(state.fleet_row, 2, "a page down stops at the last node");
    key(&mut state, KeyCode::Char('2'));
    key(&mut state, KeyCode::Char('o'));
    assert_eq!(state.fleet_order.sort, NodeSort::Name, "o sorts only in the Fleet view");
}

#[test]
fn w_cycles_the_spend_breakdowns_through_today_24h_7d_and_30d() {
    use crate::console::state::{QualitySpan, SpendSpan};
    let mut state = State::new(now(), Theme::default());
    key(&mut state, KeyCode::Char('3'));
    assert_eq!((state.view, state.spend_span), (View::Spend, SpendSpan::Day));
    for expected in [SpendSpan::Week, SpendSpan::Month, SpendSpan::Today, SpendSpan::Day] {
        key(&mut state, KeyCode::Char('w'));
        assert_eq!(state.spend_span, expected);
    }
    assert_eq!(
        state.quality_span,
        QualitySpan::Hour,
        "the Quality view keeps its own window"
    );
}

#[test]
fn the_quality_view_opens_by_key_and_command_and_w_cycles_its_window() {
    use crate::console::state::QualitySpan;
    let mut state = State::new(now(), Theme::default());
    key(&mut state, KeyCode::Char('w'));
    assert_eq!(
        state.quality_span,
        QualitySpan::Hour,
        "w does nothing outside the Quality view"
    );
    key(&mut state, KeyCode::Char('6'));
    assert_eq!(state.view, View::Quality);
    for expected in [QualitySpan::Day, QualitySpan::Week, QualitySpan::Hour] {
        key(&mut state, KeyCode::Char('w'));
        assert_eq!(state.quality_span, expected);
    }
    key(&mut state, KeyCode::Char('1'));
    key(&mut state, KeyCode::Char(':'));
    typed(&mut state, "quality");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.view, View::Quality);
}

#[test]
fn enter_on_a_suggestion_asks_first_then_sets_its_override() {
    use crate::console::state::Modal;
    let mut state = State::new(now(), Theme::default());
    key(&mut state, KeyCode::Char('6'));
    key(&mut state, KeyCode::Enter);
    assert!(state.modal.is_none(), "nothing to apply yet");
    let suggestion = |value: &str| crate::quality::recommend::Recommendation {
        class: crate::domain::TaskClass::Reasoning,
        key: "class.reasoning.local_under_tokens".into(),
        value: value.into(),
        under_tokens: 2000,
        requests: 50,
        samples: 50,
        agreement: 0.95,
        agreement_low: 0.9,
        agreement_high: 0.99,
        usd_per_day: 4.0,
        summary: "reasoning requests under …".into(),
    };
    apply(
        &mut state,
        Event::Recommendations(vec![suggestion("8000"), suggestion("2000")]),
    );
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Enter);
    let Some(Modal::Confirm(confirm)) = &state.modal else {
        panic!("a confirmation first: {:?}", state.modal);
    };
    assert_eq!(confirm.title, "Set class.reasoning.local_under_tokens = 2000?");
    assert_eq!(
        confirm.commands,
        [Command::SetOverride {
            key: "class.reasoning.local_under_tokens".into(),
            value: "2000".into(),
        }]
    );
}
