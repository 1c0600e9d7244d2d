//! `farmhand spend`: frontier spend against the volume kept on the farm, today's burn, the money
//! the farm saved, and the same figures as CSV for finance.

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use serde::Serialize;

use super::format::{cell, parse_window, tokens, usd};
use crate::config::FleetConfig;
use crate::domain::{Burn, Endpoint, RunsOut};
use crate::store::{AgentLimitLine, SpendGroup, SpendLine, SpendSummary, Store, day_floor};

/// Routers that reported within this long count as live for limit usage.
const LIVE_WINDOW: TimeDelta = TimeDelta::seconds(3);

/// What `farmhand spend --json` prints: the summary, the money saved, today's burn, and each
/// limited agent's use of its limits.
#[derive(Serialize)]
struct SpendReport<'a> {
    #[serde(flatten)]
    summary: &'a SpendSummary,
    /// The window's local volume priced at the frontier rates its classes would have paid.
    saved_usd: f64,
    /// Today's frontier spend, burn rate, projection and budget.
    today: Today,
    agent_limits: &'a [AgentLimitLine],
}

/// Today's frontier spend and where it leads.
#[derive(Serialize)]
struct Today {
    spent_usd: f64,
    budget_usd: f64,
    #[serde(flatten)]
    burn: Burn,
}

/// Options of `farmhand spend`.
#[derive(Debug, Clone, Args)]
pub struct SpendArgs {
    /// Look-back window: 30m, 24h, 7d, 30d, 2w or today.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Print CSV for finance: every breakdown and every day of the window, one row each.
    #[arg(long)]
    pub csv: bool,
}

/// Prints the spend summary, as text, JSON or CSV.
pub async fn spend(config: &FleetConfig, store: &Store, args: &SpendArgs, as_json: bool) -> anyhow::Result<()> {
    if args.csv && as_json {
        anyhow::bail!("--csv and --json: choose one output format");
    }
    let now = Utc::now();
    let since = parse_window(&args.since, now).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let summary = store.spend_summary(since, now).await?;
    let prices = config.frontier_prices(now.date_naive());
    let saved_usd = summary.local_at_frontier_prices(|class| prices.get(class).copied());
    if args.csv {
        let mut out = csv::Writer::from_writer(std::io::stdout().lock());
        for row in csv_rows(&summary, saved_usd) {
            out.serialize(row)?;
        }
        out.flush()?;
        return Ok(());
    }
    let today = today(store, now, config.policy.daily_frontier_budget_usd).await?;
    let limits = store.agent_limits(now, now - LIVE_WINDOW).await?;
    if as_json {
        let report = SpendReport {
            summary: &summary,
            saved_usd,
            today,
            agent_limits: &limits,
        };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print_summary(&summary, &args.since, saved_usd);
    print_today(&today);
    print_limits(&limits);
    Ok(())
}

/// Today's spend and burn, from the last 24 hours' hourly rollup.
async fn today(store: &Store, now: DateTime<Utc>, budget_usd: f64) -> anyhow::Result<Today> {
    let last_day = store.spend_summary(now - TimeDelta::hours(24), now).await?;
    let spent_usd = last_day
        .hourly
        .iter()
        .filter(|h| h.start >= day_floor(now))
        .map(|h| h.frontier.cost_usd)
        .sum();
    Ok(Today {
        spent_usd,
        budget_usd,
        burn: last_day.burn(now, spent_usd, budget_usd),
    })
}

/// One row of `farmhand spend --csv`.
#[derive(Debug, Serialize, PartialEq)]
struct CsvRow<'a> {
    since: String,
    until: String,
    /// `total`, `endpoint`, `class`, `provider`, `model`, `agent`, `node`, `quality`, `saved` or `day`.
    section: &'static str,
    /// The breakdown's value (a class, a model, a day…).
    key: &'a str,
    /// For `day` rows, the endpoint the figures are for.
    endpoint: &'static str,
    requests: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    /// Rounded to the micro-dollar.
    cost_usd: f64,
}

