//! Policy overrides: validated before they are written (a refusal says why), versioned and
//! audited by the store, enforced by every router within a second.

use super::{ActionError, Operator};
use crate::router::validate_override_for;

impl Operator {
    /// Sets `key = value`; returns the new policy version.
    pub async fn set_override(&self, key: &str, value: &str, reason: Option<&str>) -> Result<i64, ActionError> {
        self.require_write("policy set")?;
        let agents: Vec<&str> = self.agents.iter().map(String::as_str).collect();
        validate_override_for(key, value, &agents).map_err(|e| ActionError::Refused(e.to_string()))?;
        Ok(self.store.set_override(key, value, reason, &self.actor).await?)
    }

    /// Clears `key`, back to fleet.toml's policy; returns the new policy version.
    pub async fn clear_override(&self, key: &str, reason: Option<&str>) -> Result<i64, ActionError> {
        self.require_write("policy clear")?;
        let live = self.store.overrides().await?;
        if !live.iter().any(|o| o.key == key) {
            let shown: String = key.chars().take(64).collect();
            return Err(ActionError::Refused(format!("no override `{shown}` is set")));
        }
        Ok(self.store.clear_override(key, reason, &self.actor).await?)
    }
}
