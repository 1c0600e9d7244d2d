//! `farmhand spend`: frontier spend against the volume kept on the farm.

use chrono::{TimeDelta, Utc};
use clap::Args;
use serde::Serialize;

use super::format::{cell, parse_window, tokens, usd};
use crate::domain::Endpoint;
use crate::store::{AgentLimitLine, LimitUse, SpendGroup, SpendSummary, Store};

/// Routers that reported within this long count as live for limit usage.
const LIVE_WINDOW: TimeDelta = TimeDelta::seconds(3);

/// What `farmhand spend --json` prints: the summary, and each limited agent's use of its limits.
#[derive(Serialize)]
struct SpendReport<'a> {
    #[serde(flatten)]
    summary: &'a SpendSummary,
    agent_limits: &'a [AgentLimitLine],
}

/// Options of `farmhand spend`.
#[derive(Debug, Clone, Args)]
pub struct SpendArgs {
    /// Look-back window: 30m, 24h, 7d, 2w or today.
    #[arg(long, default_value = "24h")]
    pub since: String,
}

/// Prints the spend summary.
pub async fn spend(store: &Store, args: &SpendArgs, as_json: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let since = parse_window(&args.since, now).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let summary = store.spend_summary(since, now).await?;
    let limits = store.agent_limits(now, now - LIVE_WINDOW).await?;
    if as_json {
        let report = SpendReport {
            summary: &summary,
            agent_limits: &limits,
        };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let frontier = summary.endpoint(Endpoint::Frontier);
    let local = summary.endpoint(Endpoint::Local);
    let rejected = summary.endpoint(Endpoint::Rejected);
    println!("since {} ({})", summary.since.format("%Y-%m-%d %H:%MZ"), args.since);
    println!(
        "frontier  {:>8} requests  {:>8} tokens  {}",
        frontier.requests,
        tokens(frontier.tokens()),
        usd(frontier.cost_usd)
    );
    println!(
        "local     {:>8} requests  {:>8} tokens  $0",
        local.requests,
        tokens(local.tokens())
    );
    println!("rejected  {:>8} requests", rejected.requests);
    match summary.local_token_share() {
        Some(share) => println!("kept on the farm: {:.1}% of tokens", share * 100.0),
        None => println!("no traffic in this window"),
    }
    for (title, groups) in [
        ("class", &summary.by_class),
        ("agent", &summary.by_agent),
        ("model", &summary.by_model),
    ] {
        print_groups(title, groups);
    }
    print_limits(&limits);
    Ok(())
}

fn print_limits(lines: &[AgentLimitLine]) {
    if lines.is_empty() {
        return;
    }
    println!("\nagent limits (used / limit; rpm, tpm and in flight per router, spend today for the fleet)");
    for line in lines {
        println!(
            "  {} rpm {:>13}  tpm {:>17}  in flight {:>9}  spend {}",
            cell(&line.agent, 24),
            used_of(line.rpm, |n| format!("{n:.0}")),
            used_of(line.tpm, |n| format!("{n:.0}")),
            used_of(line.max_in_flight, |n| format!("{n:.0}")),
            used_of(line.daily_usd, usd)
        );
    }
}

/// `used / limit`, or `used` alone with no limit.
fn used_of(limit: LimitUse, show: impl Fn(f64) -> String) -> String {
    match limit.limit {
        Some(max) => format!("{} / {}", show(limit.used), show(max)),
        None => show(limit.used),
    }
}

fn print_groups(title: &str, groups: &[SpendGroup]) {
    if groups.is_empty() {
        return;
    }
    println!("\nby {title}");
    for g in groups {
        let name = if g.name.is_empty() { "-" } else { g.name.as_str() };
        println!(
            "  {} {:>8} req {:>8} tok {:>10}",
            cell(name, 28),
            g.line.requests,
            tokens(g.line.tokens()),
            usd(g.line.cost_usd)
        );
    }
}
