//! Batch jobs on PostgreSQL: enqueue rate, queue overhead with two routers, dispatch latency, and
//! what a running batch does to live latency.
//!
//! `cargo bench --bench jobs` (uses `DATABASE_URL` when set, else a throwaway cluster). Each phase
//! gets a fresh database. Budgets (issue 13), each with a PASS/FAIL verdict; the run exits 1 on a
//! miss or when a phase measured nothing:
//! - **enqueue**: a 100,000-line file uploaded through `POST /v1/files` and queued by
//!   `POST /v1/batches`, as the official SDKs do, at ≥ 20,000 jobs/s (upload start to the batch
//!   answer, every job checked in the store).
//! - **queue overhead**: two routers (each a store pool of its own) claim and complete jobs with a
//!   no-op executor, through the same store calls as the workers (claims of the workers'
//!   look-ahead, 32, as a router with eight or more free slots claims; then the run rows and the
//!   fenced ends in one call), at ≥ 10,000 jobs/s together; every job is checked done once.
//! - **dispatch**: p50 ≤ 5 ms from a slot freeing to a queued job starting on it. One simulated node
//!   with one slot runs a batch; the node itself notes when it hands a whole answer to its server
//!   and when it has read the next request, so the gap covers the answer's way back, the router's
//!   bookkeeping, the dispatcher and the next request's way out.
//! - **live traffic**: on a 12-node farm at the demo's pace (40 tokens/s, the class's model loaded
//!   on every node first), open-loop live requests at a fixed rate, each timed from its scheduled
//!   send, first alone, then while a 10,000-job batch runs on the same farm (checked still running
//!   at the end): live p99 rises by ≤ 10 %.
//!
//! `FARMHAND_BENCH_JOBS_PHASES` (comma-separated: `enqueue,queue,dispatch,live`) runs some phases.

#[path = "../tests/support/batch.rs"]
mod batch;
#[path = "../tests/support/pg.rs"]
mod pg;
#[path = "../tests/support/stack.rs"]
mod stack;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use farmhand::config::{FleetConfig, JobsConfig};
use farmhand::jobs::worker::WorkerOptions;
use farmhand::sim::SimOptions;
use farmhand::store::{BatchFileRow, BatchRow, BatchStatus, JobEnd, JobOutcome, JobRunRow, NewBatch, NewJob, Store};
use serde_json::{Value, json};

use pg::TestDatabase;
use stack::{Stack, fast_cadence};

/// Lines of the enqueue file.
const ENQUEUE_LINES: usize = 100_000;
/// Jobs the two routers of the queue phase drain.
const QUEUE_JOBS: i64 = 20_000;
/// Jobs of the dispatch phase's batch.
const DISPATCH_JOBS: usize = 400;
/// Jobs of the batch running under live traffic.
const LIVE_BATCH_JOBS: usize = 10_000;
/// Live requests per second, and for how long each window runs.
const LIVE_RATE: f64 = 25.0;
const LIVE_WINDOW: Duration = Duration::from_secs(30);

/// One budget's outcome.
struct Verdict {
    name: &'static str,
    measured: String,
    budget: String,
    pass: bool,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let phases = std::env::var("FARMHAND_BENCH_JOBS_PHASES").unwrap_or_else(|_| "enqueue,queue,dispatch,live".into());
    let mut verdicts = Vec::new();
    for phase in phases.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let verdict = match phase {
            "enqueue" => runtime.block_on(enqueue()),
            "queue" => runtime.block_on(queue_overhead()),
            "dispatch" => runtime.block_on(dispatch()),
            "live" => runtime.block_on(live_traffic()),
            other => {
                eprintln!("unknown phase {other:?} in FARMHAND_BENCH_JOBS_PHASES (enqueue, queue, dispatch, live)");
                std::process::exit(2);
            }
        };
        verdicts.push(verdict);
    }
    println!();
    for v in &verdicts {
        println!(
            "{:<16} {:>36}   budget {:<24} {}",
            v.name,
            v.measured,
            v.budget,
            if v.pass { "PASS" } else { "FAIL" }
        );
    }
    if verdicts.is_empty() || verdicts.iter().any(|v| !v.pass) {
        std::process::exit(1);
    }
}

