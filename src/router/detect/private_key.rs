//! Private key material: PEM blocks (`-----BEGIN … PRIVATE KEY-----`, PGP key blocks) and PuTTY key files.

const BEGIN: &str = "-----BEGIN ";
const PUTTY: &str = "PuTTY-User-Key-File-";
/// Longest label we look at between `BEGIN ` and the closing dashes.
const MAX_LABEL: usize = 48;

/// True when `text` holds the armour line of a private key (public keys and certificates do not fire).
pub(super) fn contains(text: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = text[from..].find(BEGIN) {
        let start = from + pos + BEGIN.len();
        if private_label(&text.as_bytes()[start..]) {
            return true;
        }
        from = start;
    }
    text.contains(PUTTY)
}

/// `rest` starts with `<LABEL>-----` where the label names a private key.
fn private_label(rest: &[u8]) -> bool {
    let len = rest
        .iter()
        .take(MAX_LABEL)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
        .count();
    let label = &rest[..len];
    rest[len..].starts_with(b"-----") && (label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK"))
}

#[cfg(test)]
mod tests {
    use super::contains;

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
            assert!(contains(&text), "{label}");
        }
        assert!(contains(
            "escaped in JSON: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk\""
        ));
        assert!(contains("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none"));
    }

    #[test]
    fn ignores_public_material_and_prose() {
        for text in [
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "how do I generate a private key with openssl?",
            "the file starts with -----BEGIN and then a label",
            "-----BEGIN RSA PRIVATE KEY without closing dashes",
            "-----BEGIN ",
        ] {
            assert!(!contains(text), "{text}");
        }
    }
}
