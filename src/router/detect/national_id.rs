//! National identity numbers:
//! - US Social Security numbers `123-45-6789` anywhere, and `123456789` / `123 45 6789` only
//!   right after an `SSN` / `social security` label; areas 000, 666 and 900–999 and all-zero
//!   groups or serials are never issued and never fire;
//! - UK National Insurance numbers `AB 12 34 56 C` / `AB123456C` with the HMRC prefix rules;
//! - German tax ids (Steuerliche Identifikationsnummer): 11 digits, plain or `12 345 678 901`,
//!   first digit not 0, one digit repeated two or three times in the first ten (never three in
//!   a row), and a valid ISO 7064 MOD 11,10 check digit.

use super::text::{is_word_byte, label_alone};

/// How far after an SSN label the number may start (`SSN#`, `social security number: `).
const LABEL_WINDOW: usize = 32;

/// `ssn` / `social security` at `start..end`: a 9-digit SSN, dashed or not, follows closely.
pub(super) fn labelled_ssn(bytes: &[u8], start: usize, end: usize) -> bool {
    if !label_alone(bytes, start, end) {
        return false;
    }
    let Some(window) = bytes.get(end..bytes.len().min(end + LABEL_WINDOW)) else {
        return false;
    };
    let Some(first_digit) = window.iter().position(u8::is_ascii_digit) else {
        return false;
    };
    let i = end + first_digit;
    if super::text::byte_before(bytes, i).is_some_and(is_word_byte) {
        return false;
    }
    // `123456789`, `123 45 6789`, `123-45-6789`, `123.45.6789`.
    let mut digits = [0u8; 9];
    let mut j = i;
    for (k, width) in [3usize, 2, 4].into_iter().enumerate() {
        if k > 0 && matches!(bytes.get(j), Some(b' ' | b'-' | b'.')) {
            j += 1;
        }
        let Some(group) = bytes.get(j..j + width) else {
            return false;
        };
        if !group.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let at = [0, 3, 5][k];
        for (slot, b) in digits[at..at + width].iter_mut().zip(group) {
            *slot = b - b'0';
        }
        j += width;
    }
    ends_at(bytes, j) && valid_ssn(&digits)
}

/// Reads `N` digits at `i`.
fn digits_at<const N: usize>(bytes: &[u8], i: usize) -> Option<[u8; N]> {
    let slice = bytes.get(i..i + N)?;
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(slice) {
        if !b.is_ascii_digit() {
            return None;
        }
        *o = b - b'0';
    }
    Some(out)
}

/// Nothing that could continue the identifier follows position `end`.
fn ends_at(bytes: &[u8], end: usize) -> bool {
    bytes.get(end).is_none_or(|b| !is_word_byte(*b) && *b != b'-')
}

fn number(d: &[u8]) -> u32 {
    d.iter().fold(0, |acc, x| acc * 10 + u32::from(*x))
}

/// A dashed SSN `123-45-6789` at `i`.
pub(super) fn us_ssn_at(bytes: &[u8], i: usize) -> bool {
    let (Some(area), Some(group), Some(serial)) = (
        digits_at::<3>(bytes, i),
        digits_at::<2>(bytes, i + 4),
        digits_at::<4>(bytes, i + 7),
    ) else {
        return false;
    };
    let mut all = [0u8; 9];
    for (slot, d) in all.iter_mut().zip(area.iter().chain(&group).chain(&serial)) {
        *slot = *d;
    }
    bytes[i + 3] == b'-' && bytes[i + 6] == b'-' && ends_at(bytes, i + 11) && valid_ssn(&all)
}

/// SSA rules: area not 000, 666 or 900–999; group and serial not all zeros.
fn valid_ssn(d: &[u8; 9]) -> bool {
    let area = number(&d[..3]);
    area != 0 && area != 666 && area < 900 && number(&d[3..5]) != 0 && number(&d[5..]) != 0
}

/// A UK National Insurance number starting with its two letters at `i`.
pub(super) fn uk_nino_at(bytes: &[u8], i: usize) -> bool {
    let (Some(&first), Some(&second)) = (bytes.get(i), bytes.get(i + 1)) else {
        return false;
    };
    if !valid_nino_prefix(first, second) {
        return false;
    }
    let mut j = i + 2;
    for _ in 0..3 {
        if bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        if digits_at::<2>(bytes, j).is_none() {
            return false;
        }
        j += 2;
    }
    if bytes.get(j) == Some(&b' ') {
        j += 1;
    }
    matches!(bytes.get(j), Some(b'A'..=b'D')) && ends_at(bytes, j + 1)
}

