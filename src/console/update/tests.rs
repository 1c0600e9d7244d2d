//! Key sessions and events through [`super::apply`].

use chrono::{DateTime, TimeDelta, Utc};
use ratatui::crossterm::event::KeyModifiers;

use super::*;
use crate::console::command::Command;
use crate::console::state::DecisionRing;
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
    assert!(!key(&mut state, KeyCode::Char('j')).changed, "help swallows other keys");
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
