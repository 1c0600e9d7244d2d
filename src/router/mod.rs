//! The router's pure decision core: request features, content detectors, the `auto`
//! classifier, live overrides, the fleet view and [`select`]. No I/O happens here; the
//! gateway (HTTP, upstream calls, decision records) builds on it.
//!
//! Flow: parsed request → [`RequestFeatures::from_request`] (classifier, a scan of every string, and
//! what a local model would need: [`LocalFit`]) →
//! [`select`] with the [`Policy`], [`Overrides`], [`FleetView`] and [`SpendState`] → a
//! [`Decision`] whose plan the gateway walks.

pub mod classify;
mod data_class;
pub mod detect;
mod exposure;
mod features;
mod local_fit;
mod policy;
pub mod review;

pub use classify::classify;
pub use data_class::{DataClass, DataClassError, parse_data_class};
pub use detect::{Detector, DetectorSet};
pub use exposure::{Exposure, Unscannable};
pub use features::{RequestFeatures, RequestInput};
pub use local_fit::{LocalFit, OllamaGap, field_needing};
pub(crate) use policy::rank;
pub use policy::{
    AgentLimits, ClassModels, ClassTarget, Decision, FleetView, FrontierRoute, FrontierRoutes, LimitKind, LocalMiss,
    ModelBits, ModelCapabilities, ModelCatalog, ModelName, ModelNames, NameOrder, NodeModels, NodeView, OVERRIDE_KEYS,
    Outcome, OverrideError, Overrides, PlanStep, Policy, Reason, RejectCode, Rejection, Sensitivity, SpendState,
    Target, same_model, select, validate_override, validate_override_for,
};
