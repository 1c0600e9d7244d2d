//! Exact wire formats farmhand speaks and serves: Ollama, OpenAI, Anthropic, the node agent
//! and a router's status.
//!
//! Inputs are lenient (defaults for missing fields, unknown fields ignored or kept for
//! forwarding); outputs serialise exactly what the real services send.

mod agent_metrics;
pub mod anthropic;
pub mod macmon;
pub mod ndjson;
pub mod ollama;
pub mod openai;
mod router_status;
pub mod sse;

pub use agent_metrics::{AgentMetrics, OllamaProcess, PowerReading, PressureReading};
pub use ndjson::NdjsonSplitter;
pub use router_status::{ROUTER_STATUS_PATH, RouterStatus};
pub use sse::{SseEvent, SseParser};
