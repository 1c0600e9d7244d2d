//! Pause, resume, cancel and retry a batch of jobs: each checked against the batch first (a
//! refusal says why), done in the store, and left as one audit row (`batch.pause`, …).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ActionError, Operator};
use crate::store::{BatchRow, BatchStatus, StoreError};

/// What an operator can do to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchAction {
    /// Workers stop claiming its queued jobs; running attempts finish.
    Pause,
    /// Workers claim its queued jobs again.
    Resume,
    /// Its queued jobs go to the error file; running attempts finish, then it is cancelled.
    Cancel,
    /// Its failed jobs are queued again with fresh attempts.
    Retry,
}

impl BatchAction {
    /// The verb, as in `farmhand jobs pause`.
    pub fn verb(self) -> &'static str {
        match self {
            BatchAction::Pause => "pause",
            BatchAction::Resume => "resume",
            BatchAction::Cancel => "cancel",
            BatchAction::Retry => "retry",
        }
    }

    /// The action's name in the audit log.
    pub fn audit_name(self) -> &'static str {
        match self {
            BatchAction::Pause => "batch.pause",
            BatchAction::Resume => "batch.resume",
            BatchAction::Cancel => "batch.cancel",
            BatchAction::Retry => "batch.retry",
        }
    }

    /// The command that does it, for read-only refusals.
    fn command(self) -> &'static str {
        match self {
            BatchAction::Pause => "jobs pause",
            BatchAction::Resume => "jobs resume",
            BatchAction::Cancel => "jobs cancel",
            BatchAction::Retry => "jobs retry",
        }
    }
}

/// Why `action` does not apply to `batch` as read at `now`, if it does not (the store refuses the
/// same cases; saying so first names the batch's state in an operator's words).
pub fn not_applicable(batch: &BatchRow, action: BatchAction, now: DateTime<Utc>) -> Option<String> {
    let id = &batch.id;
    let status = batch.status;
    match action {
        _ if status.is_terminal() && action != BatchAction::Retry => Some(format!(
            "{id} has ended ({}): nothing to {}",
            status.as_str(),
            action.verb()
        )),
        BatchAction::Pause if batch.paused => Some(format!("{id} is already paused")),
        BatchAction::Resume if !batch.paused => Some(format!("{id} is not paused")),
        BatchAction::Pause | BatchAction::Resume if status == BatchStatus::Cancelling => {
            Some(format!("{id} is cancelling: nothing to {}", action.verb()))
        }
        BatchAction::Cancel if status == BatchStatus::Cancelling => Some(format!("{id} is already cancelling")),
        BatchAction::Retry
            if matches!(
                status,
                BatchStatus::Cancelled | BatchStatus::Cancelling | BatchStatus::Expired
            ) =>
        {
            Some(format!("{id} is {}: its failed jobs cannot run again", status.as_str()))
        }
        BatchAction::Retry if batch.counts.failed == 0 => Some(format!("{id} has no failed jobs to retry")),
        BatchAction::Retry if status == BatchStatus::Completed && batch.expires_at <= now => Some(format!(
            "{id}'s completion window has ended: its failed jobs cannot run again"
        )),
        _ => None,
    }
}

/// A batch's status as an operator reads it: `paused` for a paused batch that would otherwise
/// run (one cancelling or ending shows that instead), else its status.
pub fn status_word(batch: &BatchRow) -> &'static str {
    if batch.paused && matches!(batch.status, BatchStatus::Validating | BatchStatus::InProgress) {
        "paused"
    } else {
        batch.status.as_str()
    }
}

/// What an action on a batch did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchChange {
    /// The batch.
    pub batch: String,
    /// What was done.
    pub action: BatchAction,
    /// Its status afterwards.
    pub status: BatchStatus,
    /// Whether it is paused afterwards.
    pub paused: bool,
    /// Jobs the action moved: queued jobs cancelled, failed jobs queued again, or jobs left
    /// queued by a pause or resume.
    pub jobs: i64,
    /// Attempts still running, which finish on their own.
    pub running: i64,
}

impl BatchChange {
    /// One line saying what happened, for the console and the CLI.
    pub fn summary(&self) -> String {
        let id = &self.batch;
        let (jobs, running) = (self.jobs, self.running);
        match self.action {
            BatchAction::Pause => {
                format!("{id}: paused; {jobs} queued job(s) wait, {running} running attempt(s) finish")
            }
            BatchAction::Resume => format!("{id}: resumed; {jobs} queued job(s) run again"),
            BatchAction::Cancel => format!(
                "{id}: {}; {jobs} queued job(s) cancelled, {running} running attempt(s) finish",
                self.status.as_str()
            ),
            BatchAction::Retry => format!("{id}: {jobs} failed job(s) queued again ({})", self.status.as_str()),
        }
    }
}

