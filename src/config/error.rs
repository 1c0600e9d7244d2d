//! Configuration errors: one line each, naming the file and the key.

use std::path::{Path, PathBuf};

/// Why a fleet file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A key has the wrong type, an unknown name, or a value out of range.
    #[error("{}: key `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dotted path of the key, e.g. `nodes[2].ollama_port`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    pub(super) fn syntax(path: &Path, text: &str, err: &toml::de::Error) -> Self {
        // Newlines before the error, plus one: `lines()` would miss the line an error starts.
        let line = err
            .span()
            .map(|span| {
                text.as_bytes()[..span.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            })
            .unwrap_or(1);
        ConfigError::Syntax {
            path: path.into(),
            line,
            message: printable(&one_line(err.message())),
        }
    }

    /// A key whose value is wrong; `message` may quote the file's values.
    pub(super) fn invalid(path: &Path, key: &str, message: &str) -> Self {
        ConfigError::Invalid {
            path: path.into(),
            key: printable(key),
            message: printable(message),
        }
    }

    pub(super) fn key(path: &Path, err: serde_path_to_error::Error<toml::de::Error>) -> Self {
        let key = toml_key(err.path());
        ConfigError::invalid(path, &key, &one_line(err.into_inner().message()))
    }
}

/// The key as TOML writes it (`nodes[2].ollama_port`, `console.keys."node.drain"`, `""`), or
/// `(top level)`: a key that is empty or not bare is quoted, so the error still names it.
fn toml_key(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        let name = match segment {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Map { key } | Segment::Enum { variant: key } => key.as_str(),
            Segment::Unknown => "?",
        };
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&key_segment(name));
    }
    if out.is_empty() { "(top level)".into() } else { out }
}

/// One segment of a dotted key as TOML writes it: bare when it can be, quoted otherwise.
pub(super) fn key_segment(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '?');
    if bare { name.to_string() } else { format!("{name:?}") }
}

/// Control characters escaped (`\n`, `\u{1b}`), so values quoted from the file keep the error on
/// one line and never reach the terminal raw.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
