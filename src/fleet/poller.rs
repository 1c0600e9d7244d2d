//! One polling task per node, each source on its own cadence with its own timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::{FleetSnapshot, Health, InstalledModel, LoadedModel, NodeSnapshot};
use crate::config::{MetricsSource, Node};
use crate::wire::AgentMetrics;
use crate::wire::macmon::MacmonSample;
use crate::wire::ollama::{PsResponse, TagsResponse};

/// How often each source is polled, and how long one poll may take.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// `/api/ps`: loaded models.
    pub ps: Duration,
    /// `/api/tags`: installed models.
    pub tags: Duration,
    /// The agent's `/v1/metrics`.
    pub metrics: Duration,
    /// Timeout of a single request.
    pub timeout: Duration,
}

impl Default for Cadence {
    fn default() -> Self {
        Cadence {
            ps: Duration::from_secs(1),
            tags: Duration::from_secs(10),
            metrics: Duration::from_secs(2),
            timeout: Duration::from_millis(800),
        }
    }
}

/// Polls in flight at once across the fleet: each node has its own task and timeout, so a dead
/// node holds one permit for one timeout and never delays the others, while 200 nodes do not
/// open 600 sockets at once.
pub const POLL_CONCURRENCY: usize = 32;

/// Polls every node and publishes the fleet; stops when every receiver is gone.
pub struct FleetPoller;

impl FleetPoller {
    /// Starts one task per node plus the aggregator; returns the live view.
    pub fn start(nodes: &[Node], cadence: Cadence) -> watch::Receiver<FleetSnapshot> {
        let initial = FleetSnapshot {
            nodes: nodes
                .iter()
                .map(|n| NodeSnapshot::unseen(&n.name, n.parallel))
                .collect(),
        };
        let (publish, view) = watch::channel(initial.clone());
        let (updates, mut incoming) = mpsc::channel::<(usize, NodeSnapshot)>(nodes.len().max(1) * 4);
        let client = crate::net::http_client()
            .connect_timeout(cadence.timeout)
            .build()
            .unwrap_or_default();
        let permits = Arc::new(Semaphore::new(POLL_CONCURRENCY));
        for (index, node) in nodes.iter().enumerate() {
            let task = NodeTask {
                node: node.clone(),
                client: client.clone(),
                permits: permits.clone(),
                cadence,
                snapshot: initial.nodes[index].clone(),
                ollama_ever_ok: false,
                agent_ok: false,
                agent_complaint: None,
            };
            tokio::spawn(task.run(index, updates.clone()));
        }
        drop(updates);
        tokio::spawn(async move {
            while let Some((index, snapshot)) = incoming.recv().await {
                if publish.is_closed() {
                    break;
                }
                publish.send_modify(|fleet| fleet.nodes[index] = snapshot);
            }
        });
        view
    }
}

struct NodeTask {
    node: Node,
    client: reqwest::Client,
    /// Shared by every node's task: see [`POLL_CONCURRENCY`].
    permits: Arc<Semaphore>,
    cadence: Cadence,
    snapshot: NodeSnapshot,
    ollama_ever_ok: bool,
    agent_ok: bool,
    /// The last reason logged for the agent being unreadable, so each new one is logged once.
    agent_complaint: Option<String>,
}

impl NodeTask {
    async fn run(mut self, index: usize, updates: mpsc::Sender<(usize, NodeSnapshot)>) {
        let mut ps = tokio::time::interval(self.cadence.ps);
        let mut tags = tokio::time::interval(self.cadence.tags);
        let mut metrics = tokio::time::interval(self.cadence.metrics);
        for timer in [&mut ps, &mut tags, &mut metrics] {
            timer.set_missed_tick_behavior(MissedTickBehavior::Skip);
        }
        loop {
            tokio::select! {
                _ = ps.tick() => self.poll_ps().await,
                _ = tags.tick() => self.poll_tags().await,
                _ = metrics.tick() => self.poll_metrics().await,
                _ = updates.closed() => return,
            }
            self.snapshot.health =
                Health::assess(self.snapshot.consecutive_failures, self.ollama_ever_ok, self.agent_ok);
            if updates.send((index, self.snapshot.clone())).await.is_err() {
                return;
            }
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: String) -> Result<T, String> {
        self.fetch(self.client.get(&url)).await
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| "the poller is stopping".to_string())?;
        let response = request
            .timeout(self.cadence.timeout)
            .send()
            .await
            .map_err(short_error)?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        response
            .json::<T>()
            .await
            .map_err(|e| format!("bad answer: {}", short_error(e)))
    }

