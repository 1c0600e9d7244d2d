//! `fleet.toml`: the farm's nodes, models, frontier providers, prices and policy defaults.
//!
//! Every value that can have a default has one ([`FleetConfig::default`] is the embedded
//! configuration the demo runs on); a file overrides only what it sets. Unknown keys are
//! errors, and every error names the file and the key.

mod capabilities;
mod error;
mod pricing;
mod quality;
mod secret;
pub mod state_dir;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::TaskClass;

pub use capabilities::CapabilityTable;
pub use error::ConfigError;
pub use pricing::{PriceRow, TokenUsage};
pub use quality::{FeedbackKind, FeedbackMetric, Optimize, QualityConfig, ShadowConfig, SloConfig};
pub use secret::{SecretError, SecretRef};

/// The whole fleet configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// Where decisions, node states and overrides live.
    pub store: StoreConfig,
    /// The embedded router.
    pub router: RouterConfig,
    /// Values each node takes unless it sets its own.
    pub node_defaults: NodeDefaults,
    /// The farm's nodes.
    pub nodes: Vec<NodeConfig>,
    /// SSH settings for model pulls.
    pub ssh: SshConfig,
    /// The local model for each task class.
    pub models: LocalModels,
    /// Frontier providers and the model each class uses there.
    pub frontier: FrontierConfig,
    /// Prices per model, per million tokens, with effective dates.
    pub pricing: Vec<PriceRow>,
    /// Base policy.
    pub policy: PolicyConfig,
    /// Agents allowed to call the router.
    pub agents: Vec<AgentKey>,
    /// Console defaults.
    pub console: ConsoleConfig,
    /// How secret references are read.
    pub secrets: SecretsConfig,
    /// Batch jobs: the Batch API, the queue and its workers.
    pub jobs: JobsConfig,
    /// Answer quality: the feedback metrics agents may report.
    pub quality: QualityConfig,
}

/// Batch jobs (`[jobs]`): limits of the Batch API, the queue's retries and leases, scheduling on
/// idle capacity, and how payloads are kept at rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Largest batch input file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Attempts a job gets before a retryable failure becomes final.
    pub max_attempts: u32,
    /// Hours after a batch ends before its payloads (input, requests, results) are deleted.
    pub retention_hours: u64,
    /// Largest share of a node's slots batch work may hold while the farm is busy.
    pub max_share: f64,
    /// Seconds without live requests after which batch work may take every slot.
    pub idle_after_secs: u64,
    /// Seconds a claimed job's lease lasts; it is renewed while the job runs.
    pub lease_secs: u64,
    /// Completion windows a batch may ask for, e.g. `24h`.
    pub completion_windows: Vec<String>,
    /// Batch attempts one router runs on the frontier at once (classes policy sends there first).
    pub frontier_slots: u32,
    /// Key sealing payloads at rest: 32 bytes, base64, from a secret reference. Without it the
    /// Batch API is off.
    pub encryption_key: Option<SecretRef>,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            max_file_bytes: 200 * 1024 * 1024,
            max_attempts: 5,
            retention_hours: 24,
            max_share: 0.5,
            idle_after_secs: 60,
            lease_secs: 30,
            completion_windows: vec!["24h".into()],
            frontier_slots: 4,
            encryption_key: None,
        }
    }
}

/// How secret references (`op://…`) are read at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Seconds a resolved secret is kept in memory before it is read again.
    pub cache_secs: u64,
    /// Seconds one resolution (`op read`) may take before it counts as failed.
    pub timeout_secs: u64,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        SecretsConfig {
            cache_secs: 300,
            timeout_secs: 10,
        }
    }
}

/// Store location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://…` or `sqlite://path`; `FARMHAND_DATABASE_URL` and `--database-url` win over it.
    pub url: String,
}

