//! The router's pure decision core: request features, content detectors, the `auto`
//! classifier, live overrides, the fleet view and [`select`]. No I/O happens here; the
//! gateway (HTTP, upstream calls, decision records) builds on it.
//!
//! Flow: parsed request → [`RequestFeatures::from_request`] (classifier + detectors) →
//! [`select`] with the [`Policy`], [`Overrides`], [`FleetView`] and [`SpendState`] → a
//! [`Decision`] whose plan the gateway walks.

pub mod classify;
pub mod detect;
mod features;
mod policy;

pub use classify::classify;
pub use detect::{Detector, DetectorSet};
pub use features::{RequestFeatures, RequestInput, is_restricted};
pub use policy::{
    ClassModels, ClassTarget, Decision, FleetView, FrontierRoute, FrontierRoutes, NodeView, OVERRIDE_KEYS, Outcome,
    OverrideError, Overrides, PlanStep, Policy, Reason, RejectCode, Rejection, Sensitivity, SpendState, Target,
    same_model, select, validate_override,
};
