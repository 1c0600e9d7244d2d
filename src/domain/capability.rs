//! What a local model can do, in Ollama's own words (`ollama show` lists them as `capabilities`).

use super::wire_enum;

/// One capability of an Ollama model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Chat and generate.
    Completion,
    /// Tool calls (`tools` in a request).
    Tools,
    /// Fill-in-the-middle (`suffix`).
    Insert,
    /// Image input.
    Vision,
    /// Embeddings only.
    Embedding,
    /// Thinking (`think`, or `reasoning_effort` on `/v1`).
    Thinking,
    /// Audio input.
    Audio,
}

wire_enum!(Capability, "capability", {
    Completion => "completion",
    Tools => "tools",
    Insert => "insert",
    Vision => "vision",
    Embedding => "embedding",
    Thinking => "thinking",
    Audio => "audio",
});

impl Capability {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of capabilities: what a model has, or what a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);

    /// The set with `capability` added.
    #[must_use]
    pub fn with(self, capability: Capability) -> Capabilities {
        Capabilities(self.0 | capability.bit())
    }

    /// Whether `capability` is in the set.
    pub fn contains(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The first capability of `needed` (in declaration order) this set lacks.
    pub fn first_missing(self, needed: Capabilities) -> Option<Capability> {
        needed.iter().find(|c| !self.contains(*c))
    }

    /// The capabilities in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.iter().copied().filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        iter.into_iter().fold(Capabilities::NONE, Capabilities::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_ollamas() {
        let names: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "completion",
                "tools",
                "insert",
                "vision",
                "embedding",
                "thinking",
                "audio"
            ]
        );
        assert_eq!("vision".parse::<Capability>(), Ok(Capability::Vision));
        assert!("tool".parse::<Capability>().is_err());
    }

    #[test]
    fn sets_answer_what_is_missing() {
        let model: Capabilities = [Capability::Completion, Capability::Tools].into_iter().collect();
        let needs = Capabilities::NONE.with(Capability::Vision).with(Capability::Tools);
        assert_eq!(model.first_missing(needs), Some(Capability::Vision));
        assert_eq!(model.first_missing(Capabilities::NONE.with(Capability::Tools)), None);
        assert_eq!(model.first_missing(Capabilities::NONE), None);
        assert_eq!(
            needs.iter().collect::<Vec<_>>(),
            [Capability::Tools, Capability::Vision]
        );
        assert!(Capabilities::NONE.is_empty() && !needs.is_empty());
    }
}