/// Router settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// Address the gateway listens on.
    pub listen: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Routine requests whose estimated tokens are under this go local.
    pub routine_token_budget: u32,
    /// Keep the routine and sensitive models loaded on at least this many active nodes.
    pub warm_nodes: u32,
    /// On a node at `critical` memory pressure, unload a model no request has ended on for this
    /// many seconds (the longest idle first, one per node every 10 s); 0 turns it off.
    pub unload_idle_on_critical_secs: u64,
    /// Seconds a sensitive request may wait for local capacity before a 503.
    pub sensitive_wait_secs: u64,
    /// Seconds to wait for an upstream's first byte (covers a cold model load).
    pub first_byte_timeout_secs: u64,
    /// Seconds of silence tolerated mid-stream before the upstream is declared dead.
    pub idle_timeout_secs: u64,
    /// Local file where decisions are spilled while the store is unreachable; an absolute path.
    /// Unset: `journal.ndjson` in the state directory (see [`state_dir`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_path: Option<PathBuf>,
    /// Largest size of the journal file, in bytes; past it, decisions are dropped and counted.
    pub journal_max_bytes: u64,
    /// Decisions held in memory while the store is down, before spilling to the journal.
    pub buffer_decisions: usize,
    /// Seconds a client may take to send a request's headers, from its first byte.
    pub header_read_timeout_secs: u64,
    /// Seconds a client may take to send a request's body.
    pub body_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit idle between requests before it is closed.
    pub keep_alive_timeout_secs: u64,
    /// Seconds a streaming client may stop reading before its stream is cut and its node slot freed.
    pub client_write_timeout_secs: u64,
    /// Open client connections at most; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Chat requests in flight at most; one more is answered 503.
    pub max_in_flight: usize,
    /// Seconds in-flight work may take to finish after a stop is asked for; the rest is cut.
    pub shutdown_grace_secs: u64,
    /// Answer loopback clients without a key when no `[[agents]]` keys are configured. Behind a
    /// reverse proxy every client is loopback, so this is off unless asked for (`farmhand demo` asks).
    pub trust_loopback: bool,
    /// A second address serving only `/metrics`, without a key (for a Prometheus on a private
    /// interface). On `listen`, `/metrics` needs an agent key whenever keys are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token consoles present to read a router's `/v1/status` (its held decisions);
    /// without one, only loopback clients may read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_token: Option<SecretRef>,
}

/// Per-node values that apply unless a node overrides them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeDefaults {
    /// Ollama's port.
    pub ollama_port: u16,
    /// The farmhand agent's port.
    pub agent_port: u16,
    /// sshd's port.
    pub ssh_port: u16,
    /// Requests a node serves at once (its `OLLAMA_NUM_PARALLEL`).
    pub parallel: u32,
    /// How models are pulled onto a node.
    pub pull: PullTransport,
    /// The bearer token the farmhand agents require (their `FARMHAND_AGENT_TOKEN`), as a secret reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_token: Option<SecretRef>,
    /// Where machine metrics come from: `agent` (the farmhand agent) or `macmon` (`macmon serve`).
    pub metrics: MetricsSource,
    /// `macmon serve`'s port, for nodes polled through macmon.
    pub macmon_port: u16,
}

/// Where the poller reads a node's machine metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricsSource {
    /// The farmhand agent's `/v1/metrics`: memory, swap, CPU, load, Ollama's RSS, memory pressure,
    /// and power where macmon runs beside it.
    #[default]
    Agent,
    /// `macmon serve`'s `/json` directly, for nodes without the farmhand agent: memory, swap, CPU
    /// use, power and temperatures, but no memory-pressure level.
    Macmon,
}

/// How `pull` reaches a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PullTransport {
    /// `ollama pull` over SSH (real farms).
    #[default]
    Ssh,
    /// Ollama's `/api/pull` over HTTP (the simulator).
    Http,
}

/// One node of the farm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Short unique name, e.g. `mini-01`.
    pub name: String,
    /// MagicDNS name or tailnet IP.
    pub host: String,
    /// Overrides `node_defaults.ollama_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ollama_port: Option<u16>,
    /// Overrides `node_defaults.agent_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_port: Option<u16>,
    /// Overrides `node_defaults.ssh_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
    /// Overrides `node_defaults.parallel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
    /// Overrides `node_defaults.pull`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<PullTransport>,
    /// Overrides `node_defaults.agent_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_token: Option<SecretRef>,
    /// Overrides `node_defaults.metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSource>,
    /// Overrides `node_defaults.macmon_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macmon_port: Option<u16>,
}