/// HMRC: neither letter D, F, I, Q, U or V; the second not O; and not BG, GB, NK, KN, TN, NT or ZZ.
fn valid_nino_prefix(first: u8, second: u8) -> bool {
    const NEVER: &[u8] = b"DFIQUV";
    first.is_ascii_uppercase()
        && second.is_ascii_uppercase()
        && !NEVER.contains(&first)
        && !NEVER.contains(&second)
        && second != b'O'
        && !matches!(&[first, second], b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ")
}

/// A German Steuer-ID at `i`, plain or grouped `12 345 678 901`.
pub(super) fn steuer_id_at(bytes: &[u8], i: usize) -> bool {
    if let Some(d) = digits_at::<11>(bytes, i) {
        return ends_at(bytes, i + 11) && valid_steuer_id(&d);
    }
    // Written as `12 345 678 901`.
    let groups = (
        digits_at::<2>(bytes, i),
        digits_at::<3>(bytes, i + 3),
        digits_at::<3>(bytes, i + 7),
        digits_at::<3>(bytes, i + 11),
    );
    let (Some(a), Some(b), Some(c), Some(d)) = groups else {
        return false;
    };
    let spaced = [2, 6, 10].iter().all(|k| bytes[i + k] == b' ');
    let mut all = [0u8; 11];
    for (slot, digit) in all.iter_mut().zip(a.iter().chain(&b).chain(&c).chain(&d)) {
        *slot = *digit;
    }
    spaced && ends_at(bytes, i + 14) && valid_steuer_id(&all)
}

fn valid_steuer_id(d: &[u8; 11]) -> bool {
    let mut counts = [0u8; 10];
    for x in &d[..10] {
        counts[usize::from(*x)] += 1;
    }
    let repeated = counts.iter().filter(|c| **c >= 2).count();
    let shape_ok = d[0] != 0
        && repeated == 1
        && counts.iter().all(|c| *c <= 3)
        && !d[..10].windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    shape_ok && steuer_check_digit(&d[..10]) == d[10]
}

/// ISO 7064 MOD 11,10 over the first ten digits.
fn steuer_check_digit(d: &[u8]) -> u8 {
    let mut product = 10u8;
    for x in d {
        let mut sum = (x + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = 11 - product;
    if check == 10 { 0 } else { check }
}

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    fn contains(text: &str) -> bool {
        Detector::NationalId.fires_on(text)
    }

    #[test]
    fn fires_on_us_ssns() {
        for text in ["SSN 123-45-6789", "(078-05-1120)", "ssn:899-99-9999."] {
            assert!(contains(text), "{text}");
        }
    }

    #[test]
    fn ignores_invalid_or_lookalike_ssns() {
        for text in [
            "000-12-3456",
            "666-12-3456",
            "912-34-5678",
            "123-00-4567",
            "123-45-0000",
            "call 555-123-4567",
            "on 2024-01-15",
            "part 1-123-45-6789",
            "id 123-45-67890",
            "a123-45-6789",
        ] {
            assert!(!contains(text), "{text}");
        }
    }

    #[test]
    fn fires_on_uk_national_insurance_numbers() {
        for text in ["NI: AB 12 34 56 C", "AB123456C", "CE 12 34 56 D", "JG103759A."] {
            assert!(contains(text), "{text}");
        }
    }

    #[test]
    fn ignores_invalid_uk_prefixes_and_suffixes() {
        for text in [
            "DA123456C",
            "AO123456C",
            "GB123456A",
            "ZZ123456A",
            "AB123456E",
            "AB12345C",
            "XAB123456C",
            "AB123456CD",
        ] {
            assert!(!contains(text), "{text}");
        }
    }

    #[test]
    fn fires_on_german_tax_ids() {
        for text in ["Steuer-ID 86095742719", "IdNr: 86 095 742 719", "12345678995"] {
            assert!(contains(text), "{text}");
        }
    }

    #[test]
    fn ignores_eleven_digit_numbers_that_fail_the_rules() {
        for text in [
            "86095742718", // wrong check digit
            "06095742719", // leading zero
            "12345678901", // ten distinct digits, no repeat
            "11123456789", // three in a row
            "+49 30 12345678 phone",
            "ts 17000000001",
            "id 123e4567-e89b-12d3-a456-426614174000",
            "v10.12.345.678.901",
            "order 860957427190",
        ] {
            assert!(!contains(text), "{text}");
        }
    }

    #[test]
    fn fires_on_labelled_undashed_ssns_only() {
        for text in [
            "SSN: 123456789",
            "SSN# 123 45 6789",
            "Social Security Number 078 05 1120",
            "ssn=899999999",
        ] {
            assert!(contains(text), "{text}");
        }
        for text in [
            "123456789",
            "order 123 45 6789",
            "SSN: 000000000",
            "SSN: 666123456",
            "classname 123456789",
            "SSN: 1234567890",
            "SSN field, then 40 lines later 123456789",
        ] {
            assert!(!contains(text), "{text}");
        }
    }
}
