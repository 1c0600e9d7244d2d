//! How current a router's control snapshot (node states, overrides, policy version) is: a router
//! cut off from the store keeps routing on its last snapshot, and says how old that is.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::control::ControlSnapshot;

/// The age and source of the control snapshot a router enforces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlHealth {
    /// The policy version in force.
    pub policy_version: i64,
    /// Seconds since the snapshot was last read from the store; `None` before the first read.
    pub age_secs: Option<f64>,
    /// Whether the last attempt to read it reached the store.
    pub store_reachable: bool,
}

impl ControlHealth {
    /// The health of `snapshot` at `now`.
    pub fn of(snapshot: &ControlSnapshot, now: DateTime<Utc>) -> ControlHealth {
        ControlHealth {
            policy_version: snapshot.version,
            age_secs: snapshot
                .read_at
                .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0),
            store_reachable: snapshot.read_at.is_some() && snapshot.store_error.is_none(),
        }
    }

    /// One line for `/healthz`: the router serves either way, and says on what policy.
    pub fn summary(&self) -> String {
        match (self.age_secs, self.store_reachable) {
            (None, _) => {
                "ok: no policy read from the store yet (the store is unreachable or has not answered); routing on the configured policy".into()
            }
            (Some(age), true) => format!(
                "ok: policy v{}, read from the store {age:.1} s ago",
                self.policy_version
            ),
            (Some(age), false) => format!(
                "ok: the store is unreachable; routing on the last policy read, v{}, {age:.1} s ago",
                self.policy_version
            ),
        }
    }

    /// Prometheus text: the snapshot's age, whether the store answered, and the policy version.
    pub fn metrics(&self) -> String {
        let mut out = String::with_capacity(512);
        let _ = writeln!(
            out,
            "# HELP farmhand_control_age_seconds Seconds since node states and overrides were last read from the store (-1: never).\n# TYPE farmhand_control_age_seconds gauge\nfarmhand_control_age_seconds {}",
            self.age_secs.unwrap_or(-1.0)
        );
        let _ = writeln!(
            out,
            "# HELP farmhand_control_store_reachable 1 when the last read of node states and overrides reached the store.\n# TYPE farmhand_control_store_reachable gauge\nfarmhand_control_store_reachable {}",
            u8::from(self.store_reachable)
        );
        let _ = writeln!(
            out,
            "# HELP farmhand_policy_version The policy version this router enforces.\n# TYPE farmhand_policy_version gauge\nfarmhand_policy_version {}",
            self.policy_version
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn a_router_cut_off_keeps_its_snapshot_and_says_how_old_it_is() {
        let now = Utc::now();
        let fresh = ControlSnapshot {
            version: 12,
            read_at: Some(now - TimeDelta::milliseconds(1500)),
            ..ControlSnapshot::default()
        };
        let health = ControlHealth::of(&fresh, now);
        assert_eq!(
            health,
            ControlHealth {
                policy_version: 12,
                age_secs: Some(1.5),
                store_reachable: true
            }
        );
        let cut_off = ControlSnapshot {
            store_error: Some("pool timed out".into()),
            ..fresh
        };
        let text = ControlHealth::of(&cut_off, now).metrics();
        assert!(text.contains("farmhand_control_store_reachable 0"), "{text}");
        assert!(text.contains("farmhand_control_age_seconds 1.5"), "{text}");
        assert!(text.contains("farmhand_policy_version 12"), "{text}");
        assert_eq!(
            ControlHealth::of(&cut_off, now).summary(),
            "ok: the store is unreachable; routing on the last policy read, v12, 1.5 s ago"
        );
        let never = ControlHealth::of(&ControlSnapshot::default(), now);
        assert_eq!((never.age_secs, never.store_reachable), (None, false));
    }
}
