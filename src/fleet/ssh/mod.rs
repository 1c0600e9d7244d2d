//! `ollama pull` on a node over SSH (ssh2, blocking: run it inside `tokio::task::spawn_blocking`).
//!
//! Order of work, each step refusing clearly: validate the model name and `ssh.ollama_bin`
//! (before any network I/O) → TCP connect and handshake → host key against known_hosts
//! (unknown: refused unless `ssh.accept_new_host_keys`; changed: always refused) → ssh-agent
//! identities, then the key file → `'ollama' 'pull' 'MODEL'` on a pty, progress reported as it
//! arrives → exit status. `cancel` is checked at least every 20 ms while the command runs.

mod auth;
mod command;
mod connect;
mod error;
mod exec;
mod known_hosts;
mod progress_parse;
mod target;

use std::sync::atomic::{AtomicBool, Ordering};

pub use command::{pull_command, valid_ollama_bin};
pub use error::SshPullError;
pub use known_hosts::{fingerprint, host_entry};
pub use progress_parse::{TerminalLines, parse_progress_line};
pub use target::{SshTarget, expand_home};

use crate::fleet::PullEvent;

/// Runs `ollama pull MODEL` on `host:port` over SSH, reporting progress as it arrives.
pub fn pull_over_ssh(
    target: &SshTarget,
    model: &str,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(PullEvent),
) -> Result<(), SshPullError> {
    let command = pull_command(&target.ssh.ollama_bin, model)?;
    let cancelled = || SshPullError::Cancelled {
        host: target.host.clone(),
    };
    if cancel.load(Ordering::Relaxed) {
        return Err(cancelled());
    }
    let sess = connect::connect(target)?;
    if let Some(learned) = known_hosts::verify(&sess, target)? {
        on_event(learned);
    }
    auth::authenticate(&sess, target)?;
    if cancel.load(Ordering::Relaxed) {
        return Err(cancelled());
    }
    tracing::debug!(host = %target.host, port = target.port, user = %target.ssh.user, model, "SSH pull starting");
    exec::run(&sess, target, &command, cancel, on_event)
}

/// libssh2's `LIBSSH2_ERROR_TIMEOUT`.
const TIMEOUT: ssh2::ErrorCode = ssh2::ErrorCode::Session(-9);

/// Maps a libssh2 error to [`SshPullError::Timeout`] or [`SshPullError::Ssh`].
fn classify(e: &ssh2::Error, target: &SshTarget, during: &'static str) -> SshPullError {
    if e.code() == TIMEOUT {
        return SshPullError::Timeout {
            host: target.host.clone(),
            port: target.port,
            secs: target.timeout().as_secs(),
            during,
        };
    }
    SshPullError::Ssh {
        host: target.host.clone(),
        port: target.port,
        during,
        message: e.message().to_string(),
    }
}

/// True when the connection itself failed (timeout, socket send/receive, disconnect).
fn connection_lost(e: &ssh2::Error) -> bool {
    matches!(e.code(), ssh2::ErrorCode::Session(-9 | -7 | -43 | -13))
}
