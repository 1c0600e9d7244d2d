//! Payloads at rest: every batch input file, queued request body and job result is sealed with
//! XChaCha20-Poly1305 under the `jobs.encryption_key` before it reaches the store, and opened only
//! when it is used.
//!
//! A sealed payload is `nonce (24 random bytes) ‖ ciphertext ‖ tag (16 bytes)`. Its associated
//! data binds it to the row it belongs to, so a payload copied into another row does not open:
//!
//! | payload | associated data ([`Binding`]) |
//! |---|---|
//! | an uploaded input file | `file:<file id>` |
//! | a job's request body | `job:<batch id>:<custom_id>` |
//! | a job's result (or error body) | `result:<batch id>:<custom_id>` |
//!
//! File and batch ids never hold `:`, so the first `:` after the batch id ends it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroize;

use crate::config::{JobsConfig, SecretError};
use crate::secrets::Secrets;

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
/// Bytes of the nonce that starts every sealed payload.
pub const NONCE_BYTES: usize = 24;
/// Bytes of the tag that ends every sealed payload.
pub const TAG_BYTES: usize = 16;

/// Why a key could not be used or a payload could not be opened. Never holds the key or the payload.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key is not 32 bytes of base64.
    #[error("jobs.encryption_key {0}: it must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)")]
    BadKey(String),
    /// The secret reference could not be read.
    #[error("jobs.encryption_key is unavailable: {0}")]
    Secret(#[from] SecretError),
    /// The payload is shorter than a nonce and a tag.
    #[error("a sealed payload of {0} bytes is too short to hold a nonce and a tag")]
    Truncated(usize),
    /// The payload does not open: another key, another row, or damaged bytes.
    #[error("a sealed payload does not open with this key for this row (another key, another row, or damaged)")]
    Open,
}

/// The row a payload is bound to: its associated data (see the module's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// An uploaded input file.
    File {
        /// `file-…`.
        id: &'a str,
    },
    /// A queued job's request body.
    Job {
        /// `batch_…`.
        batch_id: &'a str,
        /// The line's `custom_id`.
        custom_id: &'a str,
    },
    /// A job's result or error body.
    Result {
        /// `batch_…`.
        batch_id: &'a str,
        /// The line's `custom_id`.
        custom_id: &'a str,
    },
}

impl Binding<'_> {
    /// The associated data: `file:<id>`, `job:<batch>:<custom_id>` or `result:<batch>:<custom_id>`.
    pub fn aad(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_aad(&mut out);
        out
    }

    /// Writes the associated data into `out` (cleared first), to reuse one buffer over many rows.
    pub fn write_aad(&self, out: &mut Vec<u8>) {
        out.clear();
        let parts: [&str; 3] = match *self {
            Binding::File { id } => ["file:", id, ""],
            Binding::Job { batch_id, custom_id } => ["job:", batch_id, custom_id],
            Binding::Result { batch_id, custom_id } => ["result:", batch_id, custom_id],
        };
        out.extend_from_slice(parts[0].as_bytes());
        out.extend_from_slice(parts[1].as_bytes());
        if !matches!(self, Binding::File { .. }) {
            out.push(b':');
            out.extend_from_slice(parts[2].as_bytes());
        }
    }
}

/// Seals and opens payloads under one key. Cheap to clone; the key is wiped on drop.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer { key: <redacted> }")
    }
}

