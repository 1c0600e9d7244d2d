//! Sustained decision ingest into PostgreSQL, then spend- and quality-summary latency over 10 M
//! decisions.
//!
//! `cargo bench --bench ingest` (uses `DATABASE_URL` when set, else a throwaway cluster). Several
//! writer tasks insert batches of realistic decisions spread over 30 days, in arrival order, through
//! the store's own insert path (decisions and the hourly rollup). Two phases:
//! - sustained ingest: the first `FARMHAND_BENCH_DECISIONS` (default 300,000) are timed, and every
//!   one must land exactly once (decisions and rollup counted). Budget: ≥ 20,000/s, zero lost;
//! - summaries: the table is filled to `FARMHAND_BENCH_SUMMARY_DECISIONS` (default 10,000,000, the
//!   budget's size), then `spend_summary` and `quality_summary` over the last 24 h, 7 d and 30 d
//!   are timed (median of 7).
//!   Budget: ≤ 50 ms each, over at least 10 M decisions; a smaller fill is reported and fails.
//!
//! Decisions are generated batch by batch from a fixed seed, so 10 M never sit in memory at once.
//! `FARMHAND_BENCH_BATCH` (default 1000) and `FARMHAND_BENCH_WRITERS` (default 4) change the load.
//! Prints a PASS/FAIL line per budget and exits 1 on a miss or when nothing was measured.

#[path = "../tests/support/pg.rs"]
mod pg;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use farmhand::domain::{
    AnswerQuality, Attempt, AttemptOutcome, DecisionRecord, DeclaredClass, Endpoint, Fallback, FinishReason, TaskClass,
};
use farmhand::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;

/// Sustained ingest budget, decisions per second.
const INGEST_BUDGET: f64 = 20_000.0;
/// Spend summary budget, per window.
const SUMMARY_BUDGET: Duration = Duration::from_millis(50);
/// Decisions the summary budget is stated over (DESIGN.md).
const SUMMARY_DECISIONS: usize = 10_000_000;
/// The days the generated traffic covers, ending now.
const DAYS: i64 = 30;
/// Seed of the generated traffic.
const SEED: u64 = 20_260_510;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// A decision as the router would write it. Each agent mostly asks for one class, and the class
/// decides the endpoint and model (with some fallbacks and rejections), as on a real farm.
fn decision(rng: &mut StdRng, i: usize, ts: DateTime<Utc>) -> DecisionRecord {
    const AGENTS: usize = 24;
    let agent = rng.random_range(0..AGENTS);
    let class = if rng.random_range(0..100) < 70 {
        TaskClass::ALL[agent % TaskClass::ALL.len()]
    } else {
        TaskClass::ALL[rng.random_range(0..TaskClass::ALL.len())]
    };
    let roll = rng.random_range(0..100);
    let (endpoint, fallback) = match (class, roll) {
        (_, 0..3) => (Endpoint::Rejected, Fallback::None),
        (TaskClass::Sensitive, _) | (TaskClass::Routine, 3..88) => (Endpoint::Local, Fallback::None),
        (TaskClass::Routine, _) => (Endpoint::Frontier, Fallback::None),
        (_, 3..12) => (Endpoint::Local, Fallback::ToLocal),
        _ => (Endpoint::Frontier, Fallback::None),
    };
    let prompt_tokens = rng.random_range(50..6000);
    let completion_tokens = rng.random_range(10..1500);
    let (provider, node, model, cost_usd) = match endpoint {
        Endpoint::Local => {
            let model = match class {
                TaskClass::Routine => "llama3.1:8b",
                TaskClass::Sensitive => "qwen3:14b",
                _ => "qwen3:32b",
            };
            (
                Some("ollama"),
                Some(format!("mini-{:02}", rng.random_range(1..=12))),
                Some(model),
                0.0,
            )
        }
        Endpoint::Frontier => {
            let (provider, model, per_million) = match class {
                TaskClass::Orchestration => ("openai", "gpt-5", 10.0),
                TaskClass::Reasoning => ("anthropic", "claude-sonnet-4-5", 15.0),
                _ => ("anthropic", "claude-haiku-4-5", 4.0),
            };
            let cost = (prompt_tokens + 4 * completion_tokens) as f64 * per_million / 1e6;
            (Some(provider), None, Some(model), cost)
        }
        Endpoint::Rejected => (None, None, None, 0.0),
    };
    let served = endpoint != Endpoint::Rejected;
    let attempts = match (&node, provider, model) {
        (Some(node), _, _) => vec![attempt(node.clone(), rng.random_range(20..900))],
        (None, Some(provider), Some(model)) => {
            vec![attempt(format!("{provider}/{model}"), rng.random_range(200..3000))]
        }
        _ => Vec::new(),
    };
    DecisionRecord {
        request_id: format!("bench-{i:09}"),
        ts,
        agent: format!("agent-{agent:02}"),
        declared_class: DeclaredClass::from(class),
        effective_class: class,
        sensitive: class == TaskClass::Sensitive,
        sensitivity_reason: (class == TaskClass::Sensitive).then(|| "declared".to_string()),
        endpoint,
        provider: provider.map(str::to_string),
        node,
        model: model.map(str::to_string),
        est_tokens: prompt_tokens + 200,
        prompt_tokens: if served { prompt_tokens } else { 0 },
        completion_tokens: if served { completion_tokens } else { 0 },
        cost_usd,
        ttfb_ms: served.then(|| rng.random_range(20..900)),
        latency_ms: rng.random_range(100..30_000),
        fallback,
        policy_version: 7,
        status: if served { 200 } else { 503 },
        error: (!served).then(|| "no_capacity".to_string()),
        attempts,
        job_id: None,
        quality: if served {
            AnswerQuality {
                finish_reason: Some(if rng.random_bool(0.08) {
                    FinishReason::Length
                } else {
                    FinishReason::Stop
                }),
                empty_answer: Some(rng.random_bool(0.01)),
                json_valid: rng.random_bool(0.25).then(|| rng.random_bool(0.95)),
                ttft_ms: rng.random_bool(0.6).then(|| rng.random_range(40..4_000)),
                tokens_per_sec: Some(rng.random_range(10.0..120.0)),
                queued_ms: 0,
            }
        } else {
            AnswerQuality::default()
        },
    }
}

