//! The routing policy and the pure decision: base policy from `fleet.toml`, live overrides
//! from the store, a view of the fleet, and [`select`] that turns them into a [`Decision`].

mod agent_limits;
mod capabilities;
mod decision;
mod fleet_view;
mod overrides;
mod placement;
mod select;

use std::sync::Arc;

use crate::config::{FleetConfig, FrontierTarget, OverBudget, UnscannableRoute};
use crate::domain::TaskClass;

use super::detect::DetectorSet;

pub use agent_limits::{AgentLimits, LimitKind};
pub use capabilities::ModelCapabilities;
pub use decision::{Decision, LocalMiss, Outcome, PlanStep, Reason, RejectCode, Rejection, Sensitivity, Target};
pub use fleet_view::{
    FleetView, ModelBits, ModelCatalog, ModelName, ModelNames, NameOrder, NodeModels, NodeView, same_model,
};
pub use overrides::{ClassTarget, OVERRIDE_KEYS, OverrideError, Overrides, validate_override, validate_override_for};
pub(crate) use placement::rank;
pub use select::{SpendState, select};

/// The base policy, from `fleet.toml`: what [`select`] does when no override says otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The local model each class runs on.
    pub local_models: ClassModels,
    /// What each local model can do; a request is placed only on a model that can serve it.
    pub capabilities: ModelCapabilities,
    /// The frontier target of each class that may leave the farm.
    pub frontier: FrontierRoutes,
    /// Routine requests with fewer estimated tokens than this go local.
    pub routine_token_budget: u32,
    /// Daily frontier budget in USD (UTC day); 0 means no budget.
    pub daily_frontier_budget_usd: f64,
    /// What happens to frontier-bound work past the budget.
    pub over_budget: OverBudget,
    /// The content detectors that are switched on.
    pub detectors: DetectorSet,
    /// Where requests with content no detector can read may go.
    pub unscannable: UnscannableRoute,
}

impl Policy {
    /// The base policy a fleet configuration describes.
    pub fn from_config(config: &FleetConfig) -> Policy {
        let models = &config.models;
        let route = |t: &FrontierTarget| FrontierRoute {
            provider: t.provider.as_str().into(),
            model: t.model.as_str().into(),
        };
        Policy {
            local_models: ClassModels {
                routine: models.routine.as_str().into(),
                reasoning: models.reasoning.as_str().into(),
                orchestration: models.orchestration.as_str().into(),
                sensitive: models.sensitive.as_str().into(),
            },
            capabilities: ModelCapabilities::from_table(&models.capabilities),
            frontier: FrontierRoutes {
                routine: route(&config.frontier.routine),
                reasoning: route(&config.frontier.reasoning),
                orchestration: route(&config.frontier.orchestration),
            },
            routine_token_budget: config.router.routine_token_budget,
            daily_frontier_budget_usd: config.policy.daily_frontier_budget_usd,
            over_budget: config.policy.over_budget,
            detectors: DetectorSet::from_names(&config.policy.detectors),
            unscannable: config.policy.unscannable,
        }
    }
}

/// One local model name per task class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassModels {
    /// Model for routine work.
    pub routine: Arc<str>,
    /// Model for reasoning work kept local.
    pub reasoning: Arc<str>,
    /// Model for orchestration work kept local.
    pub orchestration: Arc<str>,
    /// Model for sensitive work.
    pub sensitive: Arc<str>,
}

impl ClassModels {
    /// The local model for `class`.
    pub fn for_class(&self, class: TaskClass) -> &Arc<str> {
        match class {
            TaskClass::Routine => &self.routine,
            TaskClass::Reasoning => &self.reasoning,
            TaskClass::Orchestration => &self.orchestration,
            TaskClass::Sensitive => &self.sensitive,
        }
    }
}

/// A provider and model on the frontier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrontierRoute {
    /// A key of `frontier.providers`.
    pub provider: Arc<str>,
    /// The provider's model id.
    pub model: Arc<str>,
}

/// Frontier targets per class. There is deliberately no slot for `sensitive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontierRoutes {
    /// Routine work past the routine token budget.
    pub routine: FrontierRoute,
    /// Reasoning work.
    pub reasoning: FrontierRoute,
    /// Orchestration work.
    pub orchestration: FrontierRoute,
}

impl FrontierRoutes {
    /// The frontier target for `class`; always `None` for sensitive work.
    pub fn for_class(&self, class: TaskClass) -> Option<&FrontierRoute> {
        match class {
            TaskClass::Routine => Some(&self.routine),
            TaskClass::Reasoning => Some(&self.reasoning),
            TaskClass::Orchestration => Some(&self.orchestration),
            TaskClass::Sensitive => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_config_copies_the_fleet_policy() {
        let mut config = FleetConfig::default();
        config.policy.detectors = vec!["email".into()];
        config.policy.over_budget = OverBudget::Refuse;
        let policy = Policy::from_config(&config);
        assert_eq!(
            &**policy.local_models.for_class(TaskClass::Sensitive),
            config.models.sensitive.as_str()
        );
        assert_eq!(
            policy.frontier.for_class(TaskClass::Reasoning).map(|r| &*r.model),
            Some(config.frontier.reasoning.model.as_str())
        );
        assert_eq!(policy.frontier.for_class(TaskClass::Sensitive), None);
        assert_eq!(policy.routine_token_budget, config.router.routine_token_budget);
        assert_eq!(policy.over_budget, OverBudget::Refuse);
        assert_eq!(
            policy.detectors,
            DetectorSet::NONE.with(super::super::detect::Detector::Email)
        );
    }
}
