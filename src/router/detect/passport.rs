//! Passport numbers: 6 to 9 capital letters and digits, at least two of them digits, within a
//! few words after a passport label (`passport`, `passport no.`, `passport number`,
//! `Reisepass`, `Reisepassnummer`); and the first line of a passport's machine-readable zone
//! (`P<GBRSMITH<<JOHN<…`, 44 characters of capitals and `<`).
//!
//! Quiet on passport prose without a number (`passport photo 2x2`, `renew your passport in
//! 2024`, `passport expires 2031-05-01`), on numbers of the wrong shape, and on `P<T>` generics.

use super::text::{WORD, starts_word, token};

/// How far after the label the number may start.
const WINDOW: usize = 40;
/// Length of an MRZ line on a passport (TD3).
const MRZ_LINE: usize = 44;

/// A passport label at `start..end` followed by a passport number.
pub(super) fn labelled(bytes: &[u8], start: usize, end: usize) -> bool {
    if !(starts_word(bytes, start) || super::text::camel_part(bytes, start)) {
        return false;
    }
    // `passports`, `Reisepassnummer`: the label may run on into a longer word.
    let end = end + super::text::run(bytes, end, &super::text::IDENT, 12);
    let limit = bytes.len().min(end + WINDOW);
    let mut i = end;
    while i < limit {
        let b = bytes[i];
        if b == b'\n' || (b == b'.' && bytes.get(i + 1) == Some(&b' ') && i > end + 4) {
            return false;
        }
        if !b.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let word = token(bytes, i, &WORD, 16);
        if word.iter().any(u8::is_ascii_digit) {
            return passport_number(word) && !continues(bytes, i + word.len());
        }
        i += word.len();
    }
    false
}

/// 6–9 capitals and digits, at least two digits.
fn passport_number(word: &[u8]) -> bool {
    (6..=9).contains(&word.len())
        && word.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && word.iter().filter(|b| b.is_ascii_digit()).count() >= 2
}

/// The number goes on past `i` (`2031-05-01`, `12.5`, `1/2`).
fn continues(bytes: &[u8], i: usize) -> bool {
    matches!(bytes.get(i), Some(b'-' | b'.' | b'/' | b':' | b',')) && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
}

/// `P<` at `start..end`: a whole MRZ first line, `P<` + issuing state + names, 44 characters.
pub(super) fn mrz(bytes: &[u8], start: usize, _end: usize) -> bool {
    if !super::text::clean_start(bytes, start, &WORD) {
        return false;
    }
    let Some(line) = bytes.get(start..start + MRZ_LINE) else {
        return false;
    };
    line.iter().all(|b| b.is_ascii_uppercase() || *b == b'<')
        && line[2..5].iter().all(u8::is_ascii_uppercase)
        && memchr::memmem::find(&line[5..], b"<<").is_some()
        && bytes
            .get(start + MRZ_LINE)
            .is_none_or(|b| !b.is_ascii_uppercase() && *b != b'<')
}

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_labelled_numbers_and_mrz() {
        for text in [
            "passport number: 123456789",
            "Passport No. C01X00T47",
            "Reisepassnummer C4J9K7L2M",
            "PASSPORT: GB1234567",
            "my passport is X12345678",
            "P<GBRSMITH<<JOHN<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
        ] {
            assert!(Detector::Passport.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_passport_prose() {
        for text in [
            "passport photo 2x2",
            "renew your passport in 2024",
            "passport expires 2031-05-01",
            "passport number 12345",
            "passport: ABCDEFGHI",
            "fn f<P<T>>() {}",
            "123456789 is not labelled",
        ] {
            assert!(!Detector::Passport.fires_on(text), "{text}");
        }
    }
}
