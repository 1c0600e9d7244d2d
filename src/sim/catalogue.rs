//! The models the simulated farm knows: sizes on disk and in memory, metadata, and which node has which.

use sha2::{Digest, Sha256};

use crate::domain::Capability::{self, Completion, Embedding, Thinking, Tools, Vision};

/// A model of the simulated public library.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueModel {
    /// Normalised name, e.g. `llama3.1:8b`.
    pub name: &'static str,
    /// Architecture and family, e.g. `llama`.
    pub family: &'static str,
    /// Parameter count for display.
    pub parameter_size: &'static str,
    /// Parameter count.
    pub parameter_count: u64,
    /// Quantisation level.
    pub quantization: &'static str,
    /// Size of the weights blob on disk.
    pub disk_bytes: u64,
    /// Memory of the loaded runner at the default context.
    pub loaded_bytes: u64,
    /// The model's maximum context.
    pub max_context: u32,
    /// Capabilities as `/api/show` lists them.
    pub capabilities: &'static [Capability],
}

/// Context size a loaded runner starts with.
pub const RUN_CONTEXT: u32 = 4096;

/// Every model in the simulated library (pullable); the first ones are pre-installed where they fit.
pub const LIBRARY: &[CatalogueModel] = &[
    model(
        "llama3.1:8b",
        "llama",
        "8.0B",
        8_030_261_248,
        4_920_753_328,
        6_200_000_000,
        131_072,
        &[Completion, Tools],
    ),
    model(
        "qwen3:14b",
        "qwen3",
        "14.8B",
        14_768_307_200,
        9_276_198_565,
        10_900_000_000,
        40_960,
        &[Completion, Tools, Thinking],
    ),
    model(
        "qwen3:32b",
        "qwen3",
        "32.8B",
        32_762_123_264,
        20_201_253_588,
        22_600_000_000,
        40_960,
        &[Completion, Tools, Thinking],
    ),
    model(
        "nomic-embed-text:latest",
        "nomic-bert",
        "137M",
        136_727_040,
        274_302_450,
        580_000_000,
        2_048,
        &[Embedding],
    ),
    model(
        "gemma3:4b",
        "gemma3",
        "4.3B",
        4_300_079_472,
        3_338_801_804,
        5_100_000_000,
        131_072,
        &[Completion, Vision],
    ),
    model(
        "qwen3:8b",
        "qwen3",
        "8.2B",
        8_190_735_360,
        5_225_388_164,
        6_650_000_000,
        40_960,
        &[Completion, Tools, Thinking],
    ),
    model(
        "llama3.2:3b",
        "llama",
        "3.2B",
        3_212_749_888,
        2_019_393_189,
        3_400_000_000,
        131_072,
        &[Completion, Tools],
    ),
    model(
        "mistral:7b",
        "llama",
        "7.2B",
        7_248_023_552,
        4_372_824_384,
        5_600_000_000,
        32_768,
        &[Completion, Tools],
    ),
    model(
        "phi4:14b",
        "phi3",
        "14.7B",
        14_659_507_200,
        9_053_116_391,
        10_600_000_000,
        16_384,
        &[Completion],
    ),
    model(
        "deepseek-r1:8b",
        "qwen3",
        "8.2B",
        8_190_735_360,
        5_225_376_768,
        6_650_000_000,
        131_072,
        &[Completion, Thinking],
    ),
    model(
        "qwen3-vl:8b",
        "qwen3vl",
        "8.8B",
        8_767_123_696,
        6_141_324_504,
        7_400_000_000,
        262_144,
        &[Completion, Tools, Vision, Thinking],
    ),
    model(
        "llama3.2-vision:11b",
        "mllama",
        "10.7B",
        10_670_220_835,
        7_816_589_186,
        9_300_000_000,
        131_072,
        &[Completion, Vision],
    ),
];

/// Models every node has when its memory allows (the defaults' routine and sensitive models among them).
const ALWAYS_INSTALLED: &[&str] = &["llama3.1:8b", "qwen3:14b", "qwen3:32b", "nomic-embed-text:latest"];
/// Models a node may also have, chosen by seed.
const SOMETIMES_INSTALLED: &[&str] = &["gemma3:4b", "qwen3:8b", "llama3.2:3b"];

#[allow(clippy::too_many_arguments)]
const fn model(
    name: &'static str,
    family: &'static str,
    parameter_size: &'static str,
    parameter_count: u64,
    disk_bytes: u64,
    loaded_bytes: u64,
    max_context: u32,
    capabilities: &'static [Capability],
) -> CatalogueModel {
    CatalogueModel {
        name,
        family,
        parameter_size,
        parameter_count,
        quantization: if max_context == 2_048 { "F16" } else { "Q4_K_M" },
        disk_bytes,
        loaded_bytes,
        max_context,
        capabilities,
    }
}

/// The library model with this normalised name.
pub fn find(name: &str) -> Option<&'static CatalogueModel> {
    LIBRARY.iter().find(|m| m.name == name)
}

impl CatalogueModel {
    /// Manifest digest in hex (stable per name).
    pub fn digest(&self) -> String {
        hex_sha256(self.name.as_bytes())
    }

