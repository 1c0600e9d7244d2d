//! Where and how to connect: one node's address plus the fleet's SSH settings.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Node, SshConfig};

/// One node to pull on over SSH.
#[derive(Debug, Clone, PartialEq)]
pub struct SshTarget {
    /// Host name or IP as written in known_hosts (brackets of an IPv6 literal removed).
    pub host: String,
    /// sshd's port.
    pub port: u16,
    /// User, key file, known_hosts, host-key policy, timeout and `ollama` path.
    pub ssh: SshConfig,
    /// Try ssh-agent identities first (when an agent socket is known); `false` uses the key file only.
    pub use_agent: bool,
    /// The ssh-agent socket; `None` reads `SSH_AUTH_SOCK` when the pull starts.
    pub agent_socket: Option<PathBuf>,
}

impl SshTarget {
    /// The SSH target for `node` under the fleet's `ssh` settings (agent enabled).
    pub fn new(node: &Node, ssh: &SshConfig) -> Self {
        let host = node.host.trim();
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        SshTarget {
            host: host.to_string(),
            port: node.ssh_port,
            ssh: ssh.clone(),
            use_agent: true,
            agent_socket: None,
        }
    }

    /// The same target authenticating with the key file only, whatever `SSH_AUTH_SOCK` says
    /// (tests, and operators whose agent holds keys the node would count as failed attempts).
    pub fn without_agent(mut self) -> Self {
        self.use_agent = false;
        self
    }

    /// The same target using the ssh-agent listening on `socket` instead of `SSH_AUTH_SOCK`'s.
    pub fn with_agent_socket(mut self, socket: impl Into<PathBuf>) -> Self {
        self.use_agent = true;
        self.agent_socket = Some(socket.into());
        self
    }

    /// The agent socket to use: the explicit one, else `SSH_AUTH_SOCK`; `None` when the agent is off.
    pub fn agent_socket(&self) -> Option<PathBuf> {
        if !self.use_agent {
            return None;
        }
        let from_env = || {
            std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        };
        self.agent_socket.clone().or_else(from_env)
    }

    /// The private key file, `~` expanded.
    pub fn key_file(&self) -> PathBuf {
        expand_home(&self.ssh.key_file)
    }

    /// The known_hosts file, `~` expanded.
    pub fn known_hosts(&self) -> PathBuf {
        expand_home(&self.ssh.known_hosts)
    }

    /// Timeout for connecting and for each blocking SSH step (at least one second).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.ssh.timeout_secs.max(1))
    }
}

/// `~` or `~/x` → `$HOME` or `$HOME/x`; anything else (and a missing `$HOME`) unchanged.
pub fn expand_home(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (path, home) {
        ("~", Some(home)) => PathBuf::from(home),
        (p, Some(home)) if p.starts_with("~/") => PathBuf::from(home).join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_home_only_at_the_start() {
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set for tests"));
        assert_eq!(expand_home("~/.ssh/known_hosts"), home.join(".ssh/known_hosts"));
        assert_eq!(expand_home("~"), home);
        assert_eq!(
            expand_home("/etc/ssh/known_hosts"),
            PathBuf::from("/etc/ssh/known_hosts")
        );
        assert_eq!(expand_home("a/~/b"), PathBuf::from("a/~/b"));
        assert_eq!(expand_home("~other/x"), PathBuf::from("~other/x"));
    }
}
