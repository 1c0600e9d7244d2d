//! Dialogs: what `d`, `u`, `p`, `P`, Enter and `x` open, and the keys while one is open. Nothing
//! changes the farm until a confirmation is answered `y`; then the commands go to the outbox.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::{MAX_LINE_CHARS, Outcome, edit_line, is_ctrl_c, quit};
use crate::console::command::Command;
use crate::console::keys::Action;
use crate::console::outage::{command_refusal, refusal};
use crate::console::settings::{SETTINGS, SettingKind};
use crate::console::state::{Confirm, Modal, Notice, Prompt, PromptFor, State, View};
use crate::domain::{DrainState, valid_model_name};
use crate::router::validate_override;

/// `d`, `u`, `p`, `P` in the Fleet view: open the confirmation or the model prompt.
pub(super) fn on_node_action(state: &mut State, action: Action) -> Outcome {
    if state.read_only || state.view != View::Fleet {
        return Outcome::UNCHANGED;
    }
    if let Some(why) = refusal(state, action) {
        return notice(state, why, false);
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
pub(super) fn pull_all_prompt(state: &State) -> Modal {
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

/// Enter in the Quality view: confirm applying the selected suggestion as an audited override.
fn confirm_recommendation(state: &mut State) -> Outcome {
    if let Some(why) = refusal(state, Action::Change) {
        return notice(state, why, false);
    }
    let Some(suggestion) = state.recommendations.get(state.recommendation_row) else {
        return notice(state, "no suggestion to apply".into(), false);
    };
    let (key, value) = (suggestion.key.clone(), suggestion.value.clone());
    let lines = vec![suggestion.summary.clone(), enforced_line(state)];
    state.modal = Some(Modal::Confirm(Confirm {
        title: format!("Set {key} = {value}?"),
        lines,
        commands: vec![Command::SetOverride { key, value }],
    }));
    Outcome::CHANGED
}

/// Enter and `x` in the Policy view: confirm a toggle, prompt for a value, or confirm a clear;
/// Enter in the Quality view: confirm applying the selected suggestion.
pub(super) fn on_policy_action(state: &mut State, action: Action) -> Outcome {
    if !state.read_only && state.view == View::Quality && action == Action::Change {
        return confirm_recommendation(state);
    }
    if state.read_only || state.view != View::Policy {
        return Outcome::UNCHANGED;
    }
    if let Some(why) = refusal(state, action) {
        return notice(state, why, false);
    }
    let Some(setting) = SETTINGS.get(state.policy_row) else {
        return Outcome::UNCHANGED;
    };
    if action == Action::ClearOverride {
        return confirm_clear(state, setting.key);
    }
    let current = state.setting(setting.key).0.to_string();
    let enforced = enforced_line(state);
    state.modal = Some(match setting.kind {
        SettingKind::Choice(_) => {
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
        SettingKind::Dollars | SettingKind::Model => Modal::Prompt(Prompt {
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

/// Opens the confirmation of clearing override `key`, or says there is none to clear.
pub(super) fn confirm_clear(state: &mut State, key: &str) -> Outcome {
    if let Some(why) = refusal(state, Action::ClearOverride) {
        return notice(state, why, false);
    }
    let (current, overridden) = state.setting(key);
    if !overridden {
        let shown: String = key.chars().take(48).collect();
        return notice(state, format!("no override `{shown}` is set"), false);
    }
    state.modal = Some(Modal::Confirm(Confirm {
        title: format!("Clear the override of {key}?"),
        lines: vec![
            format!("It is {current}; fleet.toml's value applies again."),
            enforced_line(state),
        ],
        commands: vec![Command::ClearOverride { key: key.into() }],
    }));
    Outcome::CHANGED
}

/// What confirming a policy change does: the next version, enforced by every router.
fn enforced_line(state: &State) -> String {
    let version = state.control.version;
    format!(
        "Policy version {version} → {}; every router enforces it within 1 s.",
        version + 1
    )
}

/// Shows a result or refusal in the status bar.
pub(super) fn notice(state: &mut State, text: String, ok: bool) -> Outcome {
    state.notice = Some(Notice {
        text,
        ok,
        at: state.now,
    });
    Outcome::CHANGED
}

/// Keys while a dialog is open: it owns them until answered (Ctrl-C still quits).
pub(super) fn on_modal_key(state: &mut State, modal: Modal, key: &KeyEvent) -> Outcome {
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
                // The store may have gone away while the dialog was open.
                if let Some(why) = confirm.commands.iter().find_map(|c| command_refusal(state, c)) {
                    return notice(state, why, false);
                }
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
                code => {
                    edit_line(&mut prompt.input, code, MAX_LINE_CHARS);
                }
            }
            prompt.error = None;
            state.modal = Some(Modal::Prompt(prompt));
            Outcome::CHANGED
        }
    }
}

/// Enter in a prompt: check the text; on success start (or confirm) the action.
pub(super) fn submit_prompt(state: &mut State, mut prompt: Prompt) -> Outcome {
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
            state.modal = Some(Modal::Confirm(Confirm {
                title: format!("Set {key} = {input}?"),
                lines: vec![enforced_line(state)],
                commands: vec![Command::SetOverride { key, value: input }],
            }));
        }
    }
    Outcome::CHANGED
}
