//! Per-agent limit usage across the fleet, from the routers' spend reports: what the Spend view
//! and `farmhand spend --json` show as used / limit.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::RouterSpendRow;

/// One limit's use: `used` of `limit` (`None`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LimitUse {
    /// What is used now.
    pub used: f64,
    /// The limit in force.
    pub limit: Option<f64>,
}

impl LimitUse {
    /// `used / limit`, or `used` alone with no limit, each shown by `show`.
    pub fn used_of(self, show: impl Fn(f64) -> String) -> String {
        match self.limit {
            Some(max) => format!("{} / {}", show(self.used), show(max)),
            None => show(self.used),
        }
    }
}

/// One agent's limits and their use. Requests, tokens and in-flight limits hold per router, so
/// their use is the busiest live router's; the daily spend limit holds for the fleet, so its use is
/// every router's spend today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentLimitLine {
    /// The agent.
    pub agent: String,
    /// Live routers enforcing its limits.
    pub routers: u32,
    /// Requests in the last minute.
    pub rpm: LimitUse,
    /// Tokens in the last minute (in-flight estimates included).
    pub tpm: LimitUse,
    /// Requests in flight.
    pub max_in_flight: LimitUse,
    /// Frontier USD today.
    pub daily_usd: LimitUse,
}

/// The lines of every agent that a router reporting after `live_after` enforces limits for.
pub fn limit_lines(rows: &[RouterSpendRow], live_after: DateTime<Utc>) -> Vec<AgentLimitLine> {
    let mut spent: BTreeMap<&str, f64> = BTreeMap::new();
    for row in rows {
        *spent.entry(&row.agent).or_default() += row.cost_usd;
    }
    let mut lines: BTreeMap<&str, (AgentLimitLine, DateTime<Utc>)> = BTreeMap::new();
    for row in rows
        .iter()
        .filter(|r| r.reported_at >= live_after && !r.agent.is_empty())
    {
        let u = &row.usage;
        let limited = u.rpm_limit.is_some()
            || u.tpm_limit.is_some()
            || u.max_in_flight_limit.is_some()
            || u.daily_usd_limit.is_some();
        if !limited {
            continue;
        }
        let (line, newest) = lines.entry(&row.agent).or_insert_with(|| {
            let zero = LimitUse::default();
            let line = AgentLimitLine {
                agent: row.agent.clone(),
                routers: 0,
                rpm: zero,
                tpm: zero,
                max_in_flight: zero,
                daily_usd: zero,
            };
            (line, row.reported_at)
        });
        line.routers += 1;
        line.rpm.used = line.rpm.used.max(u.requests_1m as f64);
        line.tpm.used = line.tpm.used.max(u.tokens_1m as f64);
        line.max_in_flight.used = line.max_in_flight.used.max(u.in_flight as f64);
        // The newest report's limits: an override reaches every router within a second.
        if row.reported_at >= *newest || line.routers == 1 {
            *newest = row.reported_at;
            line.rpm.limit = u.rpm_limit.map(|n| n as f64);
            line.tpm.limit = u.tpm_limit.map(|n| n as f64);
            line.max_in_flight.limit = u.max_in_flight_limit.map(|n| n as f64);
            line.daily_usd.limit = u.daily_usd_limit;
        }
    }
    lines
        .into_values()
        .map(|(mut line, _)| {
            line.daily_usd.used = spent.get(line.agent.as_str()).copied().unwrap_or(0.0);
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AgentUsageRow;
    use chrono::TimeDelta;

    fn row(router: &str, agent: &str, cost: f64, requests: i64, rpm: Option<i64>, age: i64) -> RouterSpendRow {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        RouterSpendRow {
            router_id: router.into(),
            agent: agent.into(),
            cost_usd: cost,
            leased_usd: 0.0,
            usage: AgentUsageRow {
                requests_1m: requests,
                rpm_limit: rpm,
                ..AgentUsageRow::default()
            },
            reported_at: now - TimeDelta::seconds(age),
        }
    }

    #[test]
    fn per_router_limits_show_the_busiest_router_and_spend_the_fleet() {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let rows = vec![
            row("r1", "planner", 1.0, 4, Some(10), 0),
            row("r2", "planner", 2.0, 7, Some(10), 1),
            row("r3", "planner", 4.0, 9, Some(5), 60),
            row("r1", "free", 3.0, 50, None, 0),
            row("r1", "", 0.0, 0, None, 0),
        ];
        let lines = limit_lines(&rows, now - TimeDelta::seconds(3));
        assert_eq!(lines.len(), 1, "only agents with limits");
        let planner = &lines[0];
        assert_eq!(planner.routers, 2, "r3 is gone");
        assert_eq!(
            planner.rpm,
            LimitUse {
                used: 7.0,
                limit: Some(10.0)
            }
        );
        assert_eq!(planner.daily_usd.used, 7.0, "a gone router's spend still counts");
        assert_eq!(planner.daily_usd.limit, None);
    }
}
