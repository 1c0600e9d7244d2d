//! URLs and DSNs with a password in the userinfo: `postgres://app:s3cret@db`,
//! `https://user:token@github.com/…`, `mongodb+srv://u:p@cluster`, `redis://:pass@host`,
//! `amqp://guest:…@rabbit`.
//!
//! Ignored: userinfo without a password (`ssh://git@host`), ports (`http://host:8080`), and
//! placeholder passwords — templates (`${DB_PASSWORD}`, `{{pw}}`, `$PW`, `%s`), masks (`***`,
//! `xxx`), angle-bracket slots (`<password>`) and the words `password`/`secret`/`changeme`….
//! Any other password fires, even a short one: a DSN with a literal password is a credential.

use super::text::{WORD, byte_before, is_placeholder};

/// Longest userinfo we look at.
const MAX_USERINFO: usize = 256;

/// `://` at `start..end`: a scheme before it and `user:password@host` after it.
pub(super) fn userinfo(bytes: &[u8], start: usize, end: usize) -> bool {
    let scheme_len = super::text::run_back(bytes, start, &SCHEME, 32);
    let scheme_ok = scheme_len >= 2
        && bytes.get(start - scheme_len).is_some_and(u8::is_ascii_alphabetic)
        && byte_before(bytes, start - scheme_len).is_none_or(|b| !WORD[usize::from(b)]);
    if !scheme_ok {
        return false;
    }
    let Some(rest) = bytes.get(end..bytes.len().min(end + MAX_USERINFO)) else {
        return false;
    };
    let Some(at) = rest.iter().position(|b| !USERINFO[usize::from(*b)]) else {
        return false;
    };
    if rest[at] != b'@'
        || !rest
            .get(at + 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'[')
    {
        return false;
    }
    let info = &rest[..at];
    let Some(colon) = info.iter().position(|b| *b == b':') else {
        return false;
    };
    let password = &info[colon + 1..];
    !password.is_empty() && !is_placeholder(password)
}

/// Bytes of a URL scheme.
static SCHEME: [bool; 256] = super::text::byte_table(b"+.-");

/// Bytes allowed in userinfo (everything printable except the delimiters that end it).
static USERINFO: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        t[b] = true;
        b += 1;
    }
    let ends = b"/?#@\"'<>\\`[]{}|^ ";
    let mut i = 0;
    while i < ends.len() {
        t[ends[i] as usize] = false;
        i += 1;
    }
    // `{`, `}`, `<`, `>` are delimiters, but a template password like `${PW}` should be read
    // whole and judged a placeholder rather than cut short.
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t
};

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_passwords_in_urls() {
        for text in [
            "DATABASE_URL=postgres://app:Zq9xK2m@db.internal:5432/app",
            "git clone https://deploy:ghtoken123@github.com/acme/repo.git",
            "mongodb+srv://svc:p4ssW0rd@cluster0.ab1cd.mongodb.net/test",
            "redis://:hunter2@cache:6379/0",
            "amqp://guest:guest@rabbit:5672/",
            "postgres://user:pass@host",
        ] {
            assert!(Detector::UrlCredentials.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_urls_without_passwords() {
        for text in [
            "ssh://git@github.com/acme/repo.git",
            "http://localhost:8080/health",
            "postgres://app:${DB_PASSWORD}@db:5432/app",
            "postgres://app:<password>@db/app",
            "redis://:***@cache:6379",
            "mysql://root:password@localhost/db",
            "https://example.com/path?q=a:b@c",
            "mailto:someone@example.com",
            "https://user@example.com/",
            "postgres://app:@db/app",
            "mongodb://admin:xxxxxx@mongo:27017",
        ] {
            assert!(!Detector::UrlCredentials.fires_on(text), "{text}");
        }
    }
}
