//! Scriptable operator commands: the console's actions and reports, with `--json` for scripts.

mod decisions;
mod discover;
pub(crate) mod format;
mod jobs;
mod node;
mod policy;
mod recommend;
mod spend;

pub use decisions::{DecisionsArgs, decisions};
pub use discover::{Discovery, FleetCommand, discover, fleet, to_toml};
pub use format::parse_window;
pub use jobs::{BatchTarget, JobsCommand, jobs};
pub use node::{NodeCommand, node};
pub use policy::{PolicyCommand, policy};
pub use recommend::{RecommendArgs, gather as gather_recommendations, recommend};
pub use spend::{SpendArgs, spend};

/// The operator's identity for audit rows: `--actor`, else `FARMHAND_ACTOR`, else `$USER@host`.
pub fn actor(explicit: Option<&str>) -> String {
    if let Some(actor) = explicit.filter(|a| !a.trim().is_empty()) {
        return actor.trim().to_string();
    }
    if let Ok(actor) = std::env::var("FARMHAND_ACTOR")
        && !actor.trim().is_empty()
    {
        return actor.trim().to_string();
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = sysinfo::System::host_name().unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}