    async fn poll_ps(&mut self) {
        let started = Instant::now();
        match self.get::<PsResponse>(format!("{}/api/ps", self.node.ollama_url)).await {
            Ok(ps) => {
                self.ollama_ever_ok = true;
                self.snapshot.consecutive_failures = 0;
                self.snapshot.last_error = None;
                self.snapshot.last_seen = Some(Utc::now());
                self.snapshot.poll_latency_ms = Some(started.elapsed().as_millis() as u64);
                let previous = std::mem::take(&mut self.snapshot.loaded);
                self.snapshot.loaded = ps
                    .models
                    .into_iter()
                    .map(|m| LoadedModel::seen(m.name, m.size, m.expires_at.with_timezone(&Utc), &previous))
                    .collect();
            }
            Err(err) => {
                self.snapshot.consecutive_failures = self.snapshot.consecutive_failures.saturating_add(1);
                self.snapshot.last_error = Some(err);
            }
        }
    }

    async fn poll_tags(&mut self) {
        if let Ok(tags) = self
            .get::<TagsResponse>(format!("{}/api/tags", self.node.ollama_url))
            .await
        {
            self.snapshot.installed = tags
                .models
                .into_iter()
                .map(|m| InstalledModel {
                    name: m.name,
                    size_bytes: m.size,
                })
                .collect();
        }
    }

    async fn poll_metrics(&mut self) {
        match self.node.metrics {
            MetricsSource::Agent => self.poll_agent().await,
            MetricsSource::Macmon => self.poll_macmon().await,
        }
    }

    /// `macmon serve`'s `/json`, for a node without the farmhand agent.
    async fn poll_macmon(&mut self) {
        match self.get::<MacmonSample>(format!("{}/json", self.node.macmon_url)).await {
            Ok(sample) => {
                self.agent_ok = true;
                self.agent_complaint = None;
                self.snapshot.metrics = Some(sample.into_agent_metrics(&self.node.name, Utc::now()));
            }
            Err(err) => {
                self.agent_ok = false;
                self.complain(format!("macmon at {} does not answer ({err})", self.node.macmon_url));
            }
        }
    }

    async fn poll_agent(&mut self) {
        let mut request = self.client.get(format!("{}/v1/metrics", self.node.agent_url));
        if let Some(reference) = &self.node.agent_token {
            match crate::secrets::shared().get(reference).await {
                Ok(token) => request = request.bearer_auth(&*token),
                Err(err) => {
                    self.agent_ok = false;
                    self.complain(format!("its agent token ({reference}) is unavailable: {err}"));
                    return;
                }
            }
        }
        match self.fetch::<AgentMetrics>(request).await {
            Ok(metrics) => {
                self.agent_ok = true;
                self.agent_complaint = None;
                self.snapshot.metrics = Some(metrics);
            }
            Err(err) if err == "HTTP 401" => {
                self.agent_ok = false;
                let why = if self.node.agent_token.is_some() {
                    "its agent refused farmhand's token: node_defaults.agent_token (or the node's agent_token) must name the agent's FARMHAND_AGENT_TOKEN"
                } else {
                    "its agent requires a token: set node_defaults.agent_token (or the node's agent_token) to a reference to the agent's FARMHAND_AGENT_TOKEN"
                };
                self.complain(why.to_string());
            }
            Err(_) => self.agent_ok = false,
        }
    }

    /// Logs why the agent cannot be read, once per new reason.
    fn complain(&mut self, why: String) {
        if self.agent_complaint.as_deref() != Some(why.as_str()) {
            tracing::warn!(node = %self.node.name, "node metrics unavailable: {why}");
            self.agent_complaint = Some(why);
        }
    }
}

/// A transport error in a few words (no URL with credentials, no source chain).
fn short_error(err: reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection refused or unreachable".into()
    } else if err.is_decode() {
        "malformed JSON".into()
    } else {
        err.without_url().to_string()
    }
}
