//! Host-key verification against an OpenSSH known_hosts file, and trust-on-first-use when allowed.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};
use ssh2::{CheckResult, KnownHostFileKind, Session};

use super::{SshPullError, SshTarget};
use crate::fleet::PullEvent;

/// How a host appears in known_hosts: `host` on port 22, `[host]:port` otherwise.
pub fn host_entry(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:…` fingerprint of a public key blob, as `ssh-keygen -l` prints it.
pub fn fingerprint(key_blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(key_blob)))
}

/// Checks the session's host key; a first-seen key is trusted and recorded only with
/// `accept_new_host_keys`, reported as [`PullEvent::HostKeyLearned`]. A changed key is always refused.
pub(super) fn verify(sess: &Session, target: &SshTarget) -> Result<Option<PullEvent>, SshPullError> {
    let ssh_err = |during: &'static str, message: String| SshPullError::Ssh {
        host: target.host.clone(),
        port: target.port,
        during,
        message,
    };
    let (key, _) = sess
        .host_key()
        .ok_or_else(|| ssh_err("verifying the host key", "no host key received".into()))?;
    let fingerprint = fingerprint(key);
    let path = target.known_hosts();
    let mut known = sess
        .known_hosts()
        .map_err(|e| ssh_err("verifying the host key", e.to_string()))?;
    let text =
        read_known_hosts(&path).map_err(|e| ssh_err("reading known_hosts", format!("{}: {e}", path.display())))?;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // One line at a time, so an entry libssh2 cannot parse (a key type it does not know,
        // `@cert-authority`) skips that line instead of hiding every line after it.
        if let Err(e) = known.read_str(line, KnownHostFileKind::OpenSSH) {
            tracing::debug!(file = %path.display(), line = n + 1, error = %e, "known_hosts line skipped");
        }
    }
    let (host, port) = (target.host.clone(), target.port);
    match known.check_port(&target.host, target.port, key) {
        CheckResult::Match => {
            tracing::debug!(host = %host_entry(&host, port), %fingerprint, "host key matches known_hosts");
            Ok(None)
        }
        CheckResult::Mismatch => Err(SshPullError::ChangedHostKey {
            host,
            port,
            fingerprint,
            known_hosts: path,
        }),
        CheckResult::NotFound if target.ssh.accept_new_host_keys => {
            let entry = host_entry(&host, port);
            append_entry(&path, &entry, key)
                .map_err(|e| ssh_err("recording the new host key", format!("{}: {e}", path.display())))?;
            tracing::info!(host = %entry, %fingerprint, file = %path.display(), "new host key trusted and recorded");
            Ok(Some(PullEvent::HostKeyLearned {
                host: entry,
                fingerprint,
            }))
        }
        CheckResult::NotFound => Err(SshPullError::UnknownHostKey {
            host,
            port,
            fingerprint,
            known_hosts: path,
        }),
        CheckResult::Failure => Err(ssh_err(
            "checking known_hosts",
            "libssh2 could not check the host key".into(),
        )),
    }
}

/// The file's text; a missing file is an empty one.
fn read_known_hosts(path: &Path) -> std::io::Result<String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// Appends one `entry keytype base64` line, creating the file (and its directory) if needed.
/// Appending, never rewriting, keeps every line libssh2 could not parse.
fn append_entry(path: &Path, entry: &str, key_blob: &[u8]) -> std::io::Result<()> {
    let key_type = key_type_name(key_blob)
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, "host key blob has no key type"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)?;
    let mut existing = Vec::new();
    file.read_to_end(&mut existing)?;
    let separator = if existing.is_empty() || existing.ends_with(b"\n") {
        ""
    } else {
        "\n"
    };
    let line = format!("{separator}{entry} {key_type} {}\n", STANDARD.encode(key_blob));
    file.write_all(line.as_bytes())?;
    file.sync_all()
}

/// The key type an SSH public key blob starts with (`ssh-ed25519`, `ecdsa-sha2-nistp256`, …).
fn key_type_name(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = std::str::from_utf8(blob.get(4..4 + len)?).ok()?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_base64_without_padding() {
        // sha256("abc"), base64 without padding.
        assert_eq!(
            fingerprint(b"abc"),
            "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
        );
    }

    #[test]
    fn host_entries_bracket_non_default_ports() {
        assert_eq!(host_entry("mac01.tail.ts.net", 22), "mac01.tail.ts.net");
        assert_eq!(host_entry("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn key_type_comes_from_the_blob() {
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        assert_eq!(key_type_name(&blob), Some("ssh-ed25519"));
        assert_eq!(key_type_name(&[0, 0, 0, 99, b'x']), None);
        assert_eq!(key_type_name(&[]), None);
    }
}