/// How fast the simulated farm answers.
#[derive(Clone, Copy)]
enum Speed {
    /// Near-instant generation: what is measured is the router and the store.
    Fast,
    /// The demo farm's own pace (`farmhand sim` defaults: 40 tokens/s, real-time loads).
    RealTime,
}

/// A router with the Batch API on `db`, over `nodes` simulated nodes.
async fn farm(db: &TestDatabase, nodes: u16, speed: Speed, adjust: impl FnOnce(&mut FleetConfig)) -> Stack {
    batch::set_keys();
    Stack::start_sim(
        nodes,
        Some(db.url()),
        fast_cadence(),
        |sim| match speed {
            Speed::Fast => sim.tokens_per_sec = 2000.0,
            Speed::RealTime => {
                let real = SimOptions::default();
                (sim.tokens_per_sec, sim.time_scale) = (real.tokens_per_sec, real.time_scale);
            }
        },
        |config| {
            batch::enable(config);
            adjust(config);
        },
    )
    .await
}

fn classifier(stack: &Stack) -> batch::Agent {
    batch::Agent::new(&stack.url, batch::CLASSIFIER.2)
}

fn batch_id(batch: &Value) -> String {
    batch["id"].as_str().expect("a batch id").to_string()
}

async fn enqueue() -> Verdict {
    let db = TestDatabase::create().await;
    let stack = farm(&db, 2, Speed::Fast, |_| {}).await;
    let agent = classifier(&stack);
    let content = batch::tickets(ENQUEUE_LINES);
    let started = Instant::now();
    let file = agent.upload(&content).await;
    let uploaded = started.elapsed();
    let (status, created) = agent.create_batch(file["id"].as_str().expect("a file id")).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{created}");
    let id = batch_id(&created);
    let row = stored_batch(&stack.store, &id).await;
    let queued = row.counts.total;
    let _ = agent.post_json(&format!("/v1/batches/{id}/cancel"), json!({})).await;
    let rate = queued as f64 / elapsed.as_secs_f64();
    println!(
        "enqueue: {} MB, {queued} jobs in {:.0} ms (upload {:.0} ms, batch {:.0} ms): {rate:.0} jobs/s",
        content.len() / 1_000_000,
        elapsed.as_secs_f64() * 1e3,
        uploaded.as_secs_f64() * 1e3,
        (elapsed - uploaded).as_secs_f64() * 1e3,
    );
    Verdict {
        name: "enqueue",
        measured: format!("{rate:.0} jobs/s ({queued} queued)"),
        budget: "≥ 20,000 jobs/s".into(),
        pass: queued == ENQUEUE_LINES as i64 && rate >= 20_000.0,
    }
}

