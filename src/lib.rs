//! farmhand: the console and router of a self-hosted LLM farm.
//!
//! Module map (data flows down this list, never up):
//! - [`domain`]: the farm's vocabulary (task classes, endpoints, decisions, node states).
//! - [`config`]: `fleet.toml`, with embedded defaults and key-naming errors.
//! - [`wire`]: exact wire formats (Ollama, OpenAI, Anthropic, agent metrics), shared by simulators, pollers and the gateway.
//! - [`control`]: operators' node states and overrides, mirrored live from the store.
//! - [`presence`]: each router's in-flight work per node, reported so drains know when they are done.
//! - [`fleet`]: per-node telemetry pollers publishing the live fleet view.
//! - [`router`]: the router's pure decision core (request features, detectors, overrides, placement, `select`).
//! - [`quality`]: answer quality measured in flight (finish, emptiness, JSON validity) and its hourly rollup.
//! - [`gateway`]: the router's HTTP side: OpenAI-compatible API, upstream calls, decision records.
//! - [`jobs`]: batch jobs: sealed payloads, input files, OpenAI's File and Batch objects, workers.
//! - [`store`]: the one `Store` over PostgreSQL and SQLite (decisions, spend, nodes, policy, audit, pulls).
//! - [`recorder`]: decisions to the store in batches off the request path; buffer, journal, replay.
//! - [`sim`]: a faithful simulated farm (Ollama nodes, node agents, frontier APIs, faults).
//! - [`agent`]: the per-node metrics endpoint.
//! - [`console`]: the live TUI over fleet telemetry, the decision stream, spend and policy.
//! - [`demo`]: the whole farm in one process with synthetic agents, headless or under the console.
//! - [`actions`]: the operator's actions (drain, undrain, pull, overrides), audited, refused when read-only.
//! - [`ops`]: scriptable operator commands and reports (`node`, `fleet`, `policy`, `decisions`, `spend`).
//! - [`bearer`] and [`net`]: constant-time bearer checks and listeners with clear errors.
//! - [`cli`] and [`logging`]: the binary's command line and log setup.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod actions;
pub mod agent;
pub mod bearer;
pub mod cli;
pub mod config;
pub mod console;
pub mod control;
pub mod demo;
pub mod domain;
pub mod fleet;
pub mod gateway;
pub mod jobs;
pub mod logging;
pub mod net;
pub mod ops;
pub mod presence;
pub mod quality;
pub mod recorder;
pub mod router;
pub mod secrets;
pub mod sim;
pub mod store;
pub mod wire;
