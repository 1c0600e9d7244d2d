//! The farm's vocabulary, shared by every role: task classes, endpoints, decisions, node states,
//! model capabilities.
//!
//! Everything here is plain data with string forms that match the store schema and the wire.

mod attempt;
mod burn;
mod capability;
mod class;
mod count;
mod decision;
mod model_name;
mod node;
mod quality;

pub use attempt::{Attempt, AttemptOutcome};
pub use burn::{Burn, RunsOut};
pub use capability::{Capabilities, Capability};
pub use class::{DeclaredClass, TaskClass};
pub use count::grouped;
pub use decision::{DecisionRecord, Endpoint, Fallback, StoredDecision};
pub use model_name::{MAX_MODEL_NAME, valid_model_name};
pub use node::{DrainState, MemoryPressure};
pub use quality::{AnswerQuality, FinishReason, SHADOW_AGENT_PREFIX, is_shadow_agent};

/// Error for a string that does not name a known variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}` (expected one of: {expected})")]
pub struct UnknownVariant {
    /// What was being parsed, e.g. "task class".
    pub kind: &'static str,
    /// The offending input.
    pub value: String,
    /// The accepted spellings, comma separated.
    pub expected: &'static str,
}

/// Implements `as_str`, `Display`, `FromStr` and serde as the lowercase wire names.
macro_rules! wire_enum {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The name used on the wire and in the store.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::domain::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    _ => Err($crate::domain::UnknownVariant {
                        kind: $kind,
                        value: s.chars().take(64).collect(),
                        expected: concat!($($name, " "),+),
                    }),
                }
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use wire_enum;
