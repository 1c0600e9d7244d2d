//! The number pass: one walk over the starts of digit runs, shared by the detectors of
//! numbers. Each run start is classified by the bytes just before it and handed on:
//! - nothing word-like before (space, punctuation, start): payment cards, dashed SSNs, Steuer-IDs;
//! - `+` before: phone numbers;
//! - two capital letters before (`DE89…`, `AB123456C`, `AB 12 34 56 C`): IBANs and UK National
//!   Insurance numbers.

use super::text::{byte_before, is_word_byte};
use super::{Detector, DetectorSet, Hits, credit_card, iban, national_id, phone};

/// The detectors this pass serves.
pub(super) const OWNERS: DetectorSet = DetectorSet::NONE
    .with(Detector::CreditCard)
    .with(Detector::NationalId)
    .with(Detector::Iban)
    .with(Detector::Phone);

/// Runs the number pass over `bytes`, recording every detector that fires.
///
/// Eight bytes at a time (SWAR), it finds the digits whose previous byte is neither a digit nor a
/// lower-case letter — the only run starts any number detector cares about — so the digits inside
/// hex ids, hashes and words cost no branch.
pub(super) fn scan(bytes: &[u8], hits: &mut Hits) {
    let mut carry = 0u64;
    let mut base = 0;
    let mut words = bytes.chunks_exact(8);
    for word in words.by_ref() {
        let mut x = [0u8; 8];
        x.copy_from_slice(word);
        let x = u64::from_le_bytes(x);
        let digit = in_range(x, b'0', b'9');
        let blocked = digit | in_range(x, b'a', b'z');
        let mut starts = digit & !((blocked << 8) | carry);
        carry = (blocked >> 56) & 0x80;
        while starts != 0 {
            let at = base + (starts.trailing_zeros() / 8) as usize;
            if may_matter(bytes, at) && check_run(bytes, at, hits) && !hits.open.meets(OWNERS) {
                return;
            }
            starts &= starts - 1;
        }
        base += 8;
    }
    for at in base..bytes.len() {
        let starts_run = bytes[at].is_ascii_digit()
            && byte_before(bytes, at).is_none_or(|b| !b.is_ascii_digit() && !b.is_ascii_lowercase());
        if starts_run && may_matter(bytes, at) && check_run(bytes, at, hits) && !hits.open.meets(OWNERS) {
            return;
        }
    }
}

/// The high bit of every byte set in `x`.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte.
const fn splat(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// The high bit of each byte of `x` that lies in `lo..=hi` (ASCII); exact, no carries between bytes.
const fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let low7 = x & !HIGH;
    let at_least_lo = (low7 + splat(0x80 - lo)) & HIGH;
    let above_hi = (low7 + splat(0x7f - hi)) & HIGH;
    at_least_lo & !above_hi & !x & HIGH
}

/// False for run starts no number detector can use, decided from the bytes around `at` alone.
///
/// Most run starts in real text are short numbers (list items, versions, time fields); this keeps
/// them from paying for a call to [`check_run`]. Only a phone number may open with a lone digit,
/// and a two-digit run is used only before a space (Steuer-ID, spaced NINO) or after a capital
/// letter (IBAN check digits).
#[inline(always)]
fn may_matter(bytes: &[u8], at: usize) -> bool {
    let before = byte_before(bytes, at);
    if before == Some(b'+') {
        return true;
    }
    match (bytes.get(at + 1), bytes.get(at + 2)) {
        (Some(b1), _) if !b1.is_ascii_digit() => false,
        (None, _) => false,
        (_, Some(b2)) if b2.is_ascii_digit() => true,
        (_, after) => after == Some(&b' ') || before.is_some_and(|b| b.is_ascii_uppercase()),
    }
}

/// Tries every number detector that may own the digit run at `start`; true when one fired.
fn check_run(bytes: &[u8], start: usize, hits: &mut Hits) -> bool {
    let before = byte_before(bytes, start);
    let len = super::text::run(bytes, start, &super::text::DIGITS, 24);
    let next = bytes.get(start + len).copied();
    let grouped = matches!(next, Some(b' ' | b'-')) && bytes.get(start + len + 1).is_some_and(u8::is_ascii_digit);
    let mut fired = None;
    match before {
        Some(b'+') => {
            if hits.wants(Detector::Phone) && phone::phone_at(bytes, start) {
                fired = Some(Detector::Phone);
            }
        }
        Some(b) if b.is_ascii_uppercase() => {
            if start >= 2 && capitals_at(bytes, start - 2) {
                let at = start - 2;
                if hits.wants(Detector::Iban) && iban::iban_at(bytes, at) {
                    fired = Some(Detector::Iban);
                } else if hits.wants(Detector::NationalId)
                    && (6..=8).contains(&len)
                    && national_id::uk_nino_at(bytes, at)
                {
                    fired = Some(Detector::NationalId);
                }
            }
        }
        before => {
            let card = ((13..=19).contains(&len) || ((3..=6).contains(&len) && grouped))
                && credit_card::issuer_may_start(bytes[start], bytes[start + 1]);
            let dash_before = before == Some(b'-');
            let ssn = len == 3 && next == Some(b'-') && !dash_before;
            let steuer = (len == 11 || (len == 2 && next == Some(b' '))) && !dash_before;
            let spaced_nino = before == Some(b' ') && len == 2 && start >= 3 && capitals_at(bytes, start - 3);
            if card && hits.wants(Detector::CreditCard) && credit_card::candidate_at(bytes, start).1 {
                fired = Some(Detector::CreditCard);
            } else if hits.wants(Detector::NationalId)
                && ((ssn && national_id::us_ssn_at(bytes, start))
                    || (steuer && national_id::steuer_id_at(bytes, start))
                    || (spaced_nino && national_id::uk_nino_at(bytes, start - 3)))
            {
                fired = Some(Detector::NationalId);
            }
        }
    }
    if let Some(d) = fired {
        hits.fire(d);
    }
    fired.is_some()
}

/// Two capital letters at `at` with no word byte (or `-`) before them.
fn capitals_at(bytes: &[u8], at: usize) -> bool {
    bytes
        .get(at..at + 2)
        .is_some_and(|p| p.iter().all(u8::is_ascii_uppercase))
        && byte_before(bytes, at).is_none_or(|b| !is_word_byte(b) && b != b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_ranges_are_exact() {
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b, b'a', b'5', 0xff, b'/', b':', b'0', b'z']);
            let mask = in_range(x, b'0', b'9');
            assert_eq!(mask & 0x80 != 0, b.is_ascii_digit(), "{b}");
            assert_eq!(mask & !0x80, (1 << 23) | (1 << 55), "{b}");
            assert_eq!(in_range(x, b'a', b'z') & 0x80 != 0, b.is_ascii_lowercase(), "{b}");
        }
    }

    #[test]
    fn run_starts_in_every_lane_are_found() {
        for pad in 0..16 {
            let text = format!("{}card 4111 1111 1111 1111", "x".repeat(pad));
            assert!(crate::router::detect::Detector::CreditCard.fires_on(&text), "{pad}");
            let text = format!("{}9f8e7d6c4111111111111111", "-".repeat(pad));
            assert!(!crate::router::detect::Detector::CreditCard.fires_on(&text), "{pad}");
        }
    }
}
