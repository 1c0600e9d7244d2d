//! Why a pull over SSH failed, each as one line an on-call engineer can act on.

use std::path::PathBuf;

/// Why `ollama pull` over SSH did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SshPullError {
    /// The model name failed validation; refused before any network I/O.
    #[error(
        "refusing to pull {:?}: not a valid Ollama model name ([host/][namespace/]model[:tag] of letters, digits, `. _ -`)",
        shorten(model)
    )]
    InvalidModel {
        /// The name as given.
        model: String,
    },
    /// `ssh.ollama_bin` is not a safe executable path; refused before any network I/O.
    #[error(
        "config ssh.ollama_bin = {:?} is not allowed: use a bare name or an absolute path of letters, digits and `/ . _ -`",
        shorten(bin)
    )]
    InvalidOllamaBin {
        /// The configured value.
        bin: String,
    },
    /// The TCP connection or SSH handshake could not be made.
    #[error("cannot connect to {host}:{port} over SSH: {cause}")]
    Connect {
        /// Node host.
        host: String,
        /// sshd port.
        port: u16,
        /// What went wrong.
        cause: String,
    },
    /// The node's host key is not in known_hosts (and `ssh.accept_new_host_keys` is off).
    #[error(
        "unknown SSH host key for {}, {fingerprint}, not in known_hosts file {}: verify the fingerprint, then run `ssh-keyscan -p {port} {host} >> {}`, or set ssh.accept_new_host_keys = true in fleet.toml",
        super::known_hosts::host_entry(host, *port), known_hosts.display(), known_hosts.display()
    )]
    UnknownHostKey {
        /// Node host.
        host: String,
        /// sshd port.
        port: u16,
        /// `SHA256:…` fingerprint of the key the node presented.
        fingerprint: String,
        /// The known_hosts file consulted.
        known_hosts: PathBuf,
    },
    /// The node presented a different key than known_hosts records; always refused.
    #[error(
        "SSH HOST KEY CHANGED for {} (now {fingerprint}): possible man-in-the-middle, refusing to connect; if the node was reinstalled, verify the new fingerprint, then remove the old line with `ssh-keygen -R '{}' -f {}`",
        super::known_hosts::host_entry(host, *port), super::known_hosts::host_entry(host, *port), known_hosts.display()
    )]
    ChangedHostKey {
        /// Node host.
        host: String,
        /// sshd port.
        port: u16,
        /// `SHA256:…` fingerprint of the key the node presented now.
        fingerprint: String,
        /// The known_hosts file consulted.
        known_hosts: PathBuf,
    },
    /// No identity was accepted.
    #[error(
        "SSH authentication failed for {user}@{host}:{port}: tried {tried}; add the public key to the node's ~/.ssh/authorized_keys or load the right key into ssh-agent"
    )]
    Auth {
        /// Remote user.
        user: String,
        /// Node host.
        host: String,
        /// sshd port.
        port: u16,
        /// What was tried, e.g. `2 ssh-agent identities, key file /home/op/.ssh/id_ed25519 (rejected)`.
        tried: String,
    },
    /// `ollama pull` ran and failed.
    #[error("`ollama pull` failed on {host} (exit {exit_code}): {last_line}{}", hint(*exit_code))]
    RemoteFailed {
        /// Node host.
        host: String,
        /// The remote exit status.
        exit_code: i32,
        /// The last thing it printed, e.g. `Error: pull model manifest: file does not exist`.
        last_line: String,
    },
    /// The caller cancelled; the remote command was hung up and interrupted.
    #[error("pull cancelled; the remote `ollama pull` on {host} was stopped")]
    Cancelled {
        /// Node host.
        host: String,
    },
    /// The node stopped answering.
    #[error(
        "SSH to {host}:{port} timed out after {secs} s while {during}; check the node is up and reachable (ssh.timeout_secs)"
    )]
    Timeout {
        /// Node host.
        host: String,
        /// sshd port.
        port: u16,
        /// The timeout that expired.
        secs: u64,
        /// What was being waited for.
        during: &'static str,
    },
    /// Any other libssh2 or I/O failure.
    #[error("SSH error with {host}:{port} while {during}: {message}")]
    Ssh {
        /// Node host.
        host: String,
        /// sshd port.
        port: u16,
        /// What was being done.
        during: &'static str,
        /// The library's message.
        message: String,
    },
}

/// At most 64 characters of a refused value, so one hostile input cannot flood a log line.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

/// Exit 127 means the shell found no `ollama`: say which setting fixes it.
fn hint(exit_code: i32) -> &'static str {
    if exit_code == 127 {
        " (set ssh.ollama_bin in fleet.toml to the absolute path, e.g. /usr/local/bin/ollama)"
    } else {
        ""
    }
}
