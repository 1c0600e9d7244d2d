//! Router overhead: latency added by the gateway versus calling a simulated node directly,
//! with every decision logged to the store.
//!
//! `cargo bench --bench router_overhead`. One process, three places, as in a deployment: a
//! [`SimFarm`] on a runtime of its own (the nodes are other machines; generation is made
//! near-instant, so the farm answers in microseconds), the gateway on the router's runtime (a
//! multi-threaded one with a worker per core, as `farmhand router` runs), and an HTTP client on
//! a thread of its own. "Direct" posts an OpenAI body naming the local model to a node's
//! `/v1/chat/completions` (round-robin over the routed nodes); "router" posts the same body with
//! `model: "routine"` to the gateway. Same client, same keep-alive pool.
//!
//! Phases: (a) one request at a time, in rounds whose order rotates: router, direct, and three
//! profiling hops in the router's runtime that split the cost (a raw TCP relay: the floor of any
//! extra hop on this machine; a bare HTTP proxy; a proxy through the gateway's upstream code);
//! (b) open loop, 2,000 req/s through the router plus 2,000 req/s direct, each request sent at a
//! precomputed time and its latency measured from that time (no coordinated omission). The
//! overhead is the difference of the percentiles (router − direct).
//!
//! Budget: the absolute 150 µs p50 of DESIGN.md cannot be met on a 2-vCPU machine where one bare
//! axum + reqwest hop costs about as much by itself, so it is stated against that floor, measured
//! in the same run: the router's p50 overhead ≤ 1.25 × the bare HTTP proxy's (phase a), and its
//! p99 overhead ≤ 1 ms at 2,000 req/s (phase b) with every decision logged to PostgreSQL. The
//! absolute figures are printed beside the verdicts. Every send gets a random sub-millisecond
//! phase, so requests do not line up with timer ticks.
//!
//! Store: PostgreSQL (a fresh database on `DATABASE_URL`'s server, or a throwaway cluster from the
//! installed binaries when it is unset); `FARMHAND_BENCH_STORE=sqlite` runs on SQLite in a
//! temporary directory and `null` on a counting sink (profiling only). `FARMHAND_BENCH_ROUNDS`
//! (default 1500) and `FARMHAND_BENCH_LOAD_SECS` (default 10) change the run length;
//! `FARMHAND_BENCH_ROUTER_RUNTIME` and `FARMHAND_BENCH_FARM_RUNTIME` (`multi`, `multi:N`,
//! `current`) the runtimes; `FARMHAND_BENCH_PROFILE_KIND` (`router`, `direct`, `proxy`, `relay`,
//! `upstream`) runs one kind alone and stops, for `perf stat`.

#[path = "../tests/support/pg.rs"]
mod pg;
#[path = "support/proc_status.rs"]
mod proc_status;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use farmhand::domain::{DecisionRecord, DeclaredClass};
use farmhand::fleet::{Cadence, FleetPoller, FleetSnapshot, Health};
use farmhand::gateway::{AgentKeys, Gateway, GatewaySources};
use farmhand::recorder::{DecisionSink, Recorder, RecorderOptions};
use farmhand::router::{RequestFeatures, RequestInput};
use farmhand::sim::{SimFarm, SimOptions};
use farmhand::store::{Backend, Store};
use farmhand::wire::openai::{ChatCompletion, ChatCompletionRequest};
use rand::Rng;
use sqlx::Connection;
use tokio::sync::watch;

/// Nodes in the simulated farm; with 8, the first four have 32–64 GB and 4 slots each.
const FARM_NODES: u16 = 8;
/// Nodes the router is given (and direct calls are spread over) unless `FARMHAND_BENCH_NODES` says.
const ROUTED_NODES: usize = 4;
/// Offered rate of each kind in the open-loop phase.
const RATE_PER_SEC: u64 = 2000;
/// Router budget: p50 of the added latency as a multiple of a bare HTTP proxy hop's, and p99.
const BUDGET_P50_RATIO: f64 = 1.25;
const BUDGET_P99: Duration = Duration::from_millis(1);
/// The in-flight quality work's budget per request (p50, in-process).
const BUDGET_QUALITY_P50: Duration = Duration::from_micros(5);
/// DESIGN.md's absolute p50 budget, printed beside the ratio for reference.
const DESIGN_P50: Duration = Duration::from_micros(150);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// Resident set size and its peak, in KiB, of this process.
fn rss_kib() -> (u64, u64) {
    proc_status::memory_kib("self")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn signed_mib(after: u64, before: u64) -> f64 {
    (after as f64 - before as f64) / 1024.0
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Direct,
    Router,
    /// A bare HTTP proxy (axum and reqwest) in the router's runtime: the cost of one more HTTP hop
    /// with no farmhand code in it (profiling aid).
    Proxy,
    /// A raw TCP relay in the router's runtime: bytes copied both ways to one node, no HTTP at
    /// all (profiling aid: the floor of one more hop on this machine, whatever the proxy).
    Relay,
    /// A proxy that calls the node through the gateway's own upstream code and relays its parsed
    /// reply, without deciding or recording (profiling aid: splits the gateway's extra cost).
    Upstream,
}

/// What one request needs: where to post and what.
#[derive(Clone)]
struct Endpoints {
    router: String,
    proxy: String,
    relay: String,
    upstream: String,
    nodes: Vec<String>,
    router_body: Bytes,
    direct_body: Bytes,
}

impl Endpoints {
    fn pick(&self, kind: Kind, i: usize) -> (&str, Bytes) {
        match kind {
            Kind::Router => (&self.router, self.router_body.clone()),
            Kind::Direct => (&self.nodes[i % self.nodes.len()], self.direct_body.clone()),
            Kind::Proxy => (&self.proxy, self.direct_body.clone()),
            Kind::Relay => (&self.relay, self.direct_body.clone()),
            Kind::Upstream => (&self.upstream, self.direct_body.clone()),
        }
    }
}

/// Outcome of one request: status and, for the router, the route it took.
struct Reply {
    status: u16,
    route: Option<String>,
}

async fn post(client: &reqwest::Client, url: &str, body: Bytes) -> Result<Reply, String> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    let route = response
        .headers()
        .get("x-farmhand-route")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    response.bytes().await.map_err(|e| format!("body: {e}"))?;
    Ok(Reply { status, route })
}

