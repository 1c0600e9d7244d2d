use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use chrono::Utc;

use super::*;
use crate::domain::{Attempt, AttemptOutcome, DeclaredClass, Endpoint, Fallback, TaskClass};

/// An in-memory store that can be switched off, keyed by request id like the real one.
#[derive(Clone, Default)]
struct FlakyStore {
    rows: Arc<Mutex<HashMap<String, DecisionRecord>>>,
    down: Arc<AtomicBool>,
    inserts: Arc<AtomicU64>,
    /// How long each write takes, as a store's round trips and commit do.
    latency: Duration,
}

impl DecisionSink for FlakyStore {
    async fn insert_decisions(&self, batch: &[DecisionRecord]) -> anyhow::Result<u64> {
        if self.down.load(Ordering::SeqCst) {
            anyhow::bail!("connection refused");
        }
        self.inserts.fetch_add(1, Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let mut rows = self.rows.lock().unwrap();
        let mut new = 0;
        for d in batch {
            if rows.insert(d.request_id.clone(), d.clone()).is_none() {
                new += 1;
            }
        }
        Ok(new)
    }
}

/// A served local decision, `req-<i>`.
pub(super) fn decision(i: usize) -> DecisionRecord {
    DecisionRecord {
        request_id: format!("req-{i:06}"),
        ts: Utc::now(),
        agent: "tester".into(),
        declared_class: DeclaredClass::Routine,
        effective_class: TaskClass::Routine,
        sensitive: false,
        sensitivity_reason: None,
        endpoint: Endpoint::Local,
        provider: Some("ollama".into()),
        node: Some("mini-01".into()),
        model: Some("llama3.1:8b".into()),
        est_tokens: 100,
        prompt_tokens: 80,
        completion_tokens: 20,
        cost_usd: 0.0,
        ttfb_ms: Some(12),
        latency_ms: 300,
        fallback: Fallback::None,
        policy_version: 1,
        status: 200,
        error: None,
        attempts: vec![Attempt {
            target: "mini-01".into(),
            outcome: AttemptOutcome::Ok,
            ms: 12,
        }],
        job_id: None,
        quality: Default::default(),
    }
}

fn options(dir: &tempfile::TempDir, buffer: usize) -> RecorderOptions {
    RecorderOptions {
        batch_size: 64,
        flush_every: Duration::from_millis(5),
        buffer_decisions: buffer,
        journal_path: dir.path().join("journal.ndjson"),
        journal_max_bytes: 1 << 30,
        write_timeout: Duration::from_secs(1),
    }
}

/// The decisions in a journal file, read straight from it (no lock needed).
fn journal_lines(path: &std::path::Path) -> Vec<DecisionRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[tokio::test]
async fn batches_reach_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore::default();
    let recorder = Recorder::start(store.clone(), options(&dir, 100)).unwrap();
    for i in 0..1000 {
        recorder.record(decision(i));
    }
    recorder.flush().await;
    assert_eq!(store.rows.lock().unwrap().len(), 1000);
    assert!(
        store.inserts.load(Ordering::SeqCst) < 1000,
        "decisions were written in batches"
    );
    assert_eq!(recorder.stats().written.load(Ordering::Relaxed), 1000);
}

