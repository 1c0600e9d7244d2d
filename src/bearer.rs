//! Bearer-token checks in constant time, shared by the node agent and the router's gateway.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The token of an `Authorization: Bearer <token>` header value, if it has that shape.
pub fn token_from_header(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A token's SHA-256 digest: what is kept and compared, so neither a token's bytes nor its length
/// shape the time a comparison takes.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether two digests are equal, compared in constant time.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a[..].ct_eq(&b[..]))
}

/// Whether a presented token has the expected digest, compared in constant time.
pub fn digest_matches(presented: &str, expected: &[u8; 32]) -> bool {
    digests_equal(&digest(presented), expected)
}

/// Compares a presented token with an expected one without leaking where they differ.
pub fn tokens_match(presented: &str, expected: &str) -> bool {
    digest_matches(presented, &digest(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_headers() {
        assert_eq!(token_from_header("Bearer abc"), Some("abc"));
        assert_eq!(token_from_header("bearer  abc "), Some("abc"));
        assert_eq!(token_from_header("Basic abc"), None);
        assert_eq!(token_from_header("Bearer "), None);
        assert_eq!(token_from_header("abc"), None);
    }

    #[test]
    fn compares_whole_tokens() {
        assert!(tokens_match("s3cret", "s3cret"));
        assert!(!tokens_match("s3cre", "s3cret"));
        assert!(!tokens_match("s3cret!", "s3cret"));
        assert!(!tokens_match("", "s3cret"));
    }
}
