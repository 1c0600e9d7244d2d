//! The writer task: batches, retries with clamped back-off, spills and replays.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Command, DecisionSink, Journal, RecorderOptions, RecorderStats};
use crate::domain::DecisionRecord;

/// Back-off between write attempts while the store is down: doubles from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(4);

pub(super) struct Writer<S> {
    sink: S,
    options: RecorderOptions,
    stats: Arc<RecorderStats>,
    journal: Journal,
    pending: VecDeque<DecisionRecord>,
    retry_at: Option<Instant>,
    retry_delay: Duration,
    flush_waiters: Vec<oneshot::Sender<()>>,
}

impl<S: DecisionSink> Writer<S> {
    pub(super) fn new(sink: S, options: RecorderOptions, stats: Arc<RecorderStats>) -> Self {
        let journal = Journal::new(options.journal_path.clone());
        Writer {
            sink,
            options,
            stats,
            journal,
            pending: VecDeque::new(),
            retry_at: None,
            retry_delay: RETRY_FIRST,
            flush_waiters: Vec::new(),
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        self.replay_journal().await;
        let mut open = true;
        while open || !self.pending.is_empty() {
            let backlog = self.retry_at.is_none() && !rx.is_empty();
            let deadline = if backlog { Instant::now() } else { self.next_deadline() };
            // Once a batch has begun, sleep until its deadline instead of waking for every
            // decision: on the request path a hand-off then costs a queue push, not a task wake-up.
            // While the store is down, keep draining so the overflow reaches the journal at once.
            let listen = open && (self.pending.is_empty() || self.retry_at.is_some());
            tokio::select! {
                command = rx.recv(), if listen => match command {
                    Some(Command::Record(decision)) => self.pending.push_back(*decision),
                    Some(Command::Flush(done)) => self.flush_waiters.push(done),
                    None => open = false,
                },
                _ = tokio::time::sleep_until(deadline) => {}
            }
            // Take whatever else is already queued before writing, so batches fill up.
            while let Ok(command) = rx.try_recv() {
                match command {
                    Command::Record(decision) => self.pending.push_back(*decision),
                    Command::Flush(done) => self.flush_waiters.push(done),
                }
                if self.pending.len() >= self.options.batch_size {
                    break;
                }
            }
            let due = self.pending.len() >= self.options.batch_size
                || !self.flush_waiters.is_empty()
                || !open
                || Instant::now() >= deadline;
            if due && self.retry_at.is_none_or(|at| Instant::now() >= at) {
                // The journal goes first: it is also the probe that tells whether the store is back.
                let journaled = !self.journal.is_empty();
                if journaled {
                    self.replay_journal().await;
                }
                if !journaled || self.retry_at.is_none() {
                    self.write_pending().await;
                }
                // Nothing was tried (nothing to write): no back-off is pending.
                if self.retry_at.is_some_and(|at| at <= Instant::now()) {
                    self.retry_at = None;
                }
            }
            if self.retry_at.is_some() {
                self.spill_overflow(!open || !self.flush_waiters.is_empty()).await;
            }
            if self.pending.is_empty() || self.retry_at.is_some() && !self.flush_waiters.is_empty() {
                for done in self.flush_waiters.drain(..) {
                    let _ = done.send(());
                }
            }
            self.stats.buffered.store(self.pending.len() as u64, Ordering::Relaxed);
            if !open && self.retry_at.is_some() {
                break;
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        match self.retry_at {
            Some(at) => at,
            None => Instant::now() + self.options.flush_every,
        }
    }

    /// Writes pending decisions batch by batch until empty or the store fails.
    async fn write_pending(&mut self) {
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.options.batch_size);
            let batch: Vec<DecisionRecord> = self.pending.range(..n).cloned().collect();
            if !self.write(&batch).await {
                return;
            }
            self.pending.drain(..n);
        }
    }

    /// One write with a timeout; updates the store-up state and back-off.
    async fn write(&mut self, batch: &[DecisionRecord]) -> bool {
        match tokio::time::timeout(self.options.write_timeout, self.sink.insert_decisions(batch)).await {
            Ok(Ok(new)) => {
                self.stats.written.fetch_add(new, Ordering::Relaxed);
                if !self.stats.store_up.swap(true, Ordering::Relaxed) {
                    tracing::info!("store is back; decisions are being written again");
                }
                self.retry_at = None;
                self.retry_delay = RETRY_FIRST;
                true
            }
            outcome => {
                let reason = match outcome {
                    Ok(Err(err)) => format!("{err:#}"),
                    _ => format!("no answer within {:?}", self.options.write_timeout),
                };
                if self.stats.store_up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%reason, "store unavailable; buffering decisions");
                }
                self.retry_at = Some(Instant::now() + self.retry_delay);
                self.retry_delay = (self.retry_delay * 2).min(RETRY_MAX);
                false
            }
        }
    }

    /// While the store is down, moves decisions past the memory bound (or all, when asked) to the journal.
    async fn spill_overflow(&mut self, everything: bool) {
        let limit = self.options.buffer_decisions;
        if self.pending.is_empty() || !everything && self.pending.len() <= limit {
            return;
        }
        // Down to half the bound at once, so a long outage appends in chunks, not per decision.
        let keep = if everything { 0 } else { limit / 2 };
        let spill: Vec<DecisionRecord> = self.pending.drain(..self.pending.len() - keep).collect();
        let journal = self.journal.clone();
        let count = spill.len();
        let result = tokio::task::spawn_blocking(move || journal.append(&spill).map_err(|e| (e, spill))).await;
        match result {
            Ok(Ok(())) => {
                self.stats.journaled.fetch_add(count as u64, Ordering::Relaxed);
                self.stats.journal_pending.fetch_add(count as u64, Ordering::Relaxed);
            }
            Ok(Err((err, spill))) => {
                tracing::error!(journal = %self.journal.path().display(), %err, "cannot write the decision journal; keeping decisions in memory");
                for decision in spill.into_iter().rev() {
                    self.pending.push_front(decision);
                }
            }
            Err(err) => tracing::error!(%err, "journal task failed"),
        }
    }

    /// Sends the journal's decisions to the store and removes it once all are in.
    async fn replay_journal(&mut self) {
        let journal = self.journal.clone();
        let decisions = match tokio::task::spawn_blocking(move || journal.read_all()).await {
            Ok(Ok(decisions)) => decisions,
            Ok(Err(err)) => {
                tracing::error!(journal = %self.journal.path().display(), %err, "cannot read the decision journal");
                return;
            }
            Err(_) => return,
        };
        if decisions.is_empty() {
            return;
        }
        self.stats
            .journal_pending
            .store(decisions.len() as u64, Ordering::Relaxed);
        tracing::info!(count = decisions.len(), "replaying journaled decisions");
        for batch in decisions.chunks(self.options.batch_size) {
            if !self.write(batch).await {
                return;
            }
        }
        match self.journal.clear() {
            Ok(()) => self.stats.journal_pending.store(0, Ordering::Relaxed),
            Err(err) => {
                tracing::error!(journal = %self.journal.path().display(), %err, "cannot remove the replayed journal");
            }
        }
    }
}
