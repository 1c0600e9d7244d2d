//! Fault injection: what can go wrong with a node or the frontier, and the board that holds the current faults.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The frontier's name as a fault target.
pub const FRONTIER: &str = "frontier";

/// A fault a target can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FaultKind {
    /// Connections refused (nodes) or closed without an answer (frontier) until cleared.
    #[serde(rename = "down")]
    Down,
    /// Seconds of extra latency before the first byte.
    #[serde(rename = "slow")]
    Slow,
    /// 500 with the endpoint's error shape.
    #[serde(rename = "error500")]
    Error500,
    /// 429 with `Retry-After`.
    #[serde(rename = "429")]
    RateLimited,
    /// Anthropic's 529 overloaded (503 with `Retry-After` on OpenAI- and Ollama-shaped endpoints).
    #[serde(rename = "529")]
    Overloaded,
    /// The connection closes mid-stream, after a few chunks, with no final chunk.
    #[serde(rename = "drop")]
    Drop,
    /// 200 with an HTML error page instead of the API's JSON (a proxy or a broken runner).
    #[serde(rename = "garbage")]
    Garbage,
    /// Accepts the request and answers nothing until the fault is cleared (a wedged runner).
    #[serde(rename = "hang")]
    Hang,
    /// An error whose text quotes the request's last message, as Ollama's tool-call parse errors
    /// quote model output (privacy tests check that such text never reaches a log or the store).
    #[serde(rename = "echo")]
    Echo,
}

impl FaultKind {
    /// Every fault, in flag order.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Down,
        FaultKind::Slow,
        FaultKind::Error500,
        FaultKind::RateLimited,
        FaultKind::Overloaded,
        FaultKind::Drop,
        FaultKind::Garbage,
        FaultKind::Hang,
        FaultKind::Echo,
    ];

    /// The name used by `--fault` and the admin API.
    pub fn as_str(&self) -> &'static str {
        match self {
            FaultKind::Down => "down",
            FaultKind::Slow => "slow",
            FaultKind::Error500 => "error500",
            FaultKind::RateLimited => "429",
            FaultKind::Overloaded => "529",
            FaultKind::Drop => "drop",
            FaultKind::Garbage => "garbage",
            FaultKind::Hang => "hang",
            FaultKind::Echo => "echo",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fault specification that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// Not `TARGET=KIND`.
    #[error("`{0}` is not TARGET=KIND (e.g. mini-03=down or frontier=529)")]
    Syntax(String),
    /// Unknown kind.
    #[error("unknown fault kind `{0}` (known: down, slow, error500, 429, 529, drop, garbage, hang, echo, none)")]
    Kind(String),
    /// Unknown target.
    #[error("unknown fault target `{0}` (a node name such as mini-01, or frontier)")]
    Target(String),
}

impl FromStr for FaultKind {
    type Err = FaultError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| FaultError::Kind(s.to_string()))
    }
}

/// Parses `--fault TARGET=KIND`.
pub fn parse_fault_flag(spec: &str) -> Result<(String, FaultKind), FaultError> {
    let (target, kind) = spec
        .split_once('=')
        .ok_or_else(|| FaultError::Syntax(spec.to_string()))?;
    if target.is_empty() {
        return Err(FaultError::Syntax(spec.to_string()));
    }
    Ok((target.to_string(), kind.parse()?))
}

/// The current fault of every target, observable by the servers that act on it.
#[derive(Debug)]
pub struct FaultBoard {
    targets: BTreeMap<String, watch::Sender<Option<FaultKind>>>,
}

impl FaultBoard {
    /// A board for these targets, all healthy.
    pub fn new<I: IntoIterator<Item = String>>(targets: I) -> Self {
        FaultBoard {
            targets: targets.into_iter().map(|t| (t, watch::Sender::new(None))).collect(),
        }
    }

    /// Sets (`Some`) or clears (`None`) the fault of `target`.
    pub fn set(&self, target: &str, kind: Option<FaultKind>) -> Result<(), FaultError> {
        let sender = self
            .targets
            .get(target)
            .ok_or_else(|| FaultError::Target(target.to_string()))?;
        sender.send_replace(kind);
        Ok(())
    }

    /// The fault of `target` now.
    pub fn get(&self, target: &str) -> Option<FaultKind> {
        self.targets.get(target).and_then(|s| *s.borrow())
    }

    /// A receiver that sees every change of `target`'s fault.
    pub fn watch(&self, target: &str) -> Option<watch::Receiver<Option<FaultKind>>> {
        self.targets.get(target).map(watch::Sender::subscribe)
    }

    /// Targets that have a fault, with it.
    pub fn active(&self) -> Vec<(String, FaultKind)> {
        self.targets
            .iter()
            .filter_map(|(t, s)| s.borrow().map(|k| (t.clone(), k)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        assert_eq!(
            parse_fault_flag("mini-03=down").unwrap(),
            ("mini-03".into(), FaultKind::Down)
        );
        assert_eq!(
            parse_fault_flag("frontier=529").unwrap(),
            ("frontier".into(), FaultKind::Overloaded)
        );
        assert!(matches!(parse_fault_flag("mini-03"), Err(FaultError::Syntax(_))));
        assert!(matches!(parse_fault_flag("=down"), Err(FaultError::Syntax(_))));
        assert!(matches!(parse_fault_flag("mini-03=melt"), Err(FaultError::Kind(_))));
        for kind in FaultKind::ALL {
            assert_eq!(kind.as_str().parse::<FaultKind>().unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
    }

    #[test]
    fn board_sets_clears_and_notifies() {
        let board = FaultBoard::new(["mini-01".to_string(), FRONTIER.to_string()]);
        let mut rx = board.watch("mini-01").unwrap();
        board.set("mini-01", Some(FaultKind::Down)).unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), Some(FaultKind::Down));
        assert_eq!(board.active(), [("mini-01".to_string(), FaultKind::Down)]);
        board.set("mini-01", None).unwrap();
        assert_eq!(board.get("mini-01"), None);
        assert!(matches!(board.set("mini-99", None), Err(FaultError::Target(_))));
    }
}