/// A node with every default applied: what the rest of farmhand works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Short unique name.
    pub name: String,
    /// MagicDNS name or tailnet IP.
    pub host: String,
    /// Base URL of its Ollama server.
    pub ollama_url: String,
    /// Base URL of its farmhand agent.
    pub agent_url: String,
    /// sshd's port.
    pub ssh_port: u16,
    /// Parallel request slots.
    pub parallel: u32,
    /// Pull transport.
    pub pull: PullTransport,
    /// The bearer token its agent requires, as a secret reference.
    pub agent_token: Option<SecretRef>,
    /// Where its machine metrics are read.
    pub metrics: MetricsSource,
    /// Base URL of `macmon serve` on it.
    pub macmon_url: String,
}

/// SSH settings for pulls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshConfig {
    /// Remote user.
    pub user: String,
    /// Private key file; `~` expands to the home directory. The agent is tried first.
    pub key_file: String,
    /// known_hosts file used to verify host keys.
    pub known_hosts: String,
    /// Trust and record a host key seen for the first time (audited). Changed keys are always refused.
    pub accept_new_host_keys: bool,
    /// Seconds for connect and for each blocking SSH call.
    pub timeout_secs: u64,
    /// The `ollama` executable on the nodes.
    pub ollama_bin: String,
}

/// The local model each task class runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalModels {
    /// Model for routine work.
    pub routine: String,
    /// Model for reasoning work that stays local (fallback or override).
    pub reasoning: String,
    /// Model for orchestration work that stays local.
    pub orchestration: String,
    /// Model for sensitive work.
    pub sensitive: String,
    /// Each local model's capabilities as `ollama show` lists them, by name (`qwen3:8b`) or by
    /// family (`qwen3`: every tag); a model not listed only completes text. A file's entries
    /// replace the embedded ones of the same name, and leave the others.
    #[serde(deserialize_with = "capabilities::over_defaults")]
    pub capabilities: CapabilityTable,
}

impl LocalModels {
    /// The local model for `class`.
    pub fn for_class(&self, class: TaskClass) -> &str {
        match class {
            TaskClass::Routine => &self.routine,
            TaskClass::Reasoning => &self.reasoning,
            TaskClass::Orchestration => &self.orchestration,
            TaskClass::Sensitive => &self.sensitive,
        }
    }
}

/// Frontier providers and per-class frontier targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrontierConfig {
    /// Providers by name.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Frontier target for routine work past the routine budget.
    pub routine: FrontierTarget,
    /// Frontier target for reasoning.
    pub reasoning: FrontierTarget,
    /// Frontier target for orchestration.
    pub orchestration: FrontierTarget,
}

impl FrontierConfig {
    /// The frontier target for `class`; `None` for sensitive work, which never leaves.
    pub fn for_class(&self, class: TaskClass) -> Option<&FrontierTarget> {
        match class {
            TaskClass::Routine => Some(&self.routine),
            TaskClass::Reasoning => Some(&self.reasoning),
            TaskClass::Orchestration => Some(&self.orchestration),
            TaskClass::Sensitive => None,
        }
    }
}

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions.
    Openai,
}

/// One frontier provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Wire protocol.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.anthropic.com`.
    pub base_url: String,
    /// API key reference; `None` sends no key (the simulator accepts that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<SecretRef>,
}

/// A provider and model on the frontier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontierTarget {
    /// A key of `frontier.providers`.
    pub provider: String,
    /// The provider's model id.
    pub model: String,
}

/// What happens to frontier-bound work once the daily budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OverBudget {
    /// Serve it locally instead.
    #[default]
    Degrade,
    /// Refuse it with a 503.
    Refuse,
}

