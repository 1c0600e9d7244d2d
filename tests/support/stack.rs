//! A whole farm in one test process: the simulator, a store, and a router gateway over real HTTP.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use farmhand::config::FleetConfig;
use farmhand::control::ControlSnapshot;
use farmhand::fleet::{Cadence, FleetPoller, FleetSnapshot, Health};
use farmhand::gateway::{AgentKeys, BatchBackend, Gateway, GatewaySources};
use farmhand::jobs::Sealer;
use farmhand::recorder::{Recorder, RecorderOptions};
use farmhand::sim::{SimFarm, SimOptions};
use farmhand::store::Store;
use tokio::sync::watch;

/// A running simulator + router; everything stops when it is dropped.
pub struct Stack {
    /// The simulated farm.
    pub farm: SimFarm,
    /// The store the router records into.
    pub store: Store,
    /// The gateway (for flushing and inspection).
    pub gateway: Arc<Gateway>,
    /// Base URL of the router, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// Temporary files (SQLite database, journal).
    pub dir: tempfile::TempDir,
    /// The fleet as the router's poller sees it.
    pub fleet: watch::Receiver<FleetSnapshot>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    presence: tokio::task::JoinHandle<()>,
    spend_refresh: tokio::task::JoinHandle<()>,
}

/// Fast telemetry so tests see changes quickly.
pub fn fast_cadence() -> Cadence {
    Cadence {
        ps: Duration::from_millis(100),
        tags: Duration::from_millis(300),
        metrics: Duration::from_millis(200),
        timeout: Duration::from_millis(500),
    }
}

impl Stack {
    /// Starts `nodes` simulated nodes and a router on SQLite (or on `store_url` when given).
    pub async fn start(nodes: u16, store_url: Option<&str>, adjust: impl FnOnce(&mut FleetConfig)) -> Stack {
        Self::start_with(nodes, store_url, fast_cadence(), adjust).await
    }

    /// Like [`Stack::start`], with the telemetry cadence given (a slow one keeps the first view).
    pub async fn start_with(
        nodes: u16,
        store_url: Option<&str>,
        cadence: Cadence,
        adjust: impl FnOnce(&mut FleetConfig),
    ) -> Stack {
        Self::start_sim(nodes, store_url, cadence, |_| {}, adjust).await
    }

    /// Like [`Stack::start_with`], with the simulator's options adjusted too (e.g. slower generation).
    pub async fn start_sim(
        nodes: u16,
        store_url: Option<&str>,
        cadence: Cadence,
        adjust_sim: impl FnOnce(&mut SimOptions),
        adjust: impl FnOnce(&mut FleetConfig),
    ) -> Stack {
        Self::launch(nodes, store_url, cadence, adjust_sim, adjust, None).await
    }

    /// Like [`Stack::start_sim`], with node states and overrides fed by the test instead of the
    /// store: a change sent on the returned sender is in force at once.
    pub async fn start_controlled(
        nodes: u16,
        adjust_sim: impl FnOnce(&mut SimOptions),
        adjust: impl FnOnce(&mut FleetConfig),
    ) -> (Stack, watch::Sender<Arc<ControlSnapshot>>) {
        let (send, control) = watch::channel(Arc::new(ControlSnapshot::default()));
        let stack = Self::launch(nodes, None, fast_cadence(), adjust_sim, adjust, Some(control)).await;
        (stack, send)
    }

