//! `farmhand jobs list|show|pause|resume|cancel|retry`: the console's Jobs view and its batch
//! actions, scriptable. Nothing here prints a payload: batches, counts and attempts carry none.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::format::{cell, duration, usd};
use crate::actions::{Access, ActionError, BatchAction, Operator, status_word};
use crate::config::FleetConfig;
use crate::store::{BatchRow, JobRunRow, Store};

/// Batch job subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum JobsCommand {
    /// List the newest batches with their progress.
    List {
        /// Only this agent's batches.
        #[arg(long)]
        agent: Option<String>,
        /// How many batches to list.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Show one batch: its state, its job counts and every attempt at its jobs.
    Show {
        /// Batch id, `batch_…`.
        batch: String,
    },
    /// Stop workers claiming the batch's queued jobs; running attempts finish.
    Pause(BatchTarget),
    /// Let workers claim the batch's queued jobs again.
    Resume(BatchTarget),
    /// Cancel the batch: queued jobs go to its error file, running attempts finish.
    Cancel(BatchTarget),
    /// Queue the batch's failed jobs again with fresh attempts.
    Retry(BatchTarget),
}

/// The batch an action is for, and who asks and why.
#[derive(Debug, Clone, Args)]
pub struct BatchTarget {
    /// Batch id, `batch_…`.
    pub batch: String,
    /// Why (kept in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
    /// Who is acting (default: FARMHAND_ACTOR or $USER@host).
    #[arg(long)]
    pub actor: Option<String>,
}

/// Runs a jobs subcommand; output goes to stdout.
pub async fn jobs(config: &FleetConfig, store: Store, command: &JobsCommand, as_json: bool) -> anyhow::Result<()> {
    let (action, target) = match command {
        JobsCommand::List { agent, limit } => return list(&store, agent.as_deref(), *limit, as_json).await,
        JobsCommand::Show { batch } => return show(&store, batch, as_json).await,
        JobsCommand::Pause(target) => (BatchAction::Pause, target),
        JobsCommand::Resume(target) => (BatchAction::Resume, target),
        JobsCommand::Cancel(target) => (BatchAction::Cancel, target),
        JobsCommand::Retry(target) => (BatchAction::Retry, target),
    };
    let operator = Operator::new(config, store, super::actor(target.actor.as_deref()), Access::ReadWrite);
    let change = operator
        .batch_action(&target.batch, action, target.reason.as_deref())
        .await?;
    if as_json {
        println!("{}", json!({ "change": change, "actor": operator.actor() }));
    } else {
        println!("{}", change.summary());
    }
    Ok(())
}

async fn list(store: &Store, agent: Option<&str>, limit: u32, as_json: bool) -> anyhow::Result<()> {
    let batches = store.batches(agent, None, limit).await?;
    if as_json {
        println!("{}", Value::Array(batches.iter().map(batch_json).collect()));
        return Ok(());
    }
    if batches.is_empty() {
        println!("no batches");
        return Ok(());
    }
    let now = Utc::now();
    println!(
        "{} {} {} {:>7} {:>7} {:>7} {:>7} {} window",
        cell("batch", 36),
        cell("agent", 18),
        cell("status", 11),
        "done",
        "failed",
        "queued",
        "total",
        cell("created", 17),
    );
    for b in &batches {
        println!(
            "{} {} {} {:>7} {:>7} {:>7} {:>7} {} {}",
            cell(&b.id, 36),
            cell(&b.agent, 18),
            cell(status_word(b), 11),
            b.counts.completed,
            b.counts.failed,
            b.counts.queued,
            b.counts.total,
            cell(&b.created_at.format("%Y-%m-%d %H:%MZ").to_string(), 17),
            window_left(b, now)
        );
    }
    Ok(())
}

