//! The master key: wraps (encrypts) the data keys and the index key, so that the data
//! directory alone never holds a usable key. It comes from the environment
//! ([`MASTER_KEY_ENV`]) or from `storage.master_key_file`, as 64 hex digits; never from
//! `policy.toml` itself, and it is never logged.
//!
//! Its id (`hex(HMAC-SHA256(key, "auditgate master key id v1")[..8])`) is stored with an
//! encrypted store: a wrong key is refused at start-up by name, before anything is read.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

use super::CryptoError;
use super::aead::{self, KEY_LEN, SecretKey};

/// The environment variable holding the master key (64 hex digits). Wins over the file.
pub const MASTER_KEY_ENV: &str = "AUDITGATE_MASTER_KEY";

/// Domain of the wrapping AEAD's associated data.
const WRAP_CONTEXT: &[u8] = b"auditgate wrap v1\0";

/// The key that wraps every other key of an encrypted store.
#[derive(Clone)]
pub struct MasterKey {
    key: SecretKey,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A master key with these bytes.
    pub fn new(key: SecretKey) -> MasterKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
        mac.update(b"auditgate master key id v1");
        let id = hex::encode(&mac.finalize().into_bytes()[..8]);
        MasterKey { key, id }
    }

    /// Parses 64 hex digits (surrounding white space ignored). `origin` names where the
    /// text came from in the error, which never repeats the text.
    pub fn from_hex(text: &str, origin: &str) -> Result<MasterKey, CryptoError> {
        let bad = || {
            CryptoError::MasterKey(format!(
                "the master key in {origin} is not 64 hex digits (generate one with `openssl rand -hex 32`)"
            ))
        };
        let mut bytes = hex::decode(text.trim()).map_err(|_| bad())?;
        let key: Result<[u8; KEY_LEN], _> = bytes.as_slice().try_into();
        bytes.zeroize();
        Ok(MasterKey::new(SecretKey::from_bytes(key.map_err(|_| bad())?)))
    }

    /// The key from [`MASTER_KEY_ENV`] when set, else from `file`. Answers the key and
    /// where it came from (for the start-up log).
    pub fn load(file: Option<&Path>) -> Result<(MasterKey, String), CryptoError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(mut text) => {
                let key = MasterKey::from_hex(&text, MASTER_KEY_ENV);
                text.zeroize();
                return Ok((key?, format!("environment variable {MASTER_KEY_ENV}")));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(CryptoError::MasterKey(format!("{MASTER_KEY_ENV} is not 64 hex digits")));
            }
            Err(std::env::VarError::NotPresent) => {}
        }
        let Some(path) = file else {
            return Err(CryptoError::MasterKey(format!(
                "storage.encryption = true needs the master key: set {MASTER_KEY_ENV} or storage.master_key_file \
                 (64 hex digits, e.g. from `openssl rand -hex 32`)"
            )));
        };
        let mut text = std::fs::read_to_string(path).map_err(|e| {
            CryptoError::MasterKey(format!("cannot read the master key file {}: {e}", path.display()))
        })?;
        let key = MasterKey::from_hex(&text, &path.display().to_string());
        text.zeroize();
        Ok((key?, format!("file {}", path.display())))
    }

    /// The key's public id: names it in the store's marker and in errors.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypts `key` for storage; `label` (the wrapped key's name) is bound to it, so a
    /// wrapped key cannot be moved to another name.
    pub fn wrap(&self, label: &[u8], key: &SecretKey) -> Result<Vec<u8>, CryptoError> {
        aead::seal(&self.key, &context(label), key.bytes())
    }

    /// The key [`MasterKey::wrap`] wrapped under `label`.
    pub fn unwrap(&self, label: &[u8], wrapped: &[u8]) -> Result<SecretKey, CryptoError> {
        let mut bytes = aead::open(&self.key, &context(label), wrapped)?;
        let key: Result<[u8; KEY_LEN], _> = bytes.as_slice().try_into();
        bytes.zeroize();
        key.map(SecretKey::from_bytes).map_err(|_| CryptoError::Open)
    }
}

fn context(label: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_CONTEXT.len() + label.len());
    aad.extend_from_slice(WRAP_CONTEXT);
    aad.extend_from_slice(label);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn wrap_round_trip_and_binding() {
        let master = MasterKey::from_hex(HEX, "test").expect("key");
        let data = SecretKey::random();
        let wrapped = master.wrap(b"data:1", &data).expect("wrap");
        assert_eq!(master.unwrap(b"data:1", &wrapped).expect("unwrap").bytes(), data.bytes());
        assert_eq!(master.unwrap(b"data:2", &wrapped).err(), Some(CryptoError::Open));
        let other = MasterKey::new(SecretKey::random());
        assert_eq!(other.unwrap(b"data:1", &wrapped).err(), Some(CryptoError::Open));
        assert_ne!(master.id(), other.id());
    }

    #[test]
    fn ids_are_stable_and_not_the_key() {
        let a = MasterKey::from_hex(HEX, "a").expect("key");
        let b = MasterKey::from_hex(&format!("  {HEX}\n"), "b").expect("key");
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id().len(), 16);
        assert!(!HEX.contains(a.id()));
    }

    #[test]
    fn bad_text_is_refused_without_echo() {
        let (long, bad_digit) = (format!("{HEX}00"), HEX.replace('0', "x"));
        for text in ["", "abc", &HEX[..62], long.as_str(), bad_digit.as_str()] {
            let e = MasterKey::from_hex(text, "the test").expect_err("refused").to_string();
            assert!(e.contains("the test") && e.contains("64 hex digits"), "{e}");
            assert!(text.len() < 8 || !e.contains(&text[..8]), "{e}");
        }
    }

    #[test]
    fn key_file_is_read_and_missing_file_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        std::fs::write(&path, format!("{HEX}\n")).expect("write");
        // The environment variable would win; these tests never set it.
        if std::env::var_os(MASTER_KEY_ENV).is_none() {
            let (key, source) = MasterKey::load(Some(&path)).expect("load");
            assert_eq!(key.id(), MasterKey::from_hex(HEX, "x").expect("key").id());
            assert!(source.contains("master.key"));
            let missing = dir.path().join("nope.key");
            let e = MasterKey::load(Some(&missing)).expect_err("missing").to_string();
            assert!(e.contains("nope.key"), "{e}");
            let e = MasterKey::load(None).expect_err("none").to_string();
            assert!(e.contains(MASTER_KEY_ENV) && e.contains("master_key_file"), "{e}");
        }
    }
}
