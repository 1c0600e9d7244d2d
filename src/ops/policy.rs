//! `farmhand policy show|set|clear`: live overrides, validated before they are written.

use clap::Subcommand;
use serde_json::json;

use crate::actions::{Access, Operator};
use crate::config::FleetConfig;
use crate::store::Store;

/// Policy subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum PolicyCommand {
    /// Show the policy version, the live overrides and recent changes.
    Show,
    /// Set an override, e.g. `frontier.kill_switch on`, `class.routine.target frontier`, `budget.daily_usd 20`.
    Set {
        /// Override key.
        key: String,
        /// New value.
        value: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// Who is acting (default: FARMHAND_ACTOR or $USER@host).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Remove an override, returning to the base policy from fleet.toml.
    Clear {
        /// Override key.
        key: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// Who is acting (default: FARMHAND_ACTOR or $USER@host).
        #[arg(long)]
        actor: Option<String>,
    },
}

/// Runs a policy subcommand; output goes to stdout.
pub async fn policy(config: &FleetConfig, store: Store, command: &PolicyCommand, as_json: bool) -> anyhow::Result<()> {
    let operator = |actor: &Option<String>| {
        Operator::new(config, store.clone(), super::actor(actor.as_deref()), Access::ReadWrite)
    };
    match command {
        PolicyCommand::Show => {
            let version = store.policy_version().await?;
            let overrides = store.overrides().await?;
            let history = store.policy_versions(10).await?;
            if as_json {
                println!(
                    "{}",
                    json!({ "version": version, "overrides": overrides, "history": history })
                );
                return Ok(());
            }
            println!("policy version {version}");
            if overrides.is_empty() {
                println!("no overrides: the base policy from fleet.toml applies");
            }
            for o in &overrides {
                let reason = o.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                println!(
                    "  {} = {}   set by {} at {}{reason}",
                    o.key,
                    o.value,
                    o.set_by,
                    o.set_at.format("%Y-%m-%d %H:%M:%SZ")
                );
            }
            Ok(())
        }
        PolicyCommand::Set {
            key,
            value,
            reason,
            actor,
        } => {
            let operator = operator(actor);
            let version = operator.set_override(key, value, reason.as_deref()).await?;
            let actor = operator.actor();
            report(
                as_json,
                json!({ "version": version, "key": key, "value": value, "actor": actor }),
                || format!("policy version {version}: {key} = {value}"),
            );
            Ok(())
        }
        PolicyCommand::Clear { key, reason, actor } => {
            let operator = operator(actor);
            let version = operator.clear_override(key, reason.as_deref()).await?;
            let actor = operator.actor();
            report(
                as_json,
                json!({ "version": version, "key": key, "cleared": true, "actor": actor }),
                || format!("policy version {version}: {key} cleared"),
            );
            Ok(())
        }
    }
}

fn report(as_json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if as_json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}
