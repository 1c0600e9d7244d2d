//! farmhand: the console and router of a self-hosted LLM farm.
//!
//! Module map (data flows down this list, never up):
//! - [`domain`]: the farm's vocabulary (task classes, endpoints, decisions, node states).
//! - [`config`]: `fleet.toml`, with embedded defaults and key-naming errors.
//! - [`wire`]: exact wire formats (Ollama, OpenAI, Anthropic, agent metrics), shared by simulators, pollers and the gateway.
//! - [`store`]: the one `Store` over PostgreSQL and SQLite (decisions, spend, nodes, policy, audit, pulls).
//! - [`recorder`]: decisions to the store in batches off the request path; buffer, journal, replay.
//! - [`sim`]: a faithful simulated farm (Ollama nodes, node agents, frontier APIs, faults).
//! - [`agent`]: the per-node metrics endpoint.
//! - [`bearer`] and [`net`]: constant-time bearer checks and listeners with clear errors.
//! - [`cli`] and [`logging`]: the binary's command line and log setup.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod agent;
pub mod bearer;
pub mod cli;
pub mod config;
pub mod domain;
pub mod logging;
pub mod net;
pub mod recorder;
pub mod wire;
pub mod sim;
pub mod store;
