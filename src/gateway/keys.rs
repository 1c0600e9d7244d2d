//! Agent authentication: bearer keys from config, kept as SHA-256 digests and compared in
//! constant time.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::bearer;
use crate::config::{AgentKey, SecretError};

use super::errors::ApiError;

/// Why the agent keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key reference could not be read.
    #[error("agent key of `{agent}` is unavailable: {source}")]
    Unavailable {
        /// The agent whose key failed.
        agent: String,
        /// Why.
        source: SecretError,
    },
    /// Two agents resolve to the same key, so decisions could not say which one called.
    #[error("agents `{first}` and `{second}` have the same key: give each agent its own")]
    Duplicate {
        /// The agent listed first.
        first: String,
        /// The agent listed later.
        second: String,
    },
}

/// The agents allowed to call the router, with the digests of their keys.
pub struct AgentKeys {
    keys: Vec<(String, [u8; 32])>,
    trust_loopback: bool,
}

impl AgentKeys {
    /// Resolves every key now (blocking: `op` may run); an unresolvable or shared key stops start-up.
    /// Without keys, loopback clients are answered only when `trust_loopback` says so.
    pub fn resolve(agents: &[AgentKey], trust_loopback: bool) -> Result<Self, KeyError> {
        let resolved = agents.iter().map(|agent| {
            agent
                .key
                .resolve()
                .map(|key| (agent.name.clone(), key))
                .map_err(|source| KeyError::Unavailable {
                    agent: agent.name.clone(),
                    source,
                })
        });
        Self::from_keys(resolved, trust_loopback)
    }

    /// Keys already read, as `(agent, key)`; two agents with one key are refused.
    fn from_keys(
        resolved: impl IntoIterator<Item = Result<(String, String), KeyError>>,
        trust_loopback: bool,
    ) -> Result<Self, KeyError> {
        let mut keys: Vec<(String, [u8; 32])> = Vec::new();
        let mut owners: HashMap<[u8; 32], usize> = HashMap::new();
        for entry in resolved {
            let (agent, key) = entry?;
            let digest = bearer::digest(&key);
            if let Some(first) = owners.insert(digest, keys.len()) {
                return Err(KeyError::Duplicate {
                    first: keys[first].0.clone(),
                    second: agent,
                });
            }
            keys.push((agent, digest));
        }
        Ok(AgentKeys { keys, trust_loopback })
    }

    /// No keys, answering loopback clients (the demo, benchmarks).
    pub fn loopback() -> Self {
        AgentKeys {
            keys: Vec::new(),
            trust_loopback: true,
        }
    }

    /// Whether any key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether loopback clients are answered without a key (no keys and `router.trust_loopback`).
    pub fn trusts_loopback(&self) -> bool {
        self.keys.is_empty() && self.trust_loopback
    }

    /// The agent a request authenticates as (`None` for a trusted loopback client without keys).
    pub fn authenticate(&self, authorization: Option<&str>, peer: SocketAddr) -> Result<Option<&str>, ApiError> {
        if self.keys.is_empty() {
            return if self.trust_loopback && peer.ip().is_loopback() {
                Ok(None)
            } else if self.trust_loopback {
                Err(ApiError::unauthorized(
                    "this router has no agent keys configured and answers loopback clients only",
                ))
            } else {
                Err(ApiError::unauthorized(
                    "this router has no agent keys configured: add [[agents]] keys, or set router.trust_loopback = true to answer loopback clients without one",
                ))
            };
        }
        let presented = authorization
            .and_then(bearer::token_from_header)
            .ok_or_else(|| ApiError::unauthorized("missing bearer key: send `Authorization: Bearer <agent key>`"))?;
        // Compare with every key, so the time taken does not say which one (if any) matched.
        let presented = bearer::digest(presented);
        let mut matched = None;
        for (name, digest) in &self.keys {
            if bearer::digests_equal(&presented, digest) {
                matched = Some(name.as_str());
            }
        }
        matched
            .map(Some)
            .ok_or_else(|| ApiError::unauthorized("unknown agent key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)], trust_loopback: bool) -> Result<AgentKeys, KeyError> {
        AgentKeys::from_keys(
            pairs.iter().map(|(name, key)| Ok((name.to_string(), key.to_string()))),
            trust_loopback,
        )
    }

    fn keys() -> AgentKeys {
        with(&[("planner", "k-planner"), ("hr", "k-hr")], false).unwrap()
    }

    #[test]
    fn without_keys_loopback_is_answered_only_when_trusted() {
        let local = "127.0.0.1:5000".parse().unwrap();
        let trusted = AgentKeys::loopback();
        assert_eq!(trusted.authenticate(None, local), Ok(None));
        assert_eq!(trusted.authenticate(None, "[::1]:5000".parse().unwrap()), Ok(None));
        assert_eq!(
            trusted
                .authenticate(None, "100.64.1.2:5000".parse().unwrap())
                .unwrap_err()
                .status,
            401
        );
        let untrusted = AgentKeys::resolve(&[], false).unwrap();
        let err = untrusted.authenticate(None, local).unwrap_err();
        assert!(err.message.contains("router.trust_loopback"), "{}", err.message);
    }

    #[test]
    fn keys_name_the_agent() {
        let peer = "100.64.1.2:5000".parse().unwrap();
        assert_eq!(keys().authenticate(Some("Bearer k-hr"), peer), Ok(Some("hr")));
        assert_eq!(
            keys().authenticate(Some("Bearer k-h"), peer).unwrap_err().code,
            "invalid_api_key"
        );
        assert_eq!(keys().authenticate(None, peer).unwrap_err().status, 401);
        assert!(!keys().trusts_loopback());
    }

    #[test]
    fn two_agents_with_one_key_are_refused() {
        let err = with(&[("a", "same"), ("c", "other"), ("b", "same")], false)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "agents `a` and `b` have the same key: give each agent its own"
        );
    }
}
