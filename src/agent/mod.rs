//! The node agent: this machine's memory, swap, CPU, load and Ollama RSS over HTTP.
//!
//! `GET /v1/metrics` (JSON, [`AgentMetrics`]) and `GET /metrics` (Prometheus text), sampled once
//! a second on a blocking thread so a request never waits on syscalls.

mod args;
mod sampler;
mod server;

use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

pub use args::AgentArgs;
pub use sampler::Sampler;
pub use server::router;

use crate::wire::AgentMetrics;

/// How often the agent samples the machine.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Serves the agent until Ctrl-C.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let token = args.token.filter(|t| !t.is_empty());
    if token.is_none() {
        tracing::warn!(
            "no --token / FARMHAND_AGENT_TOKEN: metrics are readable by anyone who can reach {}",
            args.listen
        );
    }
    let metrics = spawn_sampler().context("cannot read this machine's metrics")?;
    let listener = crate::net::bind(args.listen, "agent").await?;
    tracing::info!(listen = %args.listen, "agent serving /v1/metrics and /metrics");
    axum::serve(crate::net::no_delay(listener), router(metrics, token))
        .with_graceful_shutdown(crate::net::stop_requested())
        .await
        .context("agent server failed")
}

/// Starts the sampling thread; the receiver always holds the latest sample.
pub fn spawn_sampler() -> Result<watch::Receiver<AgentMetrics>, sysinfo::Error> {
    let mut sampler = Sampler::new()?;
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    let (tx, rx) = watch::channel(sampler.sample());
    std::thread::Builder::new()
        .name("agent-sampler".into())
        .spawn(move || {
            while !tx.is_closed() {
                std::thread::sleep(SAMPLE_EVERY);
                tx.send_replace(sampler.sample());
            }
        })
        .map_err(sysinfo::Error::Io)?;
    Ok(rx)
}
