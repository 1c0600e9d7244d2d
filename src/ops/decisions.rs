//! `farmhand decisions`: recent routing decisions, optionally followed live.

use clap::Args;

use super::format::{cell, tokens, usd};
use crate::domain::StoredDecision;
use crate::store::{Store, Wakeup};

/// Options of `farmhand decisions`.
#[derive(Debug, Clone, Args)]
pub struct DecisionsArgs {
    /// How many recent decisions to show first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Keep printing new decisions as they land (Ctrl-C to stop).
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// Prints decisions, then follows the tail by id cursor when asked.
pub async fn decisions(store: &Store, args: &DecisionsArgs, as_json: bool) -> anyhow::Result<()> {
    let recent = store.recent_decisions(args.limit.min(10_000)).await?;
    if !as_json {
        println!("{}", header());
    }
    let mut cursor = recent.last().map(|d| d.id).unwrap_or(0);
    for d in &recent {
        print(d, as_json)?;
    }
    if !args.follow {
        return Ok(());
    }
    let mut wakeups = store.wakeups();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            wakeup = wakeups.recv() => match wakeup {
                Some(Wakeup::Decisions | Wakeup::Resync) => {}
                Some(Wakeup::Control) => continue,
                None => return Ok(()),
            },
        }
        loop {
            let batch = store.decisions_after(cursor, 500).await?;
            for d in &batch {
                print(d, as_json)?;
                cursor = d.id;
            }
            if batch.len() < 500 {
                break;
            }
        }
    }
}

fn header() -> String {
    format!(
        "{} {} {} {} {} {} {:>7} {:>9} {:>7} {}",
        cell("id", 8),
        cell("time", 8),
        cell("agent", 18),
        cell("class", 24),
        cell("endpoint", 9),
        cell("route", 32),
        "tokens",
        "cost",
        "ms",
        "status"
    )
}

fn print(d: &StoredDecision, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string(d)?);
        return Ok(());
    }
    let r = &d.record;
    let class = if r.declared_class.class() == Some(r.effective_class) {
        r.effective_class.to_string()
    } else {
        format!("{}→{}", r.declared_class, r.effective_class)
    };
    let class = match &r.sensitivity_reason {
        Some(reason) if r.sensitive => format!("{class} ({reason})"),
        _ => class,
    };
    let route = [r.node.as_deref().or(r.provider.as_deref()), r.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    let status = match &r.error {
        Some(error) => format!("{} {error}", r.status),
        None => r.status.to_string(),
    };
    println!(
        "{} {} {} {} {} {} {:>7} {:>9} {:>7} {}",
        cell(&d.id.to_string(), 8),
        cell(&r.ts.format("%H:%M:%S").to_string(), 8),
        cell(&r.agent, 18),
        cell(&class, 24),
        cell(r.endpoint.as_str(), 9),
        cell(&route, 32),
        tokens(r.total_tokens()),
        usd(r.cost_usd),
        r.latency_ms,
        status
    );
    Ok(())
}
