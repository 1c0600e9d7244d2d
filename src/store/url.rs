//! Store URLs: which backend they name, and how they print without a password.

use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use super::StoreError;

/// A parsed store URL.
pub(crate) enum Target {
    /// A PostgreSQL server.
    Postgres(PgConnectOptions),
    /// A SQLite file, or an in-memory database.
    Sqlite {
        /// Connection options as given.
        options: SqliteConnectOptions,
        /// True for `sqlite::memory:` and `mode=memory`: one connection holds the whole database.
        in_memory: bool,
    },
}

/// Parses a store URL, naming the accepted forms when it is not one of them.
pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
    let Some((scheme, _)) = url.split_once(':') else {
        return Err(StoreError::InvalidUrl(
            "expected postgres://user@host/db or sqlite://path".into(),
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => {
            let parsed = url::Url::parse(url).map_err(|e| StoreError::InvalidUrl(format!("PostgreSQL URL: {e}")))?;
            let options = PgConnectOptions::from_url(&parsed)
                .map_err(|e| StoreError::InvalidUrl(format!("PostgreSQL URL: {}", one_line(&e))))?;
            Ok(Target::Postgres(options))
        }
        "sqlite" => {
            let rest = &url["sqlite:".len()..];
            if rest.trim_start_matches('/').is_empty() {
                return Err(StoreError::InvalidUrl(
                    "SQLite URL has no file name (try sqlite://farmhand.db)".into(),
                ));
            }
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(format!("SQLite URL: {}", one_line(&e))))?;
            let in_memory = rest.starts_with(":memory:") || url.contains("mode=memory");
            Ok(Target::Sqlite { options, in_memory })
        }
        "" => Err(StoreError::InvalidUrl(
            "expected postgres://user@host/db or sqlite://path".into(),
        )),
        other => Err(StoreError::UnknownScheme(other.chars().take(32).collect())),
    }
}

/// The URL with any password (in the user info or a `password` parameter) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(unparseable URL)".into();
    };
    if parsed.password().is_some() {
        // Only fails for URLs that cannot have credentials, which then have no password either.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("password")) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// An error's message on one line.
pub(crate) fn one_line(err: &dyn std::fmt::Display) -> String {
    err.to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://fh:s3cret@db:5432/farm"),
            "postgres://fh:***@db:5432/farm"
        );
        assert_eq!(
            redact("postgres://db/farm?user=fh&password=s3cret"),
            "postgres://db/farm?user=fh&password=***"
        );
        assert_eq!(redact("postgres://fh@db/farm"), "postgres://fh@db/farm");
        assert_eq!(redact("sqlite://farmhand.db"), "sqlite://farmhand.db");
        assert!(!redact("postgres://fh:s3cret@[bad").contains("s3cret"));
    }

    #[test]
    fn names_backends() {
        assert!(matches!(parse("postgresql://fh@db/farm"), Ok(Target::Postgres(_))));
        assert!(matches!(
            parse("sqlite::memory:"),
            Ok(Target::Sqlite { in_memory: true, .. })
        ));
        assert!(matches!(
            parse("sqlite://farm.db"),
            Ok(Target::Sqlite { in_memory: false, .. })
        ));
        assert!(matches!(
            parse("sqlite:farm.db"),
            Ok(Target::Sqlite { in_memory: false, .. })
        ));
        assert!(matches!(parse("mysql://db/farm"), Err(StoreError::UnknownScheme(s)) if s == "mysql"));
        assert!(matches!(parse("farm.db"), Err(StoreError::InvalidUrl(_))));
        assert!(matches!(
            parse("postgres://fh:s3cret@db:port/farm"),
            Err(StoreError::InvalidUrl(_))
        ));
        assert!(matches!(parse("sqlite://"), Err(StoreError::InvalidUrl(_))));
    }
}
