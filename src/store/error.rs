//! Store errors: one line each, never with a password in them.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL could not be parsed.
    #[error("invalid store URL: {0}")]
    InvalidUrl(String),
    /// The store URL names a database farmhand does not support.
    #[error("unsupported store URL scheme `{0}` (expected postgres://, postgresql:// or sqlite://)")]
    UnknownScheme(String),
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to the store at {url}: {reason}")]
    Unreachable {
        /// The URL with its password redacted.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Applying migrations failed.
    #[error("cannot migrate the store schema: {0}")]
    Migrate(String),
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(String),
    /// A stored value does not fit the farm's vocabulary or Rust's types.
    #[error("unexpected value in {column}: {value}")]
    Corrupt {
        /// `table.column` holding the value.
        column: &'static str,
        /// The value, or what is wrong with it.
        value: String,
    },
    /// The row an update refers to does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change conflicts with one already under way.
    #[error("{0}")]
    Conflict(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Query(err.to_string().replace('\n', " "))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(err.to_string().replace('\n', " "))
    }
}

impl StoreError {
    /// A value read back from `column` that could not be understood.
    pub(crate) fn corrupt(column: &'static str, value: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            column,
            value: value.to_string(),
        }
    }
}
