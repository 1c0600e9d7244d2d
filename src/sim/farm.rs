//! [`SimFarm`]: the whole simulated farm in-process, started from [`SimOptions`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{FleetConfig, NodeConfig, PullTransport};
use crate::sim::LogLimits;
use crate::sim::Pace;
use crate::sim::admin::{self, NodeSummary, summarize};
use crate::sim::catalogue::{node_spec, splitmix};
use crate::sim::faults::{FRONTIER, FaultBoard, FaultError, FaultKind, parse_fault_flag};
use crate::sim::frontier::log::{FrontierLog, FrontierRequest};
use crate::sim::frontier::{self, FrontierState};
use crate::sim::listener::{self, Controls};
use crate::sim::node::log::NodeRequest;
use crate::sim::node::{self, NodeRuntime};

/// Everything that shapes a simulated farm.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Number of nodes, `mini-01` onwards.
    pub nodes: u16,
    /// Address every server listens on.
    pub host: IpAddr,
    /// Port of `mini-01`; node i uses base + i - 1. 0 gives every node an ephemeral port.
    pub base_port: u16,
    /// Port of the frontier and admin API; 0 for an ephemeral one.
    pub frontier_port: u16,
    /// Tokens per second per request on a node.
    pub tokens_per_sec: f64,
    /// Factor on every simulated delay (0.01 runs a hundred times faster).
    pub time_scale: f64,
    /// Requests a node queues beyond its slots before 503.
    pub max_queue: u32,
    /// Seed for hardware mix, installed models and text.
    pub seed: u64,
    /// Faults present at start, as (target, kind).
    pub faults: Vec<(String, FaultKind)>,
    /// How much the frontier and the nodes remember of what they were asked.
    pub logs: LogLimits,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            nodes: 12,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 21434,
            frontier_port: 21400,
            tokens_per_sec: 40.0,
            time_scale: 1.0,
            max_queue: 8,
            seed: 7,
            faults: Vec::new(),
            logs: LogLimits::default(),
        }
    }
}

impl SimOptions {
    /// `nodes` nodes on loopback with ephemeral ports, running at `time_scale` (for tests).
    pub fn ephemeral(nodes: u16, time_scale: f64) -> Self {
        SimOptions {
            nodes,
            base_port: 0,
            frontier_port: 0,
            time_scale,
            ..SimOptions::default()
        }
    }

    /// The options of `farmhand sim`.
    pub fn from_args(args: &super::SimArgs) -> Result<Self, SimError> {
        let faults = args
            .faults
            .iter()
            .map(|f| parse_fault_flag(f))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SimOptions {
            nodes: args.nodes,
            host: args.host,
            base_port: args.base_port,
            frontier_port: args.frontier_port,
            tokens_per_sec: args.tokens_per_sec,
            time_scale: args.time_scale,
            max_queue: args.max_queue,
            seed: args.seed,
            faults,
            logs: LogLimits::default(),
        })
    }

    fn check(&self) -> Result<(), SimError> {
        if self.nodes == 0 {
            return Err(SimError::Options("--nodes must be at least 1".into()));
        }
        if !(self.tokens_per_sec > 0.0 && self.tokens_per_sec.is_finite()) {
            return Err(SimError::Options("--tokens-per-sec must be a positive number".into()));
        }
        if !(self.time_scale > 0.0 && self.time_scale <= 1000.0) {
            return Err(SimError::Options(
                "--time-scale must be greater than 0 and at most 1000".into(),
            ));
        }
        Ok(())
    }

    fn node_port(&self, index: u16) -> Result<u16, SimError> {
        if self.base_port == 0 {
            return Ok(0);
        }
        self.base_port.checked_add(index).ok_or_else(|| {
            SimError::Options(format!(
                "--base-port {} leaves no room for {} nodes",
                self.base_port, self.nodes
            ))
        })
    }
}