/// Base policy settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Daily frontier budget in USD (UTC day); 0 means no budget.
    pub daily_frontier_budget_usd: f64,
    /// What happens past the budget.
    pub over_budget: OverBudget,
    /// Content detectors that upgrade a request to sensitive.
    pub detectors: Vec<String>,
    /// Where requests holding content no detector can read (images, audio, files, blobs) may go.
    pub unscannable: UnscannableRoute,
    /// An on-farm model asked, before a request leaves, whether it holds private data; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_model: Option<String>,
    /// How long the reviewer may take before the request is kept local, in milliseconds.
    pub review_timeout_ms: u64,
}

/// Where requests with unscannable content may go (`policy.unscannable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UnscannableRoute {
    /// They stay on the farm, as sensitive work (fail closed).
    #[default]
    Local,
    /// They follow their class like any other request.
    Frontier,
}

crate::domain::wire_enum!(UnscannableRoute, "unscannable route", {
    Local => "local",
    Frontier => "frontier",
});

/// An agent allowed to call the router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentKey {
    /// The agent's name as it appears in decisions.
    pub name: String,
    /// Its bearer key, as a secret reference.
    pub key: SecretRef,
    /// Requests per minute it may send to one router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens per minute it may use on one router (finished requests plus in-flight estimates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Requests it may have in flight at once on one router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u64>,
    /// Frontier USD it may spend per UTC day, across the fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<f64>,
}

impl AgentKey {
    /// An agent with key `key` and no limits.
    pub fn new(name: impl Into<String>, key: SecretRef) -> AgentKey {
        AgentKey {
            name: name.into(),
            key,
            rpm: None,
            tpm: None,
            max_in_flight: None,
            daily_usd: None,
        }
    }
}

/// Console defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Theme name (a file in `themes/` or the user theme folder).
    pub theme: String,
    /// Milliseconds between `/api/ps` polls.
    pub poll_ms: u64,
    /// Key remapping by action name, e.g. `"node.drain" = "D"` or `"quit" = ["q", "ctrl-q"]`;
    /// a remapped action loses its default keys. `?` in the console lists the action names.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, KeyList>,
}

/// One key or several, as written in `[console.keys]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    /// `"D"`
    One(String),
    /// `["q", "ctrl-q"]`
    Many(Vec<String>),
}

impl KeyList {
    /// The keys, in order.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            KeyList::One(key) => vec![key.as_str()],
            KeyList::Many(keys) => keys.iter().map(String::as_str).collect(),
        }
    }
}

/// The content detectors farmhand knows.
pub const DETECTORS: &[&str] = &[
    "private_key",
    "api_key",
    "jwt",
    "github",
    "gitlab",
    "slack",
    "stripe",
    "google_api_key",
    "aws",
    "azure",
    "tailscale",
    "huggingface",
    "npm",
    "pypi",
    "sendgrid",
    "twilio",
    "url_credentials",
    "secret_assignment",
    "credential_file",
    "credit_card",
    "email",
    "national_id",
    "iban",
    "phone",
    "date_of_birth",
    "passport",
];

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://farmhand.db".into(),
        }
    }
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 4 * 1024 * 1024,
            routine_token_budget: 4000,
            warm_nodes: 2,
            unload_idle_on_critical_secs: 120,
            sensitive_wait_secs: 0,
            first_byte_timeout_secs: 120,
            idle_timeout_secs: 60,
            journal_path: None,
            journal_max_bytes: 1 << 30,
            buffer_decisions: 50_000,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            keep_alive_timeout_secs: 75,
            client_write_timeout_secs: 30,
            max_connections: 4096,
            max_in_flight: 1024,
            shutdown_grace_secs: 30,
            trust_loopback: false,
            metrics_listen: None,
            status_token: None,
        }
    }
}

impl Default for NodeDefaults {
    fn default() -> Self {
        NodeDefaults {
            ollama_port: 11434,
            agent_port: 9464,
            ssh_port: 22,
            parallel: 1,
            pull: PullTransport::Ssh,
            agent_token: None,
            metrics: MetricsSource::Agent,
            macmon_port: 9090,
        }
    }
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            user: "fleet".into(),
            key_file: "~/.ssh/id_ed25519".into(),
            known_hosts: "~/.ssh/known_hosts".into(),
            accept_new_host_keys: false,
            timeout_secs: 30,
            ollama_bin: "ollama".into(),
        }
    }
}

