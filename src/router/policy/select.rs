//! `select`: the pure routing decision, in DESIGN.md's order. No I/O, no clock, no randomness.

use std::sync::Arc;

use super::decision::{Decision, LocalMiss, Outcome, PlanStep, Reason, RejectCode, Rejection, Sensitivity, Target};
use super::fleet_view::{FleetView, NodeView};
use super::overrides::{ClassTarget, Overrides};
use super::{FrontierRoute, ModelCapabilities, Policy, placement};
use crate::config::{OverBudget, UnscannableRoute};
use crate::domain::{DeclaredClass, Endpoint, Fallback, TaskClass};
use crate::router::features::RequestFeatures;
use crate::router::local_fit::LocalFit;

/// `Retry-After` when no node can take local-only work: capacity frees up in seconds.
pub const NO_LOCAL_CAPACITY_RETRY_SECS: u32 = 5;
/// `Retry-After` while the kill switch is on: an operator has to act.
pub const FRONTIER_DISABLED_RETRY_SECS: u32 = 60;

/// Frontier spend so far today (UTC), from the store.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SpendState {
    /// USD spent on frontier calls today.
    pub frontier_usd_today: f64,
    /// Seconds until the budget day ends; used for `Retry-After` past the budget (60 s to 24 h).
    pub resets_in_secs: u32,
}

/// Decides where a request goes: the effective class, and an ordered plan of targets or a rejection.
///
/// A sensitive request never gets a frontier target: its plan is built from local nodes only,
/// and with none eligible it is rejected with a 503 (a 400 when its local model can never serve
/// it). No request is placed on a local model that lacks a capability it needs.
pub fn select(
    features: &RequestFeatures,
    policy: &Policy,
    overrides: &Overrides,
    fleet: &FleetView,
    spend: &SpendState,
) -> Decision {
    let (class, sensitivity) = effective_class(features, overrides.unscannable.unwrap_or(policy.unscannable));
    let pin = overrides.model_pin(class);
    let class_model = pin.unwrap_or_else(|| policy.local_models.for_class(class));
    let miss = local_miss(&features.local, &policy.capabilities, class_model);
    let stand_in = match miss {
        Some(LocalMiss::Capability(_)) if pin.is_none() => capable_substitute(features, policy, overrides, fleet),
        _ => None,
    };
    let (model, nodes, miss) = match stand_in {
        Some((model, nodes)) => (model, nodes, None),
        None if miss.is_none() => (
            class_model.clone(),
            placement::rank(fleet, class_model, overrides),
            None,
        ),
        None => (class_model.clone(), Vec::new(), miss),
    };
    let locals = Locals {
        nodes: &nodes,
        model: &model,
        miss,
    };
    let frontier = if class == TaskClass::Sensitive {
        None
    } else {
        policy.frontier.for_class(class)
    };
    let (outcome, reason) = match frontier {
        None => {
            let plan = locals.steps(Fallback::None, Fallback::NodeRetry, 0);
            if plan.is_empty() {
                locals.reject_unplaced(spend)
            } else {
                (Outcome::Plan(plan), Reason::Sensitive)
            }
        }
        Some(route) => leavable(class, features.est_tokens, route, &locals, policy, overrides, spend),
    };
    debug_assert!(
        class != TaskClass::Sensitive
            || !matches!(&outcome, Outcome::Plan(p) if p.iter().any(|s| s.target.endpoint() == Endpoint::Frontier)),
        "a sensitive plan holds a frontier target"
    );
    Decision {
        declared: features.declared,
        class,
        local_model: model.clone(),
        sensitivity,
        outcome,
        reason,
        policy_version: overrides.version,
        est_tokens: features.est_tokens,
    }
}

