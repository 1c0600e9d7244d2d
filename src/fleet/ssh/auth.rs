//! Public-key authentication: every ssh-agent identity, then the configured key file.
//!
//! Only what was tried is ever reported or logged (identity comments, the key file's path),
//! never key material or passphrases.

use std::path::Path;

use ssh2::Session;

use super::{SshPullError, SshTarget};

/// Authenticates as `target.ssh.user`, or says exactly what was tried.
pub(super) fn authenticate(sess: &Session, target: &SshTarget) -> Result<(), SshPullError> {
    let user = target.ssh.user.as_str();
    let mut tried = Vec::new();

    if target.use_agent {
        match target.agent_socket() {
            Some(socket) => {
                tried.push(try_agent(sess, target, &socket)?);
                if sess.authenticated() {
                    return Ok(());
                }
            }
            None => tried.push("no ssh-agent (SSH_AUTH_SOCK unset)".to_string()),
        }
    }

    tried.push(try_key_file(sess, target)?);
    if sess.authenticated() {
        return Ok(());
    }
    Err(SshPullError::Auth {
        user: user.to_string(),
        host: target.host.clone(),
        port: target.port,
        tried: tried.join(", "),
    })
}

/// Offers each agent identity in turn (libssh2's `userauth_agent` stops at the first).
fn try_agent(sess: &Session, target: &SshTarget, socket: &Path) -> Result<String, SshPullError> {
    let user = target.ssh.user.as_str();
    let identities = sess.agent().and_then(|mut agent| {
        agent.set_identity_path(socket)?;
        agent.connect()?;
        agent.list_identities()?;
        Ok((agent.identities()?, agent))
    });
    let (identities, agent) = match identities {
        Ok(found) => found,
        Err(e) => return Ok(format!("ssh-agent at {} (unusable: {})", socket.display(), e.message())),
    };
    for identity in &identities {
        match agent.userauth(user, identity) {
            Ok(()) if sess.authenticated() => {
                tracing::debug!(
                    identity = identity.comment(),
                    "authenticated with an ssh-agent identity"
                );
                return Ok(format!("ssh-agent identity {:?}", identity.comment()));
            }
            Ok(()) => {}
            Err(e) => {
                fatal(&e, target)?;
                tracing::debug!(identity = identity.comment(), error = %e.message(), "agent identity refused");
            }
        }
    }
    Ok(format!("{} ssh-agent identities (all refused)", identities.len()))
}

/// The configured private key file, without a passphrase (encrypted keys belong in the agent).
fn try_key_file(sess: &Session, target: &SshTarget) -> Result<String, SshPullError> {
    let path = target.key_file();
    if !path.exists() {
        return Ok(format!("key file {} (not found)", path.display()));
    }
    Ok(match sess.userauth_pubkey_file(&target.ssh.user, None, &path, None) {
        Ok(()) if sess.authenticated() => {
            tracing::debug!(key_file = %path.display(), "authenticated with the key file");
            format!("key file {}", path.display())
        }
        Ok(()) => format!("key file {} (not accepted)", path.display()),
        Err(e) if e.code() == ssh2::ErrorCode::Session(-16) => format!(
            "key file {} (unreadable or passphrase-protected: load it into ssh-agent instead)",
            path.display()
        ),
        Err(e) => {
            fatal(&e, target)?;
            format!("key file {} (rejected: {})", path.display(), e.message())
        }
    })
}

/// A timeout or a dropped connection is not a refused key: report it as what it is.
fn fatal(e: &ssh2::Error, target: &SshTarget) -> Result<(), SshPullError> {
    if super::connection_lost(e) {
        Err(super::classify(e, target, "authenticating"))
    } else {
        Ok(())
    }
}
