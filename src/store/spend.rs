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

/// One hour or one UTC day of spend, split by endpoint, for charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodSpend {
    /// Start of the hour or day (UTC).
    pub start: DateTime<Utc>,
    /// Requests sent to frontier APIs.
    pub frontier: SpendLine,
    /// Requests served by the farm.
    pub local: SpendLine,
    /// Requests refused.
    pub rejected: SpendLine,
}

impl PeriodSpend {
    /// A period with nothing in it yet.
    pub fn empty(start: DateTime<Utc>) -> PeriodSpend {
        let zero = SpendLine::default();
        PeriodSpend {
            start,
            frontier: zero,
            local: zero,
            rejected: zero,
        }
    }

    /// Requests of every endpoint.
    pub fn requests(&self) -> i64 {
        self.frontier.requests + self.local.requests + self.rejected.requests
    }

    fn add(&mut self, endpoint: Endpoint, line: &SpendLine) {
        match endpoint {
            Endpoint::Frontier => self.frontier.add(line),
            Endpoint::Local => self.local.add(line),
            Endpoint::Rejected => self.rejected.add(line),
        }
    }
}

/// Windows up to this long are read hour by hour (and listed in [`SpendSummary::hourly`]); longer
/// ones read their whole UTC days from the daily rollups, and hours only at either end.
pub const HOURLY_WINDOW_MAX: TimeDelta = TimeDelta::hours(48);