impl Operator {
    /// Does `action` to batch `id` and audits it with `reason`. Refused for an unknown batch and
    /// for one the action does not apply to (an ended batch, a second pause).
    pub async fn batch_action(
        &self,
        id: &str,
        action: BatchAction,
        reason: Option<&str>,
    ) -> Result<BatchChange, ActionError> {
        self.require_write(action.command())?;
        let before = self
            .store
            .batch(id)
            .await?
            .ok_or_else(|| ActionError::UnknownBatch(id.chars().take(64).collect()))?;
        let now = Utc::now();
        if let Some(why) = not_applicable(&before, action, now) {
            return Err(ActionError::Refused(why));
        }
        // The batch may have moved on since it was read: the store's refusal names it and why.
        let refused = |err: StoreError| match err {
            StoreError::NotFound(_) => ActionError::UnknownBatch(id.chars().take(64).collect()),
            StoreError::Conflict(why) => ActionError::Refused(why),
            other => ActionError::Store(other),
        };
        let (after, jobs) = match action {
            BatchAction::Pause | BatchAction::Resume => {
                let after = self
                    .store
                    .set_batch_paused(id, action == BatchAction::Pause)
                    .await
                    .map_err(refused)?;
                let queued = after.counts.queued;
                (after, queued)
            }
            BatchAction::Cancel => {
                let after = self.store.cancel_batch(id, now).await.map_err(refused)?;
                (after, before.counts.queued)
            }
            BatchAction::Retry => {
                let queued = self.store.retry_failed_jobs(id, now).await.map_err(refused)?;
                let after = self
                    .store
                    .batch(id)
                    .await?
                    .ok_or_else(|| ActionError::UnknownBatch(id.chars().take(64).collect()))?;
                (after, i64::try_from(queued).unwrap_or(i64::MAX))
            }
        };
        let change = BatchChange {
            batch: after.id.clone(),
            action,
            status: after.status,
            paused: after.paused,
            jobs,
            running: after.counts.running,
        };
        let mut detail = format!("{} -> {}: ", status_word(&before), status_word(&after));
        detail.push_str(&match action {
            BatchAction::Pause => format!("{jobs} queued, {} running", change.running),
            BatchAction::Resume => format!("{jobs} queued"),
            BatchAction::Cancel => format!("{jobs} queued job(s) cancelled, {} running", change.running),
            BatchAction::Retry => format!("{jobs} failed job(s) queued again"),
        });
        if let Some(reason) = reason.filter(|r| !r.trim().is_empty()) {
            detail.push_str(&format!(" ({})", reason.trim()));
        }
        self.store.audit(&self.actor, action.audit_name(), id, &detail).await?;
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::jobs::test_batch;

    #[test]
    fn actions_that_do_not_apply_say_why() {
        let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().expect("time");
        let running = test_batch("batch_a", 10, 0, 20);
        assert_eq!(not_applicable(&running, BatchAction::Pause, now), None);
        assert_eq!(not_applicable(&running, BatchAction::Cancel, now), None);
        assert_eq!(
            not_applicable(&running, BatchAction::Resume, now).as_deref(),
            Some("batch_a is not paused")
        );
        assert_eq!(
            not_applicable(&running, BatchAction::Retry, now).as_deref(),
            Some("batch_a has no failed jobs to retry")
        );
        let mut paused = running.clone();
        paused.paused = true;
        assert_eq!(status_word(&paused), "paused");
        assert_eq!(not_applicable(&paused, BatchAction::Resume, now), None);
        assert_eq!(
            not_applicable(&paused, BatchAction::Pause, now).as_deref(),
            Some("batch_a is already paused")
        );
        let mut done = test_batch("batch_a", 15, 5, 20);
        done.status = BatchStatus::Completed;
        done.paused = true;
        assert_eq!(status_word(&done), "completed", "an ended batch is not shown paused");
        let mut cancelling = paused.clone();
        cancelling.status = BatchStatus::Cancelling;
        assert_eq!(
            status_word(&cancelling),
            "cancelling",
            "a paused batch being cancelled shows so"
        );
        assert_eq!(
            not_applicable(&done, BatchAction::Retry, now),
            None,
            "a completed batch reopens"
        );
        assert_eq!(
            not_applicable(&done, BatchAction::Cancel, now).as_deref(),
            Some("batch_a has ended (completed): nothing to cancel")
        );
        done.status = BatchStatus::Cancelled;
        assert_eq!(
            not_applicable(&done, BatchAction::Retry, now).as_deref(),
            Some("batch_a is cancelled: its failed jobs cannot run again")
        );
        let mut cancelling = test_batch("batch_a", 1, 1, 20);
        cancelling.status = BatchStatus::Cancelling;
        assert_eq!(
            not_applicable(&cancelling, BatchAction::Cancel, now).as_deref(),
            Some("batch_a is already cancelling")
        );
        assert_eq!(
            not_applicable(&cancelling, BatchAction::Pause, now).as_deref(),
            Some("batch_a is cancelling: nothing to pause")
        );
    }
}
