//! Secrets read at run time (frontier API keys, node agent tokens): resolved with a timeout and
//! kept in memory for `secrets.cache_secs`, so a request never waits on `op` more than once in
//! that time and a stuck `op` never holds a request longer than `secrets.timeout_secs`.
//!
//! The cache is one per process, like a connection pool: [`configure`] sets its limits at
//! start-up, [`shared`] hands it out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::config::{SecretError, SecretRef, SecretsConfig};

/// Resolved secrets with their expiry.
pub struct Secrets {
    ttl: Duration,
    timeout: Duration,
    cache: Mutex<HashMap<SecretRef, (Arc<str>, Instant)>>,
}

static SHARED: OnceLock<Secrets> = OnceLock::new();

/// Sets the process's cache limits from `secrets` (the first call wins; later ones are ignored).
pub fn configure(secrets: &SecretsConfig) {
    let _ = SHARED.set(Secrets::new(secrets));
}

/// The process's cache (with the default limits when [`configure`] was not called).
pub fn shared() -> &'static Secrets {
    SHARED.get_or_init(|| Secrets::new(&SecretsConfig::default()))
}

impl Secrets {
    /// An empty cache with the limits of `config`.
    pub fn new(config: &SecretsConfig) -> Secrets {
        Secrets {
            ttl: Duration::from_secs(config.cache_secs),
            timeout: Duration::from_secs(config.timeout_secs.max(1)),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The secret `reference` names: from the cache while fresh, else read now (within the timeout).
    /// A failure is not cached, so the next request tries again.
    pub async fn get(&self, reference: &SecretRef) -> Result<Arc<str>, SecretError> {
        if let Some(value) = self.fresh(reference) {
            return Ok(value);
        }
        let value: Arc<str> = reference.resolve_within(self.timeout).await?.into();
        if !self.ttl.is_zero() {
            self.lock()
                .insert(reference.clone(), (value.clone(), Instant::now() + self.ttl));
        }
        Ok(value)
    }

    fn fresh(&self, reference: &SecretRef) -> Option<Arc<str>> {
        let cache = self.lock();
        let (value, expires) = cache.get(reference)?;
        (Instant::now() < *expires).then(|| value.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SecretRef, (Arc<str>, Instant)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}
