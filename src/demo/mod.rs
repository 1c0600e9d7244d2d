//! `farmhand demo`: the whole farm in one process. A simulated farm of 12, its frontier API, a
//! router on an ephemeral port recording into SQLite (or the store given), synthetic agents
//! calling it over HTTP, a bulk agent whose batch of tickets drains through the idle slots, and
//! the console on top, or, headless, a summary at the end.

mod args;
pub mod batch;
pub mod summary;
pub mod traffic;

pub use args::DemoArgs;

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::console::{self, ConsoleOptions, Sources};
use crate::fleet::{Cadence, FleetPoller, Health};
use crate::gateway::{AgentKeys, BatchBackend, Gateway, GatewaySources};
use crate::jobs::Sealer;
use crate::recorder::{Recorder, RecorderOptions};
use crate::sim::{LogLimits, SimFarm, SimOptions};
use crate::store::{RouterEndpoint, Store};
use summary::Summary;

/// Simulated nodes in the demo farm.
pub const NODES: u16 = 12;
/// Simulated delays run at this fraction of real time, so cold loads take a moment, not minutes.
pub const TIME_SCALE: f64 = 0.05;
/// How long to wait for every node to answer before traffic starts anyway.
const WARM_UP: Duration = Duration::from_secs(5);
/// How long stopping agents and the router may take.
const WIND_DOWN: Duration = Duration::from_secs(10);

/// Reviewer models the demo prefers, smallest first; the first one some node has is used.
const REVIEW_MODELS: &[&str] = &["llama3.2:3b", "gemma3:4b", "llama3.1:8b"];

/// The on-farm privacy reviewer for the demo: a small model that some simulated node has.
fn review_model(farm: &SimFarm) -> Option<String> {
    let nodes = farm.node_summaries();
    REVIEW_MODELS
        .iter()
        .find(|model| nodes.iter().any(|n| n.installed.iter().any(|i| i == *model)))
        .map(|model| model.to_string())
}

/// The demo's quality loop: a few percent of routine answers twinned at the frontier, half the
/// reasoning answers twinned on the farm, the objectives the header judges, and the metric the
/// ticket classifier rates answers on.
fn demo_quality(quality: &mut crate::config::QualityConfig) {
    use crate::config::{FeedbackKind, FeedbackMetric, Optimize, ShadowConfig, SloConfig};
    quality.shadow.insert(
        "routine".into(),
        ShadowConfig {
            rate: 0.05,
            model: None,
        },
    );
    // Reasoning answers come from the frontier: their twins run on idle farm slots, the evidence
    // `farmhand recommend` weighs before suggesting a class move local.
    quality
        .shadow
        .insert("reasoning".into(), ShadowConfig { rate: 0.5, model: None });
    quality.slo.insert(
        "routine".into(),
        SloConfig {
            ttft_p95_ms: Some(2_000),
            error_rate: Some(0.02),
            truncation_rate: Some(0.10),
            json_valid_rate: Some(0.95),
        },
    );
    quality.feedback.insert(
        traffic::FEEDBACK_METRIC.into(),
        FeedbackMetric {
            kind: FeedbackKind::Boolean,
            optimize: Optimize::Max,
        },
    );
}

/// How the demo runs.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Store URL; a SQLite file in a temporary folder when `None`.
    pub database_url: Option<String>,
    /// Run without the console and print a summary.
    pub headless: bool,
    /// How long a headless run lasts.
    pub seconds: u64,
    /// Console theme name.
    pub theme: Option<String>,
    /// Where to write the demo farm's fleet.toml, if anywhere.
    pub write_config: Option<std::path::PathBuf>,
}

