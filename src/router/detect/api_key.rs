//! Provider API keys and tokens, recognised by their published prefixes plus length and
//! randomness rules so that ordinary hyphenated words (`risk-assessment`, `sk-learn`) never fire.

/// True when `text` holds a token shaped like a provider credential.
pub(super) fn contains(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_token_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        i += bytes[i..]
            .iter()
            .position(|b| !is_token_byte(*b))
            .unwrap_or(bytes.len() - i);
        if is_credential(&bytes[start..i]) {
            return true;
        }
    }
    false
}

/// Credentials are runs of letters, digits, `-` and `_`; anything else ends a token.
fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[usize::from(b)]
}

static TOKEN_BYTES: [bool; 256] = super::byte_table(b"-_");

/// The shortest credential shape (an AWS key id).
const MIN_CREDENTIAL: usize = 20;

fn is_credential(token: &[u8]) -> bool {
    if token.len() < MIN_CREDENTIAL {
        return false;
    }
    let first = token[0];
    match first {
        b's' | b'r' => stripe_or_openai(token),
        b'A' => aws(token) || google(token),
        b'g' => github(token) || gitlab(token),
        b'x' => slack(token),
        _ => false,
    }
}

/// `sk-…`, `sk-proj-…`, `sk-ant-…` (OpenAI, Anthropic) and `sk_live_…`/`rk_live_…` (Stripe).
fn stripe_or_openai(token: &[u8]) -> bool {
    if let Some(body) = token.strip_prefix(b"sk-") {
        return body.len() >= 32 && random_looking(body, 3);
    }
    for prefix in [b"sk_live_".as_slice(), b"sk_test_", b"rk_live_", b"rk_test_"] {
        if let Some(body) = token.strip_prefix(prefix) {
            return body.len() >= 20 && random_looking(body, 2);
        }
    }
    false
}

/// AWS access key ids: `AKIA`/`ASIA` and exactly 16 upper-case letters or digits.
fn aws(token: &[u8]) -> bool {
    token.len() == 20
        && (token.starts_with(b"AKIA") || token.starts_with(b"ASIA"))
        && token[4..].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Google API keys: `AIza` and exactly 35 more token characters.
fn google(token: &[u8]) -> bool {
    token.len() == 39 && token.starts_with(b"AIza")
}

/// GitHub tokens: `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` with 36 alphanumerics, or fine-grained `github_pat_`.
fn github(token: &[u8]) -> bool {
    if let Some(body) = token.strip_prefix(b"github_pat_") {
        return body.len() >= 40 && random_looking(body, 2);
    }
    let classic = [b"ghp_".as_slice(), b"gho_", b"ghu_", b"ghs_", b"ghr_"];
    classic.iter().any(|p| token.starts_with(p))
        && token.len() == 40
        && token[4..].iter().all(u8::is_ascii_alphanumeric)
        && random_looking(&token[4..], 1)
}

/// GitLab personal access tokens: `glpat-` and at least 20 more characters.
fn gitlab(token: &[u8]) -> bool {
    token
        .strip_prefix(b"glpat-")
        .is_some_and(|body| body.len() >= 20 && random_looking(body, 2))
}

/// Slack tokens: `xoxb-`, `xoxa-`, `xoxp-`, `xoxr-`, `xoxs-` with numeric workspace and user ids.
fn slack(token: &[u8]) -> bool {
    token.len() > 5
        && token.starts_with(b"xox")
        && matches!(token[3], b'b' | b'a' | b'p' | b'r' | b's')
        && token[4] == b'-'
        && token.len() - 5 >= 20
        && token[5..].iter().filter(|b| b.is_ascii_digit()).count() >= 6
}

/// Mixed digits and letters with few separators: what generated secrets look like, not prose.
fn random_looking(body: &[u8], min_digits: usize) -> bool {
    let digits = body.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = body.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let separators = body.len() - digits - letters;
    digits >= min_digits && letters >= 3 && separators * 8 <= body.len()
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn fires_on_provider_key_shapes() {
        for text in [
            "OPENAI_API_KEY=sk-4f9aK2mQ7xL0pR8sT3vW6yZ1bC5dE9gH2jK4mN7q",
            "use sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9o please",
            "key: sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA9zY8xW7vU6tS5rQ4pO3nM2lK1jI0hG-AA",
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "ASIA4Z7Q2M9X3K8L1P0R in the session",
            "token ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6",
            "github_pat_11ABCDEFG0abcdefghij12_klmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU",
            "glpat-x9Yz8W7v6U5t4S3r2Q1p",
            "SLACK_TOKEN=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "maps key AIzaSyD4e5F6g7H8i9J0kL1m2N3o4P5q6R7s8T9",
            "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ] {
            assert!(contains(text), "{text}");
        }
    }

    #[test]
    fn ignores_words_versions_and_ids() {
        for text in [
            "run the risk-assessment for the sk-learn pipeline",
            "the task-management board and desk-booking tool",
            "sk-the-quick-brown-fox-jumps-over-the-lazy-dog-2024-v2",
            "sk-short1234",
            "AKIA is the prefix of AWS access key ids",
            "AKIAIOSFODNN7EXAMPLEX is one character too long",
            "ghp_ tokens are 40 characters long",
            "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "xoxb-not-a-token-at-all-just-words-here",
            "AIza is Google's prefix",
            "order 123e4567-e89b-12d3-a456-426614174000 shipped",
            "version 1.2.3-rc.4+build.5678",
            "the ask-me-anything session ran at 2024-01-15T10:30:00Z",
        ] {
            assert!(!contains(text), "{text}");
        }
    }
}
