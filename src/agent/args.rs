//! The options of `farmhand agent`.

use std::net::SocketAddr;

use clap::Args;

/// Options of `farmhand agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// Address to serve `/v1/metrics` and `/metrics` on: loopback unless told otherwise; on a
    /// node, its tailnet address (`--listen "$(tailscale ip -4):9464"`).
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// Bearer token callers must present (prefer the environment variable: arguments show in `ps`).
    #[arg(long, env = "FARMHAND_AGENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Where `macmon serve` answers on this machine, for GPU, ANE and CPU power and the SoC
    /// temperatures (`off` to not look). Without macmon running, the agent reports no power.
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub macmon: String,
}
