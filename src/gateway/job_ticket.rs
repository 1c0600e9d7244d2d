//! What a batch job's attempt may use, and what it tells its worker while it runs.

use tokio::sync::mpsc::UnboundedSender;

use crate::domain::{DecisionRecord, Fallback};
use crate::router::{PlanStep, Target};

/// A batch job's pass through the gateway: only nodes with a batch slot free, and the frontier
/// only where policy sends the class there first (a job waits for the farm rather than spill to
/// the frontier because the farm is busy).
#[derive(Debug, Clone)]
pub struct JobTicket {
    /// The job.
    pub job_id: i64,
    /// Nodes with a slot batch work may take now.
    pub nodes: Vec<String>,
    /// Where the attempt's progress goes.
    pub events: UnboundedSender<JobEvent>,
}

/// What a job's attempt reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// The attempt is being served by this target (a node name, or `provider/model`).
    Serving(String),
    /// The attempt's routing decision, as recorded (no text in it).
    Recorded(Box<DecisionRecord>),
}

impl JobTicket {
    /// Whether the job may use `step`.
    pub fn allows(&self, step: &PlanStep) -> bool {
        match &step.target {
            Target::Local { node, .. } => self.nodes.iter().any(|n| **n == **node),
            Target::Frontier { .. } => step.fallback == Fallback::None,
        }
    }

    /// Tells the worker; a worker that stopped listening misses nothing it needs.
    pub fn tell(&self, event: JobEvent) {
        let _ = self.events.send(event);
    }
}
