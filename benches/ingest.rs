//! Sustained decision ingest into PostgreSQL, then spend-summary latency over the result.
//!
//! `cargo bench --bench ingest` (uses `DATABASE_URL` when set, else a throwaway cluster). Several
//! writer tasks insert batches of realistic decisions covering 7 days, in arrival order; the run checks that
//! every decision landed (none lost, none doubled) and prints decisions/s. Budget: ≥ 20,000/s.
//! `FARMHAND_BENCH_DECISIONS` (default 300000), `FARMHAND_BENCH_BATCH` (default 1000) and
//! `FARMHAND_BENCH_WRITERS` (default 4) change the load.

#[path = "../tests/support/pg.rs"]
mod pg;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use farmhand::domain::{Attempt, AttemptOutcome, DecisionRecord, DeclaredClass, Endpoint, Fallback, TaskClass};
use farmhand::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// A decision as the router would write it. Each agent mostly asks for one class, and the class
/// decides the endpoint and model (with some fallbacks and rejections), as on a real farm.
fn decision(rng: &mut StdRng, i: usize) -> DecisionRecord {
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
        ts: Utc::now() - TimeDelta::milliseconds(rng.random_range(0..7 * 24 * 3600 * 1000)),
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

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let total = env_or("FARMHAND_BENCH_DECISIONS", 300_000);
    let batch_size = env_or("FARMHAND_BENCH_BATCH", 1000);
    let writers = env_or("FARMHAND_BENCH_WRITERS", 4);

    let db = pg::TestDatabase::create().await;
    let server = if pg::is_throwaway_cluster() {
        "throwaway cluster (fsync=off: numbers are optimistic; set DATABASE_URL for a real server)".to_string()
    } else {
        pg::redact(pg::admin_url())
    };
    println!("ingest: server {server}");
    let store = Store::connect(db.url()).await?;
    store.migrate().await?;

    let mut rng = StdRng::seed_from_u64(20_260_510);
    let mut decisions: Vec<DecisionRecord> = (0..total).map(|i| decision(&mut rng, i)).collect();
    // Decisions reach the store in the order requests arrive: a week of traffic, replayed.
    decisions.sort_by_key(|d| d.ts);
    let queue: VecDeque<Vec<DecisionRecord>> = decisions.chunks(batch_size).map(<[_]>::to_vec).collect();
    let queue = Arc::new(Mutex::new(queue));
    drop(decisions);

    println!("ingest: {total} decisions, batches of {batch_size}, {writers} writers");
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (store, queue) = (store.clone(), Arc::clone(&queue));
            tokio::spawn(async move {
                let mut inserted = 0u64;
                loop {
                    let next = queue.lock().map_err(|_| "queue poisoned")?.pop_front();
                    let Some(batch) = next else {
                        return Ok::<u64, Box<dyn std::error::Error + Send + Sync>>(inserted);
                    };
                    inserted += store.insert_decisions(&batch).await?;
                }
            })
        })
        .collect();
    let mut inserted = 0u64;
    for task in tasks {
        inserted += task.await?.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();

    let mut conn = sqlx::PgConnection::connect(db.url()).await?;
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
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "ingest: {inserted} inserted, {stored} stored, {rolled_up} in spend_hourly ({rollup_rows} rows) in {:.2} s = {rate:.0} decisions/s (budget >= 20000)",
        elapsed.as_secs_f64()
    );
    let expected = i64::try_from(total)?;
    if inserted != total as u64 || stored != expected || rolled_up != expected {
        return Err(format!(
            "lost or doubled decisions: sent {total}, inserted {inserted}, stored {stored}, rolled up {rolled_up}"
        )
        .into());
    }

    for (label, window) in [("24 h", TimeDelta::hours(24)), ("7 d", TimeDelta::days(7))] {
        let mut times = Vec::new();
        for _ in 0..7 {
            let now = Utc::now();
            let t = Instant::now();
            let summary = store.spend_summary(now - window, now).await?;
            times.push(t.elapsed());
            std::hint::black_box(summary);
        }
        times.sort();
        println!(
            "spend_summary {label}: median {:.2} ms, best {:.2} ms, worst {:.2} ms (budget <= 50 ms)",
            millis(times[times.len() / 2]),
            millis(times[0]),
            millis(times[times.len() - 1])
        );
    }
    Ok(())
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
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
