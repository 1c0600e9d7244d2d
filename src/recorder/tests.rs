use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use chrono::Utc;

use super::*;
use crate::domain::{DeclaredClass, Endpoint, Fallback, TaskClass};

/// An in-memory store that can be switched off, keyed by request id like the real one.
#[derive(Clone, Default)]
struct FlakyStore {
    rows: Arc<Mutex<HashMap<String, DecisionRecord>>>,
    down: Arc<AtomicBool>,
    inserts: Arc<AtomicU64>,
}

impl DecisionSink for FlakyStore {
    async fn insert_decisions(&self, batch: &[DecisionRecord]) -> anyhow::Result<u64> {
        if self.down.load(Ordering::SeqCst) {
            anyhow::bail!("connection refused");
        }
        self.inserts.fetch_add(1, Ordering::SeqCst);
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

fn decision(i: usize) -> DecisionRecord {
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
    }
}

fn options(dir: &tempfile::TempDir, buffer: usize) -> RecorderOptions {
    RecorderOptions {
        batch_size: 64,
        flush_every: Duration::from_millis(5),
        buffer_decisions: buffer,
        journal_path: dir.path().join("journal.ndjson"),
        write_timeout: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn batches_reach_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore::default();
    let recorder = Recorder::start(store.clone(), options(&dir, 100));
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
async fn an_outage_loses_nothing_and_writes_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = FlakyStore::default();
    let recorder = Recorder::start(store.clone(), options(&dir, 50));
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
    Journal::new(&opts.journal_path).append(&earlier).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&opts.journal_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"request_id\":\"torn"))
        .unwrap();
    let store = FlakyStore::default();
    store.rows.lock().unwrap().insert("req-000000".into(), decision(0));
    let recorder = Recorder::start(store.clone(), opts);
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
    let recorder = Recorder::start(store.clone(), opts);
    for i in 0..20 {
        recorder.record(decision(i));
    }
    recorder.flush().await;
    drop(recorder);
    let journaled = Journal::new(&path).read_all().unwrap();
    assert_eq!(journaled.len(), 20);
    assert_eq!(journaled[3].request_id, "req-000003");
    assert_eq!(journaled[3].node.as_deref(), Some("mini-01"));
}
