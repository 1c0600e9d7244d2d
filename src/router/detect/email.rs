//! E-mail addresses: `local@domain.tld` with an RFC-shaped local part, at least two domain
//! labels and an alphabetic top-level domain (file extensions like `icon@2x.png` do not count).

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
/// `name@2x.png`-style asset names have an address shape but are not addresses.
const FILE_EXTENSIONS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"bmp", b"tiff",
];

/// True when `text` holds an e-mail address.
pub(super) fn contains(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'@', bytes).any(|at| address_at(bytes, at))
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// The bytes around the `@` at `at` form `local@domain.tld`.
fn address_at(bytes: &[u8], at: usize) -> bool {
    let local_len = bytes[..at]
        .iter()
        .rev()
        .take(MAX_LOCAL + 1)
        .take_while(|b| is_local_byte(**b))
        .count();
    let local = &bytes[at - local_len..at];
    // `scheme://user@host` is a URL's userinfo, not an address.
    if at - local_len >= 3 && &bytes[at - local_len - 3..at - local_len] == b"://" {
        return false;
    }
    if local.is_empty() || local.len() > MAX_LOCAL || local.starts_with(b".") || local.ends_with(b".") {
        return false;
    }
    let rest = &bytes[at + 1..];
    let domain_len = rest
        .iter()
        .take(MAX_DOMAIN + 1)
        .take_while(|b| is_domain_byte(**b))
        .count();
    // A sentence may end right after the address.
    let domain = rest[..domain_len].strip_suffix(b".").unwrap_or(&rest[..domain_len]);
    // `git@github.com:org/repo.git` is an scp-style remote, not an address.
    let scp = rest.get(domain_len) == Some(&b':')
        && rest
            .get(domain_len + 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'~'));
    !scp && valid_domain(domain)
}

fn valid_domain(domain: &[u8]) -> bool {
    if domain.is_empty() || domain.len() > MAX_DOMAIN {
        return false;
    }
    let mut labels = 0;
    let mut tld: &[u8] = &[];
    for label in domain.split(|b| *b == b'.') {
        if label.is_empty() || label.len() > 63 || label.starts_with(b"-") || label.ends_with(b"-") {
            return false;
        }
        labels += 1;
        tld = label;
    }
    labels >= 2
        && (2..=24).contains(&tld.len())
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !FILE_EXTENSIONS.iter().any(|ext| tld.eq_ignore_ascii_case(ext))
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn fires_on_addresses() {
        for text in [
            "mail jane.doe@example.com today",
            "first.last+tag@mail.example.co.uk",
            "<ops_team@corp-mail.io>",
            "ends a sentence: bob@example.org.",
            "x@ex.museum",
        ] {
            assert!(contains(text), "{text}");
        }
    }

    #[test]
    fn ignores_things_with_an_at_sign() {
        for text in [
            "ping @alice about it",
            "@decorator\ndef f(): pass",
            "foo@bar",
            "user@localhost",
            "icon@2x.png and logo@3x.PNG",
            "npm i left-pad@1.3.0",
            "a@b.c",
            "meet @ 10:30",
            ".hidden@example.com.",
            "me@-bad-.com",
            "me@example..com",
            "at sign at the end @",
            "@",
            "git@github.com:acme/repo.git",
            "ssh://git@github.com/acme/repo.git",
        ] {
            assert!(!contains(text), "{text}");
        }
    }
}
