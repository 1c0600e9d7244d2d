//! The node agent: this machine's memory, swap, CPU, load and Ollama RSS over HTTP.
//!
//! `GET /v1/metrics` (JSON, [`AgentMetrics`]) and `GET /metrics` (Prometheus text), sampled once
//! a second on a blocking thread so a request never waits on syscalls.

mod args;
pub mod pressure;
mod sampler;
mod server;

use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

pub use args::AgentArgs;
pub use sampler::Sampler;
pub use server::router;

use crate::wire::macmon::MacmonSample;
use crate::wire::{AgentMetrics, PowerReading};

/// Reads `macmon serve`'s `/json` at `url` once a second into `power`. While macmon does not
/// answer, the reading is cleared (a stale wattage would say a stuck node is working); the
/// first failure and the recovery are logged once each.
pub async fn follow_macmon(url: String, power: watch::Sender<Option<PowerReading>>) {
    let client = crate::net::http_client()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap_or_default();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut reading = true;
    while !power.is_closed() {
        tick.tick().await;
        let sample = async {
            client
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .json::<MacmonSample>()
                .await
        };
        match sample.await {
            Ok(sample) => {
                if !reading {
                    tracing::info!(%url, "macmon answers again: reporting power");
                }
                reading = true;
                power.send_replace(sample.power());
            }
            Err(err) => {
                if reading {
                    tracing::info!(%url, error = %err.without_url(), "macmon is not answering: no power figures until it does");
                }
                reading = false;
                power.send_replace(None);
            }
        }
    }
}

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
    let (power_tx, power) = watch::channel(None);
    let macmon = args.macmon.trim().trim_end_matches('/');
    if !macmon.eq_ignore_ascii_case("off") && !macmon.is_empty() {
        tokio::spawn(follow_macmon(format!("{macmon}/json"), power_tx));
    }
    let metrics = spawn_sampler(power).context("cannot read this machine's metrics")?;
    let listener = crate::net::bind(args.listen, "agent").await?;
    tracing::info!(listen = %args.listen, "agent serving /v1/metrics and /metrics");
    axum::serve(crate::net::no_delay(listener), router(metrics, token))
        .with_graceful_shutdown(crate::net::stop_requested())
        .await
        .context("agent server failed")
}

/// Starts the sampling thread; the receiver always holds the latest sample, with the latest
/// power reading from `power` in it.
pub fn spawn_sampler(
    power: watch::Receiver<Option<PowerReading>>,
) -> Result<watch::Receiver<AgentMetrics>, sysinfo::Error> {
    let mut sampler = Sampler::new()?;
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    let sample = move |sampler: &mut Sampler| AgentMetrics {
        power: power.borrow().clone(),
        ..sampler.sample()
    };
    let (tx, rx) = watch::channel(sample(&mut sampler));
    std::thread::Builder::new()
        .name("agent-sampler".into())
        .spawn(move || {
            while !tx.is_closed() {
                std::thread::sleep(SAMPLE_EVERY);
                tx.send_replace(sample(&mut sampler));
            }
        })
        .map_err(sysinfo::Error::Io)?;
    Ok(rx)
}