async fn queue_overhead() -> Verdict {
    let db = TestDatabase::create().await;
    let first = Store::connect(db.url()).await.expect("the store connects");
    first.migrate().await.expect("the store migrates");
    let second = Store::connect(db.url()).await.expect("the store connects");
    let now = Utc::now();
    let file = BatchFileRow {
        id: "file-queue-bench".into(),
        agent: "bench".into(),
        filename: "queue.jsonl".into(),
        bytes: 0,
        lines: QUEUE_JOBS,
        created_at: now,
        content: None,
    };
    first.create_batch_file(&file).await.expect("the input file is stored");
    let batch = NewBatch {
        id: "batch_queue_bench".into(),
        agent: "bench".into(),
        input_file_id: "file-queue-bench".into(),
        endpoint: "/v1/chat/completions".into(),
        completion_window: "24h".into(),
        created_at: now,
        expires_at: now + TimeDelta::hours(24),
        metadata: None,
        status: BatchStatus::InProgress,
        errors: None,
    };
    let jobs: Vec<NewJob> = (1..=QUEUE_JOBS)
        .map(|line| NewJob {
            line,
            custom_id: format!("q-{line}"),
            class: "routine".into(),
            request: vec![7; 160],
        })
        .collect();
    first.create_batch(&batch, &jobs).await.expect("the batch is queued");
    let options = WorkerOptions::from_config(&JobsConfig::default());
    let started = Instant::now();
    let routers = [("router-a", first.clone()), ("router-b", second)].map(|(id, store)| {
        let options = options.clone();
        tokio::spawn(async move { drain_with_no_op(store, id, &options).await })
    });
    let mut per_router = Vec::new();
    for router in routers {
        per_router.push(router.await.expect("a router task does not panic"));
    }
    let elapsed = started.elapsed();
    let row = stored_batch(&first, &batch.id).await;
    let runs = first.job_runs(&batch.id).await.expect("the runs");
    let done: u64 = per_router.iter().map(|d| d.jobs).sum();
    let claims: u32 = per_router.iter().map(|d| d.claims).sum();
    let per_call = |total: Duration| ms(total) / f64::from(claims.max(1));
    let in_claims = per_call(per_router.iter().map(|d| d.in_claims).sum());
    let in_ends = per_call(per_router.iter().map(|d| d.in_ends).sum());
    let rate = done as f64 / elapsed.as_secs_f64();
    let once = row.counts.completed == QUEUE_JOBS && runs.len() == QUEUE_JOBS as usize && done == QUEUE_JOBS as u64;
    println!(
        "queue: {done} jobs claimed {} at a time and completed by two routers ({} + {}) in {:.0} ms: {rate:.0} jobs/s; \
         a claim took {in_claims:.2} ms, ending its jobs {in_ends:.2} ms; {} completed, {} runs recorded",
        claim_size(&options),
        per_router[0].jobs,
        per_router[1].jobs,
        elapsed.as_secs_f64() * 1e3,
        row.counts.completed,
        runs.len()
    );
    Verdict {
        name: "queue overhead",
        measured: format!("{rate:.0} jobs/s, two routers"),
        budget: "≥ 10,000 jobs/s".into(),
        pass: once && rate >= 10_000.0,
    }
}

/// What one router of the queue phase did.
#[derive(Default)]
struct Drained {
    jobs: u64,
    claims: u32,
    in_claims: Duration,
    in_ends: Duration,
}

