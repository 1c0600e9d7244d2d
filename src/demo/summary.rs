//! The headless demo's closing report, built from the decisions the store recorded.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::console::format::usd;
use crate::domain::{Endpoint, StoredDecision, TaskClass};

/// Decisions counted by class and endpoint, with tokens and cost.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Requests per endpoint.
    pub by_endpoint: BTreeMap<Endpoint, u64>,
    /// Requests per (effective class, endpoint).
    pub by_class: BTreeMap<TaskClass, BTreeMap<Endpoint, u64>>,
    /// Requests made sensitive, per reason (`declared`, `detector:email`, …).
    pub sensitive_reasons: BTreeMap<String, u64>,
    /// Tokens served on the farm.
    pub local_tokens: i64,
    /// Tokens served by frontier APIs.
    pub frontier_tokens: i64,
    /// Frontier cost in USD.
    pub frontier_usd: f64,
}

impl Summary {
    /// Adds decisions to the counts.
    pub fn add<'a>(&mut self, decisions: impl IntoIterator<Item = &'a StoredDecision>) {
        for d in decisions {
            let r = &d.record;
            *self.by_endpoint.entry(r.endpoint).or_default() += 1;
            *self
                .by_class
                .entry(r.effective_class)
                .or_default()
                .entry(r.endpoint)
                .or_default() += 1;
            if let Some(reason) = &r.sensitivity_reason {
                *self.sensitive_reasons.entry(reason.clone()).or_default() += 1;
            }
            match r.endpoint {
                Endpoint::Local => self.local_tokens += r.total_tokens(),
                Endpoint::Frontier => {
                    self.frontier_tokens += r.total_tokens();
                    self.frontier_usd += r.cost_usd;
                }
                Endpoint::Rejected => {}
            }
        }
    }

    /// Decisions counted.
    pub fn total(&self) -> u64 {
        self.by_endpoint.values().sum()
    }

    /// The report, one fact a line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "decisions recorded: {}", self.total());
        for endpoint in Endpoint::ALL {
            let _ = writeln!(
                out,
                "  {:<9} {}",
                endpoint.as_str(),
                self.by_endpoint.get(endpoint).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(out, "by class:");
        for (class, endpoints) in &self.by_class {
            let split: Vec<String> = Endpoint::ALL
                .iter()
                .map(|e| format!("{} {}", e.as_str(), endpoints.get(e).copied().unwrap_or(0)))
                .collect();
            let _ = writeln!(out, "  {:<14} {}", class.as_str(), split.join("  "));
        }
        if !self.sensitive_reasons.is_empty() {
            let reasons: Vec<String> = self.sensitive_reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
            let _ = writeln!(out, "kept on the farm as sensitive: {}", reasons.join(", "));
        }
        let served = self.local_tokens + self.frontier_tokens;
        let share = if served > 0 {
            format!("{:.1}%", self.local_tokens as f64 * 100.0 / served as f64)
        } else {
            "–".into()
        };
        let _ = writeln!(out, "local token share: {share}");
        let _ = writeln!(out, "frontier spend: {}", usd(self.frontier_usd));
        out
    }
}
