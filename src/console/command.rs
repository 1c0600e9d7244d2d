//! What the console asks its action runner to do, and what the runner reports back.

use crate::actions::{BatchAction, DrainStatus, PullOutcome};
use crate::fleet::PullProgress;

/// An operator action requested from the console (always after its confirmation).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Drain a node and follow it to `drained`, then unload its models when asked.
    Drain {
        /// The node.
        node: String,
        /// Unload its models once drained.
        unload: bool,
    },
    /// Put a node back to work.
    Undrain {
        /// The node.
        node: String,
    },
    /// Pull a model onto a node.
    Pull {
        /// The node.
        node: String,
        /// The model.
        model: String,
    },
    /// Cancel a node's running pull.
    CancelPull {
        /// The node.
        node: String,
    },
    /// Set a policy override.
    SetOverride {
        /// Override key.
        key: String,
        /// New value.
        value: String,
    },
    /// Clear a policy override.
    ClearOverride {
        /// Override key.
        key: String,
    },
    /// Pause, resume, cancel or retry a batch.
    Batch {
        /// The batch.
        id: String,
        /// What to do to it.
        action: BatchAction,
    },
}

/// Progress or the end of an action, from the runner.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionEvent {
    /// One line for the status bar: an action's result or why it was refused.
    Notice {
        /// The text.
        text: String,
        /// False for refusals and failures.
        ok: bool,
    },
    /// Where a drain stands.
    Drain(DrainStatus),
    /// A drain stopped waiting short of `drained`; what to do about it.
    DrainStuck {
        /// The node.
        node: String,
        /// What happened and what to do.
        message: String,
    },
    /// A pull started.
    PullStarted {
        /// The node.
        node: String,
        /// The model.
        model: String,
    },
    /// Progress of a node's pull.
    PullProgress {
        /// The node.
        node: String,
        /// Overall fraction done so far, when known.
        fraction: Option<f64>,
        /// Ollama's latest status.
        progress: PullProgress,
    },
    /// A node's pull ended.
    PullEnded {
        /// The node.
        node: String,
        /// How.
        outcome: PullOutcome,
    },
}