/// Latencies of one kind, plus what went wrong.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    non_local_routes: u64,
}

impl Samples {
    fn record(&mut self, latency: Duration, reply: Result<Reply, String>, kind: Kind) {
        match reply {
            Ok(r) if r.status == 200 => {
                if kind == Kind::Router && !r.route.as_deref().is_some_and(|x| x.starts_with("local/")) {
                    self.non_local_routes += 1;
                }
                self.latencies.push(latency);
            }
            Ok(r) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("HTTP {}", r.status));
            }
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }
}

/// p50, p90, p99, max of a sample set.
#[derive(Clone, Copy)]
struct Percentiles {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    n: usize,
}

fn percentiles(samples: &mut [Duration]) -> Percentiles {
    samples.sort_unstable();
    let at = |q: f64| {
        if samples.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1]
    };
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: samples.last().copied().unwrap_or_default(),
        n: samples.len(),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn signed_us(a: Duration, b: Duration) -> f64 {
    us(a) - us(b)
}

/// Prints one row of a latency table.
fn print_row(name: &str, p: Percentiles, errors: u64) {
    println!(
        "  {:<18} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>7}",
        name,
        p.n,
        us(p.p50),
        us(p.p90),
        us(p.p99),
        us(p.max),
        errors
    );
}

/// Prints the table of one phase and returns (p50 overhead, p99 overhead) in µs.
fn report(title: &str, direct: &mut Samples, router: &mut Samples) -> (f64, f64) {
    let d = percentiles(&mut direct.latencies);
    let r = percentiles(&mut router.latencies);
    println!();
    println!("{title}");
    println!(
        "  {:<18} {:>7} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "", "n", "p50 µs", "p90 µs", "p99 µs", "max µs", "errors"
    );
    print_row("direct (node)", d, direct.errors);
    print_row("via router", r, router.errors);
    let overhead = (
        signed_us(r.p50, d.p50),
        signed_us(r.p90, d.p90),
        signed_us(r.p99, d.p99),
        signed_us(r.max, d.max),
    );
    println!(
        "  {:<18} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
        "overhead (r − d)", "", overhead.0, overhead.1, overhead.2, overhead.3
    );
    for (name, s) in [("direct", &*direct), ("router", &*router)] {
        if let Some(e) = &s.first_error {
            println!("  {name}: {} errors, first: {e}", s.errors);
        }
    }
    if router.non_local_routes > 0 {
        println!("  router: {} answers were not routed local/…", router.non_local_routes);
    }
    (overhead.0, overhead.2)
}

/// Sleeps a uniformly random fraction of a millisecond (see the module docs for why).
fn random_phase(rng: &mut impl Rng) {
    std::thread::sleep(Duration::from_nanos(rng.random_range(0..1_000_000)));
}

/// Phase (a): `rounds` rounds one at a time, each sending every kind of `kinds` once, in an
/// order rotated every round. Returns samples in the order of `kinds`.
fn one_at_a_time(
    client_rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    endpoints: &Endpoints,
    rounds: usize,
    kinds: &[Kind],
    router_sent: &AtomicU64,
) -> Vec<Samples> {
    let mut rng = rand::rng();
    let mut samples: Vec<Samples> = kinds.iter().map(|_| Samples::default()).collect();
    for i in 0..rounds {
        for j in 0..kinds.len() {
            let slot = (i + j) % kinds.len();
            let kind = kinds[slot];
            let (url, body) = endpoints.pick(kind, i);
            random_phase(&mut rng);
            if kind == Kind::Router {
                router_sent.fetch_add(1, Ordering::Relaxed);
            }
            let started = Instant::now();
            let reply = client_rt.block_on(post(client, url, body));
            let latency = started.elapsed();
            samples[slot].record(latency, reply, kind);
        }
    }
    samples
}

/// Results of an open-loop run.
struct OpenLoop {
    direct: Samples,
    router: Samples,
    /// Time from the scheduled send to the request task's first poll, every request.
    dispatch_lag: Vec<Duration>,
    /// Scheduled span of the run and the number of requests of each kind.
    span: Duration,
    per_kind: u64,
}

