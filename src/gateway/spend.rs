//! Today's frontier spend across the fleet, kept in memory so budget checks never query the store
//! on the request path.
//!
//! Each router keeps its own spend per agent, exact and current, and what its frontier requests in
//! flight are expected to cost (a reservation each). The refresh ([`super::fleet_spend`], at least
//! twice a second) writes the router's figures to the store, reads every router's back
//! ([`FleetSpend`]) and grants the router a *lease*: the total it may spend today. Live routers'
//! leases never add up to more than the budget, so a router admits a frontier request only while
//! its spend plus reservations is under its lease, and the fleet overshoots the budget by at most
//! the last request each router admitted. Until the first lease (or while the store is away at
//! start-up) the check falls back to a projection: the fleet's total at the last refresh plus
//! `live routers × this router's spend since then`.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Notify;

use crate::router::SpendState;

/// Agents tracked by name; spend of any further agent is kept under [`OTHER_AGENTS`].
const MAX_AGENTS: usize = 256;
/// The name under which agents past [`MAX_AGENTS`] are counted.
pub const OTHER_AGENTS: &str = "*";

/// What every router (this one included) had spent today at the last refresh.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetSpend {
    /// The UTC day the figures are for.
    pub day: Option<NaiveDate>,
    /// Spend of the other routers, per agent.
    pub others_by_agent: HashMap<String, f64>,
    /// Routers other than this one that reported within the live window.
    pub live_others: u32,
}

impl FleetSpend {
    /// The other routers' spend today, all agents.
    pub fn others_total(&self) -> f64 {
        self.others_by_agent.values().sum()
    }
}

/// Frontier spend of the fleet and of this router in the current UTC day.
#[derive(Debug, Default)]
pub struct SpendTracker {
    inner: Mutex<Ledger>,
    /// Woken when a request found the lease spent: the refresh asks for more at once.
    lease_wanted: Notify,
}

/// The tracker's state for one day.
#[derive(Debug, Default, Clone)]
struct Ledger {
    day: Option<NaiveDate>,
    /// This router's own spend today, per agent.
    own: HashMap<String, f64>,
    /// This router's own total at the last refresh.
    own_at_refresh: f64,
    /// The fleet as the last refresh saw it.
    fleet: FleetSpend,
    /// A floor for the fleet total (spend recorded before this router started).
    seeded: f64,
    /// Expected cost of frontier requests in flight.
    reserved: f64,
    /// The dearest single request this router has seen today: the estimate for the next one.
    dearest: f64,
    /// What this router may spend today in total, as the last refresh granted it.
    lease: Option<f64>,
}

impl Ledger {
    fn roll(&mut self, day: NaiveDate) {
        if self.day != Some(day) {
            *self = Ledger {
                day: Some(day),
                reserved: self.reserved,
                ..Ledger::default()
            };
        }
    }

    fn own_total(&self) -> f64 {
        self.own.values().sum()
    }

    /// The fleet total the budget check uses (see the module doc).
    fn projected(&self) -> f64 {
        let fleet = if self.fleet.day == self.day {
            self.fleet.others_total()
        } else {
            0.0
        };
        let since_refresh = (self.own_total() - self.own_at_refresh).max(0.0) + self.reserved;
        let routers = 1.0 + f64::from(self.fleet.live_others);
        (fleet + self.own_at_refresh + routers * since_refresh).max(self.seeded)
    }
}

/// A frontier request's expected cost, held until the request is recorded.
#[derive(Debug, PartialEq)]
pub struct Reservation {
    usd: f64,
}

impl SpendTracker {
    /// Adds `usd` spent by `agent` at `now` (a new UTC day starts from zero).
    pub fn add(&self, agent: &str, usd: f64, now: DateTime<Utc>) {
        if !(usd.is_finite() && usd > 0.0) {
            return;
        }
        let mut ledger = self.lock();
        ledger.roll(now.date_naive());
        ledger.dearest = ledger.dearest.max(usd);
        let known = ledger.own.contains_key(agent) || ledger.own.len() < MAX_AGENTS;
        let name = if known { agent } else { OTHER_AGENTS };
        *ledger.own.entry(name.to_string()).or_default() += usd;
    }

    /// Seeds the day's total from the store at start-up (a floor: never lowers it).
    pub fn seed(&self, usd: f64, now: DateTime<Utc>) {
        let mut ledger = self.lock();
        ledger.roll(now.date_naive());
        ledger.seeded = ledger.seeded.max(usd);
    }

