//! The only place the console's state changes: one event in, what it changed out.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::event::Event;
use super::keys::{Action, action_for};
use super::state::{Mode, State, View};

/// What handling an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The screen needs redrawing.
    pub changed: bool,
    /// The user asked to quit.
    pub quit: bool,
}

impl Outcome {
    const UNCHANGED: Outcome = Outcome {
        changed: false,
        quit: false,
    };
    const CHANGED: Outcome = Outcome {
        changed: true,
        quit: false,
    };
}

/// Applies one event to the state.
pub fn apply(state: &mut State, event: Event) -> Outcome {
    match event {
        Event::Key(key) => on_key(state, &key),
        Event::Resize => Outcome::CHANGED,
        Event::Fleet(fleet) => {
            state.fleet = fleet;
            state.fleet_row = state.fleet_row.min(state.fleet.nodes.len().saturating_sub(1));
            Outcome::CHANGED
        }
        Event::Control(control) => {
            state.control = control;
            Outcome::CHANGED
        }
        Event::Decisions(decisions) => {
            if decisions.is_empty() {
                return Outcome::UNCHANGED;
            }
            // Keep the selected decision in place while the user looks at an older one.
            let before = state.visible_decisions().count();
            state.decisions.extend(decisions);
            if state.decision_row > 0 && state.paused_at.is_none() {
                let added = state.visible_decisions().count().saturating_sub(before);
                state.decision_row += added;
            }
            clamp_decision_row(state);
            Outcome::CHANGED
        }
        Event::Spend(spend) => {
            state.spend = Some(*spend);
            Outcome::CHANGED
        }
        Event::Audit(rows) => {
            let changed = state.audit != rows;
            state.audit = rows;
            Outcome { changed, quit: false }
        }
        Event::StoreStatus(status) => {
            let changed = state.store != status;
            state.store = status;
            Outcome { changed, quit: false }
        }
        Event::InFlight(counts) => {
            let counts = counts.into_iter().collect();
            let changed = state.in_flight.as_ref() != Some(&counts);
            state.in_flight = Some(counts);
            Outcome { changed, quit: false }
        }
        Event::Tick(now) => {
            state.now = now;
            Outcome::CHANGED
        }
    }
}

fn on_key(state: &mut State, key: &KeyEvent) -> Outcome {
    match state.mode {
        Mode::Filter => on_filter_key(state, key),
        Mode::Help => match action_for(key) {
            Some(Action::Quit) if key.code != KeyCode::Char('q') => quit(),
            Some(Action::Back | Action::Help | Action::Quit) => {
                state.mode = Mode::Normal;
                Outcome::CHANGED
            }
            _ => Outcome::UNCHANGED,
        },
        Mode::Normal => match action_for(key) {
            Some(action) => on_action(state, action),
            None => Outcome::UNCHANGED,
        },
    }
}

fn quit() -> Outcome {
    Outcome {
        changed: false,
        quit: true,
    }
}

fn on_action(state: &mut State, action: Action) -> Outcome {
    match action {
        Action::Quit => return quit(),
        Action::ShowFleet => state.view = View::Fleet,
        Action::ShowDecisions => state.view = View::Decisions,
        Action::ShowSpend => state.view = View::Spend,
        Action::ShowPolicy => state.view = View::Policy,
        Action::NextView => state.view = state.view.next(),
        Action::Up => match state.view {
            View::Fleet => state.fleet_row = state.fleet_row.saturating_sub(1),
            View::Decisions => state.decision_row = state.decision_row.saturating_sub(1),
            View::Spend | View::Policy => return Outcome::UNCHANGED,
        },
        Action::Down => match state.view {
            View::Fleet => {
                state.fleet_row = (state.fleet_row + 1).min(state.fleet.nodes.len().saturating_sub(1));
            }
            View::Decisions => {
                state.decision_row += 1;
                clamp_decision_row(state);
            }
            View::Spend | View::Policy => return Outcome::UNCHANGED,
        },
        Action::Filter => {
            state.view = View::Decisions;
            state.mode = Mode::Filter;
        }
        Action::Back => {
            if state.filter.is_empty() && state.decision_row == 0 {
                return Outcome::UNCHANGED;
            }
            state.filter.clear();
            state.decision_row = 0;
        }
        Action::Pause => {
            state.paused_at = match state.paused_at {
                Some(_) => None,
                None => Some(state.decisions.newest_id().unwrap_or(0)),
            };
            clamp_decision_row(state);
        }
        Action::Help => state.mode = Mode::Help,
    }
    Outcome::CHANGED
}

fn on_filter_key(state: &mut State, key: &KeyEvent) -> Outcome {
    if key.kind != KeyEventKind::Press {
        return Outcome::UNCHANGED;
    }
    if action_for(key).is_some_and(|a| a == super::keys::Action::Quit) && key.code != KeyCode::Char('q') {
        return quit();
    }
    match key.code {
        KeyCode::Enter => state.mode = Mode::Normal,
        KeyCode::Esc => {
            state.filter.clear();
            state.mode = Mode::Normal;
        }
        KeyCode::Backspace => {
            state.filter.pop();
        }
        KeyCode::Char(c) if !c.is_control() && state.filter.chars().count() < 64 => state.filter.push(c),
        _ => return Outcome::UNCHANGED,
    }
    state.decision_row = 0;
    Outcome::CHANGED
}

fn clamp_decision_row(state: &mut State) {
    let shown = state.visible_decisions().count();
    state.decision_row = state.decision_row.min(shown.saturating_sub(1));
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use ratatui::crossterm::event::KeyModifiers;

    use super::*;
    use crate::console::state::DecisionRing;
    use crate::console::theme::Theme;
    use crate::domain::{DecisionRecord, DeclaredClass, Endpoint, Fallback, StoredDecision, TaskClass};

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
}