async fn show(store: &Store, id: &str, as_json: bool) -> anyhow::Result<()> {
    let batch = store
        .batch(id)
        .await?
        .ok_or_else(|| ActionError::UnknownBatch(id.chars().take(64).collect()))?;
    let runs = store.job_runs(id).await?;
    if as_json {
        println!("{}", json!({ "batch": batch_json(&batch), "runs": runs }));
        return Ok(());
    }
    let now = Utc::now();
    let c = &batch.counts;
    let at = |t: Option<DateTime<Utc>>| t.map(stamp);
    println!("{}  (agent {})", batch.id, batch.agent);
    println!("status       {}", status_word(&batch));
    println!("input file   {}", batch.input_file_id);
    println!("endpoint     {}", batch.endpoint);
    println!(
        "window       {}, ends {} ({})",
        batch.completion_window,
        stamp(batch.expires_at),
        window_left(&batch, now)
    );
    for (name, when) in [
        ("created", Some(batch.created_at)),
        ("in progress", batch.in_progress_at),
        ("finalizing", batch.finalizing_at),
        ("completed", batch.completed_at),
        ("failed", batch.failed_at),
        ("expired", batch.expired_at),
        ("cancelling", batch.cancelling_at),
        ("cancelled", batch.cancelled_at),
    ] {
        if let Some(when) = at(when) {
            println!("{} {when}", cell(name, 12));
        }
    }
    println!(
        "jobs         {} completed, {} failed, {} queued, {} running, of {}",
        c.completed, c.failed, c.queued, c.running, c.total
    );
    if let Some(errors) = batch.errors.as_ref().and_then(Value::as_array) {
        println!("input refused:");
        for error in errors {
            let field = |name: &str| error.get(name).map(|v| v.to_string().trim_matches('"').to_string());
            println!(
                "  line {}: {} {}",
                field("line").unwrap_or_else(|| "–".into()),
                field("code").unwrap_or_default(),
                field("message").unwrap_or_default()
            );
        }
    }
    println!("\nattempts ({})", runs.len());
    if !runs.is_empty() {
        println!(
            "  {:>8} {:>3} {} {} {} {} {} {:>4} {} {:>9} {:>9} request",
            "job",
            "try",
            cell("router", 20),
            cell("target", 16),
            cell("started", 8),
            cell("ended", 8),
            cell("outcome", 9),
            "http",
            cell("error", 16),
            "tokens",
            "cost"
        );
    }
    for run in &runs {
        print_run(run);
    }
    Ok(())
}

fn print_run(run: &JobRunRow) {
    let clock = |t: DateTime<Utc>| t.format("%H:%M:%S").to_string();
    println!(
        "  {:>8} {:>3} {} {} {} {} {} {:>4} {} {:>9} {:>9} {}",
        run.job_id,
        run.attempt,
        cell(&run.router_id, 20),
        cell(run.target.as_deref().unwrap_or("–"), 16),
        cell(&clock(run.started_at), 8),
        cell(&run.ended_at.map_or_else(|| "running".into(), clock), 8),
        cell(&run.outcome, 9),
        run.status_code.map_or_else(|| "–".into(), |s| s.to_string()),
        cell(run.error_code.as_deref().unwrap_or("–"), 16),
        run.prompt_tokens + run.completion_tokens,
        usd(run.cost_usd),
        run.request_id.as_deref().unwrap_or("–")
    );
}

/// A time as `2026-11-25 11:50:00Z`.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `23h50m left`, `ended` for a batch that ended, `past` when the window is over.
fn window_left(batch: &BatchRow, now: DateTime<Utc>) -> String {
    if batch.status.is_terminal() {
        return "ended".into();
    }
    let secs = (batch.expires_at - now).num_seconds();
    if secs <= 0 {
        "past".into()
    } else {
        format!("{} left", duration(secs))
    }
}

/// A batch for `--json`: its state, times and counts (never a payload).
fn batch_json(b: &BatchRow) -> Value {
    json!({
        "id": b.id,
        "agent": b.agent,
        "input_file_id": b.input_file_id,
        "endpoint": b.endpoint,
        "completion_window": b.completion_window,
        "status": b.status,
        "paused": b.paused,
        "created_at": b.created_at,
        "expires_at": b.expires_at,
        "in_progress_at": b.in_progress_at,
        "finalizing_at": b.finalizing_at,
        "completed_at": b.completed_at,
        "failed_at": b.failed_at,
        "expired_at": b.expired_at,
        "cancelling_at": b.cancelling_at,
        "cancelled_at": b.cancelled_at,
        "metadata": b.metadata,
        "errors": b.errors,
        "counts": b.counts,
    })
}
