//! The only place the console's state changes: one event in, what it changed out.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::command::{ActionEvent, Command};
use super::event::Event;
use super::keys::Action;
use super::settings::{SETTINGS, SettingKind};
use super::state::{Confirm, DrainView, Modal, Mode, Notice, Prompt, PromptFor, PullView, State, View};
use crate::domain::{DrainState, valid_model_name};
use crate::router::validate_override;

/// How long a notice stays in the status bar.
const NOTICE_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Finished drains and pulls kept on screen.
const FINISHED_KEPT: usize = 6;

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
            for d in &decisions {
                if let Some(node) = &d.record.node {
                    let tokens = u64::try_from(d.record.prompt_tokens + d.record.completion_tokens).unwrap_or(0);
                    state.rates.record(node, d.record.ts, tokens);
                }
            }
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
        Event::Action(event) => {
            on_action_event(state, event);
            Outcome::CHANGED
        }
        Event::Tick(now) => {
            state.now = now;
            if state.notice.as_ref().is_some_and(|n| now - n.at > NOTICE_FOR) {
                state.notice = None;
            }
            Outcome::CHANGED
        }
    }
}

fn on_action_event(state: &mut State, event: ActionEvent) {
    let now = state.now;
    match event {
        ActionEvent::Notice { text, ok } => state.notice = Some(Notice { text, ok, at: now }),
        ActionEvent::Drain(status) => {
            let view = state.drains.entry(status.node.clone()).or_insert_with(|| DrainView {
                status: status.clone(),
                stuck: None,
                since: now,
            });
            view.status = status;
            view.stuck = None;
        }
        ActionEvent::DrainStuck { node, message } => {
            if let Some(view) = state.drains.get_mut(&node) {
                view.stuck = Some(message.clone());
            }
            state.notice = Some(Notice {
                text: message,
                ok: false,
                at: now,
            });
        }
        ActionEvent::PullStarted { node, model } => {
            state.pulls.insert(
                node,
                PullView {
                    model,
                    status: "starting".into(),
                    fraction: None,
                    outcome: None,
                    since: now,
                },
            );
        }
        ActionEvent::PullProgress {
            node,
            fraction,
            progress,
        } => {
            if let Some(view) = state.pulls.get_mut(&node) {
                view.status = progress.status;
                view.fraction = fraction.or(view.fraction);
            }
        }
        ActionEvent::PullEnded { node, outcome } => {
            if let Some(view) = state.pulls.get_mut(&node) {
                let text = match &outcome {
                    crate::actions::PullOutcome::Succeeded => format!("{node}: pulled {}", view.model),
                    crate::actions::PullOutcome::Cancelled => format!("{node}: pull of {} cancelled", view.model),
                    crate::actions::PullOutcome::Failed(why) => format!("{node}: pull of {} failed: {why}", view.model),
                };
                state.notice = Some(Notice {
                    ok: !matches!(outcome, crate::actions::PullOutcome::Failed(_)),
                    text,
                    at: now,
                });
                view.outcome = Some(outcome);
            }
        }
    }
    forget_finished(state);
}

/// Keeps only the newest finished drains and pulls, so the pane stays small.
fn forget_finished(state: &mut State) {
    let mut finished: Vec<(chrono::DateTime<chrono::Utc>, String, bool)> = state
        .drains
        .iter()
        .filter(|(_, d)| d.status.state != DrainState::Draining || d.stuck.is_some())
        .map(|(n, d)| (d.since, n.clone(), true))
        .chain(
            state
                .pulls
                .iter()
                .filter(|(_, p)| p.outcome.is_some())
                .map(|(n, p)| (p.since, n.clone(), false)),
        )
        .collect();
    if finished.len() <= FINISHED_KEPT {
        return;
    }
    finished.sort();
    for (_, node, is_drain) in finished.into_iter().rev().skip(FINISHED_KEPT) {
        if is_drain {
            state.drains.remove(&node);
        } else {
            state.pulls.remove(&node);
        }
    }
}

fn on_key(state: &mut State, key: &KeyEvent) -> Outcome {
    if let Some(modal) = state.modal.take() {
        return on_modal_key(state, modal, key);
    }
    match state.mode {
        Mode::Filter => on_filter_key(state, key),
        Mode::Command => on_command_key(state, key),
        Mode::Help => match state.keymap.action_for(key, state.read_only) {
            Some(Action::Quit) if key.code != KeyCode::Char('q') => quit(),
            Some(Action::Back | Action::Help | Action::Quit) => {
                state.mode = Mode::Normal;
                Outcome::CHANGED
            }
            _ => Outcome::UNCHANGED,
        },
        Mode::Normal => match state.keymap.action_for(key, state.read_only) {
            Some(action) => on_action(state, action),
            None => Outcome::UNCHANGED,
        },
    }
}

