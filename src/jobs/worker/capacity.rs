//! How many batch attempts each node may take now: pure, from the fleet view and the counts.
//!
//! Live requests come first. A node takes batch work only when it is up and active (not draining
//! or drained), has a free slot, and no live request is waiting for capacity. Batch work holds at
//! most `share` of a node's slots (rounded down); `share` is `jobs.max_share` while the farm is
//! busy and 1.0 once no live request has arrived for `jobs.idle_after_secs`.

/// One node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSlots {
    /// Node name.
    pub name: String,
    /// Up, and active in the operator's eyes.
    pub usable: bool,
    /// Requests it serves at once (`parallel`).
    pub parallel: u32,
    /// Requests in flight there now, live and batch.
    pub in_flight: u32,
    /// Batch attempts among them.
    pub batch: u32,
}

/// The share of a node's slots batch work may hold: all of them once the farm has been quiet
/// for `idle_after`, else `max_share`.
pub fn share(max_share: f64, quiet_for: std::time::Duration, idle_after: std::time::Duration) -> f64 {
    if quiet_for >= idle_after { 1.0 } else { max_share }
}

/// Free batch slots per node, nodes with none left out; none at all while live requests wait.
pub fn free_batch_slots(nodes: &[NodeSlots], share: f64, live_waiting: usize) -> Vec<(String, u32)> {
    if live_waiting > 0 {
        return Vec::new();
    }
    nodes
        .iter()
        .filter(|n| n.usable)
        .filter_map(|n| {
            let allowed = (f64::from(n.parallel) * share.clamp(0.0, 1.0)).floor() as u32;
            let by_share = allowed.saturating_sub(n.batch);
            let by_slots = n.parallel.saturating_sub(n.in_flight);
            let free = by_share.min(by_slots);
            (free > 0).then(|| (n.name.clone(), free))
        })
        .collect()
}

/// Jobs claimed per free slot at most: enough to refill each slot a few times without a store
/// round trip.
pub const CLAIMS_PER_FREE_SLOT: usize = 4;

/// How many jobs to claim now: the look-ahead less the jobs already waiting, and at most
/// [`CLAIMS_PER_FREE_SLOT`] per slot free now, so that a router never holds work that other
/// routers' free slots could run.
pub fn claim_size(look_ahead: usize, waiting: usize, free_slots: usize) -> usize {
    look_ahead
        .saturating_sub(waiting)
        .min(free_slots.saturating_mul(CLAIMS_PER_FREE_SLOT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn node(name: &str, parallel: u32, in_flight: u32, batch: u32) -> NodeSlots {
        NodeSlots {
            name: name.into(),
            usable: true,
            parallel,
            in_flight,
            batch,
        }
    }

    #[test]
    fn half_the_slots_while_busy_all_of_them_when_quiet() {
        assert_eq!(share(0.5, Duration::from_secs(5), Duration::from_secs(60)), 0.5);
        assert_eq!(share(0.5, Duration::from_secs(60), Duration::from_secs(60)), 1.0);
        let nodes = [node("mini-01", 4, 0, 0)];
        assert_eq!(free_batch_slots(&nodes, 0.5, 0), vec![("mini-01".into(), 2)]);
        assert_eq!(free_batch_slots(&nodes, 1.0, 0), vec![("mini-01".into(), 4)]);
    }

    #[test]
    fn live_work_and_held_batch_slots_count() {
        let nodes = [
            node("busy", 4, 4, 0),
            node("half", 4, 3, 1),
            node("live", 4, 2, 0),
            node("one-slot", 1, 0, 0),
        ];
        assert_eq!(
            free_batch_slots(&nodes, 0.5, 0),
            vec![("half".into(), 1), ("live".into(), 2)]
        );
        assert_eq!(
            free_batch_slots(&nodes, 1.0, 0),
            vec![("half".into(), 1), ("live".into(), 2), ("one-slot".into(), 1)]
        );
    }

    #[test]
    fn nothing_while_a_live_request_waits_or_on_unusable_nodes() {
        let mut drained = node("drained", 4, 0, 0);
        drained.usable = false;
        assert!(free_batch_slots(&[node("a", 4, 0, 0)], 1.0, 1).is_empty());
        assert!(free_batch_slots(&[drained], 1.0, 0).is_empty());
    }

    #[test]
    fn claims_follow_the_free_slots_up_to_the_look_ahead() {
        assert_eq!(claim_size(32, 0, 27), 32);
        assert_eq!(claim_size(32, 0, 1), 4);
        assert_eq!(claim_size(32, 30, 27), 2);
        assert_eq!(claim_size(32, 40, 27), 0);
        assert_eq!(claim_size(32, 0, 0), 0);
    }

    proptest! {
        #[test]
        fn batch_never_exceeds_its_share_or_the_free_slots(
            parallel in 1u32..16, live in 0u32..16, batch in 0u32..16, share in 0.0f64..=1.0,
        ) {
            let n = node("n", parallel, live + batch, batch);
            let free: u32 = free_batch_slots(&[n], share, 0).iter().map(|(_, f)| f).sum();
            prop_assert!(batch + free <= (f64::from(parallel) * share).floor() as u32 || free == 0);
            prop_assert!(live + batch + free <= parallel || free == 0);
        }
    }
}
