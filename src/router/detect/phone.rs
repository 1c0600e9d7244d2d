//! International phone numbers in E.164-ish form: `+`, a real country code, then digit groups
//! split by single spaces, dashes or dots, with an optional `(area)` or `(0)` group:
//! `+44 20 7946 0958`, `+1 (415) 555-2671`, `+49 30 901820`, `+33 1 42 68 53 00`,
//! `+442079460958`. NANP (`+1`) and `+7` numbers need exactly ten national digits; others 7 to
//! 15 digits in all, as E.164 allows.
//!
//! Quiet on what else follows a `+`: votes and scores (`+1`, `+12`), arithmetic and code
//! (`2+3`, `x+1`, `C++11`), time-zone offsets (`+05:30`, `+0100`), dates (`+2024-01-15`), and
//! numbers without a `+` (order numbers, timestamps), which are never read as phone numbers.

use super::text::{byte_before, is_word_byte};

/// E.164 allows at most 15 digits.
const MAX_DIGITS: usize = 15;

/// A phone number whose country code starts at `i`, right after a `+` at `i - 1`.
pub(super) fn phone_at(bytes: &[u8], i: usize) -> bool {
    let plus = i - 1;
    if !byte_before(bytes, plus).is_none_or(|b| b.is_ascii_whitespace() || b"(\"':,;=[>{|".contains(&b)) {
        return false;
    }
    let mut digits = [0u8; MAX_DIGITS + 1];
    let mut n = 0;
    let mut j = i;
    let mut groups = 0;
    let mut first_group = 0;
    loop {
        // One group: digits, or `(digits)`.
        let paren = bytes.get(j) == Some(&b'(');
        if paren {
            j += 1;
        }
        let group_start = n;
        while let Some(b) = bytes.get(j).filter(|b| b.is_ascii_digit()) {
            if n > MAX_DIGITS {
                return false;
            }
            digits[n] = b - b'0';
            n += 1;
            j += 1;
        }
        if n == group_start || (paren && bytes.get(j) != Some(&b')')) {
            return false;
        }
        if paren {
            j += 1;
        }
        groups += 1;
        if groups == 1 {
            first_group = n;
        }
        // A separator continues the number only when another group follows it.
        let next = bytes.get(j).copied();
        let after = bytes.get(j + 1).copied();
        let continues = match next {
            Some(b' ' | b'-' | b'.') => after.is_some_and(|a| a.is_ascii_digit() || a == b'('),
            Some(b'(') => true,
            // `(0)20`: digits may follow a closing parenthesis directly.
            Some(b'0'..=b'9') => paren,
            _ => false,
        };
        if !continues {
            break;
        }
        if matches!(next, Some(b' ' | b'-' | b'.')) {
            j += 1;
        }
    }
    if n > MAX_DIGITS || bytes.get(j).is_some_and(|b| is_word_byte(*b) || *b == b':') {
        return false;
    }
    // `+2024-01-15`, `+0100`: a date or an offset, not a number.
    if first_group == 4 && bytes.get(i + 4) == Some(&b'-') {
        return false;
    }
    let Some(cc_len) = country_code_len(&digits[..n]) else {
        return false;
    };
    let national = n - cc_len;
    match digits[0] {
        1 | 7 => national == 10 && digits[1] >= 2,
        _ => (7..=MAX_DIGITS).contains(&n) && national >= 6,
    }
}

/// How many leading digits form an assigned country calling code (ITU-T E.164 list).
fn country_code_len(d: &[u8]) -> Option<usize> {
    let (&a, &b) = (d.first()?, d.get(1)?);
    match a {
        0 => None,
        1 | 7 => Some(1),
        _ => {
            let two = a * 10 + b;
            if TWO_DIGIT.contains(&two) {
                Some(2)
            } else if THREE_DIGIT_ZONES.contains(&two) && d.len() > 2 {
                Some(3)
            } else {
                None
            }
        }
    }
}

/// Two-digit country codes.
const TWO_DIGIT: &[u8] = &[
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62,
    63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// Two-digit prefixes under which three-digit country codes are assigned.
const THREE_DIGIT_ZONES: &[u8] = &[
    21, 22, 23, 24, 25, 26, 29, 35, 37, 38, 42, 50, 59, 67, 68, 69, 85, 87, 88, 96, 97, 99,
];

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_international_numbers() {
        for text in [
            "call +44 20 7946 0958",
            "+1 (415) 555-2671",
            "Tel: +49 30 901820",
            "+33 1 42 68 53 00.",
            "phone=+442079460958",
            "+353 1 234 5678",
            "+44 (0)20 7946 0958",
            "(+41 44 668 18 00)",
        ] {
            assert!(Detector::Phone.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_other_plus_signs() {
        for text in [
            "+1 for this idea",
            "score +12 today",
            "2+3=5 and x+1",
            "C++11 and C++20",
            "2024-01-15T10:30:00+05:30",
            "offset +0100",
            "+2024-01-15",
            "+1 555 0100",
            "+1234567",
            "+0 123 456 789",
            "+80 1234 5678",
            "+4111 1111 1111 1111",
            "v1.2.3+build.5678",
            "+12.5% growth",
        ] {
            assert!(!Detector::Phone.fires_on(text), "{text}");
        }
    }
}
