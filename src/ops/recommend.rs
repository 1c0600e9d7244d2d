//! `farmhand recommend`: policy suggestions for leads from the quality loop and the money, each
//! with its evidence and what it saves per day (rules in [`crate::quality::recommend`]).

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use serde::Serialize;

use super::format::parse_window;
use crate::config::{FleetConfig, QualityConfig};
use crate::domain::TaskClass;
use crate::quality::recommend::{Recommendation, THRESHOLDS, recommend as suggest};
use crate::quality::{QualityLine, evaluate_config};
use crate::store::{Store, StoreError};

/// Options of `farmhand recommend`.
#[derive(Debug, Clone, Args)]
pub struct RecommendArgs {
    /// Look-back window of the evidence: 24h, 7d, 2w…
    #[arg(long, default_value = "7d")]
    pub since: String,
}

/// What `farmhand recommend --json` prints.
#[derive(Serialize)]
struct Report<'a> {
    since: chrono::DateTime<Utc>,
    recommendations: &'a [Recommendation],
}

/// The suggestions the store's evidence over `[since, now)` supports, judged against the
/// objectives of `quality` (the console's panel and `farmhand recommend` read the same).
pub async fn gather(
    store: &Store,
    quality: &QualityConfig,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Recommendation>, StoreError> {
    let mut evidence = Vec::with_capacity(THRESHOLDS.len());
    for under in THRESHOLDS {
        evidence.push((under, store.threshold_evidence(since, under).await?));
    }
    let local_lines: Vec<(TaskClass, QualityLine)> = store
        .quality_summary(since, now)
        .await?
        .into_iter()
        .filter(|row| row.route.starts_with("local/"))
        .map(|row| (row.class, row.line))
        .collect();
    let breaches = evaluate_config(quality, &local_lines);
    // Money per day over the span the store actually covers (a young farm's first hour counts
    // as an hour, not a week), at least an hour.
    let first = first_traffic(store, since, now)
        .await?
        .map_or(since, |hour| hour.max(since));
    let days = ((now - first).num_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
    Ok(suggest(&evidence, days, |class| {
        breaches.iter().any(|check| check.class == class && check.breached)
    }))
}

/// The first hour in `[since, now)` that saw decisions: its day from the whole window, then its
/// hour from that day.
async fn first_traffic(
    store: &Store,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let Some(day) = store.spend_summary(since, now).await?.daily.first().map(|d| d.start) else {
        return Ok(None);
    };
    let hours = store
        .spend_summary(day.max(since), (day + TimeDelta::days(1)).min(now))
        .await?
        .hourly;
    Ok(hours.first().map(|h| h.start))
}

/// Prints the suggestions the evidence of the window supports, and how to apply each.
pub async fn recommend(config: &FleetConfig, store: &Store, args: &RecommendArgs, as_json: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let since = parse_window(&args.since, now).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let suggestions = gather(store, &config.quality, since, now).await?;
    if as_json {
        let report = Report {
            since,
            recommendations: &suggestions,
        };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if suggestions.is_empty() {
        println!(
            "no suggestion from the last {}: a move needs at least {} agreement samples (turn on [quality.shadow.<class>] rate), a 95 % interval at or above {:.2}, no SLO breach on the local route and ${:.2}/day saved",
            args.since,
            crate::quality::recommend::MIN_SAMPLES,
            crate::quality::recommend::AGREEMENT_FLOOR,
            crate::quality::recommend::MIN_SAVINGS_PER_DAY
        );
        return Ok(());
    }
    for s in &suggestions {
        println!("{}", s.summary);
        println!("  apply: farmhand policy set {} {}", s.key, s.value);
    }
    Ok(())
}