/// Ctrl-C (and any Ctrl key bound to quit) quits from anywhere, even while typing.
fn is_ctrl_c(state: &State, key: &KeyEvent) -> bool {
    key.modifiers.contains(ratatui::crossterm::event::KeyModifiers::CONTROL)
        && (key.code == KeyCode::Char('c') || state.keymap.action_for(key, true) == Some(Action::Quit))
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
            View::Policy => state.policy_row = state.policy_row.saturating_sub(1),
            View::Spend => return Outcome::UNCHANGED,
        },
        Action::Down => match state.view {
            View::Fleet => {
                state.fleet_row = (state.fleet_row + 1).min(state.fleet.nodes.len().saturating_sub(1));
            }
            View::Decisions => {
                state.decision_row += 1;
                clamp_decision_row(state);
            }
            View::Policy => state.policy_row = (state.policy_row + 1).min(SETTINGS.len() - 1),
            View::Spend => return Outcome::UNCHANGED,
        },
        Action::Filter => {
            state.view = View::Decisions;
            state.mode = Mode::Filter;
        }
        Action::Back => {
            if state.view == View::Fleet
                && let Some(node) = state.selected_node().map(|n| n.name.clone())
                && state.pulls.get(&node).is_some_and(|p| p.outcome.is_none())
            {
                state.outbox.push(Command::CancelPull { node });
                return Outcome::CHANGED;
            }
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
        Action::Command => {
            state.command.clear();
            state.mode = Mode::Command;
        }
        Action::Drain | Action::Undrain | Action::Pull | Action::PullAll => return on_node_action(state, action),
        Action::Change | Action::ClearOverride => return on_policy_action(state, action),
    }
    Outcome::CHANGED
}

/// `d`, `u`, `p`, `P` in the Fleet view: open the confirmation or the model prompt.
fn on_node_action(state: &mut State, action: Action) -> Outcome {
    if state.read_only || state.view != View::Fleet {
        return Outcome::UNCHANGED;
    }
    let Some(node) = state.selected_node().map(|n| n.name.clone()) else {
        return Outcome::UNCHANGED;
    };
    let drain = state.control.node_state(&node);
    let in_flight = state.in_flight.as_ref().and_then(|c| c.get(&node).copied());
    let in_flight_text = match in_flight {
        Some(n) => format!("{node} has {n} request(s) in flight."),
        None => format!("{node}'s in-flight count is not known yet (no router has reported)."),
    };
    state.modal = Some(match action {
        Action::Drain if drain != DrainState::Active => {
            return notice(state, format!("{node} is already {drain}"), false);
        }
        Action::Drain => Modal::Confirm(Confirm {
            title: format!("Drain {node}?"),
            lines: vec![
                in_flight_text,
                "Routers place nothing new on it within 1 s; requests in flight finish.".into(),
                "It turns `drained` when no router has work there (gives up after 120 s).".into(),
            ],
            commands: vec![Command::Drain { node, unload: false }],
        }),
        Action::Undrain if drain == DrainState::Active => {
            return notice(state, format!("{node} is already active"), false);
        }
        Action::Undrain => Modal::Confirm(Confirm {
            title: format!("Undrain {node}?"),
            lines: vec![format!(
                "{node} is {drain}. Routers place new work on it again within 1 s."
            )],
            commands: vec![Command::Undrain { node }],
        }),
        Action::Pull => Modal::Prompt(Prompt {
            title: format!("Pull a model onto {node}"),
            purpose: PromptFor::Pull { node },
            input: String::new(),
            error: None,
        }),
        _ => pull_all_prompt(state),
    });
    Outcome::CHANGED
}

/// The prompt for a model to pull onto every active node.
fn pull_all_prompt(state: &State) -> Modal {
    let nodes: Vec<String> = state
        .fleet
        .nodes
        .iter()
        .filter(|n| state.control.node_state(&n.name) == DrainState::Active)
        .map(|n| n.name.clone())
        .collect();
    Modal::Prompt(Prompt {
        title: format!("Pull a model onto every active node ({})", nodes.len()),
        purpose: PromptFor::PullAll { nodes },
        input: String::new(),
        error: None,
    })
}

