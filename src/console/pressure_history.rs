//! A short memory-pressure history per node, for the Fleet view's detail pane.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::MemoryPressure;
use crate::fleet::FleetSnapshot;

/// Samples kept per node.
pub const SAMPLES: usize = 36;
/// At most one sample per node this often (so 36 cover three minutes).
const EVERY: TimeDelta = TimeDelta::seconds(5);

/// The last [`SAMPLES`] pressure levels of each node that reports one.
#[derive(Debug, Clone, Default)]
pub struct PressureHistory {
    nodes: HashMap<String, (DateTime<Utc>, VecDeque<MemoryPressure>)>,
}

impl PressureHistory {
    /// Notes each node's level in `fleet` at `now`, once per [`EVERY`] per node.
    pub fn record(&mut self, fleet: &FleetSnapshot, now: DateTime<Utc>) {
        for node in &fleet.nodes {
            let Some(level) = node.pressure() else { continue };
            let (last, samples) = self
                .nodes
                .entry(node.name.clone())
                .or_insert_with(|| (now - EVERY, VecDeque::with_capacity(SAMPLES)));
            if now - *last < EVERY {
                continue;
            }
            *last = now;
            if samples.len() == SAMPLES {
                samples.pop_front();
            }
            samples.push_back(level);
        }
        self.nodes.retain(|name, _| fleet.nodes.iter().any(|n| &n.name == name));
    }

    /// `node`'s history, oldest first, one glyph per sample: `▁` normal, `▄` warn, `█` critical.
    pub fn glyphs(&self, node: &str) -> Option<String> {
        let (_, samples) = self.nodes.get(node)?;
        Some(
            samples
                .iter()
                .map(|level| match level {
                    MemoryPressure::Normal => '▁',
                    MemoryPressure::Warn => '▄',
                    MemoryPressure::Critical => '█',
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::NodeSnapshot;
    use crate::wire::{AgentMetrics, PressureReading};

    fn fleet(level: MemoryPressure) -> FleetSnapshot {
        let mut node = NodeSnapshot::unseen("mini-01", 1);
        node.metrics = Some(AgentMetrics {
            hostname: "mini-01".into(),
            sampled_at: Utc::now(),
            memory_total_bytes: 1,
            memory_used_bytes: 0,
            memory_available_bytes: 1,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            cpu_percent: 0.0,
            cpu_count: 1,
            load_average: [0.0; 3],
            uptime_secs: 1,
            ollama: None,
            pressure: Some(PressureReading {
                level,
                source: "sim".into(),
                compressor_bytes: None,
                psi_some_avg10: None,
                psi_full_avg10: None,
            }),
            power: None,
        });
        FleetSnapshot { nodes: vec![node] }
    }

    #[test]
    fn keeps_one_sample_per_interval_and_the_newest_few() {
        let mut history = PressureHistory::default();
        let start = Utc::now();
        history.record(&fleet(MemoryPressure::Normal), start);
        history.record(&fleet(MemoryPressure::Critical), start + TimeDelta::seconds(1));
        history.record(&fleet(MemoryPressure::Warn), start + TimeDelta::seconds(5));
        history.record(&fleet(MemoryPressure::Critical), start + TimeDelta::seconds(10));
        assert_eq!(history.glyphs("mini-01").as_deref(), Some("▁▄█"));
        for i in 0..100 {
            history.record(&fleet(MemoryPressure::Normal), start + TimeDelta::seconds(15 + 5 * i));
        }
        assert_eq!(history.glyphs("mini-01").unwrap().chars().count(), SAMPLES);
        assert_eq!(history.glyphs("mini-02"), None);
    }
}
