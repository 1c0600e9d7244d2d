//! Agent authentication: bearer keys from config, compared in constant time.

use std::net::SocketAddr;

use crate::bearer;
use crate::config::{AgentKey, SecretError};

use super::errors::ApiError;

/// The agents allowed to call the router, with their keys resolved.
pub struct AgentKeys {
    keys: Vec<(String, String)>,
}

impl AgentKeys {
    /// Resolves every key now (blocking: `op` may run); an unresolvable key stops start-up.
    pub fn resolve(agents: &[AgentKey]) -> Result<Self, (String, SecretError)> {
        let keys = agents
            .iter()
            .map(|a| {
                a.key
                    .resolve()
                    .map(|k| (a.name.clone(), k))
                    .map_err(|e| (a.name.clone(), e))
            })
            .collect::<Result<_, _>>()?;
        Ok(AgentKeys { keys })
    }

    /// No keys: only loopback clients are answered.
    pub fn none() -> Self {
        AgentKeys { keys: Vec::new() }
    }

    /// Whether any key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The agent a request authenticates as (`None` when no keys are configured and it is local).
    pub fn authenticate(&self, authorization: Option<&str>, peer: SocketAddr) -> Result<Option<&str>, ApiError> {
        if self.keys.is_empty() {
            return if peer.ip().is_loopback() {
                Ok(None)
            } else {
                Err(ApiError::unauthorized(
                    "this router has no agent keys configured and answers loopback clients only",
                ))
            };
        }
        let presented = authorization
            .and_then(bearer::token_from_header)
            .ok_or_else(|| ApiError::unauthorized("missing bearer key: send `Authorization: Bearer <agent key>`"))?;
        // Compare with every key, so the time taken does not say which one (if any) matched.
        let mut matched = None;
        for (name, key) in &self.keys {
            if bearer::tokens_match(presented, key) {
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

    fn keys() -> AgentKeys {
        AgentKeys {
            keys: vec![("planner".into(), "k-planner".into()), ("hr".into(), "k-hr".into())],
        }
    }

    #[test]
    fn no_keys_means_loopback_only() {
        let none = AgentKeys::none();
        assert_eq!(none.authenticate(None, "127.0.0.1:5000".parse().unwrap()), Ok(None));
        assert_eq!(none.authenticate(None, "[::1]:5000".parse().unwrap()), Ok(None));
        assert_eq!(
            none.authenticate(None, "100.64.1.2:5000".parse().unwrap())
                .unwrap_err()
                .status,
            401
        );
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
    }
}
