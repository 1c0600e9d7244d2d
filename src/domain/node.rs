//! Operator-controlled node state.

use super::wire_enum;

/// Whether the router may place new work on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DrainState {
    /// Takes new work.
    #[default]
    Active,
    /// Takes no new work; in-flight requests are finishing.
    Draining,
    /// Takes no work and has none in flight.
    Drained,
}

wire_enum!(DrainState, "node state", {
    Active => "active",
    Draining => "draining",
    Drained => "drained",
});