/// Phase (b): `secs` seconds at `RATE_PER_SEC` of each kind in `kinds`, each send at its
/// millisecond plus a random phase, latency measured from that scheduled time.
fn open_loop(
    client_rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    endpoints: &Endpoints,
    secs: u64,
    kinds: &[Kind],
    router_sent: &Arc<AtomicU64>,
) -> OpenLoop {
    let per_kind = RATE_PER_SEC * secs;
    let mut rng = rand::rng();
    let mut schedule: Vec<(Duration, Kind, usize)> = Vec::with_capacity(per_kind as usize * kinds.len());
    for k in 0..per_kind {
        for &kind in kinds {
            let offset = Duration::from_micros(k * 1_000_000 / RATE_PER_SEC + rng.random_range(0..1_000));
            schedule.push((offset, kind, k as usize));
        }
    }
    schedule.sort_by_key(|s| s.0);
    let span = schedule.last().map(|s| s.0).unwrap_or_default();

    let results = Arc::new(Mutex::new((Samples::default(), Samples::default(), Vec::new())));
    let handle = client_rt.handle().clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let scheduler = {
        let (client, endpoints, results, router_sent) =
            (client.clone(), endpoints.clone(), results.clone(), router_sent.clone());
        std::thread::spawn(move || {
            let start = Instant::now() + Duration::from_millis(20);
            let mut tasks = Vec::with_capacity(schedule.len());
            for (offset, kind, i) in schedule {
                let at = start + offset;
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let (url, body) = endpoints.pick(kind, i);
                let (url, client, results) = (url.to_string(), client.clone(), results.clone());
                if kind == Kind::Router {
                    router_sent.fetch_add(1, Ordering::Relaxed);
                }
                tasks.push(handle.spawn(async move {
                    let lag = at.elapsed();
                    let reply = post(&client, &url, body).await;
                    let latency = at.elapsed();
                    let mut guard = results.lock().expect("results lock");
                    let (direct, router, lags) = &mut *guard;
                    lags.push(lag);
                    match kind {
                        Kind::Router => router.record(latency, reply, kind),
                        Kind::Direct | Kind::Proxy | Kind::Relay | Kind::Upstream => {
                            direct.record(latency, reply, kind)
                        }
                    }
                }));
            }
            let _ = done_tx.send(tasks);
        })
    };
    client_rt.block_on(async move {
        let tasks = done_rx.await.expect("the scheduler thread hands over its tasks");
        for task in tasks {
            task.await.expect("request task");
        }
    });
    scheduler.join().expect("scheduler thread");
    let (direct, router, dispatch_lag) = std::mem::take(&mut *results.lock().expect("results lock"));
    OpenLoop {
        direct,
        router,
        dispatch_lag,
        span,
        per_kind,
    }
}

/// A bare HTTP proxy: reads the request, posts the fixed direct body to the next node, relays
/// the answer. No parsing, no decision, no record: the cost of one more hop and nothing else.
async fn bare_proxy(nodes: Vec<String>, body: Bytes) -> String {
    use axum::extract::State;
    use std::sync::atomic::AtomicUsize;
    type ProxyState = Arc<(reqwest::Client, Vec<String>, Bytes, AtomicUsize)>;
    async fn forward(State(state): State<ProxyState>, _request: Bytes) -> axum::response::Response {
        use axum::response::IntoResponse;
        let (client, nodes, body, next) = &*state;
        let url = &nodes[next.fetch_add(1, Ordering::Relaxed) % nodes.len()];
        let reply = async {
            let response = client.post(url).body(body.clone()).send().await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, response.bytes().await?))
        };
        match reply.await {
            Ok((status, bytes)) => (
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_GATEWAY),
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                bytes,
            )
                .into_response(),
            Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
        }
    }
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("proxy client");
    let state: ProxyState = Arc::new((client, nodes, body, AtomicUsize::new(0)));
    serve_chat_completions(axum::routing::post(forward).with_state(state)).await
}