/// Enter and `x` in the Policy view: confirm a toggle, prompt for a value, or confirm a clear.
fn on_policy_action(state: &mut State, action: Action) -> Outcome {
    if state.read_only || state.view != View::Policy {
        return Outcome::UNCHANGED;
    }
    let Some(setting) = SETTINGS.get(state.policy_row) else {
        return Outcome::UNCHANGED;
    };
    let (current, overridden) = state.setting(setting.key);
    let current = current.to_string();
    let version = state.control.version;
    let enforced = format!(
        "Policy version {version} → {}; every router enforces it within 1 s.",
        version + 1
    );
    state.modal = Some(match (action, setting.kind) {
        (Action::ClearOverride, _) if !overridden => {
            return notice(state, format!("{} has no override to clear", setting.key), false);
        }
        (Action::ClearOverride, _) => Modal::Confirm(Confirm {
            title: format!("Clear the override of {}?", setting.key),
            lines: vec![format!("It is {current}; fleet.toml's value applies again."), enforced],
            commands: vec![Command::ClearOverride {
                key: setting.key.into(),
            }],
        }),
        (_, SettingKind::Choice(_)) => {
            let next = setting.next_choice(&current).unwrap_or_default();
            Modal::Confirm(Confirm {
                title: format!("Set {} = {next}?", setting.key),
                lines: vec![format!("It is {current} now."), enforced],
                commands: vec![Command::SetOverride {
                    key: setting.key.into(),
                    value: next.into(),
                }],
            })
        }
        (_, SettingKind::Dollars | SettingKind::Model) => Modal::Prompt(Prompt {
            title: format!("New value of {} (now {current})", setting.key),
            purpose: PromptFor::Override {
                key: setting.key.into(),
            },
            input: String::new(),
            error: None,
        }),
    });
    Outcome::CHANGED
}

fn notice(state: &mut State, text: String, ok: bool) -> Outcome {
    state.notice = Some(Notice {
        text,
        ok,
        at: state.now,
    });
    Outcome::CHANGED
}

/// Keys while a dialog is open: it owns them until answered (Ctrl-C still quits).
fn on_modal_key(state: &mut State, modal: Modal, key: &KeyEvent) -> Outcome {
    if key.kind != KeyEventKind::Press {
        state.modal = Some(modal);
        return Outcome::UNCHANGED;
    }
    if is_ctrl_c(state, key) {
        return quit();
    }
    match modal {
        Modal::Confirm(mut confirm) => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                state.outbox.append(&mut confirm.commands);
                Outcome::CHANGED
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                notice(state, "cancelled: nothing changed".into(), true)
            }
            KeyCode::Char('m') => {
                for command in &mut confirm.commands {
                    if let Command::Drain { unload, .. } = command {
                        *unload = !*unload;
                    }
                }
                state.modal = Some(Modal::Confirm(confirm));
                Outcome::CHANGED
            }
            _ => {
                state.modal = Some(Modal::Confirm(confirm));
                Outcome::UNCHANGED
            }
        },
        Modal::Prompt(mut prompt) => {
            match key.code {
                KeyCode::Esc => return notice(state, "cancelled: nothing changed".into(), true),
                KeyCode::Enter => return submit_prompt(state, prompt),
                KeyCode::Backspace => {
                    prompt.input.pop();
                }
                KeyCode::Char(c) if !c.is_control() && prompt.input.chars().count() < 200 => prompt.input.push(c),
                _ => {}
            }
            prompt.error = None;
            state.modal = Some(Modal::Prompt(prompt));
            Outcome::CHANGED
        }
    }
}

/// Enter in a prompt: check the text; on success start (or confirm) the action.
fn submit_prompt(state: &mut State, mut prompt: Prompt) -> Outcome {
    let input = prompt.input.trim().to_string();
    let refusal = match &prompt.purpose {
        PromptFor::Pull { .. } | PromptFor::PullAll { .. } => (!valid_model_name(&input)).then(|| {
            "not a model name: [host/][namespace/]name[:tag] of letters, digits, . _ - (e.g. qwen3:8b)".to_string()
        }),
        PromptFor::Override { key } => validate_override(key, &input).err().map(|e| e.to_string()),
    };
    if let Some(why) = refusal {
        prompt.error = Some(why);
        state.modal = Some(Modal::Prompt(prompt));
        return Outcome::CHANGED;
    }
    match prompt.purpose {
        PromptFor::Pull { node } => state.outbox.push(Command::Pull { node, model: input }),
        PromptFor::PullAll { nodes } if nodes.is_empty() => {
            return notice(state, "no active node to pull onto".into(), false);
        }
        PromptFor::PullAll { nodes } => {
            state.modal = Some(Modal::Confirm(Confirm {
                title: format!("Pull {input} onto {} active node(s)?", nodes.len()),
                lines: vec![
                    nodes.join(", "),
                    "Each node pulls on its own; progress shows per node; Esc on a node cancels its pull.".into(),
                ],
                commands: nodes
                    .into_iter()
                    .map(|node| Command::Pull {
                        node,
                        model: input.clone(),
                    })
                    .collect(),
            }));
        }
        PromptFor::Override { key } => {
            let version = state.control.version;
            state.modal = Some(Modal::Confirm(Confirm {
                title: format!("Set {key} = {input}?"),
                lines: vec![format!(
                    "Policy version {version} → {}; every router enforces it within 1 s.",
                    version + 1
                )],
                commands: vec![Command::SetOverride { key, value: input }],
            }));
        }
    }
    Outcome::CHANGED
}

