//! What [`select`](super::select) returns: the effective class and an ordered plan of targets
//! for the gateway to walk, or a rejection. The plan is where the sensitive invariant lives:
//! the gateway only ever tries what is in it.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::domain::{Capability, DeclaredClass, Endpoint, Fallback, TaskClass};
use crate::router::data_class::DataClass;
use crate::router::detect::Detector;
use crate::router::exposure::Unscannable;
use crate::router::local_fit::{OllamaGap, field_needing};

/// One upstream the gateway can call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A farm node running `model` under Ollama.
    Local {
        /// The node's name.
        node: Arc<str>,
        /// The Ollama model name.
        model: Arc<str>,
    },
    /// A frontier provider's model.
    Frontier {
        /// A key of `frontier.providers`.
        provider: Arc<str>,
        /// The provider's model id.
        model: Arc<str>,
    },
}

impl Target {
    /// `local` or `frontier`.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Target::Local { .. } => Endpoint::Local,
            Target::Frontier { .. } => Endpoint::Frontier,
        }
    }

    /// The model the target runs.
    pub fn model(&self) -> &str {
        match self {
            Target::Local { model, .. } | Target::Frontier { model, .. } => model,
        }
    }

    /// The `X-Farmhand-Route` value: `local/mini-03/llama3.1:8b`, `frontier/anthropic/claude-sonnet-4-6`.
    pub fn route_label(&self) -> String {
        match self {
            Target::Local { node, model } => ["local/", node, "/", model].concat(),
            Target::Frontier { provider, model } => ["frontier/", provider, "/", model].concat(),
        }
    }
}

/// One entry of a plan: a target and the fallback that trying it represents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    /// Where to send the request.
    pub target: Target,
    /// `None` for the preferred endpoint's first target, `NodeRetry` for further nodes,
    /// `ToFrontier`/`ToLocal` when this target is on the other side of the preferred endpoint.
    pub fallback: Fallback,
}

/// Why the class's local model cannot serve a request, whatever the nodes' state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalMiss {
    /// The model lacks a capability the request needs (`tools`, `vision`, `audio`, `thinking`).
    Capability(Capability),
    /// Ollama's compatibility layer cannot carry part of the request.
    Gap(OllamaGap),
}

impl LocalMiss {
    /// The request field at fault (`tools`, `image_url`, `tool_choice`, `messages[0].content[1]`, …).
    pub fn field(self) -> String {
        match self {
            LocalMiss::Capability(capability) => field_needing(capability).into(),
            LocalMiss::Gap(gap) => gap.field(),
        }
    }
}

/// Why a request was refused before any upstream call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// The request must run locally and no eligible node has the model.
    NoLocalCapacity,
    /// The daily frontier budget is spent and the policy refuses further frontier work.
    BudgetExhausted,
    /// The frontier kill switch is on and no eligible node can take the work instead.
    FrontierDisabled,
    /// The request must run locally and the class's local model cannot serve it.
    Unservable(LocalMiss),
}

impl RejectCode {
    /// The error code sent to the agent and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::NoLocalCapacity => "no_local_capacity",
            RejectCode::BudgetExhausted => "budget_exhausted",
            RejectCode::FrontierDisabled => "frontier_disabled",
            RejectCode::Unservable(LocalMiss::Capability(_)) => "unsupported_capability",
            RejectCode::Unservable(LocalMiss::Gap(_)) => "unsupported_field",
        }
    }
}

/// A refusal: HTTP status, `Retry-After` and a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status: 503 when waiting may help, 400 when the request cannot be served as it is.
    pub status: u16,
    /// Seconds for the `Retry-After` header (at least 1), on a 503.
    pub retry_after_secs: Option<u32>,
    /// Why.
    pub code: RejectCode,
}

/// What the gateway does with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Try these targets in order until one serves the request (never empty).
    Plan(Vec<PlanStep>),
    /// Refuse it.
    Rejected(Rejection),
}

/// Why a request is sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sensitivity {
    /// The agent declared `sensitive`.
    Declared,
    /// A sensitive `X-Data-Class` label.
    Header(DataClass),
    /// A content detector fired.
    Detector(Detector),
    /// The request carries content no detector can read, and `policy.unscannable` is `local`.
    Unscannable(Unscannable),
    /// The on-farm privacy reviewer did not clear the request (said yes, was unclear, failed or was late).
    Review,
}

impl Sensitivity {
    /// The recorded reason: `declared`, `header:<label>`, `detector:<name>`, `unscannable:<kind>` or `review_model`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Declared => "declared",
            Sensitivity::Header(label) => label.reason(),
            Sensitivity::Detector(d) => d.reason(),
            Sensitivity::Unscannable(kind) => kind.reason(),
            Sensitivity::Review => "review_model",
        }
    }
}

/// Why the first target (or the rejection) was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The base policy's choice for the class.
    Policy,
    /// Routine work over the routine token budget went to the frontier.
    TokenBudget,
    /// An operator's per-class target override.
    Override,
    /// Sensitive work stays on the farm.
    Sensitive,
    /// Frontier-bound work kept local because the kill switch is on.
    KillSwitch,
    /// Frontier-bound work kept local because the daily budget is spent.
    OverBudget,
    /// Local-bound work sent to the frontier because no node can take it.
    NoLocalCapacity,
    /// Local-bound work sent to the frontier because the class's local model cannot serve it.
    Capability,
    /// A shadow twin: the same request run on the other side to measure agreement.
    Shadow,
    /// The request was refused; see the rejection code.
    Rejected(RejectCode),
}