/// A raw TCP relay to `node` (`host:port`): each accepted connection gets its own connection to
/// the node and one task copying both ways. The floor cost of any extra hop.
async fn tcp_relay(node: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let node = node.clone();
            tokio::spawn(async move {
                let _ = inbound.set_nodelay(true);
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&node).await {
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    format!("http://{addr}/v1/chat/completions")
}

/// A proxy through the gateway's own upstream code (`gateway::upstream::local::call`): parses the
/// request, calls the next node as the gateway would, relays the parsed reply as JSON.
async fn upstream_proxy(nodes: Vec<String>, model: String) -> String {
    use axum::extract::State;
    use farmhand::gateway::upstream::node_client::NodeClient;
    use farmhand::gateway::upstream::{Timeouts, UpstreamReply, local};
    use std::sync::atomic::AtomicUsize;
    type UpstreamState = Arc<(NodeClient, Vec<String>, String, AtomicUsize)>;
    async fn forward(State(state): State<UpstreamState>, body: Bytes) -> axum::response::Response {
        use axum::response::IntoResponse;
        let (client, nodes, model, next) = &*state;
        let url = &nodes[next.fetch_add(1, Ordering::Relaxed) % nodes.len()];
        let base = url.trim_end_matches("/v1/chat/completions");
        let Ok(request) = serde_json::from_slice::<ChatCompletionRequest>(&body) else {
            return axum::http::StatusCode::BAD_REQUEST.into_response();
        };
        let timeouts = Timeouts {
            first_byte: Duration::from_secs(10),
            idle: Duration::from_secs(10),
        };
        match local::call(client, base, model, &request, timeouts).await {
            Ok(UpstreamReply::Complete { body, .. }) => {
                ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
            }
            _ => axum::http::StatusCode::BAD_GATEWAY.into_response(),
        }
    }
    let client = NodeClient::new();
    let state: UpstreamState = Arc::new((client, nodes, model, AtomicUsize::new(0)));
    serve_chat_completions(axum::routing::post(forward).with_state(state)).await
}

/// Serves `handler` as `POST /v1/chat/completions` on a loopback port of this runtime; returns its URL.
async fn serve_chat_completions(handler: axum::routing::MethodRouter) -> String {
    let app = axum::Router::new().route("/v1/chat/completions", handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a proxy");
    let addr = listener.local_addr().expect("proxy address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1/chat/completions")
}

/// A runtime driven by a thread of its own, so that the farm (the nodes are other machines), the
/// router and the client each run apart. Its kind comes from an environment variable: `multi`
/// (default, a worker per core, as `farmhand router` runs), `multi:N` or `current`.
struct BenchRuntime {
    handle: tokio::runtime::Handle,
    label: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BenchRuntime {
    fn start(variable: &str, name: &str) -> BenchRuntime {
        let choice = std::env::var(variable).unwrap_or_else(|_| "multi".into());
        let (runtime, label) = if choice == "current" {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            (runtime, "current-thread".to_string())
        } else {
            let workers: Option<usize> = choice.strip_prefix("multi:").and_then(|n| n.parse().ok());
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = workers {
                builder.worker_threads(n);
            }
            let label = format!(
                "multi-thread ({} workers)",
                workers.map_or_else(|| "default".to_string(), |n| n.to_string())
            );
            (builder.thread_name(name).enable_all().build(), label)
        };
        let runtime = runtime.unwrap_or_else(|e| panic!("{name} runtime: {e}"));
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-main"))
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .unwrap_or_else(|e| panic!("{name} runtime thread: {e}"));
        BenchRuntime {
            handle,
            label,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }
}

impl Drop for BenchRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until every routed node is up with `model` loaded in the fleet view.
async fn wait_for_fleet(fleet: &mut watch::Receiver<FleetSnapshot>, nodes: usize, model: &str) {
    let ready = |s: &FleetSnapshot| {
        s.nodes.len() == nodes
            && s.nodes
                .iter()
                .all(|n| n.health == Health::Up && n.loaded.iter().any(|m| m.name == model))
    };
    tokio::time::timeout(Duration::from_secs(20), fleet.wait_for(ready))
        .await
        .expect("the fleet view shows every node up with the model loaded within 20 s")
        .expect("the fleet poller is running");
}

/// Where decisions go for this run; dropping it removes the database or directory.
enum StoreHome {
    Postgres(pg::TestDatabase),
    Sqlite { _dir: tempfile::TempDir, url: String },
}

impl StoreHome {
    async fn create() -> StoreHome {
        // `null` keeps a SQLite file for the start-up reads; the decisions go to the counting sink.
        let want_sqlite = std::env::var("FARMHAND_BENCH_STORE")
            .is_ok_and(|v| v.eq_ignore_ascii_case("sqlite") || v.eq_ignore_ascii_case("null"));
        if !want_sqlite {
            StoreHome::Postgres(pg::TestDatabase::create().await)
        } else {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("farmhand.db").display());
            StoreHome::Sqlite { _dir: dir, url }
        }
    }

    fn url(&self) -> &str {
        match self {
            StoreHome::Postgres(db) => db.url(),
            StoreHome::Sqlite { url, .. } => url,
        }
    }

    fn describe(&self) -> String {
        match self {
            StoreHome::Postgres(_) if pg::is_throwaway_cluster() => {
                "PostgreSQL (throwaway cluster, fsync=off)".to_string()
            }
            StoreHome::Postgres(_) => format!("PostgreSQL ({})", pg::redact(pg::admin_url())),
            StoreHome::Sqlite { .. } => "SQLite (temporary file)".to_string(),
        }
    }
}

/// A decision sink that only counts (`FARMHAND_BENCH_STORE=null`): profiling the cost of the
/// store write, not a budget run.
#[derive(Clone)]
struct CountingSink(Arc<AtomicU64>);

impl DecisionSink for CountingSink {
    async fn insert_decisions(&self, batch: &[DecisionRecord]) -> anyhow::Result<u64> {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(batch.len() as u64)
    }
}

/// Rows in `routing_decisions` and requests rolled into `spend_hourly`.
async fn count_decisions(url: &str, backend: Backend) -> (i64, i64) {
    const ROWS: &str = "SELECT count(*) FROM routing_decisions";
    const ROLLED: &str = "SELECT CAST(coalesce(sum(requests), 0) AS BIGINT) FROM spend_hourly";
    match backend {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to count");
            let rows = sqlx::query_scalar(ROWS).fetch_one(&mut conn).await.expect("count rows");
            let rolled = sqlx::query_scalar(ROLLED)
                .fetch_one(&mut conn)
                .await
                .expect("sum rollup");
            let _ = conn.close().await;
            (rows, rolled)
        }
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect to count");
            let rows = sqlx::query_scalar(ROWS).fetch_one(&mut conn).await.expect("count rows");
            let rolled = sqlx::query_scalar(ROLLED)
                .fetch_one(&mut conn)
                .await
                .expect("sum rollup");
            let _ = conn.close().await;
            (rows, rolled)
        }
    }
}

/// Cheap in-process timing of the gateway's per-request steps, for the breakdown.
/// The in-flight quality work of one request that asked for a `json_schema` answer: reading its
/// expectation (schema compiled once, then cached), checking the whole answer, and summing its
/// signals into the rollup line. Returns the p50 over `n` requests.
fn quality_work_p50(n: usize) -> Duration {
    use farmhand::quality::{AnswerCheck, JsonExpectation, QualityLine, SchemaCache};
    let format = serde_json::json!({"type": "json_schema", "json_schema": {"name": "label", "schema": {
        "type": "object", "properties": {"label": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["label", "confidence"]}}});
    let completion = serde_json::json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
            "content": "{\"label\": \"billing\", \"confidence\": 0.93}"}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}})
    .to_string();
    let schemas = SchemaCache::default();
    let record: DecisionRecord = serde_json::from_value(serde_json::json!({
        "request_id": "r", "ts": "2026-11-28T10:00:00Z", "agent": "a", "declared_class": "routine",
        "effective_class": "routine", "sensitive": false, "sensitivity_reason": null, "endpoint": "local",
        "provider": "ollama", "node": "mini-01", "model": "m", "est_tokens": 1, "prompt_tokens": 1,
        "completion_tokens": 1, "cost_usd": 0.0, "ttfb_ms": null, "latency_ms": 1, "fallback": "none",
        "policy_version": 1, "status": 200, "error": null
    }))
    .expect("a record");
    let mut line = QualityLine::default();
    let mut one = || {
        let mut check = AnswerCheck::new(JsonExpectation::of_response_format(Some(&format), &schemas));
        check.observe_completion(completion.as_bytes());
        let verdict = (check.finish_reason(), check.empty(), check.json_valid());
        line.add(&QualityLine::of(&record));
        std::hint::black_box(verdict);
    };
    for _ in 0..1_000 {
        one();
    }
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            one();
            t.elapsed()
        })
        .collect();
    samples.sort();
    samples.get(n / 2).copied().unwrap_or(Duration::MAX)
}