/// Spend over the hours overlapping a window, from the hourly and daily rollups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendSummary {
    /// Start of the first hour counted (the window start rounded down to the hour).
    pub since: DateTime<Utc>,
    /// End of the window as asked (the hour containing it is counted).
    pub until: DateTime<Utc>,
    /// Everything in the window, quality spend included.
    pub total: SpendLine,
    /// By endpoint (`local`, `frontier`, `rejected`); every endpoint is listed, even at zero.
    pub by_endpoint: Vec<SpendGroup>,
    /// By effective task class, most expensive first.
    pub by_class: Vec<SpendGroup>,
    /// By provider, most expensive first.
    pub by_provider: Vec<SpendGroup>,
    /// By upstream model, most expensive first.
    pub by_model: Vec<SpendGroup>,
    /// By calling agent, most expensive first; shadow twins are in `quality`, not here.
    pub by_agent: Vec<SpendGroup>,
    /// The farm's volume by node, busiest first (the frontier has no node).
    pub by_node: Vec<SpendGroup>,
    /// Quality spend: the shadow twins run to measure agreement (agents `shadow:*`).
    pub quality: SpendLine,
    /// Hours that saw decisions, oldest first, for windows up to [`HOURLY_WINDOW_MAX`] (longer
    /// windows have `daily` only); hours without any are left out.
    pub hourly: Vec<PeriodSpend>,
    /// UTC days that saw decisions, oldest first (days without any are left out).
    pub daily: Vec<PeriodSpend>,
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

    /// The hour `start`'s spend, if it saw any.
    pub fn hour(&self, start: DateTime<Utc>) -> Option<&PeriodSpend> {
        self.hourly.iter().find(|h| h.start == start)
    }

    /// Today's burn at `now` from this summary of the last 24 hours' hours: the frontier spend of
    /// the current and previous hour, with `spent_today` and the daily budget (0 for none).
    pub fn burn(&self, now: DateTime<Utc>, spent_today: f64, budget_usd: f64) -> crate::domain::Burn {
        let hour = hour_floor(now);
        let cost = |start: DateTime<Utc>| self.hour(start).map_or(0.0, |h| h.frontier.cost_usd);
        crate::domain::Burn::estimate(
            now,
            spent_today,
            cost(hour),
            cost(hour - TimeDelta::hours(1)),
            budget_usd,
        )
    }

    /// The UTC day `start`'s spend, if it saw any.
    pub fn day(&self, start: DateTime<Utc>) -> Option<&PeriodSpend> {
        self.daily.iter().find(|d| d.start == start)
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

/// The start of the UTC day containing `ts`.
pub fn day_floor(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(TimeDelta::days(1)).unwrap_or(ts)
}

/// The first UTC midnight at or after `ts`.
fn day_ceil(ts: DateTime<Utc>) -> DateTime<Utc> {
    let floor = day_floor(ts);
    if floor == ts { ts } else { floor + TimeDelta::days(1) }
}

/// Which rollup serves which part of a window: hours `[start, days_from)` and `[days_to, until)`
/// from the hourly tables, whole days `[days_from, days_to)` from the daily ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpendSpans {
    pub start: DateTime<Utc>,
    pub days_from: DateTime<Utc>,
    pub days_to: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl SpendSpans {
    /// The spans of the window `[since, until)`: all hours up to [`HOURLY_WINDOW_MAX`], else whole
    /// days in the middle.
    pub fn of(since: DateTime<Utc>, until: DateTime<Utc>) -> SpendSpans {
        let start = hour_floor(since);
        let (days_from, days_to) = (day_ceil(start), day_floor(until));
        if until - since <= HOURLY_WINDOW_MAX || days_from >= days_to {
            SpendSpans {
                start,
                days_from: until,
                days_to: until,
                until,
            }
        } else {
            SpendSpans {
                start,
                days_from,
                days_to,
                until,
            }
        }
    }

    /// Whether every hour of the window is read from the hourly rollup.
    pub fn hour_by_hour(&self) -> bool {
        self.days_from == self.days_to
    }
}

/// The farm's volume by node over a window's spans (as [`SpendSpans`] binds them: $1 start, $2
/// first whole day, $3 end of the whole days, $4 end); the same SQL in both backends.
pub(crate) const NODE_SPEND: &str = "\
SELECT node, CAST(sum(requests) AS BIGINT), CAST(sum(prompt_tokens) AS BIGINT), CAST(sum(completion_tokens) AS BIGINT)
FROM (
    SELECT node, requests, prompt_tokens, completion_tokens
    FROM node_hourly WHERE hour >= $1 AND hour < $2 OR hour >= $3 AND hour < $4
    UNION ALL
    SELECT node, requests, prompt_tokens, completion_tokens FROM node_daily WHERE day >= $2 AND day < $3
) AS parts
GROUP BY node";

/// One row of [`NODE_SPEND`]: (node, requests, prompt tokens, completion tokens).
pub(crate) fn node_group((name, requests, prompt_tokens, completion_tokens): (String, i64, i64, i64)) -> SpendGroup {
    SpendGroup {
        name,
        line: SpendLine {
            requests,
            prompt_tokens,
            completion_tokens,
            cost_usd: 0.0,
        },
    }
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

/// Rolled-up spend of one (hour or day, endpoint).
pub(crate) struct PeriodRow {
    pub start: DateTime<Utc>,
    pub endpoint: String,
    pub line: SpendLine,
}

/// What the rollup queries of both backends return for one window.
#[derive(Default)]
pub(crate) struct SpendRows {
    /// By (class, endpoint, provider, model, agent).
    pub rows: Vec<SpendRow>,
    /// By (hour, endpoint), for the hours read hour by hour.
    pub hours: Vec<PeriodRow>,
    /// By (UTC day, endpoint), the days read from hours included.
    pub days: Vec<PeriodRow>,
    /// The farm's volume by node.
    pub nodes: Vec<SpendGroup>,
}

/// Builds the summary from the rollup queries both backends run.
pub(crate) fn summarize(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    spend: SpendRows,
) -> Result<SpendSummary, StoreError> {
    let mut total = SpendLine::default();
    let mut quality = SpendLine::default();
    let mut by_endpoint: BTreeMap<String, SpendLine> = Endpoint::ALL
        .iter()
        .map(|e| (e.as_str().to_string(), SpendLine::default()))
        .collect();
    let (mut by_class, mut by_provider, mut by_model, mut by_agent) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut local_by_class = BTreeMap::new();
    for row in spend.rows {
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
        if crate::domain::is_shadow_agent(&row.agent) {
            quality.add(&row.line);
        } else {
            by_agent
                .entry(row.agent)
                .or_insert_with(SpendLine::default)
                .add(&row.line);
        }
    }
    let endpoint_order = |g: &SpendGroup| Endpoint::ALL.iter().position(|e| e.as_str() == g.name);
    let mut by_endpoint = groups(by_endpoint);
    by_endpoint.sort_by_key(|g| endpoint_order(g).unwrap_or(usize::MAX));
    let mut nodes: BTreeMap<String, SpendLine> = BTreeMap::new();
    for node in spend.nodes {
        nodes.entry(node.name).or_default().add(&node.line);
    }
    Ok(SpendSummary {
        since: hour_floor(since),
        until,
        total,
        by_endpoint,
        by_class: ranked(by_class),
        by_provider: ranked(by_provider),
        by_model: ranked(by_model),
        by_agent: ranked(by_agent),
        by_node: ranked(nodes),
        quality,
        hourly: periods("spend_hourly.endpoint", spend.hours)?,
        daily: periods("spend_daily.endpoint", spend.days)?,
        local_by_class: groups(local_by_class),
    })
}

/// Periods in time order, each split by endpoint.
fn periods(column: &'static str, mut rows: Vec<PeriodRow>) -> Result<Vec<PeriodSpend>, StoreError> {
    rows.sort_by_key(|row| row.start);
    let mut periods: Vec<PeriodSpend> = Vec::new();
    for row in rows {
        let endpoint: Endpoint = row
            .endpoint
            .parse()
            .map_err(|_| StoreError::corrupt(column, format!("`{}`", row.endpoint)))?;
        match periods.last_mut() {
            Some(period) if period.start == row.start => period.add(endpoint, &row.line),
            _ => {
                let mut period = PeriodSpend::empty(row.start);
                period.add(endpoint, &row.line);
                periods.push(period);
            }
        }
    }
    Ok(periods)
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
        let period = |endpoint: &str, line| PeriodRow {
            start: hour_floor(now),
            endpoint: endpoint.into(),
            line,
        };
        let spend = SpendRows {
            rows,
            hours: vec![period("local", line(10, 0.0))],
            days: vec![period("local", line(10, 0.0)), period("frontier", line(3, 2.0))],
            nodes: vec![
                SpendGroup {
                    name: "mini-01".into(),
                    line: line(4, 0.0),
                },
                SpendGroup {
                    name: "mini-02".into(),
                    line: line(6, 0.0),
                },
            ],
        };
        let s = summarize(now, now, spend).expect("valid rows");
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
        assert_eq!(
            (s.daily.len(), s.daily[0].requests(), s.daily[0].frontier.cost_usd),
            (1, 13, 2.0)
        );
        assert_eq!(s.by_node[0].name, "mini-02", "the busiest node first");
    }

    #[test]
    fn shadow_twins_are_quality_spend_not_an_agent() {
        let row = |agent: &str, cost| SpendRow {
            class: "reasoning".into(),
            endpoint: "frontier".into(),
            provider: "anthropic".into(),
            model: "claude".into(),
            agent: agent.into(),
            line: line(1, cost),
        };
        let now = Utc::now();
        let spend = SpendRows {
            rows: vec![row("planner", 1.0), row("shadow:planner", 0.25)],
            ..SpendRows::default()
        };
        let s = summarize(now, now, spend).expect("valid rows");
        assert_eq!(s.total.cost_usd, 1.25, "the total counts quality spend too");
        assert_eq!(s.quality.cost_usd, 0.25);
        assert_eq!(
            s.by_agent.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["planner"]
        );
    }

    #[test]
    fn long_windows_read_whole_days_and_hours_only_at_the_ends() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("valid time").with_timezone(&Utc);
        let until = at("2026-11-28T11:20:00Z");
        let day = SpendSpans::of(until - TimeDelta::hours(24), until);
        assert!(day.hour_by_hour());
        assert_eq!(day.start, at("2026-11-27T11:00:00Z"));
        let two_days = SpendSpans::of(until - HOURLY_WINDOW_MAX, until);
        assert!(two_days.hour_by_hour(), "48 h are still read hour by hour");
        let month = SpendSpans::of(until - TimeDelta::days(30), until);
        assert!(!month.hour_by_hour());
        assert_eq!(month.start, at("2026-10-29T11:00:00Z"));
        assert_eq!(month.days_from, at("2026-10-30T00:00:00Z"));
        assert_eq!(month.days_to, at("2026-11-28T00:00:00Z"));
        let aligned = SpendSpans::of(at("2026-11-20T00:00:00Z"), until);
        assert_eq!(
            aligned.days_from, aligned.start,
            "a window starting at midnight has no head hours"
        );
    }
}
