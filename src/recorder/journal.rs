//! The spill file: decisions the store could not take yet, one JSON object per line.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::DecisionRecord;

/// An append-only NDJSON file of decisions waiting for the store.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// A journal at `path` (created on first append).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Journal { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends decisions and syncs them to disk. Blocking: call from a blocking context.
    pub fn append(&self, decisions: &[DecisionRecord]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = Vec::with_capacity(decisions.len() * 512);
        for decision in decisions {
            serde_json::to_writer(&mut out, decision).map_err(std::io::Error::other)?;
            out.push(b'\n');
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        file.write_all(&out)?;
        file.sync_data()
    }

    /// Reads every decision in the journal; a torn last line (crash mid-write) is skipped.
    pub fn read_all(&self) -> std::io::Result<Vec<DecisionRecord>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let mut decisions = Vec::new();
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match serde_json::from_str(line) {
                Ok(decision) => decisions.push(decision),
                Err(err) => {
                    tracing::warn!(journal = %self.path.display(), line = number + 1, %err, "skipping unreadable journal line")
                }
            }
        }
        Ok(decisions)
    }

    /// Removes the journal once its decisions are in the store.
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Whether the journal holds anything.
    pub fn is_empty(&self) -> bool {
        std::fs::metadata(&self.path).map(|m| m.len() == 0).unwrap_or(true)
    }
}