/// Step 1: the declared (or classified) class, upgraded to sensitive by declaration, header,
/// detector, unscannable content (unless policy lets it leave) or the on-farm reviewer.
fn effective_class(f: &RequestFeatures, unscannable: UnscannableRoute) -> (TaskClass, Option<Sensitivity>) {
    let sensitivity = if f.declared == DeclaredClass::Sensitive || f.requested == TaskClass::Sensitive {
        Some(Sensitivity::Declared)
    } else if let Some(label) = f.data_class {
        Some(Sensitivity::Header(label))
    } else if let Some(detector) = f.detector {
        Some(Sensitivity::Detector(detector))
    } else if let Some(kind) = f.unscannable.filter(|_| unscannable == UnscannableRoute::Local) {
        Some(Sensitivity::Unscannable(kind))
    } else if f.review_flagged {
        Some(Sensitivity::Review)
    } else {
        None
    };
    match sensitivity {
        Some(_) => (TaskClass::Sensitive, sensitivity),
        None => (f.requested, None),
    }
}

/// Steps 3–6 for a class that may leave the farm.
fn leavable(
    class: TaskClass,
    est_tokens: u64,
    route: &FrontierRoute,
    locals: &Locals<'_>,
    policy: &Policy,
    overrides: &Overrides,
    spend: &SpendState,
) -> (Outcome, Reason) {
    let pinned = overrides.target(class);
    let (preferred, reason) = match pinned {
        Some(ClassTarget::Local) => (Endpoint::Local, Reason::Override),
        Some(ClassTarget::Frontier) => (Endpoint::Frontier, Reason::Override),
        None if overrides
            .local_under_tokens(class)
            .is_some_and(|under| est_tokens < under) =>
        {
            (Endpoint::Local, Reason::Override)
        }
        None if class != TaskClass::Routine => (Endpoint::Frontier, Reason::Policy),
        None if est_tokens < u64::from(policy.routine_token_budget) => (Endpoint::Local, Reason::Policy),
        None => (Endpoint::Frontier, Reason::TokenBudget),
    };
    let blocked = if overrides.kill_switch {
        Some(RejectCode::FrontierDisabled)
    } else if budget_spent(policy, overrides, spend) {
        Some(RejectCode::BudgetExhausted)
    } else {
        None
    };
    let frontier_step = |fallback| PlanStep {
        target: Target::Frontier {
            provider: route.provider.clone(),
            model: route.model.clone(),
        },
        fallback,
    };
    if preferred == Endpoint::Local {
        // An operator's explicit `local` keeps the class off the frontier even as a fallback.
        let may_leave = blocked.is_none() && pinned != Some(ClassTarget::Local);
        let mut plan = locals.steps(Fallback::None, Fallback::NodeRetry, usize::from(may_leave));
        if may_leave {
            plan.push(frontier_step(Fallback::ToFrontier));
        }
        return match (plan.is_empty(), locals.nodes.is_empty()) {
            (true, _) => locals.reject_unplaced(spend),
            (false, true) if locals.miss.is_some() => (Outcome::Plan(plan), Reason::Capability),
            (false, true) => (Outcome::Plan(plan), Reason::NoLocalCapacity),
            (false, false) => (Outcome::Plan(plan), reason),
        };
    }
    let over_budget = overrides.over_budget.unwrap_or(policy.over_budget);
    match blocked {
        None => {
            let mut plan = Vec::with_capacity(locals.nodes.len() + 1);
            plan.push(frontier_step(Fallback::None));
            locals.push_into(&mut plan, Fallback::ToLocal, Fallback::ToLocal);
            (Outcome::Plan(plan), reason)
        }
        Some(RejectCode::BudgetExhausted) if over_budget == OverBudget::Refuse => {
            reject(RejectCode::BudgetExhausted, spend)
        }
        Some(code) => {
            let plan = locals.steps(Fallback::ToLocal, Fallback::ToLocal, 0);
            let kept_local = if code == RejectCode::FrontierDisabled {
                Reason::KillSwitch
            } else {
                Reason::OverBudget
            };
            if plan.is_empty() {
                reject(code, spend)
            } else {
                (Outcome::Plan(plan), kept_local)
            }
        }
    }
}

