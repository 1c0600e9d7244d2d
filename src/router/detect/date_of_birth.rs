//! Dates of birth: a date right after a birth label — `DOB`, `d.o.b.`, `date of birth`,
//! `birth date`, `birthdate`, `birthday`, `date_of_birth`, `born on`, `born`, `Geburtsdatum` —
//! in the common formats: `1990-04-12`, `1990/04/12`, `12/04/1990`, `04/12/1990`, `12.04.1990`,
//! `12-04-1990`, `12 April 1990`, `12th Apr 1990`, `April 12, 1990`, `Apr 12 1990`.
//!
//! Unlabelled dates never fire, nor do labels followed by something else before the first
//! number (`DOB: unknown`, `born in 1990`, `date of birth field is required`), invalid dates
//! (`31/31/1990`) or years outside 1900–2099. The date must come within a few words of the label
//! and in the same sentence.

use super::text::{camel_part, starts_word};

/// How far after a label the date may start.
const WINDOW: usize = 40;

/// A birth label at `start..end` followed by a date.
pub(super) fn labelled(bytes: &[u8], start: usize, end: usize) -> bool {
    let label = &bytes[start..end];
    let is_birth = label.eq_ignore_ascii_case(b"birth");
    // `birthday`, `birthdate`, `Birth_Date`: the label may run on; others must stand alone.
    let end = if is_birth {
        end + super::text::run(bytes, end, &super::text::IDENT, 8)
    } else {
        end
    };
    if !(starts_word(bytes, start) || camel_part(bytes, start)) || bytes.get(end).is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    if label.eq_ignore_ascii_case(b"born") && bytes.get(end..end + 4).is_some_and(|w| w.eq_ignore_ascii_case(b" in ")) {
        return false;
    }
    // A date starts within the window and holds a digit at most 12 bytes in (the longest month
    // name, three separators, the day), so a block after the label with no digit holds no date:
    // prose after a label seldom has one, and one vector pass says so.
    const _: () = assert!(WINDOW + 13 <= super::blocks::BLOCK);
    super::blocks::digits_at(bytes, end) != 0 && date_in_window(bytes, end)
}

/// A date starts within [`WINDOW`] bytes of `end`, in the same sentence and line.
fn date_in_window(bytes: &[u8], end: usize) -> bool {
    let limit = bytes.len().min(end + WINDOW);
    let mut i = end;
    while i < limit {
        let b = bytes[i];
        let sentence_end = b == b'.' && i > end && bytes.get(i + 1) == Some(&b' ');
        if b == b'\n' || b == b'\r' || sentence_end {
            return false;
        }
        if b.is_ascii_digit() {
            return date_at(bytes, i);
        }
        if b.is_ascii_alphabetic()
            && !bytes.get(i.wrapping_sub(1)).is_some_and(u8::is_ascii_alphabetic)
            && month_at(bytes, i).is_some()
        {
            return date_at(bytes, i);
        }
        i += 1;
    }
    false
}

/// A whole date starts at `i` (a digit or a month name).
fn date_at(bytes: &[u8], i: usize) -> bool {
    if let Some((month, len)) = month_at(bytes, i) {
        // `April 12, 1990`, `Apr 12th 1990`.
        let mut j = i + len;
        j += skip(bytes, j, b". ");
        let Some((day, n)) = number(bytes, j, 2) else {
            return false;
        };
        j += n;
        j += ordinal(bytes, j);
        j += skip(bytes, j, b", ");
        let Some((year, n)) = number(bytes, j, 4) else {
            return false;
        };
        return n == 4 && valid(year, month, day) && ends(bytes, j + n);
    }
    let Some((first, n)) = number(bytes, i, 4) else {
        return false;
    };
    let mut j = i + n;
    let sep = bytes.get(j).copied();
    if n == 4 {
        // `1990-04-12`, `1990/04/12`, `1990.04.12`.
        let Some(sep) = sep.filter(|s| matches!(s, b'-' | b'/' | b'.')) else {
            return false;
        };
        let Some((month, m)) = number(bytes, j + 1, 2) else {
            return false;
        };
        j += 1 + m;
        if bytes.get(j) != Some(&sep) {
            return false;
        }
        let Some((day, d)) = number(bytes, j + 1, 2) else {
            return false;
        };
        return valid(first, month, day) && ends(bytes, j + 1 + d);
    }
    if n > 2 {
        return false;
    }
    match sep {
        Some(s @ (b'-' | b'/' | b'.')) => {
            let Some((second, m)) = number(bytes, j + 1, 2) else {
                return false;
            };
            j += 1 + m;
            if bytes.get(j) != Some(&s) {
                return false;
            }
            let Some((year, y)) = number(bytes, j + 1, 4) else {
                return false;
            };
            let year = match y {
                4 => year,
                2 => 1900 + year,
                _ => return false,
            };
            (valid(year, second, first) || valid(year, first, second)) && ends(bytes, j + 1 + y)
        }
        _ => {
            // `12 April 1990`, `12th of April 1990`.
            j += ordinal(bytes, j);
            j += skip(bytes, j, b" ");
            if bytes.get(j..j + 3).is_some_and(|w| w.eq_ignore_ascii_case(b"of ")) {
                j += 3;
            }
            let Some((month, len)) = month_at(bytes, j) else {
                return false;
            };
            j += len;
            j += skip(bytes, j, b"., ");
            let Some((year, y)) = number(bytes, j, 4) else {
                return false;
            };
            y == 4 && valid(year, month, first) && ends(bytes, j + y)
        }
    }
}

