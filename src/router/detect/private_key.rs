//! Private key material: PEM armour of every private-key type (`RSA`, `EC`, `DSA`, `OPENSSH`,
//! `ENCRYPTED`, plain `PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`), SSH2 and PuTTY key files, and
//! the base64 body of an OpenSSH key on its own.
//!
//! What fires: a `-----BEGIN <label>` whose label names a private key and is followed, within
//! a few header lines, by key material (a base64 run of 16+ characters); lines may be broken by
//! real newlines or JSON's literal `\n`. A label cut off mid-word still fires when key material
//! follows (`-----BEGIN RSA PRIV` + newline + base64), as does one missing its closing dashes.
//! What does not: public keys, certificates, CSRs, an armour line with no key material after it
//! (prose about key formats), and a BEGIN line cut off at the very end of the text.

use super::text::{BASE64, run};

/// Longest label we look at after `BEGIN `.
const MAX_LABEL: usize = 48;
/// How far after the armour line key material may start (PEM and PGP headers come first).
const BODY_WINDOW: usize = 512;
/// The shortest base64 run that counts as key material.
const MIN_BODY: usize = 16;

/// `-----BEGIN ` at `start..end`: a private-key label followed by key material.
pub(super) fn pem(bytes: &[u8], _start: usize, end: usize) -> bool {
    let label_len = run(bytes, end, &LABEL, MAX_LABEL);
    let Some(label) = bytes.get(end..end + label_len) else {
        return false;
    };
    let label = label.trim_ascii_end();
    let closed = bytes
        .get(end + label_len..)
        .is_some_and(|rest| rest.starts_with(b"-----"));
    let private = if closed {
        label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")
    } else {
        // Cut off or malformed: any label that has started to say PRIVATE.
        memchr::memmem::find(label, b"PRIV").is_some()
    };
    private && has_body(bytes, end + label_len)
}

/// `BEGIN SSH2 ENCRYPTED PRIVATE KEY` (the `---- BEGIN … ----` format of ssh.com and PuTTYgen).
pub(super) fn ssh2(bytes: &[u8], _start: usize, end: usize) -> bool {
    has_body(bytes, end)
}

/// `PuTTY-User-Key-File-<version>: <algorithm>`, the first line of a `.ppk` file.
pub(super) fn putty(bytes: &[u8], _start: usize, end: usize) -> bool {
    matches!(bytes.get(end..end + 2), Some([v, b':']) if v.is_ascii_digit())
}

/// The base64 of `openssh-key-v1\0`, the magic that opens every OpenSSH private key body.
pub(super) fn openssh_body(bytes: &[u8], start: usize, end: usize) -> bool {
    let before = super::text::run_back(bytes, start, &BASE64, 1);
    before == 0 && run(bytes, end, &BASE64, 8) >= 8
}

/// A base64 run of at least [`MIN_BODY`] characters starts within [`BODY_WINDOW`] bytes of `from`.
fn has_body(bytes: &[u8], from: usize) -> bool {
    let Some(window) = bytes.get(from..bytes.len().min(from + BODY_WINDOW)) else {
        return false;
    };
    let mut i = 0;
    while i < window.len() {
        let len = run(window, i, &BASE64, MIN_BODY);
        if len >= MIN_BODY {
            return true;
        }
        i += len + 1;
    }
    false
}

/// Bytes of a PEM label: upper-case letters, digits and spaces.
static LABEL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ';
        b += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    fn fires(text: &str) -> bool {
        Detector::PrivateKey.fires_on(text)
    }

    #[test]
    fn fires_on_private_key_armour() {
        for label in [
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "DSA PRIVATE KEY",
            "PGP PRIVATE KEY BLOCK",
        ] {
            let text = format!("here is my key:\n-----BEGIN {label}-----\nMIIEowIBAAKCAQEA7\n-----END {label}-----\n");
            assert!(fires(&text), "{label}");
        }
        assert!(fires(
            "escaped in JSON: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\""
        ));
        assert!(fires("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none"));
        assert!(fires(
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/56wAAAi4AAAA3aWYtbW9kbntzaWdu"
        ));
        assert!(fires("b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0"));
    }

    #[test]
    fn fires_on_truncated_keys() {
        assert!(fires(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo"
        ));
        assert!(fires(
            "-----BEGIN RSA PRIVATE KEY\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo"
        ));
        assert!(fires("-----BEGIN RSA PRIV\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo"));
        assert!(fires(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\nhQz1yv0T8CcJ0ViDgb"
        ));
    }

    #[test]
    fn ignores_public_material_and_prose() {
        for text in [
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF2lnPIBEADsp3Sp",
            "how do I generate a private key with openssl?",
            "the file starts with -----BEGIN and then a label",
            "a key file starts with -----BEGIN RSA PRIVATE KEY----- and ends with -----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVA",
            "-----BEGIN ",
            "PuTTY-User-Key-File format explained",
            "-----BEGIN OPENSSH PRIVATE KEY-----\n<paste your key here>\n-----END OPENSSH PRIVATE KEY-----",
        ] {
            assert!(!fires(text), "{text}");
        }
    }
}