    /// Holds the expected cost of a frontier request about to start (the dearest request seen
    /// today, or `estimate` when that is more; give it back with [`SpendTracker::release`]),
    /// unless the budget (USD, 0 for none) allows no more frontier work here: the reservation does
    /// not fit in what this router's lease has left (the refresh is asked for more), or, with no
    /// lease yet, it would take the projected fleet total past the budget. Checked and held under
    /// one lock, so concurrent requests cannot all slip past.
    pub fn try_reserve(&self, estimate: f64, budget: f64, now: DateTime<Utc>) -> Option<Reservation> {
        let mut ledger = self.lock();
        ledger.roll(now.date_naive());
        let usd = ledger.dearest.max(estimate).max(0.0);
        let usd = if usd.is_finite() { usd } else { 0.0 };
        if budget > 0.0 {
            // Under a lease the whole reservation must fit: a router never starts a request its
            // lease cannot pay for, so the fleet's leases bound its spend whatever the timing.
            let open = match ledger.lease {
                Some(lease) => ledger.own_total() + ledger.reserved + usd <= lease,
                None => ledger.projected() + usd <= budget,
            };
            if !open {
                drop(ledger);
                self.lease_wanted.notify_one();
                return None;
            }
        }
        ledger.reserved += usd;
        Some(Reservation { usd })
    }

    /// Whether a refresh may grant more: this router's lease is spent but the fleet's spend seen
    /// so far is under `budget`.
    pub fn lease_may_grow(&self, budget: f64, now: DateTime<Utc>) -> bool {
        let ledger = self.lock();
        ledger.day == Some(now.date_naive())
            && ledger.lease.is_some()
            && ledger.fleet.others_total() + ledger.own_total() < budget
    }

    /// Waits until a request finds this router's lease spent.
    pub async fn lease_wanted(&self) {
        self.lease_wanted.notified().await;
    }

    /// The dearest single request seen today (the least a lease should allow).
    pub fn dearest(&self, now: DateTime<Utc>) -> f64 {
        let ledger = self.lock();
        if ledger.day == Some(now.date_naive()) {
            ledger.dearest
        } else {
            0.0
        }
    }

    /// Gives back a reservation once its request is recorded (its real cost is added apart).
    pub fn release(&self, reservation: Reservation) {
        let mut ledger = self.lock();
        ledger.reserved = (ledger.reserved - reservation.usd).max(0.0);
    }

    /// This router's own spend today per agent, for the refresh to write to the store.
    pub fn own(&self, now: DateTime<Utc>) -> (NaiveDate, Vec<(String, f64)>) {
        let mut ledger = self.lock();
        let day = now.date_naive();
        ledger.roll(day);
        let mut rows: Vec<(String, f64)> = ledger.own.iter().map(|(a, usd)| (a.clone(), *usd)).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        (day, rows)
    }

    /// Takes a refresh: the fleet as the store showed it when this router's figures were written,
    /// `own_written` being this router's total in that write, and the lease granted (`None` with
    /// no budget).
    pub fn refreshed(&self, fleet: FleetSpend, own_written: f64, lease: Option<f64>, now: DateTime<Utc>) {
        let mut ledger = self.lock();
        ledger.roll(now.date_naive());
        if fleet.day == ledger.day {
            ledger.fleet = fleet;
            ledger.own_at_refresh = own_written;
            ledger.lease = lease;
        }
    }

    /// What `select` needs: the fleet's projected spend so far today and seconds until the day ends.
    pub fn state(&self, now: DateTime<Utc>) -> SpendState {
        let ledger = self.lock();
        let day = now.date_naive();
        let spent = match ledger.lease {
            _ if ledger.day != Some(day) => 0.0,
            // The lease, checked when the request reserves, keeps the fleet within the budget;
            // here the spend seen so far decides (a spent lease is met by `try_reserve`).
            Some(_) => (ledger.fleet.others_total() + ledger.own_total()).max(ledger.seeded),
            None => ledger.projected(),
        };
        SpendState {
            frontier_usd_today: spent,
            resets_in_secs: resets_in_secs(now),
        }
    }

