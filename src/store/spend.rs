//! Spend reports built from `spend_hourly`: frontier spend vs local volume, by every dimension.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

use crate::domain::Endpoint;

use super::StoreError;

/// Requests, tokens and cost of some set of decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SpendLine {
    /// Number of requests.
    pub requests: i64,
    /// Input tokens.
    pub prompt_tokens: i64,
    /// Output tokens.
    pub completion_tokens: i64,
    /// Price in USD.
    pub cost_usd: f64,
}

impl SpendLine {
    /// Input plus output tokens.
    pub fn tokens(&self) -> i64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// Adds another line to this one.
    pub fn add(&mut self, other: &SpendLine) {
        self.requests += other.requests;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cost_usd += other.cost_usd;
    }
}

/// Spend of one value of a breakdown (a class, an endpoint, a provider, a model or an agent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendGroup {
    /// The value; empty when the decisions had none (no provider or model for rejected requests).
    pub name: String,
    /// Its spend.
    #[serde(flatten)]
    pub line: SpendLine,
}

/// One hour of spend, split by endpoint, for charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlySpend {
    /// Start of the hour (UTC).
    pub hour: DateTime<Utc>,
    /// Requests sent to frontier APIs.
    pub frontier: SpendLine,
    /// Requests served by the farm.
    pub local: SpendLine,
    /// Requests refused.
    pub rejected: SpendLine,
}

/// Spend over the hours overlapping a window, from the hourly rollup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendSummary {
    /// Start of the first hour counted (the window start rounded down to the hour).
    pub since: DateTime<Utc>,
    /// End of the window as asked (the hour containing it is counted).
    pub until: DateTime<Utc>,
    /// Everything in the window.
    pub total: SpendLine,
    /// By endpoint (`local`, `frontier`, `rejected`); every endpoint is listed, even at zero.
    pub by_endpoint: Vec<SpendGroup>,
    /// By effective task class, most expensive first.
    pub by_class: Vec<SpendGroup>,
    /// By provider, most expensive first.
    pub by_provider: Vec<SpendGroup>,
    /// By upstream model, most expensive first.
    pub by_model: Vec<SpendGroup>,
    /// By calling agent, most expensive first.
    pub by_agent: Vec<SpendGroup>,
    /// Hours that saw decisions, oldest first (hours without any are left out).
    pub hourly: Vec<HourlySpend>,
    /// Local (farm) volume per class: what [`SpendSummary::local_at_frontier_prices`] prices.
    pub local_by_class: Vec<SpendGroup>,
}

impl SpendSummary {
    /// The spend of one endpoint.
    pub fn endpoint(&self, endpoint: Endpoint) -> SpendLine {
        self.by_endpoint
            .iter()
            .find(|g| g.name == endpoint.as_str())
            .map(|g| g.line)
            .unwrap_or_default()
    }

    /// What the local volume would have cost at frontier prices: `price(class)` gives the
    /// (input, output) USD per million tokens of the frontier model that class would have used.
    pub fn local_at_frontier_prices(&self, price: impl Fn(&str) -> Option<(f64, f64)>) -> f64 {
        self.local_by_class
            .iter()
            .filter_map(|g| {
                let (input, output) = price(&g.name)?;
                Some((g.line.prompt_tokens as f64 * input + g.line.completion_tokens as f64 * output) / 1e6)
            })
            .sum()
    }

    /// Share of the served tokens (local + frontier) that stayed on the farm; `None` with no traffic.
    pub fn local_token_share(&self) -> Option<f64> {
        let local = self.endpoint(Endpoint::Local).tokens();
        let served = local + self.endpoint(Endpoint::Frontier).tokens();
        (served > 0).then(|| local as f64 / served as f64)
    }
}

/// The start of the hour containing `ts`.
pub fn hour_floor(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(TimeDelta::hours(1)).unwrap_or(ts)
}

/// The first hour boundary at or after `ts`.
pub(crate) fn hour_ceil(ts: DateTime<Utc>) -> DateTime<Utc> {
    let floor = hour_floor(ts);
    if floor == ts { ts } else { floor + TimeDelta::hours(1) }
}

/// Rolled-up spend of one (class, endpoint, provider, model, agent) over the window.
pub(crate) struct SpendRow {
    pub class: String,
    pub endpoint: String,
    pub provider: String,
    pub model: String,
    pub agent: String,
    pub line: SpendLine,
}

/// Rolled-up spend of one (hour, endpoint).
pub(crate) struct HourRow {
    pub hour: DateTime<Utc>,
    pub endpoint: String,
    pub line: SpendLine,
}