/// Runs the demo until the console quits, or for `seconds` when headless.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let farm = SimFarm::start(SimOptions {
        logs: LogLimits::DEMO,
        ..SimOptions::ephemeral(NODES, TIME_SCALE)
    })
    .await?;
    let dir = tempfile::tempdir().context("cannot create a temporary folder for the demo")?;
    let mut config = farm.fleet_config();
    config.store.url = match &options.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("demo.db").display()),
    };
    config.router.journal_path = Some(dir.path().join("journal.ndjson"));
    config.policy.review_model = review_model(&farm);
    demo_quality(&mut config.quality);
    // The demo's agents are the traffic generator and the operator's own curl, all on loopback.
    config.router.trust_loopback = true;
    if let Some(path) = &options.write_config {
        std::fs::write(path, config.to_toml()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    crate::secrets::configure(&config.secrets);
    let store = Store::connect(&config.store.url).await?;
    store.migrate().await?;
    let start_cursor = store.recent_decisions(1).await?.last().map(|d| d.id).unwrap_or(0);

    let cadence = Cadence {
        ps: Duration::from_millis(500),
        tags: Duration::from_secs(5),
        metrics: Duration::from_secs(1),
        timeout: Duration::from_millis(800),
    };
    let keys = AgentKeys::resolve(&config.agents, config.router.trust_loopback)?;
    let sources = GatewaySources {
        fleet: FleetPoller::start(&config.resolved_nodes(), cadence),
        control: crate::control::watch(store.clone()),
        recorder: Recorder::start(store.clone(), RecorderOptions::from_config(&config.router))?,
        keys,
        // The demo's payload key lives in memory only: its batches die with it.
        batch: Some(BatchBackend {
            store: store.clone(),
            sealer: Sealer::generate().0,
        }),
        store: store.clone(),
    };
    let (fleet, control) = (sources.fleet.clone(), sources.control.clone());
    let gateway = Gateway::new(config.clone(), sources);
    let listener = crate::net::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), "demo router").await?;
    let router_url = format!("http://{}", listener.local_addr().context("router address")?);
    let router = RouterEndpoint {
        router_id: crate::presence::router_id(),
        status_url: Some(router_url.clone()),
    };
    let presence = crate::presence::spawn(
        store.clone(),
        router.router_id.clone(),
        router.status_url.clone(),
        gateway.in_flight.clone(),
        control.clone(),
    );
    let (stop_router, router_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::gateway::serve(gateway.clone(), listener, async {
        let _ = router_stopped.await;
    }));
    tracing::info!(router = %router_url, store = %store.redacted_url(), "demo: farm and router up");

    let mut warm = fleet.clone();
    let everyone_up = warm.wait_for(|f| {
        f.nodes
            .iter()
            .all(|n| n.health == Health::Up && !n.installed.is_empty())
    });
    if tokio::time::timeout(WARM_UP, everyone_up).await.is_err() {
        tracing::warn!("demo: not every node answered within {WARM_UP:?}; starting traffic anyway");
    }

    let (stop_traffic, traffic_stopped) = watch::channel(false);
    let (stats, mut agents) = traffic::start(router_url.clone(), traffic_stopped, 7);
    let bulk = {
        let router_url = router_url.clone();
        tokio::spawn(async move {
            // The bulk agent's nightly run starts once the live agents have been going a while.
            tokio::time::sleep(batch::SUBMIT_AFTER).await;
            match batch::submit(&router_url, batch::TICKETS).await {
                Ok(id) => {
                    tracing::info!(batch = %id, tickets = batch::TICKETS, "demo: ticket batch submitted through the Batch API")
                }
                Err(err) => tracing::warn!("demo: the ticket batch could not be submitted: {err:#}"),
            }
        })
    };
    let shown = if options.headless {
        tokio::time::sleep(Duration::from_secs(options.seconds)).await;
        Ok(())
    } else {
        let console_options = ConsoleOptions {
            theme: options.theme.clone(),
            read_only: false,
        };
        match console::initial_state(&config, &store, &console_options) {
            Ok(state) => {
                let sources = Sources {
                    fleet,
                    control,
                    store: store.clone(),
                    in_flight: Some(gateway.in_flight.clone()),
                    router_token: None,
                    local_routers: vec![router],
                    quality: config.quality.clone(),
                };
                console::run(state, sources, console::operator(&config, store.clone(), false)).await
            }
            Err(err) => Err(err),
        }
    };

    let _ = stop_traffic.send(true);
    let drained = tokio::time::timeout(WIND_DOWN, async { while agents.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        agents.abort_all();
    }
    let _ = stop_router.send(());
    bulk.abort();
    presence.abort();
    match tokio::time::timeout(WIND_DOWN, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => tracing::warn!(error = %err, "demo: router stopped with an error"),
        Ok(Err(err)) => tracing::warn!(error = %err, "demo: router task failed"),
        Err(_) => tracing::warn!("demo: router did not stop within {WIND_DOWN:?}"),
    }
    if options.headless {
        let summary = summarize(&store, start_cursor).await?;
        println!(
            "farmhand demo: {} s, {NODES} simulated nodes, router {router_url}, store {}",
            options.seconds,
            store.redacted_url()
        );
        println!(
            "requests sent: {} (answered {}, refused {}, failed {})",
            stats.sent.load(Ordering::Relaxed),
            stats.ok.load(Ordering::Relaxed),
            stats.refused.load(Ordering::Relaxed),
            stats.failed.load(Ordering::Relaxed)
        );
        print!("{}", summary.render());
    }
    farm.shutdown().await;
    shown
}

/// Counts every decision recorded after `cursor`.
async fn summarize(store: &Store, mut cursor: i64) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    loop {
        let page = store.decisions_after(cursor, 1000).await?;
        let Some(last) = page.last() else { break };
        cursor = last.id;
        summary.add(&page);
    }
    Ok(summary)
}
