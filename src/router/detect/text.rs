//! Byte-level helpers every detector shares: character tables, boundaries, bounded runs,
//! "looks generated" tests for token bodies, placeholder tests for assigned values, and the
//! `name = value` reader used by the labelled detectors.
//!
//! Every helper reads a bounded number of bytes around a position, so detectors stay linear.

/// A byte-class table: ASCII letters and digits plus `also`, looked up once per byte.
pub(super) const fn byte_table(also: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < also.len() {
        table[also[i] as usize] = true;
        i += 1;
    }
    table
}

/// ASCII letters and digits.
pub(super) static WORD: [bool; 256] = byte_table(b"");
/// Letters, digits, `-` and `_`: the bytes of most vendor tokens.
pub(super) static TOKEN: [bool; 256] = byte_table(b"-_");
/// Letters, digits and `_`: identifiers.
pub(super) static IDENT: [bool; 256] = byte_table(b"_");
/// The standard base64 alphabet without padding.
pub(super) static BASE64: [bool; 256] = byte_table(b"+/");

/// True when `b` may be part of a word or number; detectors only match at such boundaries.
pub(super) fn is_word_byte(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// The byte before `i`, if any.
pub(super) fn byte_before(bytes: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| bytes.get(j).copied())
}

/// How many bytes from `from` on belong to `table`, counting at most `max`.
pub(super) fn run(bytes: &[u8], from: usize, table: &[bool; 256], max: usize) -> usize {
    bytes.get(from..).map_or(0, |rest| {
        rest.iter().take(max).take_while(|b| table[usize::from(**b)]).count()
    })
}

/// How many bytes before `end` belong to `table`, counting at most `max`.
pub(super) fn run_back(bytes: &[u8], end: usize, table: &[bool; 256], max: usize) -> usize {
    bytes.get(..end).map_or(0, |head| {
        head.iter()
            .rev()
            .take(max)
            .take_while(|b| table[usize::from(**b)])
            .count()
    })
}

/// The run of `table` bytes starting at `from` (at most `max` long).
pub(super) fn token<'a>(bytes: &'a [u8], from: usize, table: &[bool; 256], max: usize) -> &'a [u8] {
    let len = run(bytes, from, table, max);
    bytes.get(from..from + len).unwrap_or(&[])
}

/// No `table` byte right before `i`.
pub(super) fn clean_start(bytes: &[u8], i: usize, table: &[bool; 256]) -> bool {
    byte_before(bytes, i).is_none_or(|b| !table[usize::from(b)])
}

/// No `table` byte at `end`.
pub(super) fn clean_end(bytes: &[u8], end: usize, table: &[bool; 256]) -> bool {
    bytes.get(end).is_none_or(|b| !table[usize::from(*b)])
}

/// A token of exactly `len` `table` bytes starts at `from` and nothing from `table` follows it.
pub(super) fn exact_token(bytes: &[u8], from: usize, table: &[bool; 256], len: usize) -> bool {
    run(bytes, from, table, len + 1) == len
}

/// How many bytes of each kind a candidate holds.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Classes {
    pub lower: usize,
    pub upper: usize,
    pub digit: usize,
    pub other: usize,
}

impl Classes {
    /// Counts the bytes of `s` by kind.
    pub(super) fn of(s: &[u8]) -> Classes {
        let mut c = Classes::default();
        for b in s {
            match b {
                b'a'..=b'z' => c.lower += 1,
                b'A'..=b'Z' => c.upper += 1,
                b'0'..=b'9' => c.digit += 1,
                _ => c.other += 1,
            }
        }
        c
    }

    /// How many of lower case, upper case and digits occur.
    pub(super) fn alnum_kinds(&self) -> usize {
        usize::from(self.lower > 0) + usize::from(self.upper > 0) + usize::from(self.digit > 0)
    }

    /// Letters of either case.
    pub(super) fn letters(&self) -> usize {
        self.lower + self.upper
    }
}

/// Mixed digits and letters with few separators: what generated secrets look like, not prose.
pub(super) fn random_looking(body: &[u8], min_digits: usize) -> bool {
    let c = Classes::of(body);
    c.digit >= min_digits && c.letters() >= 3 && c.other * 8 <= body.len()
}

/// A generated-looking body: at least two of lower/upper/digit and many distinct bytes (so
/// `aaaa…`, `xxxx…` and `ab12ab12…` fillers do not count).
pub(super) fn looks_generated(body: &[u8]) -> bool {
    let c = Classes::of(body);
    c.alnum_kinds() >= 2 && distinct(body) * 3 >= body.len().min(36)
}

