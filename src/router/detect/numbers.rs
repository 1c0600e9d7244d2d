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
pub(super) fn scan(bytes: &[u8], hits: &mut Hits) {
    let mut i = 0;
    while i < bytes.len() {
        // Skip to the next digit.
        match bytes[i..].iter().position(u8::is_ascii_digit) {
            Some(k) => i += k,
            None => return,
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if check_run(bytes, start, hits) && !hits.open.meets(OWNERS) {
            return;
        }
    }
}

/// Tries every number detector that may own the digit run at `start`; true when one fired.
fn check_run(bytes: &[u8], start: usize, hits: &mut Hits) -> bool {
    let mut fired = false;
    let mut fire = |hits: &mut Hits, d: Detector| {
        hits.fire(d);
        fired = true;
    };
    match byte_before(bytes, start) {
        None => plain_number(bytes, start, hits, &mut fire),
        Some(b'+') => {
            if hits.wants(Detector::Phone) && phone::phone_at(bytes, start) {
                fire(hits, Detector::Phone);
            }
        }
        Some(b) if !is_word_byte(b) => {
            plain_number(bytes, start, hits, &mut fire);
            // `AB 12 34 56 C`: a NINO written with spaces.
            if b == b' ' && start >= 3 && capitals_at(bytes, start - 3) && hits.wants(Detector::NationalId) {
                if national_id::uk_nino_at(bytes, start - 3) {
                    fire(hits, Detector::NationalId);
                }
            }
        }
        Some(b) if b.is_ascii_uppercase() && start >= 2 && capitals_at(bytes, start - 2) => {
            let at = start - 2;
            if hits.wants(Detector::Iban) && iban::iban_at(bytes, at) {
                fire(hits, Detector::Iban);
            }
            if hits.wants(Detector::NationalId) && national_id::uk_nino_at(bytes, at) {
                fire(hits, Detector::NationalId);
            }
        }
        Some(_) => {}
    }
    fired
}

/// Two capital letters at `at` with no word byte before them.
fn capitals_at(bytes: &[u8], at: usize) -> bool {
    bytes.get(at..at + 2).is_some_and(|p| p.iter().all(u8::is_ascii_uppercase))
        && byte_before(bytes, at).is_none_or(|b| !is_word_byte(b) && b != b'-')
}

/// A digit run with nothing word-like before it: cards, dashed SSNs, Steuer-IDs.
fn plain_number(bytes: &[u8], start: usize, hits: &mut Hits, fire: &mut impl FnMut(&mut Hits, Detector)) {
    if hits.wants(Detector::CreditCard) && credit_card::candidate_at(bytes, start).1 {
        fire(hits, Detector::CreditCard);
    }
    if hits.wants(Detector::NationalId)
        && byte_before(bytes, start) != Some(b'-')
        && (national_id::us_ssn_at(bytes, start) || national_id::steuer_id_at(bytes, start))
    {
        fire(hits, Detector::NationalId);
    }
}
