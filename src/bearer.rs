//! Bearer-token checks in constant time, shared by the node agent and the router's gateway.

use subtle::ConstantTimeEq;

/// The token of an `Authorization: Bearer <token>` header value, if it has that shape.
pub fn token_from_header(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares a presented token with an expected one without leaking where they differ.
pub fn tokens_match(presented: &str, expected: &str) -> bool {
    // Lengths are compared in constant time too: `ct_eq` on slices of different lengths is false.
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
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