    async fn launch(
        nodes: u16,
        store_url: Option<&str>,
        cadence: Cadence,
        adjust_sim: impl FnOnce(&mut SimOptions),
        adjust: impl FnOnce(&mut FleetConfig),
        control: Option<watch::Receiver<Arc<ControlSnapshot>>>,
    ) -> Stack {
        let mut options = SimOptions::ephemeral(nodes, 0.01);
        options.tokens_per_sec = 2000.0;
        options.max_queue = 64;
        adjust_sim(&mut options);
        let farm = SimFarm::start(options).await.expect("the simulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = farm.fleet_config();
        config.store.url = match store_url {
            Some(url) => url.to_string(),
            None => format!("sqlite://{}", dir.path().join("farm.db").display()),
        };
        config.router.journal_path = Some(dir.path().join("journal.ndjson"));
        config.router.first_byte_timeout_secs = 10;
        config.router.idle_timeout_secs = 5;
        config.router.trust_loopback = true;
        adjust(&mut config);
        let store = Store::connect(&config.store.url).await.expect("store connects");
        store.migrate().await.expect("store migrates");
        let sources = GatewaySources {
            fleet: FleetPoller::start(&config.resolved_nodes(), cadence),
            control: control.unwrap_or_else(|| farmhand::control::watch(store.clone())),
            recorder: Recorder::start(store.clone(), RecorderOptions::from_config(&config.router))
                .expect("the journal opens"),
            keys: AgentKeys::resolve(&config.agents, config.router.trust_loopback).expect("agent keys resolve"),
            batch: Sealer::resolve(&config.jobs, farmhand::secrets::shared())
                .await
                .expect("jobs.encryption_key resolves")
                .map(|sealer| BatchBackend {
                    store: store.clone(),
                    sealer,
                }),
            store: store.clone(),
        };
        let mut fleet = sources.fleet.clone();
        let control = sources.control.clone();
        let gateway = Gateway::new(config, sources);
        let spend_refresh = farmhand::gateway::fleet_spend::spawn(
            gateway.clone(),
            store.clone(),
            farmhand::gateway::fleet_spend::ledger_id("test-router"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        // One id per router, so several on one store are told apart.
        let router_id = format!("test-router:{}", listener.local_addr().expect("addr").port());
        let presence = farmhand::presence::spawn(
            store.clone(),
            router_id,
            Some(url.clone()),
            gateway.in_flight.clone(),
            control,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(farmhand::gateway::serve(gateway.clone(), listener, async {
            let _ = stopped.await;
        }));
        let watched = fleet.clone();
        let everyone_up = fleet.wait_for(|f| {
            f.nodes
                .iter()
                .all(|n| n.health == Health::Up && !n.installed.is_empty())
        });
        tokio::time::timeout(Duration::from_secs(10), everyone_up)
            .await
            .expect("every simulated node shows up within 10 s")
            .expect("fleet poller alive");
        Stack {
            farm,
            store,
            gateway,
            url,
            dir,
            fleet: watched,
            stop: Some(stop),
            server: Some(server),
            presence,
            spend_refresh,
        }
    }

    /// Asks the router to stop, as SIGTERM does, and waits until it has: every decision flushed.
    pub async fn shut_down(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("the router task does not panic"),
            None => Ok(()),
        }
    }

    /// POSTs a chat completion to the router.
    pub async fn chat(&self, client: &reqwest::Client, body: serde_json::Value) -> reqwest::Response {
        client
            .post(format!("{}/v1/chat/completions", self.url))
            .json(&body)
            .send()
            .await
            .expect("router answers")
    }
}

impl Stack {
    /// Pulls `model` onto simulated node `node` over Ollama's `/api/pull`, and waits (up to 10 s)
    /// until the router's fleet view lists it there.
    pub async fn pull(&self, node: &str, model: &str) {
        let url = self.farm.node_url(node).expect("a simulated node");
        let response = reqwest::Client::new()
            .post(format!("{url}/api/pull"))
            .json(&serde_json::json!({"model": model, "stream": false}))
            .send()
            .await
            .expect("the node answers");
        assert_eq!(response.status(), 200, "{model} pulls onto {node}");
        let mut fleet = self.fleet.clone();
        let listed = fleet.wait_for(|f| {
            f.nodes
                .iter()
                .any(|n| n.name == node && n.installed.iter().any(|m| m.name == model))
        });
        tokio::time::timeout(Duration::from_secs(10), listed)
            .await
            .expect("the router sees the pulled model within 10 s")
            .expect("fleet poller alive");
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.presence.abort();
        self.spend_refresh.abort();
    }
}

/// The `X-Farmhand-Route` header of a router response (`local/mini-02/llama3.1:8b`), or "".
pub fn route(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-farmhand-route")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