/// The daily frontier budget (override, else fleet) is set and spent. An unreadable spend counts as spent.
fn budget_spent(policy: &Policy, overrides: &Overrides, spend: &SpendState) -> bool {
    let budget = overrides.daily_budget_usd.unwrap_or(policy.daily_frontier_budget_usd);
    budget > 0.0 && spend.frontier_usd_today.partial_cmp(&budget) != Some(std::cmp::Ordering::Less)
}

/// Another model for a request whose class's model lacks a capability it needs (tools, vision,
/// …), with its ranked eligible nodes: one installed on the farm that has every capability needed
/// and an eligible node, the one on the most eligible nodes (then the first by name). An
/// operator's model pin is never replaced.
fn capable_substitute<'f>(
    features: &RequestFeatures,
    policy: &Policy,
    overrides: &Overrides,
    fleet: &'f FleetView,
) -> Option<(Arc<str>, Vec<&'f NodeView>)> {
    let mut installed: Vec<&str> = fleet
        .nodes
        .iter()
        .flat_map(|node| node.installed.iter().map(|m| &**m))
        .collect();
    installed.sort_unstable();
    installed.dedup();
    installed
        .into_iter()
        .filter(|model| local_miss(&features.local, &policy.capabilities, model).is_none())
        .map(|model| (model, placement::placed(fleet, model, overrides)))
        .filter(|(_, placed)| placed.eligible > 0)
        .min_by_key(|(model, placed)| (std::cmp::Reverse(placed.eligible), *model))
        .map(|(model, placed)| (Arc::from(model), placed.nodes))
}

/// Why `model` cannot serve a request: a capability it lacks, else a part Ollama cannot carry.
/// The table is read only when the request needs a capability (most need none).
fn local_miss(fit: &LocalFit, capabilities: &ModelCapabilities, model: &str) -> Option<LocalMiss> {
    let lacking = if fit.needs.is_empty() {
        None
    } else {
        capabilities.of(model).first_missing(fit.needs)
    };
    lacking.map(LocalMiss::Capability).or(fit.gap.map(LocalMiss::Gap))
}

/// The ranked eligible nodes for the class's local model (none when the model cannot serve the request).
struct Locals<'a> {
    nodes: &'a [&'a NodeView],
    model: &'a Arc<str>,
    miss: Option<LocalMiss>,
}

impl Locals<'_> {
    /// The refusal when the request must run locally and no node is in the plan: a 400 when the
    /// model can never serve it, else a 503 to retry when capacity frees up.
    fn reject_unplaced(&self, spend: &SpendState) -> (Outcome, Reason) {
        match self.miss {
            Some(miss) => reject(RejectCode::Unservable(miss), spend),
            None => reject(RejectCode::NoLocalCapacity, spend),
        }
    }

    /// Local steps, the first with `first` and the others with `rest`, with room for `extra` more.
    fn steps(&self, first: Fallback, rest: Fallback, extra: usize) -> Vec<PlanStep> {
        let mut plan = Vec::with_capacity(self.nodes.len() + extra);
        self.push_into(&mut plan, first, rest);
        plan
    }

    fn push_into(&self, plan: &mut Vec<PlanStep>, first: Fallback, rest: Fallback) {
        for (i, node) in self.nodes.iter().enumerate() {
            let target = Target::Local {
                node: node.name.clone(),
                model: self.model.clone(),
            };
            plan.push(PlanStep {
                target,
                fallback: if i == 0 { first } else { rest },
            });
        }
    }
}

fn reject(code: RejectCode, spend: &SpendState) -> (Outcome, Reason) {
    let (status, retry_after_secs) = match code {
        RejectCode::NoLocalCapacity => (503, Some(NO_LOCAL_CAPACITY_RETRY_SECS)),
        RejectCode::FrontierDisabled => (503, Some(FRONTIER_DISABLED_RETRY_SECS)),
        RejectCode::BudgetExhausted => (503, Some(spend.resets_in_secs.clamp(60, 86_400))),
        RejectCode::Unservable(_) => (400, None),
    };
    (
        Outcome::Rejected(Rejection {
            status,
            retry_after_secs,
            code,
        }),
        Reason::Rejected(code),
    )
}

#[cfg(test)]
mod tests;
