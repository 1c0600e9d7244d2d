//! Exact wire formats farmhand speaks and serves: Ollama, OpenAI, Anthropic and the node agent.
//!
//! Inputs are lenient (defaults for missing fields, unknown fields ignored or kept for
//! forwarding); outputs serialise exactly what the real services send.

mod agent_metrics;
pub mod anthropic;
pub mod ndjson;
pub mod ollama;
pub mod openai;
pub mod sse;

pub use agent_metrics::{AgentMetrics, OllamaProcess};
pub use ndjson::NdjsonSplitter;
pub use sse::{SseEvent, SseParser};
