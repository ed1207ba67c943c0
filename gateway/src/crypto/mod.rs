//! Encryption at rest, the primitives: 256-bit keys, XChaCha20-Poly1305 sealing
//! (`aead`), the master key that wraps data keys (`master`), and the keyed hash that
//! replaces personal values in index keys (`index`).
//!
//! Nothing here touches sled; `store::encryption` keeps the wrapped data keys in their
//! own tree and decides which fields of a record are sealed under which key.

pub mod aead;
pub mod index;
pub mod master;

pub use aead::SecretKey;
pub use index::IndexHasher;
pub use master::{MASTER_KEY_ENV, MasterKey};

/// What can go wrong with keys and ciphertexts. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A ciphertext that does not open under the key (wrong key, changed bytes).
    #[error("decryption failed: wrong key or damaged ciphertext")]
    Open,
    /// A ciphertext too short to hold a nonce and a tag.
    #[error("a sealed value of {0} bytes is too short")]
    Truncated(usize),
    /// A plaintext the AEAD refuses (longer than it can encrypt).
    #[error("cannot encrypt this value")]
    Seal,
    /// A master key that cannot be loaded; the message names where it was looked for.
    #[error("{0}")]
    MasterKey(String),
}
