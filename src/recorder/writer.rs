//! The writer task: batches, retries with clamped back-off, spills, replays, and counts drops.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::drop_log::{DropLog, DropReport};
use super::{Command, DecisionSink, Journal, RecorderOptions, RecorderStats};
use crate::domain::DecisionRecord;

/// Back-off between write attempts while the store is down: doubles from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(4);
/// Journal batches replayed per turn of the loop, so new decisions are written in between.
const REPLAY_BATCHES_PER_TURN: usize = 8;

pub(super) struct Writer<S> {
    sink: S,
    options: RecorderOptions,
    stats: Arc<RecorderStats>,
    journal: Arc<Mutex<Journal>>,
    journal_path: PathBuf,
    /// The journal holds decisions not replayed yet.
    journal_backlog: bool,
    /// The journal took less than it was offered (full, or failing): until the store takes a
    /// write again, the overflow past the memory bound is dropped instead of spilled.
    journal_full: bool,
    pending: VecDeque<DecisionRecord>,
    /// When the oldest decision not yet written arrived (at the latest): its batch is due
    /// [`RecorderOptions::flush_every`] after it.
    batch_since: Option<Instant>,
    retry_at: Option<Instant>,
    retry_delay: Duration,
    flush_waiters: Vec<oneshot::Sender<()>>,
    drops: DropLog,
}