/// Number of distinct byte values in `s`.
pub(super) fn distinct(s: &[u8]) -> usize {
    let mut seen = [0u64; 4];
    for b in s {
        seen[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    seen.iter().map(|w| w.count_ones() as usize).sum()
}

/// Values that stand for a secret without being one: templates, masks, examples.
const PLACEHOLDER_PARTS: &[&[u8]] = &[
    b"${",
    b"{{",
    b"}}",
    b"<",
    b">",
    b"%(",
    b"%s",
    b"***",
    b"xxx",
    b"...",
    b"\xe2\x80\xa2",
    b"example",
    b"changeme",
    b"change_me",
    b"change-me",
    b"placeholder",
    b"redacted",
    b"your_",
    b"your-",
    b"yourpass",
    b"yoursecret",
    b"yourtoken",
    b"dummy",
    b"replace_me",
    b"replaceme",
    b"insert_",
    b"fake",
    b"todo",
    b"fixme",
];

/// Whole values that are words, not secrets.
const PLACEHOLDER_WORDS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"secret",
    b"token",
    b"none",
    b"null",
    b"nil",
    b"true",
    b"false",
    b"undefined",
    b"required",
    b"optional",
    b"hidden",
    b"masked",
    b"empty",
    b"string",
    b"mypassword",
    b"mysecret",
    b"letmein",
    b"admin",
    b"default",
    b"env",
    b"process",
];

/// A placeholder or template rather than a value: `${DB_PASSWORD}`, `<password>`, `****`, `xxx`,
/// `$SECRET`, `%(pw)s`, `changeme`, `your_token_here`, or one repeated byte.
pub(super) fn is_placeholder(value: &[u8]) -> bool {
    let Some(&first) = value.first() else {
        return true;
    };
    if matches!(first, b'$' | b'<' | b'{' | b'[' | b'(' | b'*' | b'#') {
        return true;
    }
    if value.iter().all(|b| *b == first) {
        return true;
    }
    let mut lower = [0u8; 64];
    let n = value.len().min(lower.len());
    for (l, b) in lower.iter_mut().zip(&value[..n]) {
        *l = b.to_ascii_lowercase();
    }
    let lower = &lower[..n];
    if PLACEHOLDER_WORDS.contains(&lower) {
        return true;
    }
    PLACEHOLDER_PARTS.iter().any(|part| contains(lower, part))
}

/// Whether `needle` occurs in `haystack`: for the short texts a detector checks, a plain
/// comparison at each offset costs less than building a `memmem` searcher.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A UUID (`8-4-4-4-12` hex): an identifier, even next to a secret-sounding name.
pub(super) fn is_uuid(value: &[u8]) -> bool {
    value.len() == 36
        && value.iter().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// What an assigned value must look like to count as a secret: 8 to 512 bytes, not a
/// placeholder, not a UUID, not a path, and either letters mixed with digits or letters of
/// both cases mixed with symbols (plain words, numbers and dotted identifiers do not count).
pub(super) fn secret_like(value: &[u8]) -> bool {
    if !(8..=512).contains(&value.len()) {
        return false;
    }
    if value.starts_with(b"/") || value.starts_with(b"./") || value.starts_with(b"~/") || value.starts_with(b"../") {
        return false;
    }
    // A sentence, not a secret.
    if value.iter().filter(|b| **b == b' ').count() >= 2 || contains(value, b"://") {
        return false;
    }
    let c = Classes::of(value);
    let symbols = value
        .iter()
        .filter(|b| !b.is_ascii_alphanumeric() && !matches!(b, b'.' | b'_' | b'-'))
        .count();
    let mixed = c.letters() > 0 && c.digit > 0;
    let punctuated = c.lower > 0 && c.upper > 0 && symbols > 0;
    // The class test turns most values away; the placeholder lists are read only after it.
    (mixed || punctuated) && !is_placeholder(value) && !is_uuid(value) && distinct(value) >= 5
}

/// Bytes that end an unquoted value.
static VALUE_END: [bool; 256] = {
    let mut t = [false; 256];
    let ends = b" \t\r\n\"'`,;)}]([&<>|\\";
    let mut i = 0;
    while i < ends.len() {
        t[ends[i] as usize] = true;
        i += 1;
    }
    t[0] = true;
    t
};

/// The value assigned after a name that ends at `from`: `name = v`, `name: v`, `"name": "v"`,
/// `name := v`, `name => v`, `NAME=v`. `None` when no separator follows, or when the value is a
/// call or an index (`get_password(...)`, `env["X"]`), i.e. code rather than a literal.
pub(super) fn assigned_value(bytes: &[u8], from: usize) -> Option<&[u8]> {
    let mut i = from;
    if matches!(bytes.get(i), Some(b'"' | b'\'' | b'`')) {
        i += 1;
    }
    // XML configuration: `<add key="ApiKey" value="…" />`.
    if bytes.get(i..i + 6) == Some(b" value") {
        i += 6;
    }
    i += run(bytes, i, &SPACE, 4);
    match bytes.get(i..i + 2) {
        Some(b":=" | b"=>" | b"==") => i += 2,
        _ => match bytes.get(i) {
            Some(b'=' | b':') => i += 1,
            _ => return None,
        },
    }
    i += run(bytes, i, &SPACE, 4);
    let quote = bytes.get(i).copied().filter(|b| matches!(b, b'"' | b'\'' | b'`'));
    if quote.is_some() {
        i += 1;
    }
    let rest = bytes.get(i..)?.iter().take(513);
    let len = match quote {
        // Quoted: up to the closing quote (a space does not end it; a line break does).
        Some(q) => rest
            .take_while(|b| **b != q && !matches!(b, b'\n' | b'\r' | b'\\'))
            .count(),
        None => rest.take_while(|b| !VALUE_END[usize::from(**b)]).count(),
    };
    let end = i + len;
    if quote.is_none() && matches!(bytes.get(end), Some(b'(' | b'[')) {
        return None;
    }
    bytes.get(i..end)
}

/// Spaces and tabs.
pub(super) static SPACE: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t
};

/// `needle` occurs (ASCII case-insensitively) in `hay`; both are short.
pub(super) fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// No letter right before `start`: a label starts a word there.
pub(super) fn starts_word(bytes: &[u8], start: usize) -> bool {
    byte_before(bytes, start).is_none_or(|b| !b.is_ascii_alphabetic())
}

/// A camelCase part starts at `start`: a capital right after a lower-case letter (`dateOfBirth`).
pub(super) fn camel_part(bytes: &[u8], start: usize) -> bool {
    byte_before(bytes, start).is_some_and(|b| b.is_ascii_lowercase())
        && bytes.get(start).is_some_and(u8::is_ascii_uppercase)
}

/// A label at `start..end` stands alone: no letter right before it or right after it.
pub(super) fn label_alone(bytes: &[u8], start: usize, end: usize) -> bool {
    let letter = |b: u8| b.is_ascii_alphabetic();
    byte_before(bytes, start).is_none_or(|b| !letter(b)) && bytes.get(end).is_none_or(|b| !letter(*b))
}

/// ASCII digits, for [`run`].
pub(super) static DIGITS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = b'0';
    while b <= b'9' {
        t[b as usize] = true;
        b += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_stop_at_bounds_and_ends() {
        let s = b"abc-123 rest";
        assert_eq!(run(s, 0, &TOKEN, 100), 7);
        assert_eq!(run(s, 0, &TOKEN, 3), 3);
        assert_eq!(run(s, 100, &TOKEN, 3), 0);
        assert_eq!(run_back(s, 7, &WORD, 100), 3);
        assert_eq!(token(s, 8, &WORD, 100), b"rest");
        assert!(exact_token(s, 0, &TOKEN, 7) && !exact_token(s, 0, &TOKEN, 6));
        assert!(clean_start(s, 0, &WORD) && !clean_start(s, 1, &WORD));
    }

    #[test]
    fn placeholders_are_recognised() {
        for v in [
            "${DB_PASSWORD}",
            "<password>",
            "********",
            "xxxxxxxx",
            "$SECRET",
            "%(pw)s",
            "changeme",
            "your_token_here",
            "{{ vault.pw }}",
            "null",
            "PASSWORD",
            "example-key-123",
            "",
        ] {
            assert!(is_placeholder(v.as_bytes()), "{v}");
        }
        for v in ["hunter2hunter2", "Tr0ub4dor&3", "s3cr3tP4ss"] {
            assert!(!is_placeholder(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn secret_like_wants_mixed_classes() {
        for v in ["hunter2hunter2", "Tr0ub4dor&3", "P@ssw0rd!", "Zq!Kd?Lm#Rt"] {
            assert!(secret_like(v.as_bytes()), "{v}");
        }
        for v in [
            "correcthorse",
            "12345678901",
            "some.module.path",
            "my-token-name",
            "abc1",
            "/etc/secret/file1",
            "123e4567-e89b-12d3-a456-426614174000",
            "https://x.example/a1b2c3d4",
        ] {
            assert!(!secret_like(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn assigned_values_are_read_in_every_syntax() {
        let value = |s: &str, name: &str| {
            let from = s.find(name).map(|i| i + name.len()).unwrap_or(0);
            assigned_value(s.as_bytes(), from).map(|v| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(value("password = abc123xy;", "password").as_deref(), Some("abc123xy"));
        assert_eq!(
            value("\"password\": \"abc 123\"", "password").as_deref(),
            Some("abc 123")
        );
        assert_eq!(value("PASSWORD=abc123xy\n", "PASSWORD").as_deref(), Some("abc123xy"));
        assert_eq!(value("pw := `k3y`", "pw").as_deref(), Some("k3y"));
        assert_eq!(value("password field", "password"), None);
        assert_eq!(value("password = get_password(user)", "password"), None);
        assert_eq!(value("password = env[\"PW\"]", "password"), None);
    }

    #[test]
    fn generated_bodies_differ_from_fillers() {
        assert!(looks_generated(b"aB3dE6gH9jK2mN5pQ8sT"));
        assert!(!looks_generated(b"aaaaaaaaaaaaaaaaaaaa"));
        assert!(!looks_generated(b"abcdefghijklmnopqrst"));
        assert!(!looks_generated(b"11111111112222222222"));
        assert!(!looks_generated(b"ab12ab12ab12ab12ab12ab12ab12ab12ab12"));
    }
}
