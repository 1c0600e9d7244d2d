//! Secrets given by name.
//!
//! [`Detector::SecretAssignment`](super::Detector::SecretAssignment): a name containing
//! `password`, `passwd`, `passphrase`, `pwd`, `secret`, `token`, `api_key`/`apikey`/`api-key`
//! (snake, kebab, camel or upper case: `DB_PASSWORD`, `clientSecret`, `access_token`) assigned
//! with `=`, `:`, `:=`, `=>` (env, YAML, JSON, code), or an `Authorization: Bearer` value,
//! whose value looks like a secret (see [`secret_like`]). Quiet on prose ("reset my password",
//! "the password field is required"), on names that describe a secret rather than hold it
//! (`tokens`, `tokenizer`, `secret_name`, `token_type`, `max_tokens`), on placeholders
//! (`********`, `${VAR}`, `<token>`, `changeme`), on words, numbers, booleans, UUIDs and on
//! code (`password = get_password()`).
//!
//! [`Detector::CredentialFile`](super::Detector::CredentialFile): JSON credential files — a GCP
//! service account (`"type": "service_account"` with a `"private_key"`/`"private_key_id"`
//! member nearby), an OAuth client (`"client_secret": "<secret>"`), and any `"private_key"`
//! member holding key material.

use super::text::{assigned_value, byte_before, contains_ignore_case, looks_generated, run, secret_like, token};

/// Longest name suffix read after the keyword (`_ACCESS_KEY` in `AWS_SECRET_ACCESS_KEY`).
const MAX_SUFFIX: usize = 32;

/// Name parts that say the value describes a secret instead of being one.
const DESCRIPTIVE: &[&[u8]] = &[
    b"name",
    b"type",
    b"count",
    b"length",
    b"len",
    b"size",
    b"path",
    b"file",
    b"url",
    b"uri",
    b"version",
    b"ref",
    b"arn",
    b"id",
    b"field",
    b"label",
    b"prompt",
    b"policy",
    b"expir",
    b"ttl",
    b"header",
    b"hash",
    b"limit",
    b"budget",
    b"usage",
    b"format",
    b"kind",
    b"min",
    b"max",
    b"hint",
    b"env",
    b"var",
    b"mode",
    b"rotation",
    b"store",
    b"manager",
    b"provider",
    b"endpoint",
    b"required",
    b"reset",
    b"strength",
];

/// A secret-sounding name at `start..end` assigned a secret-looking value.
pub(super) fn secret_assignment(bytes: &[u8], start: usize, end: usize) -> bool {
    // The keyword must begin a name part: `DB_PASSWORD`, `dbPassword`, `password`; not `passwordless`.
    let before = byte_before(bytes, start);
    let starts_part = before.is_none_or(|b| !b.is_ascii_alphabetic())
        || (before.is_some_and(|b| b.is_ascii_lowercase()) && bytes.get(start).is_some_and(u8::is_ascii_uppercase));
    if !starts_part {
        return false;
    }
    let suffix_len = run(bytes, end, &NAME, MAX_SUFFIX + 1);
    if suffix_len > MAX_SUFFIX {
        return false;
    }
    let Some(suffix) = bytes.get(end..end + suffix_len) else {
        return false;
    };
    // `tokens`, `tokenizer`, `secretary`: the keyword continues as another lower-case word.
    if suffix.first().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    // Prose seldom assigns a value after the name: that check goes first, being cheaper.
    let Some(value) = assigned_value(bytes, end + suffix_len) else {
        return false;
    };
    !DESCRIPTIVE.iter().any(|part| contains_ignore_case(suffix, part)) && secret_like(value)
}

/// `Bearer` at `start..end`: an `Authorization` credential of 20+ generated-looking characters.
pub(super) fn bearer(bytes: &[u8], start: usize, end: usize) -> bool {
    if byte_before(bytes, start).is_some_and(|b| b.is_ascii_alphanumeric()) || bytes.get(end) != Some(&b' ') {
        return false;
    }
    let value = token(bytes, end + 1, &BEARER_VALUE, 4096);
    value.len() >= 20 && looks_generated(value) && secret_like(value)
}