/// Why the farm could not start or a fault could not be set.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Another process holds a port.
    #[error("port {port} is in use ({name})")]
    PortInUse {
        /// The port.
        port: u16,
        /// The server that wanted it.
        name: String,
    },
    /// Any other bind failure.
    #[error("cannot listen on {addr} ({name}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The server that wanted it.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Options that make no sense.
    #[error("{0}")]
    Options(String),
    /// A bad fault flag or target.
    #[error(transparent)]
    Fault(#[from] FaultError),
}

/// A running simulated farm; dropping it (or [`SimFarm::shutdown`]) stops every server.
#[derive(Debug)]
pub struct SimFarm {
    options: SimOptions,
    nodes: Vec<Arc<NodeRuntime>>,
    frontier: Arc<FrontierState>,
    frontier_addr: SocketAddr,
    faults: Arc<FaultBoard>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

impl SimFarm {
    /// Binds every port (failing cleanly if one is taken), then serves in background tasks.
    pub async fn start(options: SimOptions) -> Result<SimFarm, SimError> {
        options.check()?;
        let pace = Pace {
            tokens_per_sec: options.tokens_per_sec,
            time_scale: options.time_scale,
        };
        let count = usize::from(options.nodes);
        let specs: Vec<_> = (0..count).map(|i| node_spec(i, count, options.seed)).collect();
        let faults = Arc::new(FaultBoard::new(
            specs.iter().map(|s| s.name.clone()).chain([FRONTIER.to_string()]),
        ));
        for (target, kind) in &options.faults {
            faults.set(target, Some(*kind))?;
        }

        let mut listeners = Vec::with_capacity(count);
        for (i, spec) in specs.iter().enumerate() {
            let port = options.node_port(i as u16)?;
            listeners.push(listener::bind(SocketAddr::new(options.host, port), &spec.name).await?);
        }
        let frontier_listener = listener::bind(SocketAddr::new(options.host, options.frontier_port), FRONTIER).await?;
        let frontier_addr = frontier_listener.local_addr().map_err(|source| SimError::Bind {
            addr: SocketAddr::new(options.host, options.frontier_port),
            name: FRONTIER.into(),
            source,
        })?;

        let (shutdown, _) = watch::channel(false);
        let mut tasks = Vec::with_capacity(count + 1);
        let mut nodes = Vec::with_capacity(count);
        for (index, (spec, tcp)) in specs.into_iter().zip(listeners).enumerate() {
            let addr = tcp.local_addr().map_err(|source| SimError::Bind {
                addr: SocketAddr::new(options.host, 0),
                name: spec.name.clone(),
                source,
            })?;
            let seed = splitmix(options.seed ^ (index as u64 + 1));
            let node = Arc::new(NodeRuntime::new(
                spec,
                addr,
                pace,
                options.max_queue,
                seed,
                faults.clone(),
                options.logs.node_entries,
            ));
            let controls = Controls {
                fault: faults.watch(&node.spec.name),
                refuse: None,
                shutdown: shutdown.subscribe(),
            };
            tasks.push(tokio::spawn(listener::serve(tcp, node::router(node.clone()), controls)));
            nodes.push(node);
        }
        let frontier = Arc::new(FrontierState::new(
            pace,
            faults.clone(),
            nodes.clone(),
            options.seed,
            options.logs,
        ));
        let controls = Controls {
            fault: None,
            refuse: Some(frontier::refuse_when_down(faults.clone())),
            shutdown: shutdown.subscribe(),
        };
        tasks.push(tokio::spawn(listener::serve(
            frontier_listener,
            frontier::routes().merge(admin::routes()).with_state(frontier.clone()),
            controls,
        )));
        Ok(SimFarm {
            options,
            nodes,
            frontier,
            frontier_addr,
            faults,
            shutdown,
            tasks,
        })
    }

    /// The options the farm started with.
    pub fn options(&self) -> &SimOptions {
        &self.options
    }

    /// Node names in order.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.spec.name.clone()).collect()
    }

