//! The options of `farmhand router`.

use std::net::SocketAddr;

use clap::Args;

/// Options of `farmhand router`.
#[derive(Debug, Clone, Args)]
pub struct RouterArgs {
    /// Address to listen on (overrides `router.listen`).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}
