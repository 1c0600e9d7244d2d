//! References to secrets (`env:NAME`, `op://vault/item/field`), resolved at call time and never logged.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a secret lives. The value itself is only ever held in memory.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// An environment variable of the router's process.
    Env(String),
    /// A 1Password secret reference, read with `op read`.
    OnePassword(String),
}

/// Why a secret could not be read. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is unset or empty.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// `op` could not be started (not installed or not on PATH).
    #[error("could not run the 1Password CLI `op`: {0}")]
    OpUnavailable(std::io::Error),
    /// `op read` exited non-zero; its stderr (which never holds the secret) is kept.
    #[error("1Password could not read {reference}: {stderr}")]
    OpFailed {
        /// The reference that failed.
        reference: String,
        /// What `op` said.
        stderr: String,
    },
    /// The secret was not valid UTF-8.
    #[error("secret {0} is not valid UTF-8")]
    NotUtf8(String),
    /// Reading it took longer than `secrets.timeout_secs`.
    #[error("reading {reference} took longer than {secs} s (secrets.timeout_secs)")]
    TimedOut {
        /// The reference that was being read.
        reference: String,
        /// The timeout.
        secs: u64,
    },
}

impl SecretRef {
    /// Parses `env:NAME` or `op://vault/item/[section/]field`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("env:") {
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            return if valid {
                Ok(SecretRef::Env(name.to_string()))
            } else {
                Err(format!("`env:{name}` is not a valid environment variable name"))
            };
        }
        if let Some(path) = text.strip_prefix("op://") {
            let parts: Vec<&str> = path.split('/').collect();
            let valid = (3..=4).contains(&parts.len())
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || " -_.".contains(c)));
            return if valid {
                Ok(SecretRef::OnePassword(text.to_string()))
            } else {
                Err("1Password references look like op://vault/item/[section/]field".to_string())
            };
        }
        Err("secrets are references, `env:NAME` or `op://vault/item/field`, never literal values".into())
    }

    /// Reads the secret now. Blocking when it runs `op`: call from `spawn_blocking`.
    pub fn resolve(&self) -> Result<String, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(value),
                _ => Err(SecretError::MissingEnv(name.clone())),
            },
            SecretRef::OnePassword(reference) => {
                let out = std::process::Command::new("op")
                    .args(["read", "--no-newline", reference])
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(SecretError::OpUnavailable)?;
                op_value(reference, out)
            }
        }
    }

    /// Reads the secret without blocking a thread: `op` runs as a child process that is killed
    /// if it takes longer than `timeout`.
    pub async fn resolve_within(&self, timeout: std::time::Duration) -> Result<String, SecretError> {
        let SecretRef::OnePassword(reference) = self else {
            return self.resolve();
        };
        let run = tokio::process::Command::new("op")
            .args(["read", "--no-newline", reference])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| SecretError::TimedOut {
                reference: reference.clone(),
                secs: timeout.as_secs(),
            })?
            .map_err(SecretError::OpUnavailable)?;
        op_value(reference, out)
    }
}

/// The secret `op read` printed for `reference`, or why it gave none (its stderr never holds it).
fn op_value(reference: &str, out: std::process::Output) -> Result<String, SecretError> {
    if !out.status.success() {
        return Err(SecretError::OpFailed {
            reference: reference.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| SecretError::NotUtf8(reference.to_string()))
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::OnePassword(reference) => f.write_str(reference),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({self})")
    }
}

impl Serialize for SecretRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SecretRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_schemes_and_refuses_literals() {
        assert_eq!(
            SecretRef::parse("env:ANTHROPIC_API_KEY").unwrap(),
            SecretRef::Env("ANTHROPIC_API_KEY".into())
        );
        assert!(matches!(
            SecretRef::parse("op://Fleet/anthropic/credential"),
            Ok(SecretRef::OnePassword(_))
        ));
        assert!(SecretRef::parse("sk-ant-api03-abc").is_err());
        assert!(SecretRef::parse("env:1BAD").is_err());
        assert!(SecretRef::parse("env:A;B").is_err());
        assert!(SecretRef::parse("op://only/two").is_err());
        assert!(SecretRef::parse("op://a/b/c/d/e").is_err());
    }

    #[test]
    fn missing_env_names_the_variable_not_a_value() {
        let err = SecretRef::Env("FARMHAND_TEST_SURELY_UNSET".into())
            .resolve()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable FARMHAND_TEST_SURELY_UNSET is not set"
        );
    }
}
