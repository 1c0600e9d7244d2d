//! Progress of a model pull, whichever transport carries it (SSH or Ollama's HTTP API).

use std::collections::HashMap;

use serde::Serialize;

/// One progress report from a running pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullProgress {
    /// Ollama's status text: `pulling manifest`, `pulling 8eeb52dfb3bb`, `verifying sha256 digest`, `success`.
    pub status: String,
    /// Bytes of the current layer fetched so far, when known.
    pub completed: Option<u64>,
    /// Bytes of the current layer in all, when known.
    pub total: Option<u64>,
}

impl PullProgress {
    /// A report that carries only a status line.
    pub fn status(status: impl Into<String>) -> Self {
        PullProgress {
            status: status.into(),
            completed: None,
            total: None,
        }
    }

    /// Fraction of the current layer done, 0.0 to 1.0, when both sizes are known.
    pub fn fraction(&self) -> Option<f64> {
        match (self.completed, self.total) {
            (Some(done), Some(total)) if total > 0 => Some((done as f64 / total as f64).clamp(0.0, 1.0)),
            _ => None,
        }
    }
}

/// Overall progress of a pull over every layer seen so far.
#[derive(Debug, Default, Clone)]
pub struct PullTally {
    layers: HashMap<String, (u64, u64)>,
}

impl PullTally {
    /// Takes one report into account (reports without sizes change nothing).
    pub fn add(&mut self, progress: &PullProgress) {
        if let Some(total) = progress.total.filter(|t| *t > 0) {
            let done = progress.completed.unwrap_or(0).min(total);
            self.layers.insert(progress.status.clone(), (done, total));
        }
    }

    /// Bytes done over bytes known, 0.0 to 1.0; `None` before any size is known.
    pub fn fraction(&self) -> Option<f64> {
        let (done, total) = self
            .layers
            .values()
            .fold((0u64, 0u64), |(d, t), (ld, lt)| (d + ld, t + lt));
        (total > 0).then(|| done as f64 / total as f64)
    }
}

/// Something a pull transport reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// Ollama's progress.
    Progress(PullProgress),
    /// A host key seen for the first time was trusted and written to known_hosts
    /// (only with `ssh.accept_new_host_keys`); the caller audits it.
    HostKeyLearned {
        /// The host as written to known_hosts, e.g. `[mac01.tailnet.ts.net]:22`.
        host: String,
        /// `SHA256:` fingerprint of the key, as `ssh-keygen -l` prints it.
        fingerprint: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(status: &str, completed: Option<u64>, total: Option<u64>) -> PullProgress {
        PullProgress {
            status: status.into(),
            completed,
            total,
        }
    }

    #[test]
    fn the_tally_spans_layers() {
        let mut tally = PullTally::default();
        tally.add(&PullProgress::status("pulling manifest"));
        assert_eq!(tally.fraction(), None);
        tally.add(&layer("pulling aaa", Some(50), Some(100)));
        tally.add(&layer("pulling bbb", None, Some(100)));
        assert_eq!(tally.fraction(), Some(0.25));
        tally.add(&layer("pulling aaa", Some(100), Some(100)));
        assert_eq!(tally.fraction(), Some(0.5));
    }
}