/// Jobs per claim: the workers' look-ahead, or `FARMHAND_BENCH_JOBS_CLAIM` to explore.
fn claim_size(options: &WorkerOptions) -> u32 {
    std::env::var("FARMHAND_BENCH_JOBS_CLAIM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(options.prefetch as u32)
}

/// One router's worker loop with an executor that does nothing: claim the look-ahead, end every
/// claimed job as succeeded with its run row, until the queue is empty.
async fn drain_with_no_op(store: Store, router_id: &str, options: &WorkerOptions) -> Drained {
    let result = vec![9u8; 120];
    let mut drained = Drained::default();
    loop {
        let now = Utc::now();
        let lease_until = now + TimeDelta::from_std(options.lease).expect("a lease");
        let claiming = Instant::now();
        let claimed = store
            .claim_jobs(router_id, claim_size(options), now, lease_until)
            .await
            .expect("a claim");
        drained.claims += 1;
        drained.in_claims += claiming.elapsed();
        if claimed.is_empty() {
            return drained;
        }
        let ended_at = Utc::now();
        let ends: Vec<JobEnd> = claimed
            .iter()
            .map(|job| JobEnd {
                job_id: job.id,
                outcome: JobOutcome::Succeeded {
                    status_code: 200,
                    result: result.clone(),
                },
                run: Some(JobRunRow {
                    job_id: job.id,
                    batch_id: job.batch_id.clone(),
                    attempt: job.attempt,
                    router_id: router_id.to_string(),
                    target: Some("mini-01".into()),
                    started_at: now,
                    ended_at: Some(ended_at),
                    outcome: "ok".into(),
                    status_code: Some(200),
                    error_code: None,
                    prompt_tokens: 40,
                    completion_tokens: 4,
                    cost_usd: 0.0,
                    request_id: None,
                }),
            })
            .collect();
        let ending = Instant::now();
        let fenced = store.finish_jobs(router_id, &ends, ended_at).await.expect("the ends");
        drained.in_ends += ending.elapsed();
        drained.jobs += fenced.iter().filter(|&&held| held).count() as u64;
    }
}

async fn dispatch() -> Verdict {
    let db = TestDatabase::create().await;
    let stack = farm(&db, 1, Speed::Fast, |config| {
        for node in &mut config.nodes {
            node.parallel = Some(1);
        }
        config.jobs.max_share = 1.0;
    })
    .await;
    let node = stack.farm.node_names().remove(0);
    let agent = classifier(&stack);
    let created = agent.submit(&batch::tickets(DISPATCH_JOBS)).await;
    let ended = agent
        .wait_for(&batch_id(&created), &["completed"], Duration::from_secs(120))
        .await;
    let completed = ended["request_counts"]["completed"].as_u64().unwrap_or(0);
    let requests: Vec<Instant> = stack
        .farm
        .node_requests(&node)
        .iter()
        .filter(|r| !r.stream)
        .map(|r| r.received)
        .collect();
    let answers = stack.farm.node_answers(&node);
    let mut gaps = idle_gaps(&requests, &answers);
    gaps.sort();
    let p50 = percentile(&gaps, 0.50);
    println!(
        "dispatch: {completed} jobs on one slot, {} slot-free → next-start gaps: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        gaps.len(),
        ms(p50),
        ms(percentile(&gaps, 0.90)),
        ms(gaps.last().copied().unwrap_or_default()),
    );
    let measured = gaps.len() >= DISPATCH_JOBS / 2 && completed == DISPATCH_JOBS as u64;
    Verdict {
        name: "dispatch",
        measured: format!("p50 {:.2} ms ({} gaps)", ms(p50), gaps.len()),
        budget: "p50 ≤ 5 ms".into(),
        pass: measured && p50 <= Duration::from_millis(5),
    }
}

/// For each request a node read after handing over an answer (with nothing read in between),
/// how long its only slot stayed idle.
fn idle_gaps(requests: &[Instant], answers: &[Instant]) -> Vec<Duration> {
    let mut gaps = Vec::new();
    for pair in requests.windows(2) {
        let (before, next) = (pair[0], pair[1]);
        if let Some(freed) = answers.iter().rev().find(|&&a| a > before && a <= next) {
            gaps.push(next - *freed);
        }
    }
    gaps
}

async fn live_traffic() -> Verdict {
    let db = TestDatabase::create().await;
    let stack = farm(&db, 12, Speed::RealTime, |_| {}).await;
    let client = reqwest::Client::new();
    warm_every_node(&stack, &client).await;
    let _ = live_window(&stack, &client, Duration::from_secs(5)).await;
    let alone = live_window(&stack, &client, LIVE_WINDOW).await;
    let agent = classifier(&stack);
    let created = agent.submit(&batch::tickets(LIVE_BATCH_JOBS)).await;
    let id = batch_id(&created);
    let running_from = wait_until_running(&stack.store, &id).await;
    let with_batch = live_window(&stack, &client, LIVE_WINDOW).await;
    let row = stored_batch(&stack.store, &id).await;
    let still_running = row.status == BatchStatus::InProgress && row.counts.completed < row.counts.total;
    let batch_done = row.counts.completed - running_from;
    let (p99_alone, p99_batch) = (alone.p99(), with_batch.p99());
    let ratio = p99_batch.as_secs_f64() / p99_alone.as_secs_f64().max(1e-9);
    println!(
        "live alone:      {} requests, {} failed, p50 {:.1} ms, p99 {:.1} ms",
        alone.latencies.len(),
        alone.failed,
        ms(alone.p50()),
        ms(p99_alone)
    );
    println!(
        "live with batch: {} requests, {} failed, p50 {:.1} ms, p99 {:.1} ms; the batch ran {batch_done} jobs \
         meanwhile ({:.0} jobs/s), {} of {} done at the end",
        with_batch.latencies.len(),
        with_batch.failed,
        ms(with_batch.p50()),
        ms(p99_batch),
        batch_done as f64 / LIVE_WINDOW.as_secs_f64(),
        row.counts.completed,
        row.counts.total,
    );
    let measured = alone.failed == 0
        && with_batch.failed == 0
        && alone.latencies.len() >= 100
        && with_batch.latencies.len() >= 100
        && still_running
        && batch_done > 0;
    Verdict {
        name: "live traffic",
        measured: format!("p99 ×{ratio:.3} with the batch"),
        budget: "≤ ×1.10".into(),
        pass: measured && ratio <= 1.10,
    }
}

/// Loads the `routine` model on every node that has it, as a farm that has been serving a while
/// has, so that both windows see the same placements (a cold load mid-window takes seconds).
async fn warm_every_node(stack: &Stack, client: &reqwest::Client) {
    let model = stack.gateway.config.models.routine.clone();
    let loads = stack.farm.node_urls().into_iter().map(|url| {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "warm up"}], "max_tokens": 1});
        client.post(format!("{url}/v1/chat/completions")).json(&body).send()
    });
    let loaded = futures::future::join_all(loads)
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status().is_success()))
        .count();
    println!(
        "live: {model} loaded on {loaded} of {} nodes before measuring",
        stack.farm.node_urls().len()
    );
}

