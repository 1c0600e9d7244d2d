//! The shared daily budget's refresh: every [`REFRESH_EVERY`] a router writes its own spend per
//! agent to `router_spend` and reads every router's back, off the request path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::Gateway;
use super::record::now_ms;
use super::spend::FleetSpend;
use crate::store::{AgentReport, AgentUsageRow, RouterSpendRow, Store};

/// How often a router writes its spend and reads the fleet's.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);
/// A router whose last report is older than this no longer takes a share of the budget (its
/// spend still counts).
pub const LIVE_WINDOW: TimeDelta = TimeDelta::seconds(3);

/// The fleet's spend as the rows show it to router `me` at `now`.
pub fn fleet_of(rows: &[RouterSpendRow], me: &str, now: DateTime<Utc>) -> FleetSpend {
    let mut others_by_agent: HashMap<String, f64> = HashMap::new();
    let mut live: HashSet<&str> = HashSet::new();
    for row in rows.iter().filter(|r| r.router_id != me) {
        if row.reported_at >= now - LIVE_WINDOW {
            live.insert(&row.router_id);
        }
        if !row.agent.is_empty() && row.cost_usd.is_finite() && row.cost_usd > 0.0 {
            *others_by_agent.entry(row.agent.clone()).or_default() += row.cost_usd;
        }
    }
    FleetSpend {
        day: Some(now.date_naive()),
        others_by_agent,
        live_others: u32::try_from(live.len()).unwrap_or(u32::MAX),
    }
}

/// This router's new lease (the USD it may spend today in total) from every router's rows, its
/// own spend `own_spent`, the day's `budget` and the dearest request seen `dearest`.
///
/// What is free is the budget less what the others hold (a live router: the larger of its lease
/// and its spend; a gone one: its spend) and less this router's spend. The router takes a fair
/// share of what the fleet has left (split among the live routers), but at least one request's
/// worth when that much is free, and never more than is free: so live leases never add up to more
/// than the budget, and a lease larger than the share is given back at the next refresh.
pub fn lease(rows: &[RouterSpendRow], me: &str, own_spent: f64, budget: f64, dearest: f64, now: DateTime<Utc>) -> f64 {
    struct Router {
        spent: f64,
        leased: f64,
        live: bool,
    }
    let mut routers: HashMap<&str, Router> = HashMap::new();
    for row in rows.iter().filter(|r| r.router_id != me) {
        let router = routers.entry(&row.router_id).or_insert(Router {
            spent: 0.0,
            leased: 0.0,
            live: false,
        });
        router.spent += finite(row.cost_usd);
        router.leased = router.leased.max(finite(row.leased_usd));
        router.live |= row.reported_at >= now - LIVE_WINDOW;
    }
    let held: f64 = routers
        .values()
        .map(|r| if r.live { r.leased.max(r.spent) } else { r.spent })
        .sum();
    let fleet_spent: f64 = own_spent + routers.values().map(|r| r.spent).sum::<f64>();
    let live = 1.0 + routers.values().filter(|r| r.live).count() as f64;
    let free = budget - held - own_spent;
    let fair = (budget - fleet_spent) / live;
    own_spent + fair.max(dearest).min(free).max(0.0)
}

fn finite(usd: f64) -> f64 {
    if usd.is_finite() && usd > 0.0 { usd } else { 0.0 }
}

/// A router id unique to this gateway: several gateways in one process (tests) stay apart.
pub fn ledger_id(router_id: &str) -> String {
    format!("{router_id}:{:08x}", rand::random::<u32>())
}

/// Starts the refresh for `gateway` as router `router_id`; runs until aborted. A failed refresh
/// keeps the last figures and lease (logged once per outage) while this router's own spend keeps
/// counting against them.
pub fn spawn(gateway: Arc<Gateway>, store: Store, router_id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = gateway.spend().lease_wanted() => {
                    // Coalesces a burst of refused requests into one refresh.
                    tokio::time::sleep(LEASE_WAKE_SPACING).await;
                }
            }
            match refresh(&gateway, &store, &router_id).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("fleet spend refresh works again");
                }
                Ok(()) => {}
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(%err, "cannot refresh the fleet's frontier spend; enforcing the budget on the last figures and lease");
                }
                Err(_) => {}
            }
        }
    })
}

/// The least time between two refreshes asked for by requests that found the lease spent.
const LEASE_WAKE_SPACING: Duration = Duration::from_millis(50);

/// One refresh: write this router's figures, read everyone's and take the lease, in one transaction.
async fn refresh(gateway: &Gateway, store: &Store, router_id: &str) -> Result<(), crate::store::StoreError> {
    let now = Utc::now();
    let (day, own) = gateway.spend().own(now);
    let own_total: f64 = own.iter().map(|(_, usd)| usd).sum();
    let own = agent_reports(gateway, own, now);
    let budget = gateway.daily_budget_usd();
    let dearest = gateway.spend().dearest(now);
    let rows = store
        .exchange_spend(router_id, day, &own, now, |rows| {
            if budget > 0.0 {
                lease(rows, router_id, own_total, budget, dearest, now)
            } else {
                0.0
            }
        })
        .await?;
    let granted = (budget > 0.0).then(|| lease(&rows, router_id, own_total, budget, dearest, now));
    gateway
        .spend()
        .refreshed(fleet_of(&rows, router_id, now), own_total, granted, now);
    Ok(())
}

