//! A faithful simulated farm: Ollama-compatible nodes with their agents' metrics, a frontier API
//! (Anthropic and OpenAI), fault injection and an admin API.
//!
//! Layers, each in its own file: [`catalogue`] (models and node hardware) and [`node_model`] (the
//! pure per-node state machine) have no I/O; `node/` and `frontier/` are the axum layers over them;
//! [`faults`] holds what is broken; `listener` does sockets, including a real `down`. [`SimFarm`]
//! runs it all in-process (tests, benches, `farmhand demo`); [`run`] is `farmhand sim`.

pub(crate) mod admin;
mod args;
pub mod catalogue;
mod farm;
pub mod faults;
mod frontier;
mod listener;
mod log_limits;
mod node;
pub mod node_model;
mod respond;
mod schema;
pub mod text;

use std::time::Duration;

pub use admin::{ActiveFault, LoadedSummary, NodeSummary};
pub use args::SimArgs;
pub use farm::{SimError, SimFarm, SimOptions};
pub use faults::{FRONTIER, FaultKind};
pub use frontier::log::{FrontierRequest, LOG_CAPACITY};
pub use log_limits::LogLimits;
pub use node::log::{NODE_LOG_CAPACITY, NodeRequest};

/// How fast simulated time runs: token rate and the factor applied to every delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pace {
    tokens_per_sec: f64,
    time_scale: f64,
}

impl Pace {
    /// A delay as simulated time makes it.
    pub(crate) fn scale(&self, delay: Duration) -> Duration {
        delay.mul_f64(self.time_scale)
    }

    /// Time between two generated tokens on a node.
    pub(crate) fn per_token(&self) -> Duration {
        self.scale(Duration::from_secs_f64(1.0 / self.tokens_per_sec))
    }
}

/// Tokio's timers tick in whole milliseconds, so a shorter wait would last one or two ticks.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Sleeps until `deadline`, unless it is closer than the timer resolution: a sped-up farm then
/// answers in microseconds instead of rounding every step up to a tick. Callers keep a schedule
/// of absolute deadlines, so skipped waits never add up to drift.
pub(crate) async fn sleep_until(deadline: std::time::Instant) {
    if deadline.saturating_duration_since(std::time::Instant::now()) >= TIMER_RESOLUTION {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// `farmhand sim`: serves the farm until Ctrl-C.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let options = SimOptions::from_args(&args)?;
    if let Err(short) = crate::net::raise_open_files(crate::net::descriptors_for(usize::from(args.nodes))) {
        // A listener per node plus the frontier's and a few for the rest must fit, or binding
        // fails half way; past that, connections may run short under load: say so and serve.
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
        if soft < u64::from(args.nodes) + 64 {
            return Err(short);
        }
        eprintln!("farmhand: warning: {short:#}");
    }
    let farm = SimFarm::start(options).await?;
    for line in farm.describe() {
        println!("{line}");
    }
    if let Some(path) = &args.write_config {
        std::fs::write(path, farm.fleet_config().to_toml())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!("serving until Ctrl-C or SIGTERM");
    crate::net::stop_requested().await;
    farm.shutdown().await;
    Ok(())
}