fn breakdown(gateway: &Gateway, router_body: &[u8], completion: &[u8]) {
    const N: u32 = 20_000;
    const COLD_RUNS: u32 = 500;
    // Twice the L2 of this machine (1 MiB in all): walking it between calls starts a step as on
    // the request path, where the client and the farm ran on the same cores in between.
    let mut evict = vec![0u8; EVICT_MIB << 20];
    let mut time = |f: &mut dyn FnMut()| {
        for _ in 0..1000 {
            f();
        }
        let t = Instant::now();
        for _ in 0..N {
            f();
        }
        let hot = t.elapsed() / N;
        let mut cold = Duration::ZERO;
        for round in 0..COLD_RUNS {
            for line in evict.iter_mut().step_by(64) {
                *line = line.wrapping_add(round as u8);
            }
            let t = Instant::now();
            f();
            cold += t.elapsed();
        }
        std::hint::black_box(&evict);
        Steps {
            hot,
            cold: cold / COLD_RUNS,
        }
    };
    let parse = time(&mut || {
        let r: ChatCompletionRequest = serde_json::from_slice(router_body).expect("request parses");
        std::hint::black_box(r);
    });
    let request: ChatCompletionRequest = serde_json::from_slice(router_body).expect("request parses");
    let body: serde_json::Value = serde_json::from_slice(router_body).expect("request parses");
    let features = || {
        let texts: Vec<std::borrow::Cow<'_, str>> = request.messages.iter().map(|m| m.text()).collect();
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let input = RequestInput {
            declared: DeclaredClass::Routine,
            data_class: None,
            agent: "bench",
            messages: &refs,
            body: &body,
            tool_count: 0,
            max_tokens: request.max_tokens,
        };
        RequestFeatures::from_request(&input, gateway.policy.detectors)
    };
    let features_time = time(&mut || {
        std::hint::black_box(features());
    });
    let f = features();
    let decide = time(&mut || {
        std::hint::black_box(gateway.decide(&f));
    });
    let upstream_body = time(&mut || {
        let mut body = request.clone();
        body.model = "llama3.1:8b".into();
        std::hint::black_box(serde_json::to_vec(&body).expect("serialises"));
    });
    let reply = time(&mut || {
        let c: ChatCompletion = serde_json::from_slice(completion).expect("completion parses");
        std::hint::black_box(serde_json::to_vec(&c).expect("serialises"));
    });
    println!();
    println!(
        "gateway steps in-process (single thread, no HTTP): hot = mean of {N} back to back; \
         cold = mean of {COLD_RUNS}, each after {} MiB were walked (the caches a request finds)",
        EVICT_MIB
    );
    println!("  {:<46} {:>8} {:>8}", "", "hot µs", "cold µs");
    for (name, steps) in [
        ("parse request JSON", parse),
        ("request features (detectors)", features_time),
        ("decide (control, fleet view, select, spend)", decide),
        ("clone + serialise upstream body", upstream_body),
        ("parse + re-serialise the reply", reply),
    ] {
        println!("  {name:<46} {:>8.2} {:>8.2}", us(steps.hot), us(steps.cold));
    }
}

/// One gateway step's mean time with warm caches and with caches another workload just used.
#[derive(Clone, Copy)]
struct Steps {
    hot: Duration,
    cold: Duration,
}

/// The size of the buffer walked before each cold call, in MiB.
const EVICT_MIB: usize = 2;

