//! IBANs (ISO 13616): a country code, two check digits and a country-specific BBAN, compact
//! (`GB82WEST12345698765432`) or in groups of four (`DE89 3704 0044 0532 0130 00`). The length
//! must be the one registered for the country and the whole must pass the mod-97 check, so
//! product codes and reference numbers that merely start with two letters stay quiet.
//! Lower-case IBANs are not looked for.

use super::text::is_word_byte;

/// Registered IBAN lengths by country (SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// Longest registered IBAN.
const MAX_LEN: usize = 34;

/// An IBAN starting with its country code at `i` (the caller saw two letters and then digits).
pub(super) fn iban_at(bytes: &[u8], i: usize) -> bool {
    let Some(country) = bytes.get(i..i + 2) else {
        return false;
    };
    let Some(&(_, len)) = LENGTHS.iter().find(|(c, _)| c.as_slice() == country) else {
        return false;
    };
    let mut chars = [0u8; MAX_LEN];
    let mut n = 0;
    let mut j = i;
    while n < len {
        let Some(&b) = bytes.get(j) else {
            return false;
        };
        if b == b' ' && n % 4 == 0 && n > 0 && bytes.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) {
            j += 1;
            continue;
        }
        let ok = match n {
            0 | 1 => b.is_ascii_uppercase(),
            2 | 3 => b.is_ascii_digit(),
            _ => b.is_ascii_digit() || b.is_ascii_uppercase(),
        };
        if !ok {
            return false;
        }
        chars[n] = b;
        n += 1;
        j += 1;
    }
    bytes.get(j).is_none_or(|b| !is_word_byte(*b)) && mod97(&chars[..len]) == 1
}

/// The ISO 7064 mod-97 remainder of the IBAN with its first four characters moved to the end.
fn mod97(iban: &[u8]) -> u32 {
    let (head, tail) = iban.split_at(4);
    tail.iter().chain(head).fold(0u32, |acc, b| {
        if b.is_ascii_digit() {
            (acc * 10 + u32::from(b - b'0')) % 97
        } else {
            (acc * 100 + u32::from(b - b'A') + 10) % 97
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_valid_ibans() {
        for text in [
            "IBAN DE89 3704 0044 0532 0130 00",
            "pay to GB82WEST12345698765432.",
            "FR1420041010050500013M02606",
            "(NL91ABNA0417164300)",
        ] {
            assert!(Detector::Iban.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_wrong_checks_lengths_and_countries() {
        for text in [
            "DE89 3704 0044 0532 0130 01",
            "GB82WEST1234569876543",
            "GB82WEST123456987654321",
            "XX82WEST12345698765432",
            "de89370400440532013000",
            "SKU DE89-3704",
            "ISO DE89 is not an IBAN",
            "build AB12CD34EF56GH78IJ90",
        ] {
            assert!(!Detector::Iban.fires_on(text), "{text}");
        }
    }
}