impl Default for LocalModels {
    fn default() -> Self {
        LocalModels {
            routine: "llama3.1:8b".into(),
            reasoning: "qwen3:32b".into(),
            orchestration: "qwen3:32b".into(),
            sensitive: "qwen3:14b".into(),
            capabilities: capabilities::defaults(),
        }
    }
}

impl Default for FrontierConfig {
    fn default() -> Self {
        let provider = |kind, base_url: &str, key: &str| ProviderConfig {
            kind,
            base_url: base_url.into(),
            api_key: Some(SecretRef::Env(key.into())),
        };
        let target = |provider: &str, model: &str| FrontierTarget {
            provider: provider.into(),
            model: model.into(),
        };
        FrontierConfig {
            providers: BTreeMap::from([
                (
                    "anthropic".to_string(),
                    provider(
                        ProviderKind::Anthropic,
                        "https://api.anthropic.com",
                        "ANTHROPIC_API_KEY",
                    ),
                ),
                (
                    "openai".to_string(),
                    provider(ProviderKind::Openai, "https://api.openai.com", "OPENAI_API_KEY"),
                ),
            ]),
            routine: target("openai", "gpt-5.4-mini"),
            reasoning: target("anthropic", "claude-sonnet-4-6"),
            orchestration: target("anthropic", "claude-opus-4-7"),
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            daily_frontier_budget_usd: 50.0,
            over_budget: OverBudget::Degrade,
            detectors: DETECTORS.iter().map(|d| d.to_string()).collect(),
            unscannable: UnscannableRoute::Local,
            review_model: None,
            review_timeout_ms: 3000,
        }
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            theme: "dark".into(),
            poll_ms: 1000,
            keys: BTreeMap::new(),
        }
    }
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            store: StoreConfig::default(),
            router: RouterConfig::default(),
            node_defaults: NodeDefaults::default(),
            nodes: Vec::new(),
            ssh: SshConfig::default(),
            models: LocalModels::default(),
            frontier: FrontierConfig::default(),
            pricing: pricing::default_prices(),
            policy: PolicyConfig::default(),
            agents: Vec::new(),
            console: ConsoleConfig::default(),
            secrets: SecretsConfig::default(),
            jobs: JobsConfig::default(),
            quality: QualityConfig::default(),
        }
    }
}

