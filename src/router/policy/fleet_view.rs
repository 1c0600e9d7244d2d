//! The fleet as placement sees it: plain per-node data, built elsewhere from telemetry and
//! the store's node states, with every model name held once for the whole fleet.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::Health;

/// A model name as a node reports it. Inside a [`FleetView`] every node's copy of a model is the
/// fleet's one copy (see [`ModelCatalog`]), numbered, so placement tests a bit or an address, not
/// a string.
#[derive(Debug, Clone)]
pub struct ModelName {
    text: Arc<str>,
    /// The name's number in its catalog; [`UNNUMBERED`] outside one.
    slot: u32,
}

/// The slot of a name that belongs to no catalog.
const UNNUMBERED: u32 = u32::MAX;

impl ModelName {
    /// Whether `self` and `other` are the same copy: the same model within one [`FleetView`].
    fn is(&self, other: &ModelName) -> bool {
        Arc::ptr_eq(&self.text, &other.text)
    }

    /// The name's bit in a node's [`ModelBits`], for the first 64 models of a catalog.
    fn bit(&self) -> Option<u64> {
        (self.slot < u64::BITS).then(|| 1 << self.slot)
    }
}

impl PartialEq for ModelName {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for ModelName {}

impl Deref for ModelName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl From<&str> for ModelName {
    fn from(name: &str) -> Self {
        ModelName {
            text: name.into(),
            slot: UNNUMBERED,
        }
    }
}

impl From<String> for ModelName {
    fn from(name: String) -> Self {
        ModelName::from(name.as_str())
    }
}

/// A node's model names, shared between decisions until telemetry changes them.
pub type ModelNames = Arc<[ModelName]>;

/// The fleet's model names, one copy each under its canonical spelling (`mistral` for
/// `mistral:latest`), numbered in the order first seen. Built when telemetry changes a node's
/// models, not per decision.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ModelCatalog {
    names: HashMap<Arc<str>, u32>,
}

impl ModelCatalog {
    /// The fleet's copy of `name`, added when new.
    pub fn intern(&mut self, name: &str) -> ModelName {
        if let Some(known) = self.find(name) {
            return known;
        }
        let text: Arc<str> = canonical_model(name).into();
        let slot = u32::try_from(self.names.len()).unwrap_or(UNNUMBERED - 1);
        self.names.insert(text.clone(), slot);
        ModelName { text, slot }
    }

    /// Every name of `names` as the fleet's copy.
    pub fn intern_all<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) -> ModelNames {
        names.into_iter().map(|name| self.intern(name)).collect()
    }

    /// A node's installed and loaded models as the fleet's copies, and the bits placement tests.
    pub fn intern_node<'n>(
        &mut self,
        installed: impl IntoIterator<Item = &'n str>,
        loaded: impl IntoIterator<Item = &'n str>,
    ) -> NodeModels {
        let installed = self.intern_all(installed);
        let loaded = self.intern_all(loaded);
        NodeModels {
            bits: ModelBits::of(&installed, &loaded),
            installed,
            loaded,
        }
    }

    /// The fleet's copy of `name`, if any node has it.
    fn find(&self, name: &str) -> Option<ModelName> {
        self.names
            .get_key_value(canonical_model(name))
            .map(|(text, slot)| ModelName {
                text: text.clone(),
                slot: *slot,
            })
    }
}

/// A node's models as bits of its fleet's catalog (the first 64 models; placement searches the
/// lists for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelBits {
    installed: u64,
    loaded: u64,
}

impl ModelBits {
    /// The bits of a node's catalogued lists.
    pub fn of(installed: &[ModelName], loaded: &[ModelName]) -> Self {
        let bits = |names: &[ModelName]| names.iter().filter_map(ModelName::bit).fold(0, |all, bit| all | bit);
        ModelBits {
            installed: bits(installed),
            loaded: bits(loaded),
        }
    }
}

/// One node at the moment of the decision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeView {
    /// The node's name, e.g. `mini-03`.
    pub name: Arc<str>,
    /// Telemetry health; degraded nodes are used only when no node is up, down nodes never.
    pub health: Health,
    /// Operator drain state.
    pub drain: DrainState,
    /// Models present on disk (`/api/tags`).
    pub installed: ModelNames,
    /// Models loaded in memory (`/api/ps`).
    pub loaded: ModelNames,
    /// Requests the router has in flight on the node.
    pub in_flight: u32,
    /// Requests the node serves at once (`OLLAMA_NUM_PARALLEL`); 0 is read as 1.
    pub parallel: u32,
    /// Free unified memory, in bytes.
    pub free_memory_bytes: u64,
    /// Memory pressure as the node reports it (`normal` when it reports none).
    pub pressure: MemoryPressure,
    /// The node's place among the fleet's names in sorted order (equal names share one), so
    /// placement breaks ties without comparing strings; set by [`FleetView`].
    pub name_order: u32,
    /// The node's models as bits of the fleet's catalog; set by [`FleetView`].
    pub model_bits: ModelBits,
}