/// The journal, also when a blocking task panicked while holding it (its state stays consistent:
/// every field is updated only after the I/O it describes).
fn lock(journal: &Mutex<Journal>) -> MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: DecisionSink> Writer<S> {
    pub(super) fn new(sink: S, options: RecorderOptions, journal: Journal, stats: Arc<RecorderStats>) -> Self {
        Writer {
            sink,
            journal_path: journal.path().to_path_buf(),
            journal_backlog: journal.has_unreplayed(),
            journal_full: false,
            journal: Arc::new(Mutex::new(journal)),
            options,
            stats,
            pending: VecDeque::new(),
            batch_since: None,
            retry_at: None,
            retry_delay: RETRY_FIRST,
            flush_waiters: Vec::new(),
            drops: DropLog::default(),
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut open = true;
        while open || !self.pending.is_empty() {
            let store_up = self.retry_at.is_none();
            // Write at once only with a full batch waiting (or a journal to replay). Decisions that
            // arrived during the last write are due when their batch is, a flush interval after the
            // write began: writing whatever had queued meanwhile would chain writes back to back
            // under steady traffic, one small transaction per round trip to the store, and keep
            // the store's CPU busy beside the request path.
            let backlog = store_up && (rx.len() >= self.options.batch_size || self.journal_backlog);
            let deadline = if backlog { Instant::now() } else { self.next_deadline() };
            // Once a batch has begun, sleep until its deadline instead of waking for every
            // decision: on the request path a hand-off then costs a queue push, not a task wake-up.
            // While the store is down, keep draining so the overflow reaches the journal at once.
            let listen = open && (self.pending.is_empty() || self.retry_at.is_some());
            tokio::select! {
                command = rx.recv(), if listen => match command {
                    Some(Command::Record(decision)) => self.take(*decision),
                    Some(Command::Flush(done)) => self.flush_waiters.push(done),
                    None => open = false,
                },
                _ = tokio::time::sleep_until(deadline) => {}
            }
            // Take whatever else is already queued before writing, so batches fill up.
            while let Ok(command) = rx.try_recv() {
                match command {
                    Command::Record(decision) => self.take(*decision),
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
                let began = Instant::now();
                // The journal goes first: it is also the probe that tells whether the store is back.
                let journaled = self.journal_backlog;
                if journaled {
                    self.replay_some().await;
                }
                if !journaled || self.retry_at.is_none() {
                    self.write_pending().await;
                }
                self.batch_since = if !self.pending.is_empty() {
                    self.batch_since
                } else if !rx.is_empty() {
                    Some(began)
                } else {
                    None
                };
                // Nothing was tried (nothing to write): no back-off is pending.
                if self.retry_at.is_some_and(|at| at <= Instant::now()) {
                    self.retry_at = None;
                }
            }
            if self.retry_at.is_some() {
                let flushing = !open || !self.flush_waiters.is_empty();
                self.spill_overflow(flushing, !open).await;
            }
            if self.retry_at.is_some() || self.pending.is_empty() && !self.journal_backlog {
                for done in self.flush_waiters.drain(..) {
                    let _ = done.send(());
                }
            }
            self.report_drops(false);
            self.stats.buffered.store(self.pending.len() as u64, Ordering::Relaxed);
            if !open && self.retry_at.is_some() {
                break;
            }
        }
        self.report_drops(true);
    }

    /// Takes a decision off the queue; the first of a batch starts its clock.
    fn take(&mut self, decision: DecisionRecord) {
        self.batch_since.get_or_insert_with(Instant::now);
        self.pending.push_back(decision);
    }

    fn next_deadline(&self) -> Instant {
        let next = match self.retry_at {
            Some(at) => at,
            None => self.batch_since.unwrap_or_else(Instant::now) + self.options.flush_every,
        };
        match self.drops.next_at(self.stats.dropped.load(Ordering::Relaxed)) {
            Some(log_at) => next.min(log_at),
            None => next,
        }
    }

    /// Writes pending decisions batch by batch until empty or the store fails.
    async fn write_pending(&mut self) {
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.options.batch_size);
            // Moved out, not cloned; a failed batch goes back to the front in its order.
            let batch: Vec<DecisionRecord> = self.pending.drain(..n).collect();
            if !self.write(&batch).await {
                for decision in batch.into_iter().rev() {
                    self.pending.push_front(decision);
                }
                return;
            }
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
                self.journal_full = false;
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

    /// While the store is down, moves decisions past the memory bound (or all, when `everything`)
    /// to the journal, as far as it has room; what neither memory nor the journal can hold is
    /// dropped and counted. On the way out (`exiting`) nothing can stay in memory.
    async fn spill_overflow(&mut self, everything: bool, exiting: bool) {
        let limit = self.options.buffer_decisions;
        if self.pending.is_empty() || !everything && self.pending.len() <= limit {
            return;
        }
        if !self.journal_full {
            // Down to half the bound at once, so a long outage appends in chunks, not per decision.
            let keep = if everything { 0 } else { limit / 2 };
            let spill: Vec<DecisionRecord> = self.pending.drain(..self.pending.len() - keep).collect();
            let offered = spill.len();
            let journal = self.journal.clone();
            let result = tokio::task::spawn_blocking(move || {
                let appended = lock(&journal).append(&spill);
                (appended, spill)
            })
            .await;
            match result {
                Ok((appended, spill)) => {
                    let taken = match appended {
                        Ok(taken) => taken,
                        Err(err) => {
                            tracing::error!(journal = %self.journal_path.display(), %err, "cannot write the decision journal");
                            0
                        }
                    };
                    self.stats.journaled.fetch_add(taken as u64, Ordering::Relaxed);
                    self.stats.journal_pending.fetch_add(taken as u64, Ordering::Relaxed);
                    self.journal_backlog |= taken > 0;
                    if taken < offered {
                        self.journal_full = true;
                        tracing::warn!(
                            journal = %self.journal_path.display(),
                            max_bytes = self.options.journal_max_bytes,
                            "the decision journal is full; decisions past the memory buffer are dropped until the store is back"
                        );
                    }
                    for decision in spill.into_iter().skip(taken).rev() {
                        self.pending.push_front(decision);
                    }
                }
                Err(err) => {
                    tracing::error!(%err, "journal task failed");
                    self.journal_full = true;
                    self.stats.dropped.fetch_add(offered as u64, Ordering::Relaxed);
                }
            }
        }
        let bound = if exiting { 0 } else { limit };
        if self.pending.len() > bound {
            let dropped = self.pending.len() - bound;
            self.pending.truncate(bound);
            self.stats.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
        }
    }

    /// Sends the next journal batches to the store; removes the file once all of it is in.
    async fn replay_some(&mut self) {
        for _ in 0..REPLAY_BATCHES_PER_TURN {
            let journal = self.journal.clone();
            let max = self.options.batch_size;
            let read = tokio::task::spawn_blocking(move || lock(&journal).read_batch(max))
                .await
                .map_err(|err| err.to_string())
                .and_then(|read| read.map_err(|err| err.to_string()));
            let batch = match read {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::error!(journal = %self.journal_path.display(), %err, "cannot read the decision journal; it is replayed at the next start");
                    self.journal_backlog = false;
                    return;
                }
            };
            if !batch.decisions.is_empty() && !self.write(&batch.decisions).await {
                return;
            }
            let replayed = batch.decisions.len() as u64;
            let _ = self
                .stats
                .journal_pending
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_sub(replayed))
                });
            let journal = self.journal.clone();
            let marked = tokio::task::spawn_blocking(move || {
                let mut journal = lock(&journal);
                let removed = journal.replayed_to(batch.end);
                (removed, journal.has_unreplayed())
            })
            .await;
            match marked {
                Ok((removed, backlog)) => {
                    if let Err(err) = removed {
                        tracing::error!(journal = %self.journal_path.display(), %err, "cannot remove the replayed journal");
                    }
                    self.journal_backlog = backlog;
                    if !backlog {
                        self.stats.journal_pending.store(0, Ordering::Relaxed);
                    }
                }
                Err(err) => {
                    tracing::error!(%err, "journal task failed");
                    self.journal_backlog = false;
                }
            }
            if !self.journal_backlog {
                tracing::info!(journal = %self.journal_path.display(), "journaled decisions are all in the store");
                return;
            }
        }
    }

    /// Logs drops not told yet: at most once a second, or now when `last`.
    fn report_drops(&mut self, last: bool) {
        let (total, now) = (self.stats.dropped.load(Ordering::Relaxed), Instant::now());
        let report = if last {
            self.drops.owed(total, now)
        } else {
            self.drops.due(total, now)
        };
        let Some(DropReport { since_last, total }) = report else {
            return;
        };
        if self.journal_full {
            tracing::error!(
                dropped = since_last,
                total,
                buffer_decisions = self.options.buffer_decisions,
                journal = %self.journal_path.display(),
                journal_max_bytes = self.options.journal_max_bytes,
                "decisions dropped: the store is unreachable and the memory buffer and the journal are full"
            );
        } else {
            tracing::error!(
                dropped = since_last,
                total,
                "decisions dropped: the recorder's queue was full"
            );
        }
    }
}