impl FleetConfig {
    /// Reads and validates a fleet file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates fleet TOML; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| ConfigError::syntax(origin, text, &e))?;
        let config: FleetConfig =
            serde_path_to_error::deserialize(deserializer).map_err(|e| ConfigError::key(origin, e))?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::invalid(origin, &key, &message))?;
        Ok(config)
    }

    /// The configuration as TOML (what `farmhand sim --write-config` writes).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not serialise the configuration: {e}\n"))
    }

    /// The nodes with every default applied.
    pub fn resolved_nodes(&self) -> Vec<Node> {
        self.nodes.iter().map(|n| self.resolve_node(n)).collect()
    }

    fn resolve_node(&self, n: &NodeConfig) -> Node {
        let d = &self.node_defaults;
        let host = if n.host.contains(':') && !n.host.starts_with('[') {
            format!("[{}]", n.host)
        } else {
            n.host.clone()
        };
        Node {
            name: n.name.clone(),
            host: n.host.clone(),
            ollama_url: format!("http://{host}:{}", n.ollama_port.unwrap_or(d.ollama_port)),
            agent_url: format!("http://{host}:{}", n.agent_port.unwrap_or(d.agent_port)),
            ssh_port: n.ssh_port.unwrap_or(d.ssh_port),
            parallel: n.parallel.unwrap_or(d.parallel).max(1),
            pull: n.pull.unwrap_or(d.pull),
            agent_token: n.agent_token.clone().or_else(|| d.agent_token.clone()),
            metrics: n.metrics.unwrap_or(d.metrics),
            macmon_url: format!("http://{host}:{}", n.macmon_port.unwrap_or(d.macmon_port)),
        }
    }

    /// The price row for `model` on `day`: longest matching prefix, latest effective date.
    pub fn price_for(&self, model: &str, day: chrono::NaiveDate) -> Option<&PriceRow> {
        pricing::lookup(&self.pricing, model, day)
    }

    /// For each class, the (input, output) USD per million tokens of the frontier model it would
    /// use: its own frontier target, or routine's for sensitive work (which never leaves; the price
    /// only answers "what would this farm volume have cost").
    pub fn frontier_prices(&self, day: chrono::NaiveDate) -> std::collections::BTreeMap<String, (f64, f64)> {
        crate::domain::TaskClass::ALL
            .iter()
            .filter_map(|class| {
                let target = self.frontier.for_class(*class).unwrap_or(&self.frontier.routine);
                let price = self.price_for(&target.model, day)?;
                Some((class.as_str().to_string(), (price.input, price.output)))
            })
            .collect()
    }

    /// Checks what serde cannot: references between sections, names, ranges.
    fn validate(&self) -> Result<(), (String, String)> {
        self.quality.validate()?;
        if let Some(shadow) = self.quality.shadow.get("sensitive")
            && shadow.model.as_deref() == Some(self.models.sensitive.as_str())
            && shadow.rate > 0.0
        {
            return Err((
                "quality.shadow.sensitive.model".into(),
                format!(
                    "`{}` is the sensitive class's own model; a twin needs a second local model",
                    self.models.sensitive
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if !valid_name(&node.name) {
                return Err((
                    format!("nodes[{i}].name"),
                    format!("`{}` must be 1-63 characters of a-z, 0-9 and -", node.name),
                ));
            }
            if !seen.insert(node.name.as_str()) {
                return Err((format!("nodes[{i}].name"), format!("`{}` is listed twice", node.name)));
            }
            if node.host.is_empty() || node.host.chars().any(|c| c.is_whitespace() || "/@?#".contains(c)) {
                return Err((
                    format!("nodes[{i}].host"),
                    format!("`{}` is not a host name or IP address", node.host),
                ));
            }
            if node.parallel == Some(0) {
                return Err((format!("nodes[{i}].parallel"), "must be at least 1".into()));
            }
        }
        for class in [TaskClass::Routine, TaskClass::Reasoning, TaskClass::Orchestration] {
            let target = self
                .frontier
                .for_class(class)
                .expect("non-sensitive classes have a frontier target");
            if !self.frontier.providers.contains_key(&target.provider) {
                let known: Vec<&str> = self.frontier.providers.keys().map(String::as_str).collect();
                return Err((
                    format!("frontier.{class}.provider"),
                    format!(
                        "`{}` is not a key of [frontier.providers] (known: {})",
                        target.provider,
                        known.join(", ")
                    ),
                ));
            }
        }
        for (name, provider) in &self.frontier.providers {
            if url::Url::parse(&provider.base_url)
                .map(|u| !matches!(u.scheme(), "http" | "https"))
                .unwrap_or(true)
            {
                return Err((
                    format!("frontier.providers.{name}.base_url"),
                    format!("`{}` is not an http(s) URL", provider.base_url),
                ));
            }
        }
        for class in TaskClass::ALL {
            let model = self.models.for_class(*class);
            if !crate::domain::valid_model_name(model) {
                return Err((
                    format!("models.{class}"),
                    format!("`{model}` is not a valid Ollama model name"),
                ));
            }
        }
        for model in self.models.capabilities.keys() {
            if !crate::domain::valid_model_name(model) {
                return Err((
                    format!("models.capabilities.{}", error::key_segment(model)),
                    "is not a valid Ollama model or family name".into(),
                ));
            }
        }
        for (i, detector) in self.policy.detectors.iter().enumerate() {
            if !DETECTORS.contains(&detector.as_str()) {
                return Err((
                    format!("policy.detectors[{i}]"),
                    format!("unknown detector `{detector}` (known: {})", DETECTORS.join(", ")),
                ));
            }
        }
        if let Some(model) = &self.policy.review_model
            && !crate::domain::valid_model_name(model)
        {
            return Err((
                "policy.review_model".into(),
                format!("`{model}` is not a valid Ollama model name"),
            ));
        }
        if !(self.jobs.max_share > 0.0 && self.jobs.max_share <= 1.0) {
            return Err(("jobs.max_share".into(), "must be more than 0 and at most 1".into()));
        }
        if self.jobs.max_attempts == 0 {
            return Err(("jobs.max_attempts".into(), "must be at least 1".into()));
        }
        if self.jobs.lease_secs < 2 {
            return Err(("jobs.lease_secs".into(), "must be at least 2 seconds".into()));
        }
        if self.jobs.completion_windows.is_empty() {
            return Err(("jobs.completion_windows".into(), "must list at least one window".into()));
        }
        for (i, window) in self.jobs.completion_windows.iter().enumerate() {
            if crate::jobs::window::parse(window).is_none() {
                return Err((
                    format!("jobs.completion_windows[{i}]"),
                    format!("`{window}` is not a whole number of minutes, hours or days (e.g. 24h)"),
                ));
            }
        }
        if !(50..=60_000).contains(&self.policy.review_timeout_ms) {
            return Err((
                "policy.review_timeout_ms".into(),
                "must be between 50 and 60000 milliseconds".into(),
            ));
        }
        if !(self.policy.daily_frontier_budget_usd >= 0.0 && self.policy.daily_frontier_budget_usd.is_finite()) {
            return Err((
                "policy.daily_frontier_budget_usd".into(),
                "must be a number of dollars, 0 or more".into(),
            ));
        }
        for (i, row) in self.pricing.iter().enumerate() {
            if let Some(field) = row.negative_field() {
                return Err((format!("pricing[{i}].{field}"), "prices must be 0 or more".into()));
            }
        }
        let mut agents = std::collections::HashSet::new();
        let mut references = std::collections::HashMap::new();
        for (i, agent) in self.agents.iter().enumerate() {
            if !agents.insert(agent.name.as_str()) || agent.name.is_empty() {
                return Err((
                    format!("agents[{i}].name"),
                    format!("`{}` is empty or listed twice", agent.name),
                ));
            }
            if let Some(first) = references.insert(agent.key.to_string(), agent.name.as_str()) {
                return Err((
                    format!("agents[{i}].key"),
                    format!("`{}` is also the key of `{first}`: give each agent its own", agent.key),
                ));
            }
            if agent.daily_usd.is_some_and(|usd| !(usd.is_finite() && usd >= 0.0)) {
                return Err((
                    format!("agents[{i}].daily_usd"),
                    "must be a number of dollars, 0 or more".into(),
                ));
            }
        }
        if self.router.max_body_bytes < 1024 {
            return Err(("router.max_body_bytes".into(), "must be at least 1024".into()));
        }
        for (key, value) in [
            ("header_read_timeout_secs", self.router.header_read_timeout_secs),
            ("body_read_timeout_secs", self.router.body_read_timeout_secs),
            ("keep_alive_timeout_secs", self.router.keep_alive_timeout_secs),
            ("client_write_timeout_secs", self.router.client_write_timeout_secs),
            ("max_connections", self.router.max_connections as u64),
            ("max_in_flight", self.router.max_in_flight as u64),
        ] {
            if value == 0 {
                return Err((format!("router.{key}"), "must be at least 1".into()));
            }
        }
        if let Some(path) = &self.router.journal_path
            && !path.is_absolute()
        {
            return Err((
                "router.journal_path".into(),
                format!(
                    "`{}` must be an absolute path (leave the key out to use journal.ndjson in the state directory)",
                    path.display()
                ),
            ));
        }
        if self.router.journal_max_bytes < MIN_JOURNAL_BYTES {
            return Err((
                "router.journal_max_bytes".into(),
                format!("must be at least {MIN_JOURNAL_BYTES} bytes"),
            ));
        }
        if self.secrets.timeout_secs == 0 {
            return Err(("secrets.timeout_secs".into(), "must be at least 1".into()));
        }
        if self.console.poll_ms < 100 {
            return Err(("console.poll_ms".into(), "must be at least 100".into()));
        }
        Ok(())
    }
}

/// The smallest journal cap accepted: room for a few decisions.
const MIN_JOURNAL_BYTES: u64 = 4096;

fn valid_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests;
