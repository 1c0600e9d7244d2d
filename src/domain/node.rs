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

/// How hard a node's operating system is working to find memory: macOS's memory-pressure level,
/// or on Linux a level read from PSI (`/proc/pressure/memory`). Ordered from calm to critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum MemoryPressure {
    /// Memory is available without compressing or swapping much.
    #[default]
    Normal,
    /// The system compresses and swaps to keep up; a cold model load makes it worse.
    Warn,
    /// The system is short of memory: another model load would swap models out.
    Critical,
}

wire_enum!(MemoryPressure, "memory pressure", {
    Normal => "normal",
    Warn => "warn",
    Critical => "critical",
});