#[tokio::test(start_paused = true)]
async fn steady_traffic_is_written_once_per_flush_interval_from_its_batchs_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore {
        latency: Duration::from_millis(30),
        ..FlakyStore::default()
    };
    let options = RecorderOptions {
        flush_every: Duration::from_millis(50),
        ..options(&dir, 100)
    };
    let recorder = Recorder::start(store.clone(), options).unwrap();
    // One decision a millisecond for a second: always some queued while a write is under way.
    for i in 0..1000 {
        recorder.record(decision(i));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    recorder.flush().await;
    assert_eq!(store.rows.lock().unwrap().len(), 1000);
    let writes = store.inserts.load(Ordering::SeqCst);
    // One write per 50 ms flush interval, counted from when the batch began (decisions that
    // arrive during a write wait no longer for it): back to back would be one per 30 ms, and a
    // clock started after each write one per 80 ms.
    assert!(
        (18..=22).contains(&writes),
        "{writes} writes for a second of steady traffic"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outage_loses_nothing_and_writes_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore::default();
    let recorder = Recorder::start(store.clone(), options(&dir, 50)).unwrap();
    store.down.store(true, Ordering::SeqCst);
    for i in 0..500 {
        recorder.record(decision(i));
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    recorder.flush().await;
    assert!(!recorder.stats().store_up.load(Ordering::Relaxed));
    assert!(
        recorder.stats().journaled.load(Ordering::Relaxed) >= 450,
        "overflow went to the journal"
    );
    assert!(dir.path().join("journal.ndjson").exists());
    let held =
        recorder.stats().buffered.load(Ordering::Relaxed) + recorder.stats().journal_pending.load(Ordering::Relaxed);
    assert_eq!(
        held, 500,
        "every decision is held, in memory or in the journal, while the store is down"
    );

    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    recorder.flush().await;
    let rows = store.rows.lock().unwrap();
    assert_eq!(rows.len(), 500);
    assert_eq!(
        recorder.stats().written.load(Ordering::Relaxed),
        500,
        "each decision was new exactly once"
    );
    assert_eq!(
        recorder.stats().buffered.load(Ordering::Relaxed),
        0,
        "nothing held once written"
    );
    assert_eq!(recorder.stats().journal_pending.load(Ordering::Relaxed), 0);
    assert!(
        !dir.path().join("journal.ndjson").exists(),
        "the replayed journal is removed"
    );
}

#[tokio::test]
async fn a_journal_left_by_an_earlier_run_is_replayed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&dir, 10);
    let earlier: Vec<DecisionRecord> = (0..30).map(decision).collect();
    let mut journal = Journal::open(&opts.journal_path, opts.journal_max_bytes).unwrap();
    assert_eq!(journal.append(&earlier).unwrap(), 30);
    drop(journal);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&opts.journal_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"request_id\":\"torn"))
        .unwrap();
    let store = FlakyStore::default();
    store.rows.lock().unwrap().insert("req-000000".into(), decision(0));
    let recorder = Recorder::start(store.clone(), opts).unwrap();
    recorder.flush().await;
    assert_eq!(store.rows.lock().unwrap().len(), 30);
    assert_eq!(
        recorder.stats().written.load(Ordering::Relaxed),
        29,
        "the row already stored is not counted again"
    );
}

#[tokio::test]
async fn dropping_every_handle_spills_what_the_store_cannot_take() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore::default();
    store.down.store(true, Ordering::SeqCst);
    let opts = options(&dir, 1000);
    let path = opts.journal_path.clone();
    let recorder = Recorder::start(store.clone(), opts).unwrap();
    for i in 0..20 {
        recorder.record(decision(i));
    }
    recorder.flush().await;
    drop(recorder);
    let journaled = journal_lines(&path);
    assert_eq!(journaled.len(), 20);
    assert_eq!(journaled[3].request_id, "req-000003");
    assert_eq!(journaled[3].node.as_deref(), Some("mini-01"));
}