impl Reason {
    /// The `reason=` value of `X-Farmhand-Decision`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Policy => "policy",
            Reason::TokenBudget => "token_budget",
            Reason::Override => "override",
            Reason::Sensitive => "sensitive",
            Reason::KillSwitch => "kill_switch",
            Reason::OverBudget => "over_budget",
            Reason::NoLocalCapacity => "no_local_capacity",
            Reason::Capability => "capability",
            Reason::Shadow => "shadow",
            Reason::Rejected(code) => code.as_str(),
        }
    }
}

/// The routing decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The class the agent asked for.
    pub declared: DeclaredClass,
    /// The class the request is routed as.
    pub class: TaskClass,
    /// The class's local model (pinned or from policy), whether or not the plan uses it.
    pub local_model: Arc<str>,
    /// Why it is sensitive, when it is.
    pub sensitivity: Option<Sensitivity>,
    /// The plan or the rejection.
    pub outcome: Outcome,
    /// Why the first target (or the rejection).
    pub reason: Reason,
    /// Policy version in force.
    pub policy_version: i64,
    /// The request's token estimate.
    pub est_tokens: u64,
}

impl Decision {
    /// Whether the sensitive rule applied.
    pub fn is_sensitive(&self) -> bool {
        self.sensitivity.is_some()
    }

    /// The targets to try in order; empty when rejected.
    pub fn plan(&self) -> &[PlanStep] {
        match &self.outcome {
            Outcome::Plan(steps) => steps,
            Outcome::Rejected(_) => &[],
        }
    }

    /// The rejection, if the request is refused.
    pub fn rejection(&self) -> Option<&Rejection> {
        match &self.outcome {
            Outcome::Plan(_) => None,
            Outcome::Rejected(r) => Some(r),
        }
    }

    /// The endpoint of the first target, or `Rejected`.
    pub fn endpoint(&self) -> Endpoint {
        self.plan().first().map_or(Endpoint::Rejected, |s| s.target.endpoint())
    }

    /// The `X-Farmhand-Decision` value, e.g. `class=reasoning;endpoint=frontier;reason=policy;v=12`
    /// (sensitive requests add `;sensitive=<reason>`).
    pub fn header_value(&self) -> String {
        let mut value = String::with_capacity(96);
        for (key, part) in [
            ("class=", self.class.as_str()),
            (";endpoint=", self.endpoint().as_str()),
            (";reason=", self.reason.as_str()),
        ] {
            value.push_str(key);
            value.push_str(part);
        }
        let _ = write!(value, ";v={}", self.policy_version);
        if let Some(s) = self.sensitivity {
            value.push_str(";sensitive=");
            value.push_str(s.as_str());
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(node: &str, model: &str) -> Target {
        Target::Local {
            node: node.into(),
            model: model.into(),
        }
    }

    #[test]
    fn route_labels_name_endpoint_place_and_model() {
        assert_eq!(
            local("mini-03", "llama3.1:8b").route_label(),
            "local/mini-03/llama3.1:8b"
        );
        let frontier = Target::Frontier {
            provider: "anthropic".into(),
            model: "claude-sonnet-4-6".into(),
        };
        assert_eq!(frontier.route_label(), "frontier/anthropic/claude-sonnet-4-6");
        assert_eq!(
            (frontier.endpoint(), frontier.model()),
            (Endpoint::Frontier, "claude-sonnet-4-6")
        );
    }

    #[test]
    fn header_value_says_class_endpoint_reason_and_version() {
        let decision = Decision {
            declared: DeclaredClass::Reasoning,
            class: TaskClass::Reasoning,
            local_model: "qwen3:32b".into(),
            sensitivity: None,
            outcome: Outcome::Plan(vec![PlanStep {
                target: Target::Frontier {
                    provider: "anthropic".into(),
                    model: "claude-sonnet-4-6".into(),
                },
                fallback: Fallback::None,
            }]),
            reason: Reason::Policy,
            policy_version: 12,
            est_tokens: 10,
        };
        assert_eq!(
            decision.header_value(),
            "class=reasoning;endpoint=frontier;reason=policy;v=12"
        );

        let rejected = Decision {
            class: TaskClass::Sensitive,
            sensitivity: Some(Sensitivity::Detector(Detector::ApiKey)),
            outcome: Outcome::Rejected(Rejection {
                status: 503,
                retry_after_secs: Some(5),
                code: RejectCode::NoLocalCapacity,
            }),
            reason: Reason::Rejected(RejectCode::NoLocalCapacity),
            ..decision
        };
        assert_eq!(
            rejected.header_value(),
            "class=sensitive;endpoint=rejected;reason=no_local_capacity;v=12;sensitive=detector:api_key"
        );
        assert!(rejected.plan().is_empty() && rejected.is_sensitive());
        assert_eq!(rejected.rejection().map(|r| r.code), Some(RejectCode::NoLocalCapacity));
    }
}