/// `FARMHAND_BENCH_PROFILE_KIND`, read before anything starts: a bad name stops the bench at once.
fn profile_kind() -> Option<(String, Kind)> {
    let name = std::env::var("FARMHAND_BENCH_PROFILE_KIND").ok()?;
    let kind = match name.as_str() {
        "router" => Kind::Router,
        "direct" => Kind::Direct,
        "proxy" => Kind::Proxy,
        "relay" => Kind::Relay,
        "upstream" => Kind::Upstream,
        other => {
            eprintln!("FARMHAND_BENCH_PROFILE_KIND: `{other}` is not one of router, direct, proxy, relay, upstream");
            std::process::exit(2);
        }
    };
    Some((name, kind))
}

fn main() {
    let pairs = env_or("FARMHAND_BENCH_ROUNDS", 1500) as usize;
    let load_secs = env_or("FARMHAND_BENCH_LOAD_SECS", 10);
    let profile = profile_kind();
    let bench_started = Instant::now();

    let farm_rt = BenchRuntime::start("FARMHAND_BENCH_FARM_RUNTIME", "farm");
    let router_rt = BenchRuntime::start("FARMHAND_BENCH_ROUTER_RUNTIME", "router");
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let client = {
        let _guard = client_rt.enter();
        reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client")
    };
    let (rss_start, _) = rss_kib();

    // The farm: generation near-instant (1 output token, prefill of a few µs), loads of a few ms.
    let farm = farm_rt
        .block_on(SimFarm::start(SimOptions {
            tokens_per_sec: 1e9,
            max_queue: 10_000,
            ..SimOptions::ephemeral(FARM_NODES, 0.001)
        }))
        .expect("the simulated farm starts");
    let routed_nodes = (env_or("FARMHAND_BENCH_NODES", ROUTED_NODES as u64) as usize).clamp(1, 4);
    let mut config = farm.fleet_config();
    config.nodes.truncate(routed_nodes);
    assert!(
        config.nodes.iter().all(|n| n.parallel == Some(4)),
        "the routed nodes have 4 slots each"
    );
    let model = config.models.routine.clone();
    let node_urls: Vec<String> = farm.node_urls()[..routed_nodes]
        .iter()
        .map(|u| format!("{u}/v1/chat/completions"))
        .collect();
    let body = |model: &str| {
        Bytes::from(
            serde_json::json!({
                "model": model,
                "messages": [{"role": "user", "content": "Reply with one word: ready?"}],
                "max_tokens": 1,
                "stream": false,
            })
            .to_string(),
        )
    };
    let mut endpoints = Endpoints {
        router: String::new(),
        proxy: String::new(),
        relay: String::new(),
        upstream: String::new(),
        nodes: node_urls,
        router_body: body("routine"),
        direct_body: body(&model),
    };

    // Pre-warm: load the model on every node, then run direct-only load so the farm and the client
    // reach their steady-state memory before the gateway exists.
    let router_sent = Arc::new(AtomicU64::new(0));
    for i in 0..endpoints.nodes.len() {
        let (url, b) = endpoints.pick(Kind::Direct, i);
        let reply = client_rt.block_on(post(&client, url, b)).expect("pre-warm request");
        assert_eq!(reply.status, 200, "pre-warm of {url}");
    }
    let warm = open_loop(&client_rt, &client, &endpoints, 2, &[Kind::Direct], &router_sent);
    assert_eq!(
        warm.direct.errors, 0,
        "direct warm-up errors: {:?}",
        warm.direct.first_error
    );
    endpoints.proxy = router_rt.block_on(bare_proxy(endpoints.nodes.clone(), endpoints.direct_body.clone()));
    let first_node = farm.node_urls()[0].trim_start_matches("http://").to_string();
    endpoints.relay = router_rt.block_on(tcp_relay(first_node));
    endpoints.upstream = router_rt.block_on(upstream_proxy(endpoints.nodes.clone(), model.clone()));
    let (rss_before_gateway, _) = rss_kib();

    // The gateway: store, recorder, live control, a fast fleet poller, loopback-only.
    let home = router_rt.block_on(StoreHome::create());
    let journal = tempfile::tempdir().expect("journal directory");
    config.router.journal_path = Some(journal.path().join("journal.ndjson"));
    let null_sink = std::env::var("FARMHAND_BENCH_STORE").is_ok_and(|v| v.eq_ignore_ascii_case("null"));
    let sunk = Arc::new(AtomicU64::new(0));
    let (store, gateway, addr, shutdown) = router_rt.block_on(async {
        let store = Store::connect(home.url()).await.expect("store connects");
        store.migrate().await.expect("migrations apply");
        let mut fleet = FleetPoller::start(
            &config.resolved_nodes(),
            Cadence {
                ps: Duration::from_millis(250),
                tags: Duration::from_secs(1),
                metrics: Duration::from_millis(500),
                timeout: Duration::from_millis(800),
            },
        );
        wait_for_fleet(&mut fleet, routed_nodes, &model).await;
        let sources = GatewaySources {
            fleet,
            control: farmhand::control::watch(store.clone()),
            recorder: if null_sink {
                Recorder::start(CountingSink(sunk.clone()), RecorderOptions::from_config(&config.router))
            } else {
                Recorder::start(store.clone(), RecorderOptions::from_config(&config.router))
            }
            .expect("the journal opens"),
            keys: AgentKeys::loopback(),
            batch: None,
            store: store.clone(),
        };
        let gateway = Gateway::new(config, sources);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind router");
        let addr = listener.local_addr().expect("router address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(farmhand::gateway::serve(gateway.clone(), listener, async {
            let _ = stopped.await;
        }));
        (store, gateway, addr, (stop, server))
    });
    endpoints.router = format!("http://{addr}/v1/chat/completions");
    println!(
        "router_overhead: {} nodes routed (4 slots each) of a {FARM_NODES}-node sim, router runtime {}, store {}, model {model}",
        routed_nodes,
        router_rt.label,
        if null_sink {
            "none: decisions go to a counting null sink (profiling only, not a budget run)".to_string()
        } else {
            home.describe()
        }
    );

    // Warm the router path (connections, caches) before measuring.
    let _ = one_at_a_time(
        &client_rt,
        &client,
        &endpoints,
        200,
        &[Kind::Router, Kind::Direct, Kind::Proxy, Kind::Upstream, Kind::Relay],
        &router_sent,
    );
    let (rss_gateway_warm, _) = rss_kib();

    // Profiling: only one kind, one at a time, then stop (for `perf stat` and the like).
    if let Some((name, kind)) = &profile {
        let mut samples = one_at_a_time(&client_rt, &client, &endpoints, pairs, &[*kind], &router_sent);
        let p = percentiles(&mut samples[0].latencies);
        println!(
            "profile {name}: n {} p50 {:.1} µs p99 {:.1} µs",
            p.n,
            us(p.p50),
            us(p.p99)
        );
        std::process::exit(0);
    }

    // (a) One at a time.
    let mut seq_samples = one_at_a_time(
        &client_rt,
        &client,
        &endpoints,
        pairs,
        &[Kind::Router, Kind::Direct, Kind::Proxy, Kind::Upstream, Kind::Relay],
        &router_sent,
    );
    let seq_errors: u64 = seq_samples.iter().map(|s| s.errors).sum();
    let [router, direct, proxy, upstream, relay] = &mut seq_samples[..] else {
        unreachable!("five kinds were measured")
    };
    let seq = report(
        &format!(
            "(a) one request at a time: {pairs} rounds (router, direct and three profiling hops; order rotated), random sub-ms phase"
        ),
        direct,
        router,
    );
    let proxy_p = percentiles(&mut proxy.latencies);
    let direct_p = percentiles(&mut direct.latencies);
    let router_p = percentiles(&mut router.latencies);
    print_row("bare proxy hop", proxy_p, proxy.errors);
    let relay_p = percentiles(&mut relay.latencies);
    print_row("raw TCP relay hop", relay_p, relay.errors);
    let upstream_p = percentiles(&mut upstream.latencies);
    print_row("upstream-code hop", upstream_p, upstream.errors);
    println!(
        "  profiling split at p50: one raw TCP hop (relay − direct) {:.1} µs; one bare HTTP hop (proxy − direct) {:.1} µs; the gateway's upstream code \
         on top (upstream − proxy) {:.1} µs; deciding and recording on top (router − upstream) {:.1} µs",
        signed_us(relay_p.p50, direct_p.p50),
        signed_us(proxy_p.p50, direct_p.p50),
        signed_us(upstream_p.p50, proxy_p.p50),
        signed_us(router_p.p50, upstream_p.p50)
    );
    let proxy_hop = signed_us(proxy_p.p50, direct_p.p50);
    let upstream_hop = signed_us(upstream_p.p50, direct_p.p50);
    println!(
        "  against the budget: the upstream-code hop alone (parse, node body, one read of the reply; nothing decided or recorded) is {:.2} x the bare proxy hop, \
         which leaves {:.1} µs of the {BUDGET_P50_RATIO} x for deciding and recording; they took {:.1} µs",
        upstream_hop / proxy_hop,
        BUDGET_P50_RATIO * proxy_hop - upstream_hop,
        signed_us(router_p.p50, upstream_p.p50)
    );

    // (b) Open loop at RATE_PER_SEC through the router (and as many direct, interleaved).
    let mut load = open_loop(
        &client_rt,
        &client,
        &endpoints,
        load_secs,
        &[Kind::Router, Kind::Direct],
        &router_sent,
    );
    let (rss_after_load, hwm_after_load) = rss_kib();
    let open = report(
        &format!(
            "(b) open loop: {} req/s via router + {} req/s direct for {load_secs} s ({} each), latency from the scheduled send",
            RATE_PER_SEC, RATE_PER_SEC, load.per_kind
        ),
        &mut load.direct,
        &mut load.router,
    );
    let lag = percentiles(&mut load.dispatch_lag);
    println!(
        "  offered: {:.0} req/s per kind over {:.2} s; send lag behind schedule p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        load.per_kind as f64 / load.span.as_secs_f64().max(1e-9),
        load.span.as_secs_f64(),
        us(lag.p50),
        us(lag.p99),
        us(lag.max)
    );
    let open_errors = load.direct.errors + load.router.errors;

    // Decision rows: exactly one per request sent to the router.
    let backend = store.backend();
    let (rows, rolled, summary_requests, recorder_line) = router_rt.block_on(async {
        gateway.flush().await;
        let (rows, rolled) = if null_sink {
            let n = sunk.load(Ordering::Relaxed) as i64;
            (n, n)
        } else {
            count_decisions(home.url(), backend).await
        };
        let now = chrono::Utc::now();
        let summary = store
            .spend_summary(now - chrono::TimeDelta::days(1), now + chrono::TimeDelta::hours(1))
            .await
            .expect("spend summary")
            .total
            .requests;
        let summary = if null_sink { rows } else { summary };
        let metrics = gateway.metrics_text();
        let recorder_line: Vec<String> = metrics
            .lines()
            .filter(|l| {
                l.starts_with("farmhand_decisions_")
                    || l.starts_with("farmhand_store_up")
                    || l.starts_with("farmhand_requests_total")
            })
            .map(str::to_string)
            .collect();
        (rows, rolled, summary, recorder_line)
    });
    let sent = router_sent.load(Ordering::Relaxed) as i64;

    // In-process breakdown of the gateway's own work.
    let completion = client_rt
        .block_on(async {
            client
                .post(&endpoints.nodes[0])
                .body(endpoints.direct_body.clone())
                .send()
                .await?
                .bytes()
                .await
        })
        .expect("a completion for the breakdown");
    breakdown(&gateway, &endpoints.router_body, &completion);
    let decisions_ok = rows == sent && rolled == sent && summary_requests == sent;

    println!();
    println!(
        "decisions: {sent} requests sent to the router; routing_decisions has {rows} rows; spend_hourly sums {rolled}; spend_summary total {summary_requests} -> {}",
        if decisions_ok {
            "exactly one per request"
        } else {
            "MISMATCH"
        }
    );
    for line in recorder_line {
        println!("  {line}");
    }
    println!();
    println!(
        "memory (VmRSS of this process, /proc/self/status): start {:.1} MiB; sim farm up and warmed with direct load {:.1} MiB; \
         gateway started and warmed {:.1} MiB ({:+.1}); after the load phase {:.1} MiB ({:+.1} vs before the gateway); peak (VmHWM) {:.1} MiB",
        mib(rss_start),
        mib(rss_before_gateway),
        mib(rss_gateway_warm),
        signed_mib(rss_gateway_warm, rss_before_gateway),
        mib(rss_after_load),
        signed_mib(rss_after_load, rss_before_gateway),
        mib(hwm_after_load)
    );
    println!(
        "  the delta after load is an upper bound on the router's share: it also holds the store pool, the \
         recorder, the fleet poller, the client's router connections and any growth of the farm and \
         client from serving twice the earlier direct-only load"
    );

    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let proxy_overhead = signed_us(proxy_p.p50, direct_p.p50);
    let p50_limit = BUDGET_P50_RATIO * proxy_overhead;
    let p99_us = us(BUDGET_P99);
    let measured = router_p.n > 0 && proxy_p.n > 0 && direct_p.n > 0 && load.per_kind > 0 && proxy_overhead > 0.0;
    let on_postgres = matches!(home, StoreHome::Postgres(_)) && !null_sink;
    let quality_p50 = quality_work_p50(20_000);
    let checks = [
        (
            format!("in-flight quality work (JSON schema check, rollup) p50 <= {BUDGET_QUALITY_P50:?}"),
            quality_p50 <= BUDGET_QUALITY_P50,
            us(quality_p50),
        ),
        (
            format!("one at a time: overhead p50 <= {BUDGET_P50_RATIO} x bare proxy ({p50_limit:.1} µs)"),
            measured && seq.0 <= p50_limit,
            seq.0,
        ),
        (
            format!("{} req/s: overhead p99 <= 1 ms", RATE_PER_SEC),
            measured && open.1 <= p99_us,
            open.1,
        ),
    ];
    println!();
    println!(
        "budget (stated against this machine's floor: a bare HTTP proxy hop costs {proxy_overhead:.1} µs at p50 here; \
         DESIGN.md's absolute {:.0} µs p50 is {} by the router's {:.1} µs, and the open-loop p50 overhead is {:.1} µs)",
        us(DESIGN_P50),
        if seq.0 <= us(DESIGN_P50) { "met" } else { "not met" },
        seq.0,
        open.0
    );
    for (name, ok, value) in &checks {
        println!("  {:<52} {:>9.1} µs  {}", name, value, verdict(*ok));
    }
    println!(
        "  {:<52} {:>12}  {}",
        "decisions logged to PostgreSQL",
        home.describe(),
        verdict(on_postgres)
    );
    println!(
        "  {:<52} {:>12}  {}",
        "something was measured",
        router_p.n + load.per_kind as usize,
        verdict(measured)
    );
    println!(
        "  {:<40} {:>12}  {}",
        "no request errors",
        seq_errors + open_errors,
        verdict(seq_errors + open_errors == 0)
    );
    println!(
        "  {:<40} {:>12}  {}",
        "one decision row per router request",
        rows,
        verdict(decisions_ok)
    );
    println!("total bench time {:.1} s", bench_started.elapsed().as_secs_f64());

    // Shut down: close the client's connections, stop the gateway (it flushes), then the farm.
    drop(client);
    drop(client_rt);
    let (stop, server) = shutdown;
    let _ = stop.send(());
    router_rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    });
    farm_rt.block_on(farm.shutdown());
    drop(router_rt);
    drop(farm_rt);
    drop(home);
    let all_ok = checks.iter().all(|c| c.1) && seq_errors + open_errors == 0 && decisions_ok && on_postgres && measured;
    if !all_ok {
        std::process::exit(1);
    }
}