/// `secret` at `start..end` as the tail of a JSON `"client_secret"` member.
pub(super) fn client_secret(bytes: &[u8], start: usize, end: usize) -> bool {
    let is_member = start >= 8 && bytes.get(start - 8..start) == Some(b"\"client_") && bytes.get(end) == Some(&b'"');
    is_member && assigned_value(bytes, end).is_some_and(|v| v.len() >= 16 && looks_generated(v) && secret_like(v))
}

/// `service_account` at `start..end` as the value of `"type"`, with private key members nearby.
pub(super) fn service_account(bytes: &[u8], start: usize, end: usize) -> bool {
    let head = bytes.get(start.saturating_sub(24)..start).unwrap_or(&[]);
    let typed = memchr::memmem::find(head, b"\"type\"").is_some() && bytes.get(end) == Some(&b'"');
    let Some(window) = bytes.get(start.saturating_sub(4096)..bytes.len().min(end + 4096)) else {
        return false;
    };
    typed && memchr::memmem::find(window, b"\"private_key").is_some()
}

/// `"private_key"` at `start..end`: a JSON member holding PEM armour or a long base64 key.
pub(super) fn private_key_field(bytes: &[u8], _start: usize, end: usize) -> bool {
    let Some(rest) = bytes.get(end..) else {
        return false;
    };
    let colon = run(rest, 0, &super::text::SPACE, 4);
    if rest.get(colon) != Some(&b':') {
        return false;
    }
    let open = colon + 1 + run(rest, colon + 1, &super::text::SPACE, 4);
    if rest.get(open) != Some(&b'"') {
        return false;
    }
    let value = &rest[open + 1..];
    value.starts_with(b"-----BEGIN") || token(value, 0, &super::text::BASE64, 128).len() >= 64
}

/// Bytes of a name suffix (`_ACCESS_KEY`, `Hash`, `.prod`).
static NAME: [bool; 256] = super::text::byte_table(b"_-.");
/// Bytes of a bearer credential (base64url, base64 and `.` of JWTs and macaroons).
static BEARER_VALUE: [bool; 256] = super::text::byte_table(b"-_.+/=~");

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_assigned_secrets() {
        for text in [
            "DB_PASSWORD=hunter2hunter2",
            "\"password\": \"s3cr3tP4ss!\"",
            "  password: Zq9xK2mW7",
            "clientSecret = 'aB3dE6gH9jK2mN5pQ8sT'",
            "export API_KEY=4f9aK2mQ7xL0pR8sT3vW",
            "access_token: 9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "Authorization: Bearer aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF",
            "let dbPassword := \"Tr0ub4dor&3\"",
        ] {
            assert!(Detector::SecretAssignment.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_prose_descriptions_and_placeholders() {
        for text in [
            "Reset my password",
            "the password field is required",
            "token: none",
            "password: ********",
            "password: ${DB_PASSWORD}",
            "\"password\": \"<your password>\"",
            "tokens: 12345678",
            "max_tokens: 4096",
            "tokenizer = AutoTokenizer.from_pretrained(name2)",
            "secret_name: prod-db-credentials-v2",
            "token_type: Bearer",
            "password = get_password(user2)",
            "passwordless: true",
            "api_key: changeme123",
            "session_token: 123e4567-e89b-12d3-a456-426614174000",
            "the bearer token is sent in a header",
            "PWD=/home/user/projects2",
        ] {
            assert!(!Detector::SecretAssignment.fires_on(text), "{text}");
        }
    }

    #[test]
    fn credential_files() {
        for text in [
            "{\"type\": \"service_account\", \"project_id\": \"acme-1\", \"private_key_id\": \"0a1b2c3d\"}",
            "{\"installed\":{\"client_id\":\"1234-abc.apps.googleusercontent.com\",\"client_secret\":\"GOCSPX-aB3dE6gH9jK2mN5pQ8sT1vW4\"}}",
            "{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\"}",
        ] {
            assert!(Detector::CredentialFile.fires_on(text), "{text}");
        }
        for text in [
            "set \"type\": \"service_account\" in the JSON file",
            "{\"client_secret\": \"\"}",
            "{\"client_secret\": \"${GOOGLE_CLIENT_SECRET}\"}",
            "{\"private_key\": \"\"}",
            "the private_key field holds the PEM",
        ] {
            assert!(!Detector::CredentialFile.fires_on(text), "{text}");
        }
    }
}
