//! The keyed hash that stands in for a personal value in an index key: equal values give
//! equal keys (so `?user=` and `?ip=` still use an index), but the index tree names
//! nobody to whoever lacks the index key. HMAC-SHA256 with the field's name as domain,
//! truncated to 128 bits (a collision only costs a post-filter check: every query
//! compares the decrypted record with its filters).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::aead::SecretKey;

/// Bytes of an index hash.
pub const INDEX_HASH_LEN: usize = 16;

/// HMAC-SHA256 under the store's index key.
#[derive(Clone)]
pub struct IndexHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for IndexHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexHasher(<key hidden>)")
    }
}

impl IndexHasher {
    /// A hasher keyed with `key`.
    pub fn new(key: &SecretKey) -> IndexHasher {
        IndexHasher {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(key.bytes()).expect("HMAC takes any key length"),
        }
    }

    /// `HMAC(key, len(field) ‖ field ‖ value)[..16]`.
    pub fn hash(&self, field: &str, value: &[u8]) -> [u8; INDEX_HASH_LEN] {
        let mut mac = self.mac.clone();
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
        mac.update(value);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; INDEX_HASH_LEN];
        out.copy_from_slice(&full[..INDEX_HASH_LEN]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_equal_hashes_fields_apart() {
        let h = IndexHasher::new(&SecretKey::random());
        assert_eq!(h.hash("user", b"alice"), h.hash("user", b"alice"));
        assert_ne!(h.hash("user", b"alice"), h.hash("user", b"bob"));
        assert_ne!(h.hash("user", b"alice"), h.hash("ip", b"alice"));
        assert_ne!(h.hash("us", b"eralice"), h.hash("user", b"alice"));
    }

    #[test]
    fn another_key_another_hash() {
        let a = IndexHasher::new(&SecretKey::random());
        let b = IndexHasher::new(&SecretKey::random());
        assert_ne!(a.hash("user", b"alice"), b.hash("user", b"alice"));
    }
}
