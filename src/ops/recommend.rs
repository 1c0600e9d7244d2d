//! `farmhand recommend`: policy suggestions for leads from the quality loop and the money, each
//! with its evidence and what it saves per day (rules in [`crate::quality::recommend`]).

use chrono::Utc;
use clap::Args;
use serde::Serialize;

use super::format::parse_window;
use crate::config::FleetConfig;
use crate::domain::TaskClass;
use crate::quality::recommend::{Recommendation, THRESHOLDS, recommend as suggest};
use crate::quality::{QualityLine, evaluate_config};
use crate::store::Store;

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

/// Prints the suggestions the evidence of the window supports, and how to apply each.
pub async fn recommend(config: &FleetConfig, store: &Store, args: &RecommendArgs, as_json: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let since = parse_window(&args.since, now).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
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
    let breaches = evaluate_config(&config.quality, &local_lines);
    let days = (now - since).num_seconds() as f64 / 86_400.0;
    let suggestions = suggest(&evidence, days, |class| {
        breaches.iter().any(|check| check.class == class && check.breached)
    });
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