impl Sealer {
    /// A sealer over a 32-byte key given in standard base64 (surrounding whitespace ignored).
    pub fn from_base64(key: &str) -> Result<Sealer, SealError> {
        // The decoder's error names the offending byte: say only what kind of mistake it was.
        let mut bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| SealError::BadKey("is not valid base64".into()))?;
        let sealer = Sealer::from_bytes(&bytes);
        bytes.zeroize();
        sealer
    }

    /// A sealer over a fresh random key, with that key in base64 (the demo keeps it in memory only).
    pub fn generate() -> (Sealer, String) {
        let mut key = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        let encoded = STANDARD.encode(key);
        let sealer = Sealer::from_array(key);
        key.zeroize();
        (sealer, encoded)
    }

    /// The sealer `jobs.encryption_key` names, read through `secrets`; `None` when it is not set
    /// (the Batch API is then off).
    pub async fn resolve(config: &JobsConfig, secrets: &Secrets) -> Result<Option<Sealer>, SealError> {
        let Some(reference) = &config.encryption_key else {
            return Ok(None);
        };
        let key = secrets.get(reference).await?;
        Sealer::from_base64(&key).map(Some)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Sealer, SealError> {
        let key: [u8; KEY_BYTES] = bytes
            .try_into()
            .map_err(|_| SealError::BadKey(format!("decodes to {} bytes, not {KEY_BYTES}", bytes.len())))?;
        Ok(Sealer::from_array(key))
    }

    fn from_array(mut key: [u8; KEY_BYTES]) -> Sealer {
        let cipher = XChaCha20Poly1305::new(&Key::from(key));
        key.zeroize();
        Sealer { cipher }
    }

    /// Seals `plain` bound to `aad`: a random nonce, the ciphertext and the tag, in one allocation.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_BYTES + plain.len() + TAG_BYTES);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), aad, (&mut out[NONCE_BYTES..]).into())
            // XChaCha20 refuses only messages over 256 GiB, far past any payload's limit.
            .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 seals any payload under 256 GiB"));
        out.extend_from_slice(&tag);
        out
    }

    /// Opens what [`Sealer::seal`] sealed with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_BYTES + TAG_BYTES {
            return Err(SealError::Truncated(sealed.len()));
        }
        let (nonce, rest) = sealed.split_at(NONCE_BYTES);
        let (cipher_text, tag) = rest.split_at(rest.len() - TAG_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Truncated(sealed.len()))?;
        let tag = Tag::try_from(tag).map_err(|_| SealError::Truncated(sealed.len()))?;
        let mut plain = cipher_text.to_vec();
        self.cipher
            .decrypt_inout_detached(&nonce, aad, plain.as_mut_slice().into(), &tag)
            .map_err(|_| SealError::Open)?;
        Ok(plain)
    }

    /// Seals `plain` bound to the row `binding` names.
    pub fn seal_for(&self, binding: Binding<'_>, plain: &[u8]) -> Vec<u8> {
        self.seal(&binding.aad(), plain)
    }

    /// Opens a payload sealed for the row `binding` names.
    pub fn open_for(&self, binding: Binding<'_>, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.open(&binding.aad(), sealed)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::config::{SecretRef, SecretsConfig};

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn sealer() -> Sealer {
        Sealer::from_base64(KEY).unwrap()
    }

    #[test]
    fn a_payload_opens_with_its_key_and_row_only() {
        let job = Binding::Job {
            batch_id: "batch_a",
            custom_id: "t-1",
        };
        let sealed = sealer().seal_for(job, b"{\"model\":\"routine\"}");
        assert_eq!(sealed.len(), NONCE_BYTES + 19 + TAG_BYTES);
        assert!(
            !sealed.windows(7).any(|w| w == b"routine"),
            "the text is not in the sealed bytes"
        );
        assert_eq!(sealer().open_for(job, &sealed).unwrap(), b"{\"model\":\"routine\"}");
        let other_row = Binding::Job {
            batch_id: "batch_a",
            custom_id: "t-2",
        };
        assert!(matches!(sealer().open_for(other_row, &sealed), Err(SealError::Open)));
        let as_result = Binding::Result {
            batch_id: "batch_a",
            custom_id: "t-1",
        };
        assert!(matches!(sealer().open_for(as_result, &sealed), Err(SealError::Open)));
        let (other_key, _) = Sealer::generate();
        assert!(matches!(other_key.open_for(job, &sealed), Err(SealError::Open)));
        assert!(matches!(
            sealer().open_for(job, &sealed[..30]),
            Err(SealError::Truncated(30))
        ));
    }

    #[test]
    fn every_seal_draws_a_new_nonce() {
        let first = sealer().seal(b"file:file-x", b"same");
        let second = sealer().seal(b"file:file-x", b"same");
        assert_ne!(first[..NONCE_BYTES], second[..NONCE_BYTES]);
        assert_ne!(first, second);
    }

    #[test]
    fn bindings_spell_the_documented_associated_data() {
        assert_eq!(Binding::File { id: "file-abc" }.aad(), b"file:file-abc");
        let job = Binding::Job {
            batch_id: "batch_1",
            custom_id: "a:b",
        };
        assert_eq!(job.aad(), b"job:batch_1:a:b");
        let result = Binding::Result {
            batch_id: "batch_1",
            custom_id: "x",
        };
        let mut reused = b"left over".to_vec();
        result.write_aad(&mut reused);
        assert_eq!(reused, b"result:batch_1:x");
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_are_never_shown() {
        let short = Sealer::from_base64("c2hvcnQta2V5").unwrap_err().to_string();
        assert!(short.contains("decodes to 9 bytes, not 32"), "{short}");
        assert!(short.contains("jobs.encryption_key"), "{short}");
        let garbage = Sealer::from_base64("not*base64!secretish").unwrap_err().to_string();
        assert!(garbage.contains("is not valid base64"), "{garbage}");
        assert!(!garbage.contains("secretish") && !garbage.contains('*'), "{garbage}");
        assert!(
            Sealer::from_base64(&format!("  {KEY}\n")).is_ok(),
            "whitespace around the key is ignored"
        );
        assert_eq!(format!("{:?}", sealer()), "Sealer { key: <redacted> }");
    }

    #[test]
    fn a_generated_key_reads_back_as_the_same_key() {
        let (sealer, key) = Sealer::generate();
        let sealed = sealer.seal(b"aad", b"plain");
        assert_eq!(
            Sealer::from_base64(&key).unwrap().open(b"aad", &sealed).unwrap(),
            b"plain"
        );
    }

    #[tokio::test]
    async fn the_key_comes_from_its_secret_reference_or_the_api_is_off() {
        let secrets = Secrets::new(&SecretsConfig::default());
        let off = JobsConfig::default();
        assert!(Sealer::resolve(&off, &secrets).await.unwrap().is_none());
        let missing = JobsConfig {
            encryption_key: Some(SecretRef::Env("FARMHAND_SEAL_TEST_NEVER_SET".into())),
            ..JobsConfig::default()
        };
        let err = Sealer::resolve(&missing, &secrets).await.unwrap_err().to_string();
        assert!(
            err.contains("jobs.encryption_key") && err.contains("FARMHAND_SEAL_TEST_NEVER_SET"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn any_payload_round_trips_and_any_flipped_bit_is_refused(
            plain in proptest::collection::vec(any::<u8>(), 0..512),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            flip in any::<prop::sample::Index>(),
        ) {
            let sealed = sealer().seal(&aad, &plain);
            prop_assert_eq!(sealer().open(&aad, &sealed).unwrap(), plain);
            let mut damaged = sealed.clone();
            let at = flip.index(damaged.len());
            damaged[at] ^= 0x01;
            prop_assert!(matches!(sealer().open(&aad, &damaged), Err(SealError::Open)));
        }
    }
}