    /// The fleet's spend today by one agent: the other routers' at the last refresh plus this one's.
    pub fn agent_today(&self, agent: &str, now: DateTime<Utc>) -> f64 {
        let ledger = self.lock();
        if ledger.day != Some(now.date_naive()) {
            return 0.0;
        }
        let others = if ledger.fleet.day == ledger.day {
            ledger.fleet.others_by_agent.get(agent).copied().unwrap_or(0.0)
        } else {
            0.0
        };
        others + ledger.own.get(agent).copied().unwrap_or(0.0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Seconds until the UTC day of `now` ends, clamped to 60 s … 24 h (a `Retry-After`).
pub fn resets_in_secs(now: DateTime<Utc>) -> u32 {
    let midnight = now
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let resets_in = midnight.map(|m| (m - now).num_seconds()).unwrap_or(86_400);
    resets_in.clamp(60, 86_400) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn fleet(day: DateTime<Utc>, others: &[(&str, f64)], live_others: u32) -> FleetSpend {
        FleetSpend {
            day: Some(day.date_naive()),
            others_by_agent: others.iter().map(|(a, u)| (a.to_string(), *u)).collect(),
            live_others,
        }
    }

    #[test]
    fn a_new_day_starts_from_zero() {
        let tracker = SpendTracker::default();
        let evening = at("2026-11-25T23:59:00Z");
        tracker.seed(10.0, evening);
        tracker.add("a", 2.5, evening);
        assert_eq!(tracker.state(evening).frontier_usd_today, 10.0);
        tracker.add("a", 8.0, evening);
        assert_eq!(tracker.state(evening).frontier_usd_today, 10.5);
        assert_eq!(tracker.state(evening).resets_in_secs, 60);
        let morning = at("2026-11-26T00:00:01Z");
        assert_eq!(tracker.state(morning).frontier_usd_today, 0.0);
        tracker.add("a", 1.0, morning);
        assert_eq!(tracker.state(morning).frontier_usd_today, 1.0);
    }

    #[test]
    fn spend_since_the_refresh_is_counted_once_per_live_router() {
        let tracker = SpendTracker::default();
        let now = at("2026-11-26T12:00:00Z");
        tracker.add("a", 1.0, now);
        tracker.refreshed(fleet(now, &[("a", 2.0), ("b", 3.0)], 2), 1.0, None, now);
        assert_eq!(tracker.state(now).frontier_usd_today, 6.0);
        tracker.add("b", 0.5, now);
        // Two other live routers may each have spent as much since the refresh.
        assert_eq!(tracker.state(now).frontier_usd_today, 6.0 + 3.0 * 0.5);
        assert_eq!(tracker.agent_today("b", now), 3.5);
        assert_eq!(tracker.agent_today("a", now), 3.0);
        assert_eq!(tracker.agent_today("c", now), 0.0);
        tracker.refreshed(fleet(now, &[("a", 2.0), ("b", 3.2)], 2), 1.5, None, now);
        assert_eq!(tracker.state(now).frontier_usd_today, 6.7);
    }

    #[test]
    fn reservations_count_until_released_and_follow_the_dearest_request() {
        let tracker = SpendTracker::default();
        let now = at("2026-11-26T12:00:00Z");
        tracker.refreshed(fleet(now, &[], 1), 0.0, None, now);
        let first = tracker.try_reserve(0.01, 0.0, now).unwrap();
        assert_eq!(tracker.state(now).frontier_usd_today, 2.0 * 0.01);
        tracker.add("a", 0.04, now);
        tracker.release(first);
        assert_eq!(tracker.state(now).frontier_usd_today, 2.0 * 0.04);
        let second = tracker.try_reserve(0.01, 0.0, now).unwrap();
        assert_eq!(
            tracker.state(now).frontier_usd_today,
            2.0 * 0.08,
            "the estimate is the dearest seen"
        );
        tracker.release(second);
        assert_eq!(tracker.state(now).frontier_usd_today, 2.0 * 0.04);
        assert!(tracker.try_reserve(0.01, 0.08, now).is_none(), "the budget is reached");
        assert!(tracker.try_reserve(0.01, 0.0, now).is_some(), "no budget, no limit");
    }

    #[test]
    fn a_lease_admits_requests_while_spend_and_reservations_fit_in_it() {
        let tracker = SpendTracker::default();
        let now = at("2026-11-26T12:00:00Z");
        tracker.refreshed(fleet(now, &[("a", 5.0)], 2), 0.0, Some(0.25), now);
        assert_eq!(
            tracker.state(now).frontier_usd_today,
            5.0,
            "the spend seen, not a projection"
        );
        let first = tracker.try_reserve(0.1, 10.0, now).expect("under the lease");
        let second = tracker.try_reserve(0.1, 10.0, now).expect("0.2 held, within the lease");
        assert!(
            tracker.try_reserve(0.1, 10.0, now).is_none(),
            "0.3 would pass the lease of 0.25: not started"
        );
        for held in [first, second] {
            tracker.add("a", 0.1, now);
            tracker.release(held);
        }
        assert!(
            tracker.try_reserve(0.1, 10.0, now).is_none(),
            "0.2 spent, 0.1 more does not fit"
        );
        assert!(tracker.lease_may_grow(10.0, now), "5.2 seen of 10");
        assert!(!tracker.lease_may_grow(5.2, now));
        tracker.refreshed(fleet(now, &[("a", 5.0)], 2), 0.2, Some(0.5), now);
        assert!(tracker.try_reserve(0.1, 10.0, now).is_some(), "a larger lease");
        assert!(tracker.try_reserve(0.1, 0.0, now).is_some(), "no budget, no limit");
    }

    #[test]
    fn agents_past_the_cap_share_one_line() {
        let tracker = SpendTracker::default();
        let now = at("2026-11-26T12:00:00Z");
        for i in 0..MAX_AGENTS + 5 {
            tracker.add(&format!("agent-{i}"), 1.0, now);
        }
        let (_, rows) = tracker.own(now);
        assert_eq!(rows.len(), MAX_AGENTS + 1);
        assert_eq!(tracker.agent_today(OTHER_AGENTS, now), 5.0);
    }
}