    /// Base URL of every node (Ollama API and agent metrics share it), in order.
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url.clone()).collect()
    }

    /// Base URL of the node called `name`.
    pub fn node_url(&self, name: &str) -> Option<String> {
        self.nodes.iter().find(|n| n.spec.name == name).map(|n| n.url.clone())
    }

    /// Base URL of the frontier (Anthropic and OpenAI) and the admin API.
    pub fn frontier_url(&self) -> String {
        url(self.frontier_addr)
    }

    /// A fleet configuration for this farm, from which every other role can start as is.
    pub fn fleet_config(&self) -> FleetConfig {
        let mut config = FleetConfig::default();
        config.node_defaults.pull = PullTransport::Http;
        config.nodes = self
            .nodes
            .iter()
            .map(|n| {
                let port = Some(n.addr.port());
                NodeConfig {
                    name: n.spec.name.clone(),
                    host: self.options.host.to_string(),
                    ollama_port: port,
                    agent_port: port,
                    ssh_port: None,
                    parallel: Some(n.spec.parallel),
                    pull: Some(PullTransport::Http),
                    agent_token: None,
                    metrics: None,
                    macmon_port: None,
                }
            })
            .collect();
        for provider in config.frontier.providers.values_mut() {
            provider.base_url = self.frontier_url();
            provider.api_key = None;
        }
        config
    }

    /// Sets (`Some`) or clears (`None`) the fault of a node or of `frontier`.
    pub fn set_fault(&self, target: &str, kind: Option<FaultKind>) -> Result<(), SimError> {
        Ok(self.faults.set(target, kind)?)
    }

    /// Makes other applications hold `bytes` of `node`'s memory (0 closes them); `false` when no
    /// node has that name.
    pub fn set_other_apps(&self, node: &str, bytes: u64) -> bool {
        let found = self.nodes.iter().find(|n| n.spec.name == node);
        if let Some(node) = found {
            node.set_other_apps(bytes);
        }
        found.is_some()
    }

    /// Every request the frontier received, oldest first (hashes and sizes, never text).
    pub fn frontier_log(&self) -> Vec<FrontierRequest> {
        self.frontier.with_log(|log| log.entries())
    }

    /// True if a message with exactly this text reached the frontier.
    pub fn frontier_saw(&self, text: &str) -> bool {
        self.frontier.with_log(|log| log.saw(text))
    }

    /// True if any string of any raw body the frontier received (and still holds) contained `needle`.
    pub fn frontier_received_containing(&self, needle: &str) -> bool {
        self.frontier.with_log(|log| log.received_containing(needle))
    }

    /// Forgets the frontier's body sightings (between test cases).
    pub fn clear_frontier_sightings(&self) {
        self.frontier.with_log(FrontierLog::clear_sightings);
    }

    /// The chat requests node `name` read on its compatibility endpoint, oldest first (shapes,
    /// never text); empty for an unknown node.
    pub fn node_requests(&self, name: &str) -> Vec<NodeRequest> {
        self.nodes
            .iter()
            .find(|n| n.spec.name == name)
            .map(|n| n.requests())
            .unwrap_or_default()
    }

    /// When node `name` handed its recent whole (non-streamed) chat answers to its server, oldest
    /// first; empty for an unknown node.
    pub fn node_answers(&self, name: &str) -> Vec<std::time::Instant> {
        self.nodes
            .iter()
            .find(|n| n.spec.name == name)
            .map(|n| n.answers())
            .unwrap_or_default()
    }

    /// The state of every node now.
    pub fn node_summaries(&self) -> Vec<NodeSummary> {
        self.nodes.iter().map(|n| summarize(n)).collect()
    }

    /// One line per listening server, for the console.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "{}  {}  {} GB  parallel {}  ({} models installed)",
                    n.spec.name,
                    n.url,
                    n.spec.memory_bytes >> 30,
                    n.spec.parallel,
                    n.spec.installed.len()
                )
            })
            .collect();
        lines.push(format!(
            "frontier  {}  (Anthropic /v1/messages, OpenAI /v1/chat/completions, admin /_sim/*)",
            self.frontier_url()
        ));
        lines
    }

    /// Stops every server and waits for them to close their sockets.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for SimFarm {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