/// Batch `id` as the store has it now.
async fn stored_batch(store: &Store, id: &str) -> BatchRow {
    store
        .batch(id)
        .await
        .expect("the store answers")
        .expect("the batch is stored")
}

/// Waits until the batch has jobs running or done; the jobs done by then.
async fn wait_until_running(store: &Store, id: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = stored_batch(store, id).await;
        if row.counts.running > 0 || row.counts.completed > 0 {
            return row.counts.completed;
        }
        assert!(Instant::now() < deadline, "the batch did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Latencies of one open-loop window.
struct Window {
    latencies: Vec<Duration>,
    failed: usize,
}

impl Window {
    fn p50(&self) -> Duration {
        percentile(&self.latencies, 0.50)
    }

    fn p99(&self) -> Duration {
        percentile(&self.latencies, 0.99)
    }
}

/// Sends live `routine` requests (of another agent than the batch's) at [`LIVE_RATE`] for `length`, each at its scheduled time and timed
/// from it (no coordinated omission).
async fn live_window(stack: &Stack, client: &reqwest::Client, length: Duration) -> Window {
    let total = (LIVE_RATE * length.as_secs_f64()) as usize;
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let url = Arc::new(format!("{}/v1/chat/completions", stack.url));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / LIVE_RATE);
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            tokio::time::sleep_until(due).await;
            let body = json!({
                "model": "routine",
                "messages": [{"role": "user", "content": format!("Is ticket {i} about billing? Answer yes or no.")}],
                "max_tokens": 16
            });
            let request = client.post(url.as_str()).bearer_auth(batch::SUMMARISER.2).json(&body);
            let ok = match request.send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            };
            (ok, due.elapsed())
        });
    }
    let mut window = Window {
        latencies: Vec::with_capacity(total),
        failed: 0,
    };
    while let Some(done) = tasks.join_next().await {
        match done.expect("a live request task does not panic") {
            (true, latency) => window.latencies.push(latency),
            (false, _) => window.failed += 1,
        }
    }
    window.latencies.sort();
    window
}

/// The `q` quantile of sorted samples (zero when there are none).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
