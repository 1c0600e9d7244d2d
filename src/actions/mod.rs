//! The operator's actions — drain, undrain, unload, pull, overrides, batch jobs — shared by the
//! console and the CLI.
//!
//! Every action first checks the [`Access`] it was built with (a read-only operator can do none
//! of them, whatever its caller asks), then does its work and leaves exactly one audit row saying
//! who did what and how it ended. A refusal says why in one line.

mod batches;
mod drain;
mod overrides;
mod pull;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use batches::{BatchAction, BatchChange, not_applicable, status_word};
pub use drain::{DRAIN_TIMEOUT, DrainStatus, drain_status};
pub use pull::{PullHandle, PullOutcome};

use crate::config::{FleetConfig, Node, SshConfig};
use crate::store::{Store, StoreError};

/// Whether an operator may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reports only; every action is refused.
    ReadOnly,
    /// Actions allowed (and audited).
    ReadWrite,
}

/// Why an action did not happen, or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The operator is read-only.
    #[error("read-only: `{0}` changes the farm and this session is read-only")]
    ReadOnly(&'static str),
    /// The node is not in the fleet config.
    #[error("unknown node `{0}`: it is not in fleet.toml's [[nodes]]")]
    UnknownNode(String),
    /// No batch has that id.
    #[error("unknown batch `{0}` (`farmhand jobs list` shows the batches)")]
    UnknownBatch(String),
    /// The action makes no sense now, or would break a rule; the text says why.
    #[error("refused: {0}")]
    Refused(String),
    /// The action started but did not reach its end state in time; the text says what to do.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// The action failed; the text says where.
    #[error("{0}")]
    Failed(String),
    /// The store could not record or read it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An operator: who acts, on which farm, with which access.
#[derive(Debug, Clone)]
pub struct Operator {
    store: Store,
    nodes: Arc<HashMap<String, Node>>,
    ssh: Arc<SshConfig>,
    actor: String,
    access: Access,
    client: reqwest::Client,
    pulls: Arc<Mutex<HashSet<String>>>,
    /// The `[[agents]]` names, which `agent.<name>.…` overrides must use.
    agents: Arc<Vec<String>>,
}

impl Operator {
    /// An operator over `config`'s nodes, recording to `store` as `actor`.
    pub fn new(config: &FleetConfig, store: Store, actor: String, access: Access) -> Self {
        let client = crate::net::http_client()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        Operator {
            store,
            nodes: Arc::new(
                config
                    .resolved_nodes()
                    .into_iter()
                    .map(|n| (n.name.clone(), n))
                    .collect(),
            ),
            ssh: Arc::new(config.ssh.clone()),
            actor,
            access,
            client,
            pulls: Arc::default(),
            agents: Arc::new(config.agents.iter().map(|a| a.name.clone()).collect()),
        }
    }

    /// The identity written to audit rows.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Whether this operator may act.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The store actions are recorded in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Refuses when read-only.
    fn require_write(&self, action: &'static str) -> Result<(), ActionError> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(ActionError::ReadOnly(action)),
        }
    }

    /// The node called `name`.
    fn node(&self, name: &str) -> Result<&Node, ActionError> {
        self.nodes
            .get(name)
            .ok_or_else(|| ActionError::UnknownNode(name.chars().take(64).collect()))
    }

    /// Every configured node's name, sorted.
    pub fn node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.nodes.keys().cloned().collect();
        names.sort();
        names
    }
}
