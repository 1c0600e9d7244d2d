//! The only place the console's state changes: one event in, what it changed out. Dialogs, batch
//! actions, the `:` command line and action progress have a file each below.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

mod batches;
mod command_line;
mod dialogs;
mod progress;
#[cfg(test)]
mod tests;

use super::command::Command;
use super::event::Event;
use super::keys::Action;
use super::settings::SETTINGS;
use super::state::{Mode, State, View};
use batches::{on_batch_action, on_jobs};
use command_line::on_command_key;
use dialogs::{on_modal_key, on_node_action, on_policy_action};
use progress::on_action_event;

/// How long a notice stays in the status bar.
const NOTICE_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// What handling an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The screen needs redrawing.
    pub changed: bool,
    /// The user asked to quit.
    pub quit: bool,
}

impl Outcome {
    pub(super) const UNCHANGED: Outcome = Outcome {
        changed: false,
        quit: false,
    };
    pub(super) const CHANGED: Outcome = Outcome {
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
            state.pressure_history.record(&fleet, state.now);
            state.fleet = fleet;
            clamp_fleet_row(state);
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
        Event::Recommendations(found) => {
            let changed = state.recommendations != found;
            state.recommendations = found;
            state.recommendation_row = state
                .recommendation_row
                .min(state.recommendations.len().saturating_sub(1));
            Outcome { changed, quit: false }
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
        Event::Routers(routers) => {
            let changed = state.routers != routers;
            state.routers = routers;
            Outcome { changed, quit: false }
        }
        Event::Jobs(read) => on_jobs(state, read),
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
                state.help_row = 0;
                Outcome::CHANGED
            }
            // The row keys move through the bindings; the overlay scrolls to keep the row shown.
            Some(Action::Up) if state.help_row > 0 => {
                state.help_row -= 1;
                Outcome::CHANGED
            }
            Some(Action::Down) if state.help_row + 1 < state.keymap.rows().len() => {
                state.help_row += 1;
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
pub(super) fn is_ctrl_c(state: &State, key: &KeyEvent) -> bool {
    key.modifiers.contains(ratatui::crossterm::event::KeyModifiers::CONTROL)
        && (key.code == KeyCode::Char('c') || state.keymap.action_for(key, true) == Some(Action::Quit))
}

/// Longest `:` command line or prompt answer, in characters.
pub(super) const MAX_LINE_CHARS: usize = 200;

/// Edits a one-line input (command line, filter, prompt): Backspace deletes the last character,
/// a printable one is appended while the line is shorter than `max_chars`. Returns whether `code`
/// edited the line (Backspace always counts).
pub(super) fn edit_line(line: &mut String, code: KeyCode, max_chars: usize) -> bool {
    match code {
        KeyCode::Backspace => {
            line.pop();
            true
        }
        KeyCode::Char(c) if !c.is_control() && line.chars().count() < max_chars => {
            line.push(c);
            true
        }
        _ => false,
    }
}

pub(super) fn quit() -> Outcome {
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
        Action::ShowJobs => state.view = View::Jobs,
        Action::ShowQuality => state.view = View::Quality,
        Action::QualityWindow if state.view == View::Quality => state.quality_span = state.quality_span.next(),
        Action::QualityWindow if state.view == View::Spend => state.spend_span = state.spend_span.next(),
        Action::QualityWindow => return Outcome::UNCHANGED,
        Action::NextView => state.view = state.view.next(),
        Action::Up => match state.view {
            View::Fleet => state.fleet_row = state.fleet_row.saturating_sub(1),
            View::Decisions => state.decision_row = state.decision_row.saturating_sub(1),
            View::Policy => state.policy_row = state.policy_row.saturating_sub(1),
            View::Jobs => state.batch_row = state.batch_row.saturating_sub(1),
            View::Quality => state.recommendation_row = state.recommendation_row.saturating_sub(1),
            View::Spend => return Outcome::UNCHANGED,
        },
        Action::PageUp => {
            for _ in 0..PAGE_ROWS {
                on_action(state, Action::Up);
            }
        }
        Action::PageDown => {
            for _ in 0..PAGE_ROWS {
                on_action(state, Action::Down);
            }
        }
        Action::SortNodes | Action::ReverseSort | Action::GroupNodes if state.view != View::Fleet => {
            return Outcome::UNCHANGED;
        }
        Action::SortNodes => {
            state.fleet_order.sort = state.fleet_order.sort.next();
            state.fleet_order.reversed = false;
        }
        Action::ReverseSort => state.fleet_order.reversed = !state.fleet_order.reversed,
        Action::GroupNodes => state.fleet_order.grouped = !state.fleet_order.grouped,
        Action::Down => match state.view {
            View::Fleet => {
                state.fleet_row += 1;
                clamp_fleet_row(state);
            }
            View::Decisions => {
                state.decision_row += 1;
                clamp_decision_row(state);
            }
            View::Policy => state.policy_row = (state.policy_row + 1).min(SETTINGS.len() - 1),
            View::Jobs => {
                state.batch_row += 1;
                clamp_batch_row(state);
            }
            View::Quality => {
                state.recommendation_row =
                    (state.recommendation_row + 1).min(state.recommendations.len().saturating_sub(1));
            }
            View::Spend => return Outcome::UNCHANGED,
        },
        Action::Filter => {
            if !matches!(state.view, View::Jobs | View::Fleet) {
                state.view = View::Decisions;
            }
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
            if state.view == View::Fleet {
                if state.fleet_order.filter.is_empty() {
                    return Outcome::UNCHANGED;
                }
                state.fleet_order.filter.clear();
                state.fleet_row = 0;
                return Outcome::CHANGED;
            }
            if state.view == View::Jobs {
                if state.batch_filter.is_empty() && state.batch_row == 0 {
                    return Outcome::UNCHANGED;
                }
                state.batch_filter.clear();
                state.batch_row = 0;
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
        Action::PauseBatch | Action::CancelBatch | Action::RetryBatch => return on_batch_action(state, action),
    }
    Outcome::CHANGED
}

/// Rows PgUp and PgDn move the selection by.
const PAGE_ROWS: usize = 10;

/// Longest `/` filter, in characters.
const MAX_FILTER_CHARS: usize = 64;

fn on_filter_key(state: &mut State, key: &KeyEvent) -> Outcome {
    if key.kind != KeyEventKind::Press {
        return Outcome::UNCHANGED;
    }
    if is_ctrl_c(state, key) {
        return quit();
    }
    let view = state.view;
    let filter = match view {
        View::Jobs => &mut state.batch_filter,
        View::Fleet => &mut state.fleet_order.filter,
        _ => &mut state.filter,
    };
    match key.code {
        KeyCode::Enter => state.mode = Mode::Normal,
        KeyCode::Esc => {
            filter.clear();
            state.mode = Mode::Normal;
        }
        code => {
            if !edit_line(filter, code, MAX_FILTER_CHARS) {
                return Outcome::UNCHANGED;
            }
        }
    }
    match view {
        View::Jobs => state.batch_row = 0,
        View::Fleet => state.fleet_row = 0,
        _ => state.decision_row = 0,
    }
    Outcome::CHANGED
}

/// Keeps the batch selection on a listed batch.
pub(super) fn clamp_batch_row(state: &mut State) {
    let shown = state.visible_batches().count();
    state.batch_row = state.batch_row.min(shown.saturating_sub(1));
}

/// Keeps the node selection on a listed node.
fn clamp_fleet_row(state: &mut State) {
    let shown = state.listed_nodes().len();
    state.fleet_row = state.fleet_row.min(shown.saturating_sub(1));
}

fn clamp_decision_row(state: &mut State) {
    let shown = state.visible_decisions().count();
    state.decision_row = state.decision_row.min(shown.saturating_sub(1));
}
