//! JSON Web Tokens: `header.payload.signature` in base64url, the header decoding to a JSON
//! object with an `"alg"` member. Both header and payload start `eyJ` (`{"`); the signature
//! must be there and of a real length (16+), so `alg: none` tokens and JWT-looking fragments of
//! docs (`eyJhbGciOi…`) stay quiet.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::text::{TOKEN, clean_end, clean_start, token};

/// Longest header we decode.
const MAX_HEADER: usize = 512;

/// `eyJ` at `start..end`: a whole JWT starts here.
pub(super) fn jwt(bytes: &[u8], start: usize, _end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    let header = token(bytes, start, &TOKEN, MAX_HEADER + 1);
    if !(10..=MAX_HEADER).contains(&header.len()) || bytes.get(start + header.len()) != Some(&b'.') {
        return false;
    }
    let payload_at = start + header.len() + 1;
    let payload = token(bytes, payload_at, &TOKEN, 64 * 1024);
    if payload.len() < 10 || !payload.starts_with(b"eyJ") || bytes.get(payload_at + payload.len()) != Some(&b'.') {
        return false;
    }
    let signature_at = payload_at + payload.len() + 1;
    let signature = token(bytes, signature_at, &TOKEN, 1024);
    signature.len() >= 16 && clean_end(bytes, signature_at + signature.len(), &TOKEN) && header_has_alg(header)
}

/// The header decodes (as far as whole base64 quanta go) to JSON text naming `"alg"`.
fn header_has_alg(header: &[u8]) -> bool {
    let whole = header.len() / 4 * 4;
    let mut decoded = [0u8; MAX_HEADER / 4 * 3];
    let Some(input) = header.get(..whole) else {
        return false;
    };
    match URL_SAFE_NO_PAD.decode_slice(input, &mut decoded) {
        Ok(n) => decoded
            .get(..n)
            .is_some_and(|json| json.starts_with(b"{") && memchr::memmem::find(json, b"\"alg\"").is_some()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    #[test]
    fn fires_on_signed_tokens() {
        assert!(Detector::Jwt.fires_on(TOKEN));
        assert!(Detector::Jwt.fires_on(&format!("Authorization: Bearer {TOKEN}\r\n")));
        assert!(Detector::Jwt.fires_on(&format!("{{\"id_token\":\"{TOKEN}\"}}")));
    }

    #[test]
    fn ignores_fragments_and_lookalikes() {
        let header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
        for text in [
            format!("the header is {header} and nothing else"),
            format!("{header}.eyJzdWIiOiIxMjM0NTY3ODkwIn0."),
            format!("{header}.eyJzdWIiOiIxMjM0NTY3ODkwIn0.short"),
            // Header without "alg": {"typ":"JWT","kid":"k1"}
            "eyJ0eXAiOiJKV1QiLCJraWQiOiJrMSJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6y".to_string(),
            "keyJar.eyJustKidding.yesReallyJustKiddingHere".to_string(),
        ] {
            assert!(!Detector::Jwt.fires_on(&text), "{text}");
        }
    }
}
