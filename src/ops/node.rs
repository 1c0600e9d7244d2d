//! `farmhand node drain|undrain|pull`: the console's node actions, scriptable.

use std::io::Write;
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use crate::actions::{Access, DRAIN_TIMEOUT, DrainStatus, Operator, PullOutcome};
use crate::config::FleetConfig;
use crate::fleet::PullEvent;
use crate::store::Store;

/// Node subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum NodeCommand {
    /// Stop placing new work on a node; its in-flight requests finish, then it is `drained`.
    Drain {
        /// Node name, as in fleet.toml.
        node: String,
        /// Unload the node's models once drained (implies --wait).
        #[arg(long)]
        unload: bool,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// Wait until the node is drained (or the timeout passes).
        #[arg(long)]
        wait: bool,
        /// Seconds to wait for in-flight requests to finish.
        #[arg(long, default_value_t = DRAIN_TIMEOUT.as_secs(), value_name = "SECS")]
        timeout: u64,
        /// Who is acting (default: FARMHAND_ACTOR or $USER@host).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Put a drained or draining node back to work.
    Undrain {
        /// Node name, as in fleet.toml.
        node: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// Who is acting (default: FARMHAND_ACTOR or $USER@host).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Pull a model onto a node (`ollama pull` over SSH, or `/api/pull` for `pull = "http"` nodes).
    Pull {
        /// Node name, as in fleet.toml.
        node: String,
        /// Model, e.g. `qwen3:8b`.
        model: String,
        /// Who is acting (default: FARMHAND_ACTOR or $USER@host).
        #[arg(long)]
        actor: Option<String>,
    },
}

/// Runs a node subcommand; progress goes to stderr, the result to stdout.
pub async fn node(config: &FleetConfig, store: Store, command: &NodeCommand, as_json: bool) -> anyhow::Result<()> {
    match command {
        NodeCommand::Drain {
            node,
            unload,
            reason,
            wait,
            timeout,
            actor,
        } => {
            let operator = Operator::new(config, store, super::actor(actor.as_deref()), Access::ReadWrite);
            let started = operator.drain(node, reason.as_deref()).await?;
            eprintln!(
                "{node}: draining ({} in flight on {} router(s))",
                started.in_flight, started.live_routers
            );
            let mut status = started;
            if *wait || *unload {
                let timeout = Duration::from_secs((*timeout).max(1));
                status = operator
                    .wait_drained(node, timeout, |s| eprint!("\r{}", progress_line(s)))
                    .await
                    .inspect_err(|_| eprintln!())?;
                eprintln!();
            }
            let unloaded = if *unload {
                Some(operator.unload(node).await?)
            } else {
                None
            };
            if as_json {
                println!("{}", json!({ "status": status, "unloaded": unloaded }));
            } else {
                println!("{node}: {}", status.state);
                if let Some(models) = unloaded {
                    println!(
                        "{node}: unloaded {}",
                        if models.is_empty() {
                            "nothing".into()
                        } else {
                            models.join(", ")
                        }
                    );
                }
            }
            Ok(())
        }
        NodeCommand::Undrain { node, reason, actor } => {
            let operator = Operator::new(config, store, super::actor(actor.as_deref()), Access::ReadWrite);
            operator.undrain(node, reason.as_deref()).await?;
            if as_json {
                println!("{}", json!({ "node": node, "state": "active" }));
            } else {
                println!("{node}: active");
            }
            Ok(())
        }
        NodeCommand::Pull { node, model, actor } => {
            let operator = Operator::new(config, store, super::actor(actor.as_deref()), Access::ReadWrite);
            let mut pull = operator.start_pull(node, model).await?;
            let job = pull.job_id;
            let mut stderr = std::io::stderr();
            let mut cancelled = false;
            loop {
                let event = tokio::select! {
                    event = pull.next_event() => event,
                    _ = tokio::signal::ctrl_c(), if !cancelled => {
                        let _ = writeln!(stderr, "\r\x1b[2K{node}: cancelling the pull…");
                        pull.cancel();
                        cancelled = true;
                        continue;
                    }
                };
                let Some(event) = event else { break };
                match event {
                    PullEvent::Progress(p) => {
                        let percent = p
                            .fraction()
                            .map(|f| format!(" {:>3.0}%", f * 100.0))
                            .unwrap_or_default();
                        let _ = write!(stderr, "\r\x1b[2K{node}: {}{percent}", p.status);
                    }
                    PullEvent::HostKeyLearned { host, fingerprint } => {
                        let _ = writeln!(stderr, "\r\x1b[2K{node}: trusted new host key {fingerprint} for {host}");
                    }
                }
            }
            let _ = writeln!(stderr);
            let outcome = pull.finish().await;
            if as_json {
                println!(
                    "{}",
                    json!({ "node": node, "model": model, "job": job, "result": outcome })
                );
            }
            match outcome {
                PullOutcome::Succeeded => {
                    if !as_json {
                        println!("{node}: pulled {model} (job {job})");
                    }
                    Ok(())
                }
                PullOutcome::Cancelled => anyhow::bail!("{node}: pull of {model} cancelled (job {job})"),
                PullOutcome::Failed(why) => anyhow::bail!("{node}: pull of {model} failed (job {job}): {why}"),
            }
        }
    }
}

/// One line of drain progress.
fn progress_line(status: &DrainStatus) -> String {
    format!(
        "\x1b[2K{}: {} — {} request(s) in flight, {} of {} router(s) still busy",
        status.node, status.state, status.in_flight, status.busy_routers, status.live_routers
    )
}
