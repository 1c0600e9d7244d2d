//! Messaging and communication platform credentials.
//! - Slack: `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxe-` tokens and rotating
//!   `xoxe.xoxp-…` tokens (numeric workspace/user ids inside), `xapp-` app-level tokens, and
//!   incoming-webhook URLs `hooks.slack.com/services/T…/B…/<secret>` (or `/workflows/`).
//! - SendGrid: `SG.<22>.<43>` API keys.
//! - Twilio: account SIDs `AC` and API key SIDs `SK` followed by exactly 32 lower-case hex
//!   digits (34 characters in all, so 40-hex git SHAs never fire), and 32-hex auth tokens
//!   assigned to a name that mentions Twilio (`TWILIO_AUTH_TOKEN=…`).

use super::text::{TOKEN, WORD, assigned_value, clean_end, clean_start, exact_token, looks_generated, run, token};

/// `xox` at `start..end`: a Slack token with its numeric ids.
pub(super) fn slack_token(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    let mut from = end;
    // Rotating tokens: `xoxe.xoxp-1-…`.
    if bytes.get(from..from + 6) == Some(b"e.xoxp") {
        from += 5;
    }
    let (Some(kind), Some(b'-')) = (bytes.get(from), bytes.get(from + 1)) else {
        return false;
    };
    if !matches!(kind, b'b' | b'p' | b'a' | b'r' | b's' | b'e') {
        return false;
    }
    let body = token(bytes, from + 2, &TOKEN, 256);
    body.len() >= 20 && body.iter().filter(|b| b.is_ascii_digit()).count() >= 6 && looks_generated(body)
}

/// `xapp-` at `start..end`: `xapp-<n>-<app id>-<number>-<secret>`.
pub(super) fn slack_app_token(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    let body = token(bytes, end, &TOKEN, 256);
    body.len() >= 30 && body.iter().filter(|b| b.is_ascii_digit()).count() >= 6 && looks_generated(body)
}

/// `hooks.slack.com/` at `start..end`: `services/T…/B…/<24 character secret>` follows.
pub(super) fn slack_webhook(bytes: &[u8], _start: usize, end: usize) -> bool {
    let Some(rest) = bytes.get(end..) else {
        return false;
    };
    let path = if rest.starts_with(b"services/") {
        end + 9
    } else if rest.starts_with(b"workflows/") {
        end + 10
    } else {
        return false;
    };
    let workspace = token(bytes, path, &WORD, 32);
    let channel_at = path + workspace.len() + 1;
    let channel = token(bytes, channel_at, &WORD, 32);
    let secret_at = channel_at + channel.len() + 1;
    let secret = token(bytes, secret_at, &WORD, 64);
    workspace.len() >= 8
        && channel.len() >= 8
        && bytes.get(path + workspace.len()) == Some(&b'/')
        && bytes.get(channel_at + channel.len()) == Some(&b'/')
        && secret.len() >= 20
        && looks_generated(secret)
}

/// `SG.` at `start..end`: `SG.<22 id chars>.<43 secret chars>`.
pub(super) fn sendgrid(bytes: &[u8], start: usize, end: usize) -> bool {
    clean_start(bytes, start, &TOKEN)
        && exact_token(bytes, end, &TOKEN, 22)
        && bytes.get(end + 22) == Some(&b'.')
        && exact_token(bytes, end + 23, &TOKEN, 43)
        && bytes.get(end..end + 22).is_some_and(looks_generated)
}

/// `AC`/`SK` at `start..end`: exactly 32 lower-case hex digits follow, then a boundary.
pub(super) fn twilio_sid(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) || !clean_end(bytes, end + 32, &TOKEN) {
        return false;
    }
    bytes.get(end..end + 32).is_some_and(|hex| {
        hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && hex.iter().any(u8::is_ascii_digit)
            && hex.iter().any(u8::is_ascii_alphabetic)
    })
}

/// A name mentioning Twilio (`twilio` at `start..end`) that holds a 32-hex auth token.
pub(super) fn twilio_auth_token(bytes: &[u8], _start: usize, end: usize) -> bool {
    let name_end = end + run(bytes, end, &super::text::IDENT, 32);
    let Some(name) = bytes.get(end..name_end) else {
        return false;
    };
    if !super::text::contains_ignore_case(name, b"token") && !super::text::contains_ignore_case(name, b"secret") {
        return false;
    }
    assigned_value(bytes, name_end).is_some_and(|v| {
        v.len() == 32
            && v.iter().all(u8::is_ascii_hexdigit)
            && v.iter().any(u8::is_ascii_digit)
            && v.iter().any(u8::is_ascii_alphabetic)
    })
}

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_slack_tokens_and_webhooks() {
        for text in [
            "SLACK_TOKEN=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAxMi0xMjM0NTY3ODkwMTIz",
            "xapp-1-A0123ABCD45-1234567890123-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "https://hooks.slack.com/services/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",
        ] {
            assert!(Detector::Slack.fires_on(text), "{text}");
        }
        for text in [
            "xoxb-not-a-token-at-all-just-words-here",
            "tokens start with xoxb- or xoxp-",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://api.slack.com/apps",
        ] {
            assert!(!Detector::Slack.fires_on(text), "{text}");
        }
    }

    #[test]
    fn sendgrid_needs_both_segments() {
        assert!(Detector::Sendgrid.fires_on("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"));
        assert!(!Detector::Sendgrid.fires_on("SG.aB3dE6gH9jK2mN5pQ8sT1v.short"));
        assert!(!Detector::Sendgrid.fires_on("see SG.2 in the report"));
    }

    #[test]
    fn twilio_sids_are_exact_and_hex() {
        assert!(Detector::Twilio.fires_on("sid AC3f9e2b7c1d4a5e6f708192a3b4c5d6e7 ok"));
        assert!(Detector::Twilio.fires_on("TWILIO_AUTH_TOKEN=9f8e7d6c5b4a39281706f5e4d3c2b1a0"));
        for text in [
            "commit da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "AC3f9e2b7c1d4a5e6f708192a3b4c5d6e7f8",
            "AC3F9E2B7C1D4A5E6F708192A3B4C5D6E7",
            "ACCESS_DENIED for SKU 1234",
            "TWILIO_AUTH_TOKEN=${TWILIO_AUTH_TOKEN}",
        ] {
            assert!(!Detector::Twilio.fires_on(text), "{text}");
        }
    }
}
