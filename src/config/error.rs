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
        let line = err
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1))
            .unwrap_or(1);
        ConfigError::Syntax {
            path: path.into(),
            line,
            message: one_line(err.message()),
        }
    }

    pub(super) fn key(path: &Path, err: serde_path_to_error::Error<toml::de::Error>) -> Self {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let key = if key == "." { "(top level)".to_string() } else { key };
        ConfigError::Invalid {
            path: path.into(),
            key,
            message: one_line(inner.message()),
        }
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