/// This router's line per agent: its frontier spend today, and for an agent with limits what the
/// limiter counts and the limits in force.
fn agent_reports(gateway: &Gateway, spend: Vec<(String, f64)>, now: DateTime<Utc>) -> Vec<AgentReport> {
    let mut reports: BTreeMap<String, AgentReport> = spend
        .into_iter()
        .map(|(agent, cost_usd)| {
            let report = AgentReport {
                agent: agent.clone(),
                cost_usd,
                usage: AgentUsageRow::default(),
            };
            (agent, report)
        })
        .collect();
    let counted: HashMap<String, super::AgentUsage> = gateway.limiter().usage(now_ms(now)).into_iter().collect();
    for agent in gateway.limited_agents() {
        let limits = gateway.limits_of(&agent);
        if limits.is_empty() {
            continue;
        }
        let used = counted.get(&agent).copied().unwrap_or_default();
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let report = reports.entry(agent.clone()).or_insert_with(|| AgentReport {
            agent,
            ..AgentReport::default()
        });
        report.usage = AgentUsageRow {
            requests_1m: count(used.requests_per_minute),
            tokens_1m: count(used.tokens_per_minute),
            in_flight: count(used.in_flight),
            rpm_limit: limits.rpm.map(count),
            tpm_limit: limits.tpm.map(count),
            max_in_flight_limit: limits.max_in_flight.map(count),
            daily_usd_limit: limits.daily_usd,
        };
    }
    reports.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(router: &str, agent: &str, usd: f64, age_secs: i64, now: DateTime<Utc>) -> RouterSpendRow {
        RouterSpendRow {
            router_id: router.into(),
            agent: agent.into(),
            cost_usd: usd,
            leased_usd: 0.0,
            usage: AgentUsageRow::default(),
            reported_at: now - TimeDelta::seconds(age_secs),
        }
    }

    #[test]
    fn gone_routers_still_count_but_take_no_share() {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let rows = vec![
            row("me", "a", 5.0, 0, now),
            row("me", "", 0.0, 0, now),
            row("r2", "a", 1.0, 1, now),
            row("r2", "", 0.0, 1, now),
            row("r3", "b", 2.0, 60, now),
            row("r4", "", 0.0, 0, now),
        ];
        let fleet = fleet_of(&rows, "me", now);
        assert_eq!(fleet.live_others, 2, "r2 and r4 are live, r3 is gone");
        assert_eq!(fleet.others_total(), 3.0, "my own rows are not counted twice");
        assert_eq!(fleet.others_by_agent.get("b"), Some(&2.0));
        assert_eq!(fleet.day, Some(now.date_naive()));
    }

    #[test]
    fn leases_split_what_is_left_and_never_exceed_the_budget() {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let leased = |router: &str, leased: f64, age: i64| RouterSpendRow {
            leased_usd: leased,
            ..row(router, "", 0.0, age, now)
        };
        // Alone: the whole budget.
        assert_eq!(lease(&[], "me", 0.0, 9.0, 0.0, now), 9.0);
        // Two others, live, holding 3 each and having spent 1 each: 3 is free, the fair share of
        // the 7 left is 7/3; take it.
        let rows = vec![
            leased("r2", 3.0, 0),
            row("r2", "a", 1.0, 0, now),
            leased("r3", 3.0, 0),
            row("r3", "a", 1.0, 0, now),
        ];
        assert!((lease(&rows, "me", 0.0, 9.0, 0.0, now) - 7.0 / 3.0).abs() < 1e-12);
        // A gone router's unspent lease is free again.
        let gone = vec![leased("r2", 3.0, 60), row("r2", "a", 1.0, 60, now)];
        assert_eq!(lease(&gone, "me", 0.0, 9.0, 0.0, now), 8.0);
        // Near the end: at least one request's worth when it is free, never more than is free.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(lease(&rows, "me", 0.0, 6.5, 0.4, now), 0.5));
        assert!(close(lease(&rows, "me", 0.0, 6.2, 0.4, now), 0.2));
        assert_eq!(lease(&rows, "me", 0.5, 6.2, 0.4, now), 0.5, "overspent: nothing more");
    }

    #[test]
    fn racing_routers_overshoot_by_at_most_one_request_each() {
        // Three routers refreshing in turn and spending as fast as their leases allow, with
        // requests of uneven cost: the worst case of one refresh window, again and again.
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let budget = 1.0;
        let names = ["r1", "r2", "r3"];
        let mut spent = [0.0f64; 3];
        let mut leases = [0.0f64; 3];
        let mut dearest = 0.0f64;
        for round in 0..200 {
            for i in 0..3 {
                let rows: Vec<RouterSpendRow> = (0..3)
                    .map(|j| RouterSpendRow {
                        leased_usd: leases[j],
                        ..row(names[j], "", 0.0, 0, now)
                    })
                    .chain((0..3).map(|j| row(names[j], "a", spent[j], 0, now)))
                    .collect();
                leases[i] = lease(&rows, names[i], spent[i], budget, dearest, now);
                let mut k = 0;
                while spent[i] < leases[i] {
                    let cost = 0.01 + 0.05 * (((round * 7 + i * 3 + k) % 5) as f64 / 4.0);
                    spent[i] += cost;
                    dearest = dearest.max(cost);
                    k += 1;
                }
            }
        }
        let total: f64 = spent.iter().sum();
        assert!(total <= budget + 3.0 * dearest, "{total} > {budget} + 3 x {dearest}");
        assert!(total >= budget, "the budget is used up: {total}");
    }

    #[test]
    fn ledger_ids_differ_per_gateway() {
        assert_ne!(ledger_id("host:1"), ledger_id("host:1"));
        assert!(ledger_id("host:1").starts_with("host:1:"));
    }
}
