//! The decision recorder: takes decisions off the request path and writes them to the store in
//! batches. While the store is down it keeps them in a bounded buffer, spills the overflow to a
//! local journal, and replays the journal when the store returns; the store ignores a decision
//! it already has (by `request_id`), so a replay never writes anything twice.

mod journal;
mod writer;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::domain::DecisionRecord;

pub use journal::Journal;

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
    /// The journal file.
    pub journal_path: PathBuf,
    /// Longest one write may take before the store counts as down.
    pub write_timeout: Duration,
}

impl RecorderOptions {
    /// Options from the router section of the fleet config.
    pub fn from_config(config: &crate::config::RouterConfig) -> Self {
        RecorderOptions {
            batch_size: 1000,
            flush_every: Duration::from_millis(50),
            buffer_decisions: config.buffer_decisions.max(1),
            journal_path: PathBuf::from(&config.journal_path),
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
    /// Decisions refused because the hand-off queue was full (the writer is far behind).
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
    /// Starts the writer task; it first replays any journal left by an earlier run.
    pub fn start<S: DecisionSink>(sink: S, options: RecorderOptions) -> Self {
        let (tx, rx) = mpsc::channel(HANDOFF_CAPACITY);
        let stats = Arc::new(RecorderStats {
            store_up: AtomicBool::new(true),
            ..Default::default()
        });
        tokio::spawn(writer::Writer::new(sink, options, stats.clone()).run(rx));
        Recorder { tx, stats }
    }

    /// Hands a decision to the writer without waiting.
    pub fn record(&self, decision: DecisionRecord) {
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(Command::Record(Box::new(decision))).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!("decision recorder queue is full; a decision was dropped");
        }
    }

    /// Waits until everything recorded so far is in the store or the journal.
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
