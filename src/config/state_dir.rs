//! Where farmhand keeps local state (the router's decision journal), when the config does not say.
//!
//! The rule, first match wins, and only absolute paths count (the XDG spec says to ignore
//! relative ones):
//! 1. `$STATE_DIRECTORY`, which systemd sets for a service with `StateDirectory=farmhand`
//!    (`/var/lib/farmhand`); the first entry when it lists several;
//! 2. `$XDG_STATE_HOME/farmhand`;
//! 3. `$HOME/.local/state/farmhand`;
//! 4. `/var/lib/farmhand`, for a service that has none of them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The directory for services that name no other.
pub const SERVICE_STATE_DIR: &str = "/var/lib/farmhand";

/// The journal's file name inside the state directory.
pub const JOURNAL_FILE: &str = "journal.ndjson";

/// The state directory, reading the environment through `var`.
pub fn state_dir(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let absolute = |value: OsString| Some(PathBuf::from(value)).filter(|p| p.is_absolute());
    if let Some(dir) = var("STATE_DIRECTORY").and_then(|v| {
        let first = v.to_string_lossy().split(':').next().unwrap_or_default().to_string();
        absolute(first.into())
    }) {
        return dir;
    }
    if let Some(dir) = var("XDG_STATE_HOME").and_then(absolute) {
        return dir.join("farmhand");
    }
    if let Some(home) = var("HOME").and_then(absolute) {
        return home.join(".local/state/farmhand");
    }
    Path::new(SERVICE_STATE_DIR).to_path_buf()
}

/// The journal file: `journal_path` when the config sets it, else [`JOURNAL_FILE`] in the state
/// directory of this process's environment.
pub fn journal_path(configured: Option<&Path>) -> PathBuf {
    match configured {
        Some(path) => path.to_path_buf(),
        None => state_dir(|name| std::env::var_os(name)).join(JOURNAL_FILE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(vars: &[(&str, &str)]) -> PathBuf {
        state_dir(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v)))
    }

    #[test]
    fn the_first_absolute_candidate_wins() {
        let all = [
            ("STATE_DIRECTORY", "/var/lib/farmhand:/var/lib/other"),
            ("XDG_STATE_HOME", "/home/ops/.state"),
            ("HOME", "/home/ops"),
        ];
        assert_eq!(dir(&all), Path::new("/var/lib/farmhand"));
        assert_eq!(dir(&all[1..]), Path::new("/home/ops/.state/farmhand"));
        assert_eq!(dir(&all[2..]), Path::new("/home/ops/.local/state/farmhand"));
        assert_eq!(dir(&[]), Path::new(SERVICE_STATE_DIR));
    }

    #[test]
    fn relative_values_are_ignored() {
        assert_eq!(
            dir(&[
                ("STATE_DIRECTORY", "state"),
                ("XDG_STATE_HOME", ".state"),
                ("HOME", "/home/ops")
            ]),
            Path::new("/home/ops/.local/state/farmhand")
        );
        assert_eq!(dir(&[("HOME", "")]), Path::new(SERVICE_STATE_DIR));
    }

    #[test]
    fn a_configured_journal_wins_over_the_state_directory() {
        let configured = Path::new("/srv/farmhand/journal.ndjson");
        assert_eq!(journal_path(Some(configured)), configured);
        let default = journal_path(None);
        assert!(default.is_absolute(), "{}", default.display());
        assert!(default.ends_with(JOURNAL_FILE));
    }
}
