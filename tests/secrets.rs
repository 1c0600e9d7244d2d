//! Secret references read at run time: the cache keeps a value for `secrets.cache_secs` and
//! never keeps a failure; a stuck `op` is cut at `secrets.timeout_secs` and named.

use std::time::{Duration, Instant};

use farmhand::config::{SecretRef, SecretsConfig};
use farmhand::secrets::Secrets;

#[tokio::test]
async fn values_are_kept_for_the_cache_time_and_failures_are_not() {
    // SAFETY of the test: these variable names are unique to this test.
    unsafe { std::env::set_var("FARMHAND_SECRETS_TEST", "first") };
    let reference = SecretRef::Env("FARMHAND_SECRETS_TEST".into());
    let cached = Secrets::new(&SecretsConfig {
        cache_secs: 300,
        timeout_secs: 1,
    });
    assert_eq!(&*cached.get(&reference).await.unwrap(), "first");
    unsafe { std::env::set_var("FARMHAND_SECRETS_TEST", "second") };
    assert_eq!(&*cached.get(&reference).await.unwrap(), "first", "read from the cache");
    let uncached = Secrets::new(&SecretsConfig {
        cache_secs: 0,
        timeout_secs: 1,
    });
    assert_eq!(&*uncached.get(&reference).await.unwrap(), "second");
    let missing = SecretRef::Env("FARMHAND_SECRETS_TEST_MISSING".into());
    assert!(cached.get(&missing).await.is_err());
    unsafe { std::env::set_var("FARMHAND_SECRETS_TEST_MISSING", "now") };
    assert_eq!(&*cached.get(&missing).await.unwrap(), "now", "a failure is not cached");
}

#[tokio::test]
async fn a_stuck_op_is_cut_at_the_timeout_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let op = dir.path().join("op");
    std::fs::write(&op, "#!/bin/sh\nsleep 30\n").unwrap();
    let mut permissions = std::fs::metadata(&op).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&op, permissions).unwrap();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    // SAFETY of the test: the other test here reads no PATH; the stand-in `op` only sleeps.
    unsafe { std::env::set_var("PATH", path) };
    let reference = SecretRef::OnePassword("op://farm/anthropic/credential".into());
    let started = Instant::now();
    let err = reference.resolve_within(Duration::from_secs(1)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(
        err.to_string(),
        "reading op://farm/anthropic/credential took longer than 1 s (secrets.timeout_secs)"
    );
}