impl NodeView {
    /// Whether `model` is on the node's disk.
    pub fn has_installed(&self, model: &str) -> bool {
        self.installed.iter().any(|m| same_model(m, model))
    }

    /// Whether `model` is loaded (no cold start).
    pub fn has_loaded(&self, model: &str) -> bool {
        self.loaded.iter().any(|m| same_model(m, model))
    }

    /// Whether the fleet's `model` is on the node's disk (a bit, or compared by address).
    pub(crate) fn holds(&self, model: &ModelName) -> bool {
        match model.bit() {
            Some(bit) => self.model_bits.installed & bit != 0,
            None => self.installed.iter().any(|m| m.is(model)),
        }
    }

    /// Whether the fleet's `model` is loaded on the node (a bit, or compared by address).
    pub(crate) fn runs(&self, model: &ModelName) -> bool {
        match model.bit() {
            Some(bit) => self.model_bits.loaded & bit != 0,
            None => self.loaded.iter().any(|m| m.is(model)),
        }
    }
}

/// Every node of the farm at the moment of the decision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetView {
    /// The nodes, in any order.
    pub nodes: Vec<NodeView>,
    /// The model names the nodes' lists point into.
    catalog: Arc<ModelCatalog>,
    /// Whether no name is listed twice (telemetry can list a node twice).
    unique_names: bool,
}

/// One node's models as interned by [`ModelCatalog::intern_node`].
#[derive(Debug, Clone)]
pub struct NodeModels {
    /// Installed models.
    pub installed: ModelNames,
    /// Models loaded in memory.
    pub loaded: ModelNames,
    /// Both lists as catalog bits.
    pub bits: ModelBits,
}

impl FleetView {
    /// A view of `nodes`, their model names gathered into one catalog.
    pub fn new(mut nodes: Vec<NodeView>) -> Self {
        let mut catalog = ModelCatalog::default();
        for node in &mut nodes {
            let models = catalog.intern_node(node.installed.iter().map(|m| &**m), node.loaded.iter().map(|m| &**m));
            (node.installed, node.loaded, node.model_bits) = (models.installed, models.loaded, models.bits);
        }
        let names = NameOrder::of(nodes.iter().map(|n| &*n.name));
        for (node, order) in nodes.iter_mut().zip(&names.orders) {
            node.name_order = *order;
        }
        FleetView {
            nodes,
            catalog: Arc::new(catalog),
            unique_names: names.unique,
        }
    }

    /// A view of `nodes` whose model lists were all interned into `catalog` (with their
    /// `model_bits`) and whose `name_order` was set from `names`.
    pub(crate) fn interned(nodes: Vec<NodeView>, catalog: Arc<ModelCatalog>, names: &NameOrder) -> Self {
        FleetView {
            nodes,
            catalog,
            unique_names: names.unique,
        }
    }

    /// Whether no node name is listed twice.
    pub(crate) fn unique_names(&self) -> bool {
        self.unique_names
    }

    /// The fleet's copy of `model`, if any node has it installed or loaded.
    pub(crate) fn model(&self, model: &str) -> Option<ModelName> {
        self.catalog.find(model)
    }
}

/// Where each of a list of node names falls in sorted order, and whether any is listed twice.
#[derive(Debug, Default)]
pub struct NameOrder {
    /// The place of each name, in the list's order; equal names share one.
    pub orders: Vec<u32>,
    /// Whether no name is listed twice.
    pub unique: bool,
}

impl NameOrder {
    /// The order of `names`.
    pub fn of<'n>(names: impl ExactSizeIterator<Item = &'n str>) -> Self {
        let mut sorted: Vec<(&str, usize)> = names.enumerate().map(|(i, name)| (name, i)).collect();
        sorted.sort_unstable();
        let mut orders = vec![0; sorted.len()];
        let mut unique = true;
        let mut place = 0;
        for (k, (name, i)) in sorted.iter().enumerate() {
            if k > 0 {
                if sorted[k - 1].0 == *name {
                    unique = false;
                } else {
                    place += 1;
                }
            }
            orders[*i] = place;
        }
        NameOrder { orders, unique }
    }
}

/// `name` without Ollama's default `:latest` tag.
fn canonical_model(name: &str) -> &str {
    name.strip_suffix(":latest").unwrap_or(name)
}