/// A successful attempt on `target`.
fn attempt(target: String, ms: i64) -> Attempt {
    Attempt {
        target,
        outcome: AttemptOutcome::Ok,
        ms,
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The generated traffic: `total` decisions over `DAYS` days ending at `end`, in arrival order.
#[derive(Clone, Copy)]
struct Traffic {
    end: DateTime<Utc>,
    total: usize,
    batch_size: usize,
}

impl Traffic {
    /// Batch `index`: decisions `index * batch_size ..`, each at its place in the span (with a
    /// jitter within its own slot, so the order holds), from a seed of its own.
    fn batch(&self, index: usize) -> Vec<DecisionRecord> {
        let span_ms = DAYS * 24 * 3600 * 1000;
        let start = self.end - TimeDelta::milliseconds(span_ms);
        let slot_ms = (span_ms as f64 / self.total as f64).max(1.0);
        let mut rng = StdRng::seed_from_u64(SEED ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let first = index * self.batch_size;
        (first..(first + self.batch_size).min(self.total))
            .map(|i| {
                let at = i as f64 * slot_ms + rng.random_range(0.0..slot_ms);
                let ts = start + TimeDelta::milliseconds(at as i64);
                decision(&mut rng, i, ts)
            })
            .collect()
    }

    fn batches(&self) -> usize {
        self.total.div_ceil(self.batch_size)
    }
}

/// Inserts batches `from..to` of `traffic` with `writers` tasks taking the next batch in turn;
/// returns how many decisions the store reported as new.
async fn insert(store: &Store, traffic: Traffic, from: usize, to: usize, writers: usize) -> Result<u64, String> {
    let next = Arc::new(AtomicUsize::new(from));
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (store, next) = (store.clone(), next.clone());
            tokio::spawn(async move {
                let mut inserted = 0u64;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= to {
                        return Ok::<u64, String>(inserted);
                    }
                    let batch = traffic.batch(index);
                    inserted += store.insert_decisions(&batch).await.map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    let mut inserted = 0u64;
    for task in tasks {
        inserted += task.await.map_err(|e| e.to_string())??;
    }
    Ok(inserted)
}

/// Decisions stored, decisions summed in the rollup, and rollup rows.
async fn counts(url: &str) -> Result<(i64, i64, i64), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM routing_decisions")
        .fetch_one(&mut conn)
        .await?;
    let rolled_up: i64 = sqlx::query_scalar("SELECT coalesce(sum(requests), 0)::int8 FROM spend_hourly")
        .fetch_one(&mut conn)
        .await?;
    let rollup_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM spend_hourly")
        .fetch_one(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok((stored, rolled_up, rollup_rows))
}

/// One budget line.
fn verdict(what: &str, value: String, ok: bool) -> bool {
    println!("  {what:<58} {value:>16}  {}", if ok { "PASS" } else { "FAIL" });
    ok
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let sustained = env_or("FARMHAND_BENCH_DECISIONS", 300_000);
    let batch_size = env_or("FARMHAND_BENCH_BATCH", 1000);
    let writers = env_or("FARMHAND_BENCH_WRITERS", 4);
    let total = env_or("FARMHAND_BENCH_SUMMARY_DECISIONS", SUMMARY_DECISIONS).max(sustained);

    let db = pg::TestDatabase::create().await;
    let server = if pg::is_throwaway_cluster() {
        "throwaway cluster (fsync=off: numbers are optimistic; set DATABASE_URL for a real server)".to_string()
    } else {
        pg::redact(pg::admin_url())
    };
    println!("ingest: server {server}");
    let store = Store::connect(db.url()).await?;
    store.migrate().await?;
    let traffic = Traffic {
        end: Utc::now(),
        total,
        batch_size,
    };
    // The sustained phase ends on a batch boundary; it is the first (oldest) part of the traffic.
    let sustained_batches = sustained.div_ceil(batch_size);
    let sustained = (sustained_batches * batch_size).min(total);

    println!("ingest: {sustained} decisions, batches of {batch_size}, {writers} writers");
    let started = Instant::now();
    let inserted = insert(&store, traffic, 0, sustained_batches, writers).await?;
    let elapsed = started.elapsed();
    let (stored, rolled_up, rollup_rows) = counts(db.url()).await?;
    let rate = inserted as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "ingest: {inserted} inserted, {stored} stored, {rolled_up} in spend_hourly ({rollup_rows} rows) in {:.2} s = {rate:.0} decisions/s",
        elapsed.as_secs_f64()
    );
    let expected = i64::try_from(sustained)?;
    let exact = inserted == sustained as u64 && stored == expected && rolled_up == expected;

    println!("summaries: filling to {total} decisions over {DAYS} days");
    let fill_started = Instant::now();
    let filled = insert(&store, traffic, sustained_batches, traffic.batches(), writers).await?;
    let (stored_all, rolled_all, rollup_rows_all) = counts(db.url()).await?;
    println!(
        "summaries: {filled} more inserted in {:.1} s ({:.0} decisions/s); {stored_all} stored, {rolled_all} in spend_hourly ({rollup_rows_all} rows)",
        fill_started.elapsed().as_secs_f64(),
        filled as f64 / fill_started.elapsed().as_secs_f64().max(1e-9)
    );
    let exact_all = stored_all == i64::try_from(total)? && rolled_all == stored_all;

    let mut summaries = Vec::new();
    for (label, window) in [
        ("24 h", TimeDelta::hours(24)),
        ("7 d", TimeDelta::days(7)),
        ("30 d", TimeDelta::days(DAYS)),
    ] {
        let mut times = Vec::new();
        let mut quality_times = Vec::new();
        let (mut requests, mut judged) = (0, 0);
        for _ in 0..7 {
            let now = Utc::now();
            let t = Instant::now();
            let summary = store.spend_summary(now - window, now).await?;
            times.push(t.elapsed());
            requests = summary.total.requests;
            let t = Instant::now();
            let quality = store.quality_summary(now - window, now).await?;
            quality_times.push(t.elapsed());
            judged = quality.iter().map(|row| row.line.requests).sum::<i64>();
        }
        times.sort();
        quality_times.sort();
        println!(
            "spend_summary {label}: {requests} decisions in the window; median {:.2} ms, best {:.2} ms, worst {:.2} ms",
            millis(times[times.len() / 2]),
            millis(times[0]),
            millis(times[times.len() - 1])
        );
        println!(
            "quality_summary {label}: {judged} answers in the window; median {:.2} ms, best {:.2} ms, worst {:.2} ms",
            millis(quality_times[quality_times.len() / 2]),
            millis(quality_times[0]),
            millis(quality_times[quality_times.len() - 1])
        );
        summaries.push((label, "spend_summary", times[times.len() / 2], requests));
        summaries.push((label, "quality_summary", quality_times[quality_times.len() / 2], judged));
    }

    println!();
    println!("budgets:");
    let mut ok = verdict(
        &format!("sustained ingest >= {INGEST_BUDGET:.0}/s"),
        format!("{rate:.0}/s"),
        rate >= INGEST_BUDGET && inserted > 0,
    );
    ok &= verdict(
        "every decision landed exactly once (decisions, rollup)",
        format!("{stored}/{sustained}"),
        exact,
    );
    ok &= verdict(
        &format!("summaries measured over >= {SUMMARY_DECISIONS} decisions"),
        format!("{stored_all}"),
        exact_all && stored_all >= SUMMARY_DECISIONS as i64,
    );
    for (label, which, median, requests) in summaries {
        ok &= verdict(
            &format!("{which} {label} <= {} ms (median of 7)", SUMMARY_BUDGET.as_millis()),
            format!("{:.2} ms", millis(median)),
            median <= SUMMARY_BUDGET && requests > 0,
        );
    }
    Ok(ok)
}

fn main() -> std::process::ExitCode {
    // `cargo bench` passes `--bench`; anything else (e.g. a test run's filter) is ignored.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ingest: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ingest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
