//! Node health from consecutive poll failures.

use serde::Serialize;

/// How a node is doing, as seen by its pollers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Ollama and the agent answer.
    Up,
    /// Ollama answers but the agent does not, or Ollama missed a poll or two.
    Degraded,
    /// Ollama has not answered for several polls in a row (or never has).
    #[default]
    Down,
}

/// Consecutive Ollama failures after which a node is down.
pub const DOWN_AFTER: u32 = 3;

impl Health {
    /// Health from the number of consecutive failed Ollama polls and whether the agent answers.
    pub fn assess(ollama_failures: u32, ollama_ever_ok: bool, agent_ok: bool) -> Health {
        if !ollama_ever_ok || ollama_failures >= DOWN_AFTER {
            Health::Down
        } else if ollama_failures > 0 || !agent_ok {
            Health::Degraded
        } else {
            Health::Up
        }
    }

    /// Short label for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_degrade_then_take_a_node_down() {
        assert_eq!(Health::assess(0, false, true), Health::Down);
        assert_eq!(Health::assess(0, true, true), Health::Up);
        assert_eq!(Health::assess(0, true, false), Health::Degraded);
        assert_eq!(Health::assess(1, true, true), Health::Degraded);
        assert_eq!(Health::assess(DOWN_AFTER, true, true), Health::Down);
    }
}
