//! `[models.capabilities]`: what each local model can do, as `ollama show` lists it, with
//! embedded defaults for the common library models. A file's entries are merged over the
//! defaults, one model (or family) at a time.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::domain::Capability;

/// Capability lists by model name (`qwen3:8b`) or family (`qwen3`: every tag).
pub type CapabilityTable = BTreeMap<String, Vec<Capability>>;

/// The embedded capabilities of the library models farms commonly run (Ollama's own lists).
pub(super) fn defaults() -> CapabilityTable {
    use Capability::{Completion, Embedding, Thinking, Tools, Vision};
    let table: &[(&str, &[Capability])] = &[
        ("deepseek-r1", &[Completion, Thinking]),
        ("gemma3", &[Completion, Vision]),
        ("gpt-oss", &[Completion, Tools, Thinking]),
        ("llama3.1", &[Completion, Tools]),
        ("llama3.2", &[Completion, Tools]),
        ("llama3.2-vision", &[Completion, Vision]),
        ("llama3.3", &[Completion, Tools]),
        ("llava", &[Completion, Vision]),
        ("mistral", &[Completion, Tools]),
        ("mistral-nemo", &[Completion, Tools]),
        ("mistral-small3.2", &[Completion, Tools, Vision]),
        ("nomic-embed-text", &[Embedding]),
        ("phi4", &[Completion]),
        ("qwen2.5", &[Completion, Tools]),
        ("qwen2.5-coder", &[Completion, Tools]),
        ("qwen2.5vl", &[Completion, Vision]),
        ("qwen3", &[Completion, Tools, Thinking]),
        ("qwen3-vl", &[Completion, Tools, Vision, Thinking]),
    ];
    table
        .iter()
        .map(|(name, capabilities)| (name.to_string(), capabilities.to_vec()))
        .collect()
}

/// Reads a file's `[models.capabilities]` and lays it over the embedded defaults.
pub(super) fn over_defaults<'de, D: Deserializer<'de>>(deserializer: D) -> Result<CapabilityTable, D::Error> {
    let mut table = defaults();
    table.extend(CapabilityTable::deserialize(deserializer)?);
    Ok(table)
}
