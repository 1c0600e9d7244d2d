//! Batch jobs: each read from the store, and what `s`, `C` and `r` open in the Jobs view. Nothing
//! changes until the confirmation is answered `y`; then the command goes to the outbox.

use super::dialogs::notice;
use super::{Outcome, clamp_batch_row};
use crate::actions::{BatchAction, not_applicable, status_word};
use crate::console::command::Command;
use crate::console::format::until;
use crate::console::jobs::{JobsBoard, JobsRead};
use crate::console::keys::Action;
use crate::console::outage::{batch_key, refusal};
use crate::console::state::{Confirm, Modal, State, View};
use crate::store::{BatchRow, BatchStatus};

/// Records one read of batch jobs (or why it failed), keeping the selected batch selected as
/// new batches arrive above it.
pub(super) fn on_jobs(state: &mut State, read: Result<Box<JobsRead>, String>) -> Outcome {
    let read = match read {
        Ok(read) => read,
        Err(why) => {
            let changed = state.jobs_error.as_deref() != Some(why.as_str());
            state.jobs_error = Some(why);
            return Outcome { changed, quit: false };
        }
    };
    let selected = state.selected_batch().map(|b| b.id.clone());
    state.jobs_error = None;
    state.batch_rates.record(read.at, &read.batches);
    state.jobs = Some(JobsBoard::new(*read));
    if let Some(row) = selected.and_then(|id| state.visible_batches().position(|b| b.id == id)) {
        state.batch_row = row;
    }
    clamp_batch_row(state);
    Outcome::CHANGED
}

/// `s`, `C` and `r` in the Jobs view: the confirmation for the selected batch, or why not.
pub(super) fn on_batch_action(state: &mut State, action: Action) -> Outcome {
    if state.read_only || state.view != View::Jobs {
        return Outcome::UNCHANGED;
    }
    if let Some(why) = refusal(state, action) {
        return notice(state, why, false);
    }
    let Some(batch) = state.selected_batch().cloned() else {
        return notice(state, "no batch is selected".into(), false);
    };
    let op = match action {
        Action::PauseBatch if batch.paused => BatchAction::Resume,
        Action::PauseBatch => BatchAction::Pause,
        Action::CancelBatch => BatchAction::Cancel,
        _ => BatchAction::Retry,
    };
    confirm_batch(state, &batch, op)
}

/// Opens the confirmation of `op` on `batch`, naming it and what will happen to its jobs; or
/// says why `op` does not apply to it.
pub(super) fn confirm_batch(state: &mut State, batch: &BatchRow, op: BatchAction) -> Outcome {
    if let Some(why) = refusal(state, batch_key(op)) {
        return notice(state, why, false);
    }
    if let Some(why) = not_applicable(batch, op, state.now) {
        return notice(state, why, false);
    }
    let id = &batch.id;
    let c = &batch.counts;
    let progress = format!(
        "{}'s batch ({}): {} done, {} failed, {} queued, {} running, of {}.",
        batch.agent,
        status_word(batch),
        c.completed,
        c.failed,
        c.queued,
        c.running,
        c.total
    );
    let window = format!(
        "Its completion window keeps running: it ends in {}.",
        until(state.now, batch.expires_at)
    );
    let (title, lines) = match op {
        BatchAction::Pause => (
            format!("Pause {id}?"),
            vec![
                progress,
                "Workers claim none of its queued jobs until it is resumed; running attempts finish.".into(),
                window,
            ],
        ),
        BatchAction::Resume => (
            format!("Resume {id}?"),
            vec![
                progress,
                "Workers claim its queued jobs again, on idle slots.".into(),
                window,
            ],
        ),
        BatchAction::Cancel => (
            format!("Cancel {id}?"),
            vec![
                progress,
                format!(
                    "Its {} queued job(s) go to its error file as batch_cancelled; {} running attempt(s) finish first.",
                    c.queued, c.running
                ),
                "Results already made stay in its output file. This cannot be undone.".into(),
            ],
        ),
        BatchAction::Retry => (
            format!("Retry the failed jobs of {id}?"),
            vec![
                progress,
                format!("Its {} failed job(s) are queued again with fresh attempts.", c.failed),
                if batch.status == BatchStatus::Completed {
                    format!(
                        "It is completed: it reopens until they end or its window does (in {}).",
                        until(state.now, batch.expires_at)
                    )
                } else {
                    window
                },
            ],
        ),
    };
    state.modal = Some(Modal::Confirm(Confirm {
        title,
        lines,
        commands: vec![Command::Batch {
            id: id.clone(),
            action: op,
        }],
    }));
    Outcome::CHANGED
}

/// Selects the batch `wanted` names (its id, or a prefix only one listed batch has) in the Jobs
/// view; clears a filter that hides it. Says why when none or several match.
pub(super) fn select_batch(state: &mut State, wanted: &str) -> Result<BatchRow, String> {
    let shown: String = wanted.chars().take(48).collect();
    let batches: &[BatchRow] = state.jobs.as_ref().map_or(&[], |b| b.batches.as_slice());
    let exact = batches.iter().find(|b| b.id == wanted);
    let matches: Vec<&BatchRow> = match exact {
        Some(batch) => vec![batch],
        None => batches.iter().filter(|b| b.id.starts_with(wanted)).collect(),
    };
    let batch = match matches.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(format!(
                "unknown batch `{shown}`: not among the {} newest (`farmhand jobs list` shows them all)",
                batches.len()
            ));
        }
        several => {
            return Err(format!(
                "`{shown}` matches {} batches: give more of the id",
                several.len()
            ));
        }
    };
    state.view = View::Jobs;
    if !state.visible_batches().any(|b| b.id == batch.id) {
        state.batch_filter.clear();
    }
    let row = state.visible_batches().position(|b| b.id == batch.id).unwrap_or(0);
    state.batch_row = row;
    Ok(batch)
}
