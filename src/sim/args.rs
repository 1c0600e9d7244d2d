//! The options of `farmhand sim`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;

/// Options of `farmhand sim`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Number of nodes (`mini-01`, `mini-02`, …; `mini-001`… from 100), at most 256.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub nodes: u16,
    /// Port of the first node; node i listens on base-port + i - 1.
    #[arg(long, default_value_t = 21434)]
    pub base_port: u16,
    /// Port of the frontier simulator and the sim's admin API.
    #[arg(long, default_value_t = 21400)]
    pub frontier_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Write a fleet.toml for this simulated farm and keep serving.
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
    /// Tokens per second each node generates per request.
    #[arg(long, default_value_t = 40.0)]
    pub tokens_per_sec: f64,
    /// Multiplies every simulated delay (cold loads, pulls, generation); 0.1 is ten times faster.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Requests a node queues beyond its parallel slots before answering 503.
    #[arg(long, default_value_t = 8)]
    pub max_queue: u32,
    /// Fault to start with: `NODE=KIND` or `frontier=KIND`; KIND is down, slow, error500, 429, 529, drop, garbage or hang.
    #[arg(long = "fault", value_name = "TARGET=KIND")]
    pub faults: Vec<String>,
    /// Seed for generated text and timings.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}