/// The summary as CSV rows: totals, every breakdown, every day by endpoint, and the money saved.
fn csv_rows<'a>(summary: &'a SpendSummary, saved_usd: f64) -> Vec<CsvRow<'a>> {
    let window = (
        summary.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        summary.until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let row = |section: &'static str, key: &'a str, endpoint: &'static str, line: &SpendLine| CsvRow {
        since: window.0.clone(),
        until: window.1.clone(),
        section,
        key,
        endpoint,
        requests: line.requests,
        prompt_tokens: line.prompt_tokens,
        completion_tokens: line.completion_tokens,
        // Micro-dollars: sums of float prices print as 0.18125999999999998 otherwise.
        cost_usd: (line.cost_usd * 1e6).round() / 1e6,
    };
    let mut rows = vec![row("total", "", "", &summary.total)];
    let sections: [(&'static str, &[SpendGroup]); 7] = [
        ("endpoint", &summary.by_endpoint),
        ("class", &summary.by_class),
        ("provider", &summary.by_provider),
        ("model", &summary.by_model),
        ("agent", &summary.by_agent),
        ("node", &summary.by_node),
        ("local_class", &summary.local_by_class),
    ];
    for (section, groups) in sections {
        rows.extend(groups.iter().map(|g| row(section, &g.name, "", &g.line)));
    }
    rows.push(row("quality", "shadow", "", &summary.quality));
    for day in &summary.daily {
        for (endpoint, line) in [
            (Endpoint::Local, &day.local),
            (Endpoint::Frontier, &day.frontier),
            (Endpoint::Rejected, &day.rejected),
        ] {
            let mut day_row = row("day", "", endpoint.as_str(), line);
            day_row.since = day.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            day_row.until = (day.start + TimeDelta::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            rows.push(day_row);
        }
    }
    let saved = SpendLine {
        cost_usd: saved_usd,
        ..SpendLine::default()
    };
    rows.push(row("saved", "local_at_frontier_prices", "", &saved));
    rows
}

fn print_summary(summary: &SpendSummary, window: &str, saved_usd: f64) {
    let frontier = summary.endpoint(Endpoint::Frontier);
    let local = summary.endpoint(Endpoint::Local);
    let rejected = summary.endpoint(Endpoint::Rejected);
    println!("since {} ({window})", summary.since.format("%Y-%m-%d %H:%MZ"));
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
    println!("saved: {} (the local volume at frontier prices)", usd(saved_usd));
    println!(
        "quality spend: {} on {} shadow twins (in the totals above, not in any agent's)",
        usd(summary.quality.cost_usd),
        summary.quality.requests
    );
    for (title, groups) in [
        ("class", &summary.by_class),
        ("agent", &summary.by_agent),
        ("model", &summary.by_model),
        ("node (farm volume)", &summary.by_node),
    ] {
        print_groups(title, groups);
    }
    if !summary.daily.is_empty() {
        println!("\nby day (UTC)");
        for day in &summary.daily {
            println!(
                "  {}  frontier {:>10} on {:>7} req   local {:>8} tok on {:>7} req",
                day.start.format("%Y-%m-%d"),
                usd(day.frontier.cost_usd),
                day.frontier.requests,
                tokens(day.local.tokens()),
                day.local.requests
            );
        }
    }
}

fn print_today(today: &Today) {
    let runs_out = match today.burn.runs_out {
        RunsOut::NoBudget => "no daily budget set".to_string(),
        RunsOut::Spent => "the budget is spent".to_string(),
        RunsOut::At(at) => format!("the budget runs out at {} UTC", at.format("%H:%M")),
        RunsOut::NotToday => "the budget lasts the day".to_string(),
    };
    println!(
        "\ntoday: {} of {} frontier budget; burn {}/h over the last hour, projected {} by midnight UTC; {runs_out}",
        usd(today.spent_usd),
        usd(today.budget_usd),
        usd(today.burn.usd_per_hour),
        usd(today.burn.projected_usd)
    );
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
            line.rpm.used_of(|n| format!("{n:.0}")),
            line.tpm.used_of(|n| format!("{n:.0}")),
            line.max_in_flight.used_of(|n| format!("{n:.0}")),
            line.daily_usd.used_of(usd)
        );
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