#[tokio::test]
async fn a_second_router_on_the_same_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Recorder::start(FlakyStore::default(), options(&dir, 10)).unwrap();
    let refused = Recorder::start(FlakyStore::default(), options(&dir, 10))
        .err()
        .expect("refused");
    let text = refused.to_string();
    let path = dir.path().join("journal.ndjson");
    assert!(matches!(refused, JournalError::InUse { .. }), "{text}");
    assert!(
        text.contains(&path.display().to_string()) && text.contains("in use by another router") && !text.contains('\n'),
        "{text}"
    );
    first.flush().await;
    drop(first);
    // The lock goes with the writer task; a new router gets the journal once it has ended.
    let mut reopened = None;
    for _ in 0..100 {
        if let Ok(recorder) = Recorder::start(FlakyStore::default(), options(&dir, 10)) {
            reopened = Some(recorder);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(reopened.is_some(), "the lock is released when its router is gone");
}

#[tokio::test]
async fn an_unwritable_journal_is_refused_in_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    let mut opts = options(&dir, 10);
    opts.journal_path = file.join("journal.ndjson");
    let err = Recorder::start(FlakyStore::default(), opts).err().expect("refused");
    let text = err.to_string();
    assert!(matches!(err, JournalError::Unwritable { .. }), "{text}");
    let journal = file.join("journal.ndjson");
    assert!(
        text.starts_with(&format!(
            "decision journal {}: cannot write {}:",
            journal.display(),
            file.display()
        )) && !text.contains('\n'),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_memory_and_journal_full_the_rest_is_dropped_and_counted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore::default();
    let mut opts = options(&dir, 50);
    // Room for a few dozen decisions, far fewer than the outage brings.
    opts.journal_max_bytes = 16 * 1024;
    let journal_path = opts.journal_path.clone();
    let recorder = Recorder::start(store.clone(), opts).unwrap();
    store.down.store(true, Ordering::SeqCst);
    let sent = 2000;
    for i in 0..sent {
        recorder.record(decision(i));
        if i % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let size = std::fs::metadata(&journal_path).map(|m| m.len()).unwrap_or(0);
            assert!(size <= 16 * 1024, "the journal stays under its cap: {size} bytes");
        }
    }
    recorder.flush().await;
    let stats = recorder.stats();
    let dropped = stats.dropped.load(Ordering::Relaxed);
    let journaled = stats.journaled.load(Ordering::Relaxed);
    assert!(
        journaled > 0 && journaled < 100,
        "the journal took what fit: {journaled}"
    );
    assert_eq!(
        dropped,
        sent as u64 - journaled - 50,
        "memory holds its bound, the journal its cap, the rest is counted"
    );

    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    recorder.flush().await;
    let rows = store.rows.lock().unwrap().len() as u64;
    assert_eq!(rows + dropped, sent as u64, "sent = landed + dropped");
    assert_eq!(stats.written.load(Ordering::Relaxed), rows, "each landed once");
    assert!(!journal_path.exists(), "the replayed journal is removed");
}

#[tokio::test(start_paused = true)]
async fn a_long_journal_is_replayed_in_batches_alongside_new_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&dir, 10);
    let earlier: Vec<DecisionRecord> = (0..5000).map(decision).collect();
    let mut journal = Journal::open(&opts.journal_path, opts.journal_max_bytes).unwrap();
    assert_eq!(journal.append(&earlier).unwrap(), 5000);
    drop(journal);
    let store = FlakyStore::default();
    let recorder = Recorder::start(store.clone(), opts).unwrap();
    for i in 5000..5100 {
        recorder.record(decision(i));
    }
    recorder.flush().await;
    assert_eq!(store.rows.lock().unwrap().len(), 5100);
    assert!(
        store.inserts.load(Ordering::SeqCst) >= 5000 / 64,
        "the journal went in batches of at most batch_size"
    );
}

/// Log output of one test, kept in memory.
#[derive(Clone, Default)]
struct LogLines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogLines {
    type Writer = LogLines;

    fn make_writer(&'a self) -> LogLines {
        self.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn drops_are_logged_at_most_once_a_second_and_every_one_is_told() {
    let log = LogLines::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore::default();
    let mut opts = options(&dir, 10);
    opts.journal_max_bytes = 4096;
    let recorder = Recorder::start(store.clone(), opts).unwrap();
    store.down.store(true, Ordering::SeqCst);
    let seconds = 5;
    for i in 0..seconds * 100 {
        recorder.record(decision(i));
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Long enough for the drops still owed to be told.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dropped = recorder.stats().dropped.load(Ordering::Relaxed);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let counts: Vec<u64> = text
        .lines()
        .filter(|line| line.contains("decisions dropped"))
        .map(|line| {
            let field = line.split_whitespace().find_map(|w| w.strip_prefix("dropped="));
            field
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no count in {line}"))
        })
        .collect();
    assert!(dropped > 400, "most of the outage was dropped: {dropped}");
    assert_eq!(counts.iter().sum::<u64>(), dropped, "every drop is told:\n{text}");
    assert!(
        (2..=seconds + 2).contains(&counts.len()),
        "one line a second, not one per drop: {} lines\n{text}",
        counts.len()
    );
}
