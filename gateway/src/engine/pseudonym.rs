//! Pseudonymization: the host replaces a value with a keyed hash (HMAC-SHA256) under a key
//! the gateway holds and no policy ever sees. Equal values give equal pseudonyms, so a
//! pseudonymized field stays searchable by whoever can compute the hash (the gateway).

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Holds the HMAC key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(<key hidden>)")
    }
}

impl Pseudonymizer {
    /// A pseudonymizer with this key.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Loads the key (64 hex digits) from `path`, creating it with a fresh random key and
    /// mode 0600 when the file does not exist.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .map_err(|e| std::io::Error::other(format!("{}: not a hex key: {e}", path.display())))?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| {
                    std::io::Error::other(format!("{}: expected 32 bytes (64 hex digits)", path.display()))
                })?;
                Ok(Self { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path)?;
                file.write_all(hex::encode(key).as_bytes())?;
                file.sync_all()?;
                Ok(Self { key })
            }
            Err(e) => Err(e),
        }
    }

    /// `hmac-sha256:<hex>` of `value`.
    pub fn pseudonym(&self, value: &[u8]) -> String {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail for 32 bytes.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(value);
        format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        let a = Pseudonymizer::load_or_create(&path).expect("create");
        let b = Pseudonymizer::load_or_create(&path).expect("reload");
        assert_eq!(a.pseudonym(b"alice"), b.pseudonym(b"alice"));
        assert_ne!(a.pseudonym(b"alice"), a.pseudonym(b"bob"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
