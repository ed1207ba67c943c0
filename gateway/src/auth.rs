//! API keys: configured by name and role, held only as SHA-256 hashes, compared in
//! constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{KeyConfig, Role};

/// Who is calling: the key's name (stored as `source` on ingested events) and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// The configured keys.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<([u8; 32], Caller)>,
}

impl KeyRing {
    /// Builds the ring from `[[keys]]`; hashes that are not 64 hex digits are skipped
    /// (config validation refuses them before this point).
    pub fn new(keys: &[KeyConfig]) -> Self {
        let keys = keys
            .iter()
            .filter_map(|k| {
                let bytes: [u8; 32] = hex::decode(&k.sha256).ok()?.try_into().ok()?;
                Some((bytes, Caller { name: k.name.clone(), role: k.role }))
            })
            .collect();
        Self { keys }
    }

    /// The caller presenting `key`, if it is configured. Every configured hash is compared
    /// (no early exit), each in constant time.
    pub fn authenticate(&self, key: &str) -> Option<&Caller> {
        let presented: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for (hash, caller) in &self.keys {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some(caller);
            }
        }
        found
    }
}

/// Hex SHA-256 of a key, as written in `[[keys]] sha256`.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_by_hash_only() {
        let ring =
            KeyRing::new(&[KeyConfig { name: "app".into(), role: Role::Ingest, sha256: hash_key("s3cret") }]);
        assert_eq!(ring.authenticate("s3cret").map(|c| c.name.as_str()), Some("app"));
        assert!(ring.authenticate("s3cret ").is_none());
        assert!(ring.authenticate("").is_none());
    }
}
