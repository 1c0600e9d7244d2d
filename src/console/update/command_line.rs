//! The `:` command line: its keys, and carrying out a parsed command along the paths the keys take.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::batches::{confirm_batch, select_batch};
use super::dialogs::{confirm_clear, notice, on_node_action, pull_all_prompt, submit_prompt};
use super::{MAX_LINE_CHARS, Outcome, edit_line, is_ctrl_c, quit};
use crate::console::command::Command;
use crate::console::keys::Action;
use crate::console::outage::{batch_key, refusal};
use crate::console::state::{Modal, Mode, Prompt, PromptFor, State, View};

/// Keys while the `:` command line is open.
pub(super) fn on_command_key(state: &mut State, key: &KeyEvent) -> Outcome {
    if key.kind != KeyEventKind::Press {
        return Outcome::UNCHANGED;
    }
    if is_ctrl_c(state, key) {
        return quit();
    }
    match key.code {
        KeyCode::Esc => state.mode = Mode::Normal,
        KeyCode::Enter => {
            state.mode = Mode::Normal;
            let line = std::mem::take(&mut state.command);
            return run_command(state, &line);
        }
        code => {
            if !edit_line(&mut state.command, code, MAX_LINE_CHARS) {
                return Outcome::UNCHANGED;
            }
        }
    }
    Outcome::CHANGED
}

/// Carries out a `:` command: the same paths the keys take, confirmations included.
pub(super) fn run_command(state: &mut State, line: &str) -> Outcome {
    use crate::console::palette::{Palette, parse};
    let command = match parse(line) {
        Ok(command) => command,
        Err(why) => return notice(state, why, false),
    };
    if state.read_only && command.mutates() {
        return notice(state, "read-only: this console changes nothing".into(), false);
    }
    let needs = match &command {
        Palette::Drain(_) => Some(Action::Drain),
        Palette::Undrain(_) => Some(Action::Undrain),
        Palette::Pull(..) => Some(Action::Pull),
        Palette::PullAll(_) => Some(Action::PullAll),
        Palette::Set(..) => Some(Action::Change),
        Palette::Clear(_) => Some(Action::ClearOverride),
        Palette::Batch(action, _) => Some(batch_key(*action)),
        _ => None,
    };
    if let Some(why) = needs.and_then(|action| refusal(state, action)) {
        return notice(state, why, false);
    }
    let select = |state: &mut State, node: &str| {
        let found = state.select_node(node);
        if found {
            state.view = View::Fleet;
        }
        found
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
        Palette::Clear(key) => return confirm_clear(state, &key),
        Palette::Batch(action, wanted) => {
            return match select_batch(state, &wanted) {
                Ok(batch) => confirm_batch(state, &batch, action),
                Err(why) => notice(state, why, false),
            };
        }
    }
    Outcome::CHANGED
}
