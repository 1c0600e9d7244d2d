//! The shared daily budget's refresh: every [`REFRESH_EVERY`] a router writes its own spend per
//! agent to `router_spend` and reads every router's back, off the request path.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::Gateway;
use super::spend::FleetSpend;
use crate::store::{RouterSpendRow, Store};

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

/// A router id unique to this gateway: several gateways in one process (tests) stay apart.
pub fn ledger_id(router_id: &str) -> String {
    format!("{router_id}:{:08x}", rand::random::<u32>())
}

/// Starts the refresh for `gateway` as router `router_id`; runs until aborted. A failed refresh
/// keeps the last fleet figures (logged once per outage) while this router's own keep counting.
pub fn spawn(gateway: Arc<Gateway>, store: Store, router_id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match refresh(&gateway, &store, &router_id).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("fleet spend refresh works again");
                }
                Ok(()) => {}
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(%err, "cannot refresh the fleet's frontier spend; enforcing the budget on the last figures seen");
                }
                Err(_) => {}
            }
        }
    })
}

/// One refresh: write this router's figures, then read everyone's.
async fn refresh(gateway: &Gateway, store: &Store, router_id: &str) -> Result<(), crate::store::StoreError> {
    let now = Utc::now();
    let (day, own) = gateway.spend().own(now);
    let own_total: f64 = own.iter().map(|(_, usd)| usd).sum();
    store.report_spend(router_id, day, &own, now).await?;
    let rows = store.router_spend(day).await?;
    gateway
        .spend()
        .refreshed(fleet_of(&rows, router_id, Utc::now()), own_total, now);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(router: &str, agent: &str, usd: f64, age_secs: i64, now: DateTime<Utc>) -> RouterSpendRow {
        RouterSpendRow {
            router_id: router.into(),
            agent: agent.into(),
            cost_usd: usd,
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
    fn ledger_ids_differ_per_gateway() {
        assert_ne!(ledger_id("host:1"), ledger_id("host:1"));
        assert!(ledger_id("host:1").starts_with("host:1:"));
    }
}
