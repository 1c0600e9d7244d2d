//! What each local model can do, as placement sees it: `[models.capabilities]` looked up by model
//! name, then by family. A model the table does not know only completes text, so a request that
//! needs more is never placed on it (fail closed).

use crate::config::CapabilityTable;
use crate::domain::{Capabilities, Capability};

use super::fleet_view::same_model;

/// Capabilities per model name or family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCapabilities {
    entries: Vec<(Box<str>, Capabilities)>,
}

impl ModelCapabilities {
    /// The table of a fleet configuration.
    pub fn from_table(table: &CapabilityTable) -> ModelCapabilities {
        ModelCapabilities {
            entries: table
                .iter()
                .map(|(name, list)| (name.as_str().into(), list.iter().copied().collect()))
                .collect(),
        }
    }

    /// What `model` can do: its own entry (`qwen3:8b`, `mistral` for `mistral:latest`), else its
    /// family's (`qwen3`), else text completion only.
    pub fn of(&self, model: &str) -> Capabilities {
        let family = model.split_once(':').map_or(model, |(family, _)| family);
        self.entries
            .iter()
            .find(|(name, _)| same_model(name, model))
            .or_else(|| self.entries.iter().find(|(name, _)| **name == *family))
            .map_or(Capabilities::NONE.with(Capability::Completion), |(_, caps)| *caps)
    }
}

impl Default for ModelCapabilities {
    fn default() -> Self {
        ModelCapabilities::from_table(&crate::config::LocalModels::default().capabilities)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Capability::{Completion, Thinking, Tools, Vision};

    #[test]
    fn names_win_over_families_and_unknown_models_only_complete() {
        let mut table = CapabilityTable::new();
        table.insert("qwen3".into(), vec![Completion, Tools, Thinking]);
        table.insert("qwen3:0.6b".into(), vec![Completion]);
        table.insert("mistral".into(), vec![Completion, Tools]);
        table.insert("llava:13b".into(), vec![Completion, Vision]);
        let caps = ModelCapabilities::from_table(&table);
        let set = |list: &[Capability]| list.iter().copied().collect::<Capabilities>();
        assert_eq!(caps.of("qwen3:32b"), set(&[Completion, Tools, Thinking]));
        assert_eq!(caps.of("qwen3:0.6b"), set(&[Completion]));
        assert_eq!(caps.of("mistral:latest"), set(&[Completion, Tools]));
        assert_eq!(caps.of("mistral:7b"), set(&[Completion, Tools]));
        assert_eq!(caps.of("llava:13b"), set(&[Completion, Vision]));
        assert_eq!(
            caps.of("llava:7b"),
            set(&[Completion]),
            "another tag of a model listed by tag"
        );
        assert_eq!(caps.of("my-finetune:1b"), set(&[Completion]));
    }
}
