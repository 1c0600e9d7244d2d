//! The number pass: one walk over the starts of digit runs, shared by the detectors of
//! numbers. Each run start is classified by the bytes just before it and handed on:
//! - nothing word-like before (space, punctuation, start): payment cards, dashed SSNs, Steuer-IDs;
//! - `+` before: phone numbers;
//! - two capital letters before (`DE89…`, `AB123456C`, `AB 12 34 56 C`): IBANs and UK National
//!   Insurance numbers.

use super::blocks::{self, BLOCK, Block};
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
/// A block of 64 bytes at a time, it finds from bit masks the digit runs any number detector can
/// use (see [`candidates`]), so the digits inside hex ids, hashes, words and short numbers cost no
/// branch, and hands only those to [`check_run`]. A block without a digit is only glanced at.
pub(super) fn scan(bytes: &[u8], hits: &mut Hits) {
    let mut base = 0;
    let mut classified: Option<Block> = None;
    while base < bytes.len() {
        let current = match classified.take() {
            Some(block) => block,
            None if blocks::digits_at(bytes, base) == 0 => Block::default(),
            None => blocks::block_at(bytes, base),
        };
        if current.digit != 0 {
            let next = blocks::block_at(bytes, base + BLOCK);
            let mut found = candidates(&blocks::byte_before(bytes, base), &current, &next);
            while found != 0 {
                let at = base + found.trailing_zeros() as usize;
                if check_run(bytes, at, hits) && !hits.open.meets(OWNERS) {
                    return;
                }
                found &= found - 1;
            }
            classified = Some(next);
        }
        base += BLOCK;
    }
}

/// The run starts of `current` worth a [`check_run`], as a mask: a digit with neither a digit nor
/// a lower-case letter before it, which
/// - follows a `+` (phone numbers) or a capital letter (IBANs, NINOs), or
/// - opens a run of at least two digits that a space or a dash joins to more digits (grouped
///   cards, dashed SSNs, grouped Steuer-IDs, spaced NINOs), or that is 11 or at least 13 digits
///   long (Steuer-IDs, cards).
///
/// A run of two digits also needs a space or a capital letter around it, which the number
/// detectors of such short runs all have. `previous` holds the classes of the byte before
/// `current` (bit 63); `next` is the block after it.
fn candidates(previous: &Block, current: &Block, next: &Block) -> u64 {
    let before = |now: u64, then: u64| (now << 1) | (then >> 63);
    let after = |now: u64, later: u64, k: u32| (now >> k) | (later << (64 - k));
    let blocked = before(current.digit | current.lower, previous.digit | previous.lower);
    let plus_before = before(current.plus, previous.plus);
    let upper_before = before(current.upper, previous.upper);
    let second_digit = after(current.digit, next.digit, 1);
    let third = after(current.digit | current.space, next.digit | next.space, 2);
    let starts = current.digit & !blocked & (plus_before | (second_digit & (third | upper_before)));
    let special = starts & (plus_before | upper_before);

    let digits = u128::from(current.digit) | u128::from(next.digit) << 64;
    let separators = u128::from(current.space | current.dash) | u128::from(next.space | next.dash) << 64;
    let mut ordinary = starts & !special;
    let mut keep = special;
    while ordinary != 0 {
        let at = ordinary.trailing_zeros();
        let end = at + (!(digits >> at)).trailing_zeros();
        let len = end - at;
        let grouped = end < 127 && (separators >> end) & 1 == 1 && (digits >> (end + 1)) & 1 == 1;
        if end >= 127 || grouped || len == 11 || len >= 13 {
            keep |= 1 << at;
        }
        ordinary &= ordinary - 1;
    }
    keep
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
    use proptest::prelude::*;

    use super::*;
    use crate::router::detect::Detector;

    /// What the pass must find: every digit-run start (a digit with neither a digit nor a
    /// lower-case letter before it) tried, with no filter at all.
    fn every_run_start(bytes: &[u8]) -> Option<Detector> {
        let mut hits = Hits::new(OWNERS);
        for at in 0..bytes.len() {
            let starts = bytes[at].is_ascii_digit()
                && byte_before(bytes, at).is_none_or(|b| !b.is_ascii_digit() && !b.is_ascii_lowercase());
            if starts {
                check_run(bytes, at, &mut hits);
            }
        }
        hits.first
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn the_block_filter_loses_no_run_a_detector_would_fire_on(
            text in proptest::collection::vec(
                prop_oneof![
                    8 => proptest::char::range('0', '9'),
                    1 => Just(' '), 1 => Just('-'), 1 => Just('+'),
                    1 => proptest::char::range('A', 'F'), 1 => Just('a'), 1 => Just('.'),
                ],
                0..300,
            )
        ) {
            let text: String = text.into_iter().collect();
            let mut hits = Hits::new(OWNERS);
            scan(text.as_bytes(), &mut hits);
            prop_assert_eq!(hits.first, every_run_start(text.as_bytes()), "{}", text);
        }
    }

    #[test]
    fn runs_are_found_wherever_they_fall_across_blocks() {
        for pad in 0..140 {
            let x = "x".repeat(pad);
            let dash = "-".repeat(pad);
            assert!(
                Detector::CreditCard.fires_on(&format!("{x}card 4111 1111 1111 1111")),
                "{pad}"
            );
            assert!(Detector::CreditCard.fires_on(&format!("{x} 4111111111111111")), "{pad}");
            assert!(
                !Detector::CreditCard.fires_on(&format!("{dash}9f8e7d6c4111111111111111")),
                "{pad}"
            );
            assert!(Detector::NationalId.fires_on(&format!("{x} 078-05-1120")), "{pad}");
            assert!(Detector::Phone.fires_on(&format!("{x} +44 20 7946 0958")), "{pad}");
            assert!(
                Detector::Iban.fires_on(&format!("{x} DE89 3704 0044 0532 0130 00")),
                "{pad}"
            );
        }
    }
}
