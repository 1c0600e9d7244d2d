//! The decision recorder: takes decisions off the request path and writes them to the store in
//! batches. While the store is down it keeps them in a bounded buffer, spills the overflow to a
//! local journal (locked to this router, capped in size), and replays the journal in batches when
//! the store returns; the store ignores a decision it already has (by `request_id`), so a replay
//! never writes anything twice. When the buffer and the journal are both full, further decisions
//! are dropped: counted in [`RecorderStats::dropped`] and logged once a second, never silently.

mod drop_log;
mod journal;
mod writer;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::domain::DecisionRecord;

pub use journal::{Journal, JournalError, ReplayBatch, lock_path};

/// Where batches of decisions go: the store, or a test double.
pub trait DecisionSink: Send + Sync + 'static {
    /// Writes a batch, ignoring decisions already present; returns how many were new.
    fn insert_decisions(&self, batch: &[DecisionRecord]) -> impl Future<Output = anyhow::Result<u64>> + Send;
}

/// Tuning for the recorder.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Largest batch written at once.
    pub batch_size: usize,
    /// Longest a decision waits before its batch is written.
    pub flush_every: Duration,
    /// Decisions held in memory while the store is down before spilling to the journal.
    pub buffer_decisions: usize,
    /// The journal file (absolute).
    pub journal_path: PathBuf,
    /// Largest size of the journal file, in bytes.
    pub journal_max_bytes: u64,
    /// Longest one write may take before the store counts as down.
    pub write_timeout: Duration,
}

impl RecorderOptions {
    /// Options from the router section of the fleet config; an unset journal path becomes
    /// `journal.ndjson` in the state directory.
    pub fn from_config(config: &crate::config::RouterConfig) -> Self {
        RecorderOptions {
            batch_size: 1000,
            flush_every: Duration::from_millis(50),
            buffer_decisions: config.buffer_decisions.max(1),
            journal_path: crate::config::state_dir::journal_path(config.journal_path.as_deref()),
            journal_max_bytes: config.journal_max_bytes,
            write_timeout: Duration::from_secs(2),
        }
    }
}

/// Live counters, readable from `/metrics` and the console.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Decisions accepted from the request path.
    pub accepted: AtomicU64,
    /// Decisions the store confirmed as new.
    pub written: AtomicU64,
    /// Decisions spilled to the journal.
    pub journaled: AtomicU64,
    /// Decisions dropped: the store was down with the memory buffer and the journal full, or the
    /// hand-off queue was full (the writer far behind).
    pub dropped: AtomicU64,
    /// Whether the last write succeeded.
    pub store_up: AtomicBool,
    /// Decisions held in memory now, waiting for the store.
    pub buffered: AtomicU64,
    /// Decisions in the journal now, waiting to be replayed.
    pub journal_pending: AtomicU64,
}

/// Handle used on the request path; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Command>,
    stats: Arc<RecorderStats>,
}

enum Command {
    Record(Box<DecisionRecord>),
    Flush(oneshot::Sender<()>),
}

/// Capacity of the hand-off queue between request handlers and the writer task.
const HANDOFF_CAPACITY: usize = 65_536;

impl Recorder {
    /// Opens (and locks) the journal, then starts the writer task; it first replays any journal
    /// left by an earlier run. Fails when the journal cannot be written or another router holds it.
    pub fn start<S: DecisionSink>(sink: S, options: RecorderOptions) -> Result<Self, JournalError> {
        let journal = Journal::open(&options.journal_path, options.journal_max_bytes)?;
        tracing::info!(
            journal = %journal.path().display(),
            bytes = journal.size(),
            max_bytes = options.journal_max_bytes,
            "decision journal ready"
        );
        let (tx, rx) = mpsc::channel(HANDOFF_CAPACITY);
        let stats = Arc::new(RecorderStats {
            store_up: AtomicBool::new(true),
            ..Default::default()
        });
        tokio::spawn(writer::Writer::new(sink, options, journal, stats.clone()).run(rx));
        Ok(Recorder { tx, stats })
    }

    /// Hands a decision to the writer without waiting; when its queue is full the decision is
    /// dropped and counted (the writer logs drops once a second).
    pub fn record(&self, decision: DecisionRecord) {
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(Command::Record(Box::new(decision))).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until everything recorded so far is in the store, or, while the store is down, in
    /// the journal, the memory buffer or the drop count.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The live counters.
    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }
}

impl DecisionSink for crate::store::Store {
    async fn insert_decisions(&self, batch: &[DecisionRecord]) -> anyhow::Result<u64> {
        Ok(crate::store::Store::insert_decisions(self, batch).await?)
    }
}

#[cfg(test)]
mod tests;