fn on_filter_key(state: &mut State, key: &KeyEvent) -> Outcome {
    if key.kind != KeyEventKind::Press {
        return Outcome::UNCHANGED;
    }
    if is_ctrl_c(state, key) {
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

/// Keys while the `:` command line is open.
fn on_command_key(state: &mut State, key: &KeyEvent) -> Outcome {
    if key.kind != KeyEventKind::Press {
        return Outcome::UNCHANGED;
    }
    if is_ctrl_c(state, key) {
        return quit();
    }
    match key.code {
        KeyCode::Esc => state.mode = Mode::Normal,
        KeyCode::Backspace => {
            state.command.pop();
        }
        KeyCode::Enter => {
            state.mode = Mode::Normal;
            let line = std::mem::take(&mut state.command);
            return run_command(state, &line);
        }
        KeyCode::Char(c) if !c.is_control() && state.command.chars().count() < 200 => state.command.push(c),
        _ => return Outcome::UNCHANGED,
    }
    Outcome::CHANGED
}

/// Carries out a `:` command: the same paths the keys take, confirmations included.
fn run_command(state: &mut State, line: &str) -> Outcome {
    use super::palette::{Palette, parse};
    let command = match parse(line) {
        Ok(command) => command,
        Err(why) => return notice(state, why, false),
    };
    if state.read_only && command.mutates() {
        return notice(state, "read-only: this console changes nothing".into(), false);
    }
    let select = |state: &mut State, node: &str| match state.fleet.nodes.iter().position(|n| n.name == node) {
        Some(row) => {
            state.fleet_row = row;
            state.view = View::Fleet;
            true
        }
        None => false,
    };
    match command {
        Palette::Show(view) => state.view = view,
        Palette::Filter(text) => {
            state.view = View::Decisions;
            state.filter = text.chars().take(64).collect();
            state.decision_row = 0;
        }
        Palette::Help => state.mode = Mode::Help,
        Palette::Quit => return quit(),
        Palette::Drain(node) | Palette::Undrain(node) | Palette::Pull(node, _) if !select(state, &node) => {
            let shown: String = node.chars().take(32).collect();
            return notice(state, format!("unknown node `{shown}`"), false);
        }
        Palette::Drain(_) => return on_node_action(state, Action::Drain),
        Palette::Undrain(_) => return on_node_action(state, Action::Undrain),
        Palette::Pull(node, model) => state.outbox.push(Command::Pull { node, model }),
        Palette::PullAll(model) => {
            let mut prompt = match pull_all_prompt(state) {
                Modal::Prompt(prompt) => prompt,
                confirm => {
                    state.modal = Some(confirm);
                    return Outcome::CHANGED;
                }
            };
            prompt.input = model;
            return submit_prompt(state, prompt);
        }
        Palette::Set(key, value) => {
            let prompt = Prompt {
                title: format!("New value of {key}"),
                purpose: PromptFor::Override { key },
                input: value,
                error: None,
            };
            let outcome = submit_prompt(state, prompt);
            if let Some(Modal::Prompt(p)) = state.modal.take() {
                return notice(state, p.error.unwrap_or_default(), false);
            }
            return outcome;
        }
        Palette::Clear(key) => {
            if !state.control.overrides.iter().any(|(k, _)| *k == key) {
                let shown: String = key.chars().take(48).collect();
                return notice(state, format!("no override `{shown}` is set"), false);
            }
            let version = state.control.version;
            state.modal = Some(Modal::Confirm(Confirm {
                title: format!("Clear the override of {key}?"),
                lines: vec![format!(
                    "fleet.toml's value applies again. Policy version {version} → {}; every router enforces it within 1 s.",
                    version + 1
                )],
                commands: vec![Command::ClearOverride { key }],
            }));
        }
    }
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
}
