//! Fleet telemetry: what each node has installed and loaded, and its machine metrics.
//!
//! One task per node polls Ollama's `/api/ps` and `/api/tags` and the agent's `/v1/metrics`, each
//! on its own cadence with a short timeout, so a dead node never delays the others. The latest
//! view of the whole fleet is published on a `watch` channel that the router and console read.

mod health;
mod poller;
mod progress;
mod snapshot;
pub mod ssh;

pub use health::Health;
pub use poller::{Cadence, FleetPoller};
pub use progress::{PullEvent, PullProgress, PullTally};
pub use snapshot::{FleetSnapshot, InstalledModel, LoadedModel, NodeSnapshot};
