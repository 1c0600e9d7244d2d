//! The command line: one subcommand per role, each handed to its module.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::agent::AgentArgs;
use crate::config::FleetConfig;
use crate::console::ConsoleArgs;
use crate::demo::DemoArgs;
use crate::gateway::RouterArgs;
use crate::logging::LogTarget;
use crate::sim::SimArgs;

/// farmhand: route LLM work across a farm of Ollama nodes and frontier APIs, and watch it live.
#[derive(Debug, Parser)]
#[command(name = "farmhand", version, about, propagate_version = true)]
pub struct Cli {
    /// Fleet file (defaults embedded in farmhand apply to every key it leaves out).
    #[arg(long, short = 'c', global = true, env = "FARMHAND_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Store URL (`postgres://…` or `sqlite://path`); overrides `store.url`.
    #[arg(
        long,
        global = true,
        env = "FARMHAND_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Print machine-readable JSON (reports and ops commands).
    #[arg(long, global = true)]
    pub json: bool,
    /// The role to run.
    #[command(subcommand)]
    pub command: Command,
}

/// farmhand's roles and tools.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a simulated farm: Ollama-compatible nodes, node agents and a frontier API, with fault injection.
    Sim(SimArgs),
    /// Serve this machine's metrics (memory, swap, CPU, load, Ollama's RSS) for the console and router.
    Agent(AgentArgs),
    /// Route agents' requests: OpenAI-compatible API; task classes to farm nodes or frontier APIs; every decision recorded.
    Router(RouterArgs),
    /// Drain, undrain or pull a model onto a node (audited).
    #[command(subcommand)]
    Node(crate::ops::NodeCommand),
    /// Tailnet tools: `discover` prints fleet.toml node entries from `tailscale status --json`.
    #[command(subcommand)]
    Fleet(crate::ops::FleetCommand),
    /// Show or change live policy overrides (validated, versioned, audited).
    #[command(subcommand)]
    Policy(crate::ops::PolicyCommand),
    /// List recent routing decisions, or follow them live.
    Decisions(crate::ops::DecisionsArgs),
    /// Frontier spend against the volume kept on the farm.
    Spend(crate::ops::SpendArgs),
    /// Policy suggestions from answer quality and spend, each with its evidence and daily saving.
    Recommend(crate::ops::RecommendArgs),
    /// Batch jobs: list or show batches; pause, resume, cancel or retry one (audited).
    #[command(subcommand)]
    Jobs(crate::ops::JobsCommand),
    /// Create or update the store schema (also done at start-up); running it again changes nothing.
    Migrate,
    /// Watch the farm live: nodes, routing decisions, spend and policy (a terminal UI).
    Console(ConsoleArgs),
    /// Everything in one process: a simulated farm of 12, a router, synthetic agents, SQLite, the console.
    Demo(DemoArgs),
}

/// Where logs go while a terminal UI owns the screen: `$XDG_STATE_HOME/farmhand`, else
/// `~/.local/state/farmhand`, else a `farmhand` folder in the temporary directory.
pub fn default_log_dir() -> PathBuf {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    non_empty("XDG_STATE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("farmhand")
}

impl Cli {
    /// The fleet configuration: the file given, or the embedded defaults.
    pub fn fleet_config(&self) -> anyhow::Result<FleetConfig> {
        let mut config = match &self.config {
            Some(path) => FleetConfig::load(path)?,
            None => FleetConfig::default(),
        };
        if let Some(url) = &self.database_url {
            config.store.url = url.clone();
        }
        Ok(config)
    }
}

/// Connects to the configured store and brings its schema up to date.
async fn open_store(cli: &Cli) -> anyhow::Result<crate::store::Store> {
    let config = cli.fleet_config()?;
    let store = crate::store::Store::connect(&config.store.url).await?;
    store.migrate().await?;
    Ok(store)
}

/// Runs the chosen role to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let log_target = match &cli.command {
        Command::Console(ConsoleArgs { log_dir, .. }) | Command::Demo(DemoArgs { log_dir, .. }) => {
            LogTarget::File(log_dir.clone().unwrap_or_else(default_log_dir))
        }
        _ => LogTarget::Stderr,
    };
    let _log = crate::logging::init(log_target)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Sim(args) => crate::sim::run(args.clone()).await,
            Command::Agent(args) => crate::agent::run(args.clone()).await,
            Command::Migrate => {
                let config = cli.fleet_config()?;
                let store = crate::store::Store::connect(&config.store.url).await?;
                let applied = store.migrate().await?;
                println!(
                    "{}: schema up to date ({applied} migration(s) applied)",
                    store.redacted_url()
                );
                Ok(())
            }
            Command::Router(args) => crate::gateway::run(cli.fleet_config()?, args.listen).await,
            Command::Policy(command) => {
                crate::ops::policy(&cli.fleet_config()?, open_store(&cli).await?, command, cli.json).await
            }
            Command::Node(command) => {
                crate::ops::node(&cli.fleet_config()?, open_store(&cli).await?, command, cli.json).await
            }
            Command::Fleet(command) => crate::ops::fleet(command, cli.json),
            Command::Decisions(args) => crate::ops::decisions(&open_store(&cli).await?, args, cli.json).await,
            Command::Spend(args) => {
                crate::ops::spend(&cli.fleet_config()?, &open_store(&cli).await?, args, cli.json).await
            }
            Command::Recommend(args) => {
                crate::ops::recommend(&cli.fleet_config()?, &open_store(&cli).await?, args, cli.json).await
            }
            Command::Jobs(command) => {
                crate::ops::jobs(&cli.fleet_config()?, open_store(&cli).await?, command, cli.json).await
            }
            Command::Console(args) => {
                let options = crate::console::ConsoleOptions {
                    theme: args.theme.clone(),
                    read_only: args.read_only,
                };
                crate::console::run_console(cli.fleet_config()?, options).await
            }
            Command::Demo(args) => {
                let options = crate::demo::DemoOptions {
                    database_url: cli.database_url.clone(),
                    headless: args.headless,
                    seconds: args.seconds,
                    theme: args.theme.clone(),
                    write_config: args.write_config.clone(),
                };
                crate::demo::run(options).await
            }
        }
    });
    // Blocking work (SSH, `op`) must not hold the process open past a bounded wait.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}
