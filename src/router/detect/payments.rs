//! Stripe secrets: secret and restricted API keys (`sk_live_`, `sk_test_`, `rk_live_`,
//! `rk_test_`) and webhook signing secrets (`whsec_`). Publishable keys (`pk_…`) are public and
//! ignored; so are prefixes named in prose and filler bodies.

use super::text::{TOKEN, WORD, clean_end, clean_start, random_looking, token};

/// A Stripe prefix at `start..end` followed by a generated-looking body.
pub(super) fn stripe(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    let body = token(bytes, end, &WORD, 256);
    let min = if bytes.get(start..end) == Some(b"whsec_") {
        32
    } else {
        20
    };
    body.len() >= min && clean_end(bytes, end + body.len(), &TOKEN) && random_looking(body, 1)
}

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_secret_keys() {
        for text in [
            "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "STRIPE_KEY=rk_test_51Hc0mKLf3aB9xYz2Qw8Er7Ty6Ui5Op4",
            "whsec_5f8a2b9c1d7e3f4a6b0c8d2e9f1a3b5c7d9e0f2a",
        ] {
            assert!(Detector::Stripe.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_publishable_keys_and_prose() {
        for text in [
            "pk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "use sk_live_ keys only on the server",
            "sk_test_abcdefghijklmnopqrstuvwxyz",
            "whsec_short123",
            "ask_live_4eC39HqLyjWDarjtT1zdp7dc",
        ] {
            assert!(!Detector::Stripe.fires_on(text), "{text}");
        }
    }
}