/// Builds the summary from the two rollup queries both backends run.
pub(crate) fn summarize(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    rows: Vec<SpendRow>,
    hours: Vec<HourRow>,
) -> Result<SpendSummary, StoreError> {
    let mut total = SpendLine::default();
    let mut by_endpoint: BTreeMap<String, SpendLine> = Endpoint::ALL
        .iter()
        .map(|e| (e.as_str().to_string(), SpendLine::default()))
        .collect();
    let (mut by_class, mut by_provider, mut by_model, mut by_agent) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut local_by_class = BTreeMap::new();
    for row in rows {
        total.add(&row.line);
        if row.endpoint == Endpoint::Local.as_str() {
            local_by_class
                .entry(row.class.clone())
                .or_insert_with(SpendLine::default)
                .add(&row.line);
        }
        by_endpoint.entry(row.endpoint).or_default().add(&row.line);
        by_class
            .entry(row.class)
            .or_insert_with(SpendLine::default)
            .add(&row.line);
        by_provider
            .entry(row.provider)
            .or_insert_with(SpendLine::default)
            .add(&row.line);
        by_model
            .entry(row.model)
            .or_insert_with(SpendLine::default)
            .add(&row.line);
        by_agent
            .entry(row.agent)
            .or_insert_with(SpendLine::default)
            .add(&row.line);
    }
    let mut hourly: Vec<HourlySpend> = Vec::new();
    for row in hours {
        if hourly.last().is_none_or(|h| h.hour != row.hour) {
            let zero = SpendLine::default();
            hourly.push(HourlySpend {
                hour: row.hour,
                frontier: zero,
                local: zero,
                rejected: zero,
            });
        }
        let Some(hour) = hourly.last_mut() else { continue };
        let endpoint: Endpoint = row
            .endpoint
            .parse()
            .map_err(|_| StoreError::corrupt("spend_hourly.endpoint", format!("`{}`", row.endpoint)))?;
        match endpoint {
            Endpoint::Frontier => hour.frontier.add(&row.line),
            Endpoint::Local => hour.local.add(&row.line),
            Endpoint::Rejected => hour.rejected.add(&row.line),
        }
    }
    let endpoint_order = |g: &SpendGroup| Endpoint::ALL.iter().position(|e| e.as_str() == g.name);
    let mut by_endpoint = groups(by_endpoint);
    by_endpoint.sort_by_key(|g| endpoint_order(g).unwrap_or(usize::MAX));
    Ok(SpendSummary {
        since: hour_floor(since),
        until,
        total,
        by_endpoint,
        by_class: ranked(by_class),
        by_provider: ranked(by_provider),
        by_model: ranked(by_model),
        by_agent: ranked(by_agent),
        hourly,
        local_by_class: groups(local_by_class),
    })
}

fn groups(map: BTreeMap<String, SpendLine>) -> Vec<SpendGroup> {
    map.into_iter().map(|(name, line)| SpendGroup { name, line }).collect()
}

/// Most expensive first, then most requests, then by name.
fn ranked(map: BTreeMap<String, SpendLine>) -> Vec<SpendGroup> {
    let mut groups = groups(map);
    groups.sort_by(|a, b| {
        b.line
            .cost_usd
            .total_cmp(&a.line.cost_usd)
            .then(b.line.requests.cmp(&a.line.requests))
            .then_with(|| a.name.cmp(&b.name))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(requests: i64, cost_usd: f64) -> SpendLine {
        SpendLine {
            requests,
            prompt_tokens: requests * 10,
            completion_tokens: requests,
            cost_usd,
        }
    }

    #[test]
    fn hour_rounding() {
        let t = DateTime::parse_from_rfc3339("2026-05-01T10:20:30.5Z").map(|t| t.with_timezone(&Utc));
        let t = t.expect("valid time");
        assert_eq!(hour_floor(t).to_rfc3339(), "2026-05-01T10:00:00+00:00");
        assert_eq!(hour_ceil(t).to_rfc3339(), "2026-05-01T11:00:00+00:00");
        assert_eq!(hour_ceil(hour_floor(t)), hour_floor(t));
    }

    #[test]
    fn summary_ranks_and_splits() {
        let row = |class: &str, endpoint: &str, agent: &str, line: SpendLine| SpendRow {
            class: class.into(),
            endpoint: endpoint.into(),
            provider: String::new(),
            model: String::new(),
            agent: agent.into(),
            line,
        };
        let now = Utc::now();
        let rows = vec![
            row("routine", "local", "a", line(10, 0.0)),
            row("reasoning", "frontier", "b", line(2, 1.5)),
            row("routine", "frontier", "a", line(1, 0.5)),
        ];
        let hours = vec![HourRow {
            hour: hour_floor(now),
            endpoint: "local".into(),
            line: line(10, 0.0),
        }];
        let s = summarize(now, now, rows, hours).expect("valid rows");
        assert_eq!(s.total.requests, 13);
        assert_eq!(
            s.by_endpoint.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["local", "frontier", "rejected"]
        );
        assert_eq!(s.by_class[0].name, "reasoning");
        assert_eq!(s.by_agent[0].name, "b");
        assert_eq!(s.endpoint(Endpoint::Frontier).requests, 3);
        assert_eq!(s.local_token_share(), Some(110.0 / 143.0));
        assert_eq!(s.hourly.len(), 1);
        assert_eq!(s.hourly[0].local.requests, 10);
    }
}