    /// True when the model can serve chat and generate.
    pub fn can_complete(&self) -> bool {
        self.capabilities.contains(&Completion)
    }

    /// Layers of the model as a pull reports them: (digest hex, size).
    pub fn layers(&self) -> Vec<(String, u64)> {
        let small = [
            ("template", 1_482u64),
            ("license", 12_320),
            ("params", 110),
            ("config", 487),
        ];
        let mut layers = vec![(hex_sha256(format!("{}/weights", self.name).as_bytes()), self.disk_bytes)];
        layers.extend(
            small
                .iter()
                .map(|(kind, size)| (hex_sha256(format!("{}/{kind}", self.name).as_bytes()), *size)),
        );
        layers
    }
}

/// Lower-case hex SHA-256.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The hardware of one simulated node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// `mini-01`, …
    pub name: String,
    /// Unified memory in bytes.
    pub memory_bytes: u64,
    /// Bytes models may occupy (Metal's working-set limit, 75 % of memory).
    pub model_budget: u64,
    /// Memory the OS and apps use without any model.
    pub base_used: u64,
    /// Requests served at once.
    pub parallel: u32,
    /// Logical CPUs.
    pub cpu_count: u32,
    /// Models installed at start.
    pub installed: Vec<&'static CatalogueModel>,
}

/// Unified memory in GB of the twelve slots the farm's mix is spread over (2×64, 3×32, 3×24, 4×16).
const MEMORY_MIX_GB: [u64; 12] = [64, 64, 32, 32, 32, 24, 24, 24, 16, 16, 16, 16];

/// The node at `index` (0-based) of a farm of `count`, deterministic from index and seed.
pub fn node_spec(index: usize, count: usize, seed: u64) -> NodeSpec {
    let gb = MEMORY_MIX_GB[(index * MEMORY_MIX_GB.len()) / count.max(1)];
    let memory_bytes = gb * 1024 * 1024 * 1024;
    let model_budget = memory_bytes / 4 * 3;
    let mix = splitmix(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let base_used = 2_500_000_000 + memory_bytes / 25 + mix % 500_000_000;
    let fits = |m: &&'static CatalogueModel| m.loaded_bytes <= model_budget;
    let mut installed: Vec<&'static CatalogueModel> =
        ALWAYS_INSTALLED.iter().filter_map(|n| find(n)).filter(fits).collect();
    let extra_count = 1 + (mix >> 8) as usize % 2;
    let start = (mix >> 16) as usize % SOMETIMES_INSTALLED.len();
    for k in 0..extra_count {
        let name = SOMETIMES_INSTALLED[(start + k) % SOMETIMES_INSTALLED.len()];
        installed.extend(find(name).filter(fits));
    }
    NodeSpec {
        name: format!("mini-{:0width$}", index + 1, width = if count >= 100 { 3 } else { 2 }),
        memory_bytes,
        model_budget,
        base_used,
        parallel: if gb >= 32 { 4 } else { 1 },
        cpu_count: if gb >= 64 { 12 } else { 10 },
        installed,
    }
}

/// A 64-bit mixing step (SplitMix64), used to spread seeds.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FleetConfig;

    #[test]
    fn twelve_nodes_follow_the_example_mix() {
        let gbs: Vec<u64> = (0..12).map(|i| node_spec(i, 12, 7).memory_bytes >> 30).collect();
        assert_eq!(gbs, MEMORY_MIX_GB);
        let parallel: Vec<u32> = (0..12).map(|i| node_spec(i, 12, 7).parallel).collect();
        assert_eq!(parallel, [4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn default_local_models_are_on_every_node_big_enough() {
        let models = FleetConfig::default().models;
        for seed in [0, 7, 99] {
            for i in 0..12 {
                let spec = node_spec(i, 12, seed);
                let has = |name: &str| spec.installed.iter().any(|m| m.name == name);
                assert!(has(&models.routine) && has(&models.sensitive), "{}", spec.name);
                assert_eq!(has(&models.reasoning), spec.memory_bytes >= 32 << 30, "{}", spec.name);
                assert!(spec.installed.iter().all(|m| m.loaded_bytes <= spec.model_budget));
            }
        }
    }

    #[test]
    fn specs_are_deterministic() {
        assert_eq!(node_spec(3, 12, 7), node_spec(3, 12, 7));
        assert_eq!(node_spec(0, 1, 7).memory_bytes >> 30, 64);
    }

    #[test]
    fn the_fleet_defaults_know_what_every_library_model_can_do() {
        let capabilities = crate::router::ModelCapabilities::default();
        for model in LIBRARY {
            let listed: crate::domain::Capabilities = model.capabilities.iter().copied().collect();
            assert_eq!(capabilities.of(model.name), listed, "{}", model.name);
        }
    }

    #[test]
    fn digests_are_hex_and_stable() {
        let m = find("qwen3:8b").unwrap();
        assert_eq!(m.digest().len(), 64);
        assert_eq!(m.digest(), m.digest());
        assert_eq!(m.layers().len(), 5);
    }
}
