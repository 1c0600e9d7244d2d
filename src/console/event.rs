//! The one event type the console loop handles: input, data from the source tasks, and time.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;

use super::command::ActionEvent;
use super::state::{RouterHold, SpendWindows, StoreStatus};
use crate::control::ControlSnapshot;
use crate::domain::StoredDecision;
use crate::fleet::FleetSnapshot;
use crate::store::AuditRow;

/// Something that may change what the console shows.
#[derive(Debug, Clone)]
pub enum Event {
    /// A key was pressed.
    Key(KeyEvent),
    /// The terminal was resized (the next draw picks the new size up).
    Resize,
    /// A new view of the fleet's telemetry.
    Fleet(FleetSnapshot),
    /// Node states and overrides as last read from the store.
    Control(Arc<ControlSnapshot>),
    /// Decisions newer than any seen so far, oldest first.
    Decisions(Vec<StoredDecision>),
    /// Fresh spend figures.
    Spend(Box<SpendWindows>),
    /// The newest audited operator actions, newest first.
    Audit(Vec<AuditRow>),
    /// Policy suggestions weighed from the last week's evidence.
    Recommendations(Vec<crate::quality::recommend::Recommendation>),
    /// The store connection changed state.
    StoreStatus(StoreStatus),
    /// What every known router holds for the store, as each reported it.
    Routers(Vec<RouterHold>),
    /// Batch jobs as read from the store, or why they could not be read while it answered.
    Jobs(Result<Box<super::jobs::JobsRead>, String>),
    /// Requests in flight per node, from an in-process router (the demo).
    InFlight(Vec<(String, u32)>),
    /// Progress or the end of an operator action.
    Action(ActionEvent),
    /// The clock moved on.
    Tick(DateTime<Utc>),
}