/// Up to `max` digits at `i`, as a number and how many digits were read.
fn number(bytes: &[u8], i: usize, max: usize) -> Option<(u32, usize)> {
    let n = super::text::run(bytes, i, &super::text::DIGITS, max + 1);
    if n == 0 || n > max {
        return None;
    }
    let value = bytes[i..i + n]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, n))
}

/// `st`, `nd`, `rd`, `th` after a day number.
fn ordinal(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i..i + 2) {
        Some(s) if [b"st", b"nd", b"rd", b"th"].iter().any(|o| s.eq_ignore_ascii_case(*o)) => 2,
        _ => 0,
    }
}

/// How many of `set`'s bytes follow at `i` (at most three).
fn skip(bytes: &[u8], i: usize, set: &[u8]) -> usize {
    bytes
        .get(i..)
        .map_or(0, |rest| rest.iter().take(3).take_while(|b| set.contains(b)).count())
}

/// A plausible birth date.
fn valid(year: u32, month: u32, day: u32) -> bool {
    (1900..=2099).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Nothing that could continue the date follows (an ISO time `T10:30` may).
fn ends(bytes: &[u8], i: usize) -> bool {
    match bytes.get(i) {
        None => true,
        Some(b'T') => bytes.get(i + 1).is_some_and(u8::is_ascii_digit),
        Some(b) => !b.is_ascii_alphanumeric(),
    }
}

/// Month names, English and German, full or abbreviated (longest first per month).
const MONTHS: &[(&[u8], u32)] = &[
    (b"january", 1),
    (b"januar", 1),
    (b"jan", 1),
    (b"february", 2),
    (b"februar", 2),
    (b"feb", 2),
    (b"march", 3),
    (b"maerz", 3),
    (b"m\xc3\xa4rz", 3),
    (b"mar", 3),
    (b"april", 4),
    (b"apr", 4),
    (b"may", 5),
    (b"mai", 5),
    (b"june", 6),
    (b"juni", 6),
    (b"jun", 6),
    (b"july", 7),
    (b"juli", 7),
    (b"jul", 7),
    (b"august", 8),
    (b"aug", 8),
    (b"september", 9),
    (b"sept", 9),
    (b"sep", 9),
    (b"october", 10),
    (b"oktober", 10),
    (b"oct", 10),
    (b"okt", 10),
    (b"november", 11),
    (b"nov", 11),
    (b"december", 12),
    (b"dezember", 12),
    (b"dec", 12),
    (b"dez", 12),
];

/// The bytes (either case) a name in [`MONTHS`] starts with.
static MONTH_FIRST: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < MONTHS.len() {
        let first = MONTHS[k].0[0];
        t[first.to_ascii_lowercase() as usize] = true;
        t[first.to_ascii_uppercase() as usize] = true;
        k += 1;
    }
    t
};

/// A month name at `i` (whole word), as its number and length.
fn month_at(bytes: &[u8], i: usize) -> Option<(u32, usize)> {
    let rest = bytes.get(i..)?;
    // Most words after a label open with a letter no month name does; skip the name list for them.
    if !MONTH_FIRST[usize::from(*rest.first()?)] {
        return None;
    }
    MONTHS.iter().find_map(|(name, month)| {
        let candidate = rest.get(..name.len())?;
        let whole = rest.get(name.len()).is_none_or(|b| !b.is_ascii_alphabetic());
        (candidate.eq_ignore_ascii_case(name) && whole).then_some((*month, name.len()))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::router::detect::Detector;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The digit check before the window walk never changes the answer: whatever follows a
        /// label (month names, numbers, separators, words, line breaks), the walk alone agrees.
        #[test]
        fn the_digit_check_only_skips_windows_without_a_date(
            words in proptest::collection::vec(
                prop_oneof![
                    Just("September".to_string()), Just("Sept".to_string()), Just("mai".to_string()),
                    Just("March".to_string()), Just("of".to_string()), Just("the".to_string()),
                    Just("unknown".to_string()), Just("\n".to_string()), Just(".".to_string()),
                    "[0-9]{1,4}", "[ ,./-]{1,3}", "[a-z]{1,12}",
                ],
                0..24,
            ),
        ) {
            let text = format!("DOB: {}", words.concat());
            let bytes = text.as_bytes();
            let with_check = labelled(bytes, 0, 3);
            prop_assert_eq!(with_check, date_in_window(bytes, 3), "{}", text);
        }
    }

    #[test]
    fn fires_on_labelled_dates() {
        for text in [
            "DOB: 1990-04-12",
            "dob=12/04/1990",
            "Date of birth: 12.04.1990",
            "born on 12 April 1990",
            "Birth date: April 12, 1990",
            "\"birthdate\": \"1985-11-30\"",
            "Geburtsdatum: 03.07.1978",
            "D.O.B. 4th Jul 1969",
            "date_of_birth = 1990/04/12",
            "Birthday: 12th of March 1988",
            "\"dateOfBirth\": \"1966-08-20\"",
        ] {
            assert!(Detector::DateOfBirth.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_unlabelled_and_invalid_dates() {
        for text in [
            "released on 1990-04-12",
            "DOB: unknown",
            "born in 1990",
            "the date of birth field is required",
            "DOB: 31/31/1990",
            "DOB 1890-01-01",
            "adobe 12/04/1990",
            "birth rate rose 12.5% in 2020",
            "born on time. 1990-04-12 was a Thursday",
            "DOB: 1990-04-123",
        ] {
            assert!(!Detector::DateOfBirth.fires_on(text), "{text}");
        }
    }
}
