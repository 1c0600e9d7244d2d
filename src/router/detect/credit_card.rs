//! Payment card numbers: 13–19 digits, optionally in groups split by spaces or dashes,
//! with an issuer prefix and length that match a real card scheme and a valid Luhn check digit.

use super::text::is_word_byte;

const MAX_DIGITS: usize = 19;

/// Reads the digit groups starting at `start` (a digit run with no word byte before it);
/// returns where they end and whether they form a card number.
pub(super) fn candidate_at(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut digits = [0u8; MAX_DIGITS];
    let mut count = 0;
    let mut groups = 0;
    let mut groups_ok = true;
    let mut separator = None;
    let mut j = start;
    loop {
        let group_start = j;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            if count < MAX_DIGITS {
                digits[count] = bytes[j] - b'0';
            }
            count += 1;
            j += 1;
        }
        groups += 1;
        groups_ok &= (3..=6).contains(&(j - group_start));
        let next_is_group = j + 1 < bytes.len()
            && matches!(bytes[j], b' ' | b'-')
            && bytes[j + 1].is_ascii_digit()
            && separator.is_none_or(|s| s == bytes[j]);
        if !next_is_group {
            break;
        }
        separator = Some(bytes[j]);
        j += 1;
    }
    let clean_end = bytes.get(j).is_none_or(|b| !is_word_byte(*b));
    let shape_ok = (13..=MAX_DIGITS).contains(&count) && (groups == 1 || groups_ok);
    (
        j,
        clean_end && shape_ok && plausible_issuer(&digits[..count]) && luhn_valid(&digits[..count]),
    )
}

/// The first two digits `d0`, `d1` (ASCII) may open a number [`plausible_issuer`] accepts.
pub(super) fn issuer_may_start(d0: u8, d1: u8) -> bool {
    matches!(
        (d0, d1),
        (b'4' | b'6', _) | (b'5', b'1'..=b'5') | (b'2', b'2'..=b'7') | (b'3', b'0' | b'4'..=b'8')
    )
}

/// The issuer prefix (IIN) matches a scheme that issues cards of this length.
fn plausible_issuer(d: &[u8]) -> bool {
    let len = d.len();
    let prefix4 = d.iter().take(4).fold(0u32, |acc, x| acc * 10 + u32::from(*x));
    match (d[0], d[1]) {
        (4, _) => matches!(len, 13 | 16 | 19),                   // Visa
        (5, 1..=5) => len == 16,                                 // Mastercard
        (2, _) => (2221..=2720).contains(&prefix4) && len == 16, // Mastercard 2-series
        (3, 4 | 7) => len == 15,                                 // American Express
        (3, 5) => (16..=19).contains(&len),                      // JCB
        (3, 0 | 6 | 8) => len == 14,                             // Diners Club
        (6, _) => (16..=19).contains(&len),                      // Discover, UnionPay, Maestro
        _ => false,
    }
}

/// The Luhn (mod 10) checksum over all digits, check digit last.
pub(super) fn luhn_valid(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                if x * 2 > 9 { x * 2 - 9 } else { x * 2 }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::{issuer_may_start, luhn_valid, plausible_issuer};
    use crate::router::detect::Detector;

    #[test]
    fn issuer_prefilter_keeps_every_plausible_prefix() {
        for prefix in 0..10_000u32 {
            let head = [prefix / 1000, prefix / 100 % 10, prefix / 10 % 10, prefix % 10].map(|d| d as u8);
            for len in 13..=19 {
                let mut d = [0u8; 19];
                d[..4].copy_from_slice(&head);
                if plausible_issuer(&d[..len]) {
                    assert!(issuer_may_start(b'0' + head[0], b'0' + head[1]), "{prefix} {len}");
                }
            }
        }
    }

    fn contains(text: &str) -> bool {
        Detector::CreditCard.fires_on(text)
    }

    #[test]
    fn fires_on_valid_card_numbers() {
        for text in [
            "card 4111111111111111 exp 12/29",
            "4111 1111 1111 1111",
            "pay with 4111-1111-1111-1111.",
            "amex 3782 822463 10005 please",
            "mc 5555555555554444",
            "new mc 2223003122003222",
            "discover 6011111111111117",
            "visa13 4222222222222",
            "(5105105105105100)",
        ] {
            assert!(contains(text), "{text}");
        }
    }

    #[test]
    fn ignores_numbers_that_are_not_cards() {
        for text in [
            "4111111111111112",        // 16 digits, Luhn fails
            "4111 1111 1111 1112",     // grouped, Luhn fails
            "order #1234567890123452", // Luhn-valid, but no issuer starts with 1
            "order 9234567890123455",  // Luhn-valid, but no issuer starts with 9
            "call +1 555-123-4567 or +44 20 7946 0958",
            "at 2024-01-15 12:30:45.123456 UTC",
            "ts=1700000000123 and 17000000001234567",
            "id 123e4567-e89b-12d3-a456-426614174000",
            "version 4.11.1.1111.1111.1111",
            "ref AB4111111111111111",          // glued to letters
            "41111111111111111111111",         // too long
            "4111 1111-1111 1111",             // mixed separators
            "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", // single-digit groups
            "5655555555554443",                // Luhn-valid, but no issuer starts with 56
        ] {
            assert!(!contains(text), "{text}");
        }
    }

    #[test]
    fn luhn_matches_known_values() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<u8>>();
        assert!(luhn_valid(&digits("79927398713")));
        assert!(!luhn_valid(&digits("79927398710")));
        assert!(luhn_valid(&digits("4111111111111111")));
    }
}
