//! Routes, start-up and shutdown of `farmhand router`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use tokio::net::TcpListener;

use super::edge::{self, EdgeLimits};
use super::{AgentKeys, BatchBackend, Gateway, GatewaySources, chat};
use crate::config::FleetConfig;
use crate::domain::DeclaredClass;
use crate::fleet::{Cadence, FleetPoller};
use crate::jobs::Sealer;
use crate::jobs::worker::{WorkerOptions, Workers};
use crate::recorder::{Recorder, RecorderOptions};
use crate::store::Store;
use crate::wire::openai::{ModelEntry, ModelList};

/// The gateway's routes.
pub fn app(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/feedback", post(super::feedback::feedback))
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(crate::wire::ROUTER_STATUS_PATH, get(super::status::router_status))
        .merge(super::batch_api::routes(gateway.config.jobs.max_file_bytes))
        .with_state(gateway)
}

/// Serves `gateway` on `listener` until `shutdown` completes; then lets in-flight work finish
/// within `router.shutdown_grace_secs`, cuts the rest (recorded as cut) and flushes every decision.
/// With the Batch API on, batch workers run alongside; at shutdown they give their jobs back.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let workers = gateway.batch_backend().map(|backend| {
        Workers::start(
            gateway.clone(),
            backend.store.clone(),
            Arc::new(backend.sealer.clone()),
            crate::jobs::worker::worker_id(),
            WorkerOptions::from_config(&gateway.config.jobs),
        )
    });
    let limits = EdgeLimits::from_config(&gateway.config.router);
    let cutting = gateway.clone();
    let report = edge::serve(listener, app(gateway.clone()), limits, shutdown, move || {
        cutting.cut_remaining()
    })
    .await;
    if let Some(workers) = workers {
        workers.stop().await;
    }
    gateway.finish_streams(STREAM_WIND_DOWN).await;
    gateway.flush().await;
    if report.cut > 0 {
        tracing::warn!(
            connections = report.cut,
            "router stopped; work still running at the end of the grace was cut and recorded as cut"
        );
    } else {
        tracing::info!("router stopped; every request in flight finished");
    }
    Ok(())
}

/// How long streams cut at shutdown get to record themselves before the last flush.
const STREAM_WIND_DOWN: std::time::Duration = std::time::Duration::from_secs(2);

/// `farmhand router`: connects the store, starts telemetry and live control, serves until Ctrl-C.
pub async fn run(config: FleetConfig, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    crate::secrets::configure(&config.secrets);
    // Agents' connections come on top of the nodes' (`router.max_connections` caps them).
    let agents = u64::try_from(config.router.max_connections).unwrap_or(u64::MAX);
    if let Err(err) =
        crate::net::raise_open_files(crate::net::descriptors_for(config.nodes.len()).saturating_add(agents))
    {
        tracing::warn!("{err:#}: connections past it are refused by the kernel, not answered 503");
    }
    let store = Store::connect(&config.store.url).await?;
    store.migrate().await?;
    let agents = config.agents.clone();
    let trust_loopback = config.router.trust_loopback;
    let keys = tokio::task::spawn_blocking(move || AgentKeys::resolve(&agents, trust_loopback))
        .await
        .context("key resolution task failed")??;
    if keys.trusts_loopback() {
        tracing::warn!(
            "no [[agents]] keys configured and router.trust_loopback = true: answering every loopback client without a key (behind a reverse proxy, that is every client)"
        );
    } else if keys.is_empty() {
        tracing::warn!(
            "no [[agents]] keys configured and router.trust_loopback = false: every request will be refused"
        );
    }
    let batch = match Sealer::resolve(&config.jobs, crate::secrets::shared()).await? {
        Some(sealer) => Some(BatchBackend {
            store: store.clone(),
            sealer,
        }),
        None => {
            tracing::warn!("jobs.encryption_key is not set: the Batch API (/v1/files, /v1/batches) is off");
            None
        }
    };
    let sources = GatewaySources {
        fleet: FleetPoller::start(&config.resolved_nodes(), Cadence::default()),
        control: crate::control::watch(store.clone()),
        recorder: Recorder::start(store.clone(), RecorderOptions::from_config(&config.router))?,
        keys,
        batch,
        store: store.clone(),
    };
    let addr = listen.unwrap_or(config.router.listen);
    let control = sources.control.clone();
    let gateway = Gateway::new(config, sources);
    seed_spend(&gateway, &store).await;
    let router_id = crate::presence::router_id();
    let fleet_spend = super::fleet_spend::spawn(
        gateway.clone(),
        store.clone(),
        super::fleet_spend::ledger_id(&router_id),
    );
    let listener = crate::net::bind(addr, "router").await?;
    let metrics = match gateway.config.router.metrics_listen {
        Some(metrics_addr) => Some(serve_metrics(gateway.clone(), metrics_addr).await?),
        None => None,
    };
    let status_url = crate::presence::status_url(listener.local_addr().unwrap_or(addr));
    let presence = crate::presence::spawn(
        store.clone(),
        router_id.clone(),
        Some(status_url),
        gateway.in_flight.clone(),
        control,
    );
    tracing::info!(listen = %addr, nodes = gateway.in_flight.all().len(), store = %store.redacted_url(), "router serving");
    let served = serve(gateway, listener, crate::net::stop_requested()).await;
    presence.abort();
    fleet_spend.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    if let Err(err) = store
        .forget_presence(Some(&router_id), Utc::now() - crate::presence::LIVE_WINDOW)
        .await
    {
        tracing::warn!(%err, "cannot remove this router's in-flight reports; they expire in 3 s");
    }
    served
}

/// Starts the day's budget from what the store already recorded (best effort).
async fn seed_spend(gateway: &Gateway, store: &Store) {
    let now = Utc::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    match store.frontier_cost_since(midnight).await {
        Ok(usd) => gateway.spend().seed(usd, now),
        Err(err) => tracing::warn!(%err, "could not read today's frontier spend; the budget starts from 0"),
    }
}

async fn models() -> Json<ModelList> {
    let data = DeclaredClass::ALL
        .iter()
        .map(|class| ModelEntry {
            id: class.as_str().into(),
            object: "model".into(),
            created: 0,
            owned_by: "farmhand".into(),
        })
        .collect();
    Json(ModelList {
        object: "list".into(),
        data: Some(data),
    })
}

/// `/healthz`: 200 while the router serves, with one line on how current its policy is (a
/// router cut off from the store keeps routing on its last snapshot, and says how old it is).
async fn healthz(State(gateway): State<Arc<Gateway>>) -> String {
    let mut line = gateway.control_health().summary();
    line.push('\n');
    line
}

/// `/metrics` on the main listener: it says how busy the farm is and who calls it, so it takes
/// an agent key whenever keys are configured (as every other route does).
async fn metrics(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match gateway.keys.authenticate(authorization, peer) {
        Ok(_) => open_metrics(State(gateway)).await.into_response(),
        Err(err) => err.into_response(),
    }
}

/// `/metrics` on `router.metrics_listen`, an address meant for a private scraper: no key.
async fn open_metrics(State(gateway): State<Arc<Gateway>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway.metrics_text(),
    )
}

/// Serves only `/metrics`, without a key, on `router.metrics_listen`.
async fn serve_metrics(gateway: Arc<Gateway>, addr: SocketAddr) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = crate::net::bind(addr, "router metrics").await?;
    let app = Router::new().route("/metrics", get(open_metrics)).with_state(gateway);
    tracing::info!(listen = %addr, "serving /metrics without a key");
    Ok(tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::warn!(%err, "the metrics listener stopped");
        }
    }))
}