/// Whether two Ollama model names mean the same model (`mistral` is `mistral:latest`).
pub fn same_model(a: &str, b: &str) -> bool {
    const LATEST: &str = ":latest";
    // Lengths first: most names differ in length.
    if a.len() == b.len() {
        return a == b;
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    long.len() == short.len() + LATEST.len() && long.ends_with(LATEST) && long.starts_with(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_names_mean_latest() {
        assert!(same_model("mistral", "mistral:latest") && same_model("mistral:latest", "mistral"));
        assert!(same_model("qwen3:14b", "qwen3:14b"));
        assert!(!same_model("qwen3:14b", "qwen3:32b") && !same_model("qwen3", "qwen3:14b"));
        assert!(!same_model("mistral", "mistra:latest") && !same_model("mistral:latest", "mistral:lates"));
        assert!(!same_model("mistralxlatest", "mistral") && same_model("", ":latest"));
    }

    #[test]
    fn nodes_answer_for_installed_and_loaded_models() {
        let node = NodeView {
            installed: ["llama3.1:8b".into(), "mistral:latest".into()].into(),
            loaded: ["mistral:latest".into()].into(),
            ..NodeView::default()
        };
        assert!(node.has_installed("mistral") && node.has_loaded("mistral") && node.has_installed("llama3.1:8b"));
        assert!(!node.has_loaded("llama3.1:8b") && !node.has_installed("qwen3:14b"));
    }

    #[test]
    fn a_fleet_holds_one_copy_of_each_model_whatever_its_spelling() {
        let node = |name: &str, installed: &[&str]| NodeView {
            name: name.into(),
            installed: installed.iter().map(|m| ModelName::from(*m)).collect(),
            ..NodeView::default()
        };
        let fleet = FleetView::new(vec![
            node("mini-01", &["mistral:latest", "qwen3:14b"]),
            node("mini-02", &["mistral", "qwen3:32b"]),
        ]);
        let mistral = fleet.model("mistral:latest").expect("installed");
        assert!(fleet.nodes.iter().all(|n| n.holds(&mistral)));
        let qwen = fleet.model("qwen3:14b").expect("installed");
        assert!(fleet.nodes[0].holds(&qwen) && !fleet.nodes[1].holds(&qwen));
        assert!(
            !fleet.nodes[0].holds(&ModelName::from("qwen3:14b")),
            "a copy from outside is not the fleet's"
        );
        assert!(fleet.model("llama3.1:8b").is_none());
    }

    #[test]
    fn names_are_ordered_once_and_twins_are_noticed() {
        let order = NameOrder::of(["mini-10", "mini-02", "mini-100", "mini-02"].into_iter());
        assert_eq!(order.orders, [1, 0, 2, 0]);
        assert!(!order.unique);
        let order = NameOrder::of(["b", "a"].into_iter());
        assert_eq!(order.orders, [1, 0]);
        assert!(order.unique);
        let fleet = FleetView::new(vec![
            NodeView {
                name: "mini-02".into(),
                ..NodeView::default()
            },
            NodeView {
                name: "mini-01".into(),
                ..NodeView::default()
            },
        ]);
        assert_eq!(fleet.nodes.iter().map(|n| n.name_order).collect::<Vec<_>>(), [1, 0]);
        assert!(fleet.unique_names());
    }

    #[test]
    fn models_past_the_first_64_are_found_in_the_lists() {
        let models: Vec<String> = (0..70).map(|i| format!("model-{i}:7b")).collect();
        let fleet = FleetView::new(vec![
            NodeView {
                name: "mini-01".into(),
                installed: models.iter().map(|m| ModelName::from(m.as_str())).collect(),
                loaded: [ModelName::from("model-69:7b"), ModelName::from("model-3:7b")].into(),
                ..NodeView::default()
            },
            NodeView {
                name: "mini-02".into(),
                installed: [ModelName::from("model-68:7b")].into(),
                ..NodeView::default()
            },
        ]);
        let (early, late, later) = (
            fleet.model("model-3:7b").expect("early"),
            fleet.model("model-69:7b").expect("late"),
            fleet.model("model-68:7b").expect("later"),
        );
        assert!(early.bit().is_some() && late.bit().is_none());
        let (first, second) = (&fleet.nodes[0], &fleet.nodes[1]);
        assert!(first.holds(&early) && first.runs(&early) && first.holds(&late) && first.runs(&late));
        assert!(first.holds(&later) && !first.runs(&later));
        assert!(second.holds(&later) && !second.holds(&late) && !second.holds(&early));
    }
}
