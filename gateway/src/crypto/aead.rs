//! XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`): random 192-bit nonces, so keys
//! can seal any number of values without nonce bookkeeping.
//!
//! A sealed value is `nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

use super::CryptoError;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;

/// A 256-bit symmetric key. Zeroed when dropped; `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<hidden>)")
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl SecretKey {
    /// A fresh key from the thread's CSPRNG (seeded by the OS).
    pub fn random() -> SecretKey {
        SecretKey(rand::random())
    }

    /// A key with these bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        SecretKey(bytes)
    }

    /// The key's bytes (for HMAC keys and wrapping; never for printing).
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

/// Encrypts and authenticates `plaintext` (and authenticates `aad`) under `key` with a
/// fresh random nonce: `nonce ‖ ciphertext ‖ tag`.
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let ciphertext = key
        .cipher()
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Checks and decrypts what [`seal`] made with the same `key` and `aad`.
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Truncated(sealed.len()));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    key.cipher()
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
        .map_err(|_| CryptoError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let key = SecretKey::random();
        let sealed = seal(&key, b"ctx", b"alice@example.com").expect("seal");
        assert_eq!(sealed.len(), NONCE_LEN + 17 + TAG_LEN);
        assert!(!sealed.windows(5).any(|w| w == b"alice"));
        assert_eq!(open(&key, b"ctx", &sealed).expect("open"), b"alice@example.com");
    }

    #[test]
    fn nonces_differ() {
        let key = SecretKey::random();
        assert_ne!(seal(&key, b"", b"same").expect("seal"), seal(&key, b"", b"same").expect("seal"));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = seal(&SecretKey::random(), b"ctx", b"secret").expect("seal");
        assert_eq!(open(&SecretKey::random(), b"ctx", &sealed), Err(CryptoError::Open));
    }

    #[test]
    fn wrong_context_fails() {
        let key = SecretKey::random();
        let sealed = seal(&key, b"user", b"secret").expect("seal");
        assert_eq!(open(&key, b"ip", &sealed), Err(CryptoError::Open));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let key = SecretKey::random();
        let sealed = seal(&key, b"", b"secret value").expect("seal");
        for i in [0, NONCE_LEN, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(open(&key, b"", &bad), Err(CryptoError::Open), "byte {i}");
        }
        assert_eq!(open(&key, b"", &sealed[..NONCE_LEN + TAG_LEN - 1]), Err(CryptoError::Truncated(39)));
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SecretKey::from_bytes([0xab; KEY_LEN]);
        assert_eq!(format!("{key:?}"), "SecretKey(<hidden>)");
    }
}
