//! Progress and ends of operator actions, as the action runner reports them.

use crate::console::command::ActionEvent;
use crate::console::state::{DrainView, Notice, PullView, State};
use crate::domain::DrainState;

/// Finished drains and pulls kept on screen.
const FINISHED_KEPT: usize = 6;

/// Applies one report of the action runner: a notice, a drain's status, a pull's progress or end.
pub(super) fn on_action_event(state: &mut State, event: ActionEvent) {
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
