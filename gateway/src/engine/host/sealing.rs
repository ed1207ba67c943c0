//! The host's trees under encryption at rest: policy keys such as `user:alice` or an IP
//! become keyed hashes (the in-memory tables are keyed by them too, so a counter is the
//! same counter before and after a restart), and state values are sealed with an AEAD.
//! `host_counters`/`host_state` then hold no personal value in plain.
//!
//! The key comes from the store (`Store::host_key`: wrapped by the master key like the
//! index key, re-wrapped by a rotation); server start-up hands it over, so the host never
//! reads the store's trees. Two subkeys are derived from it, one per job.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::{IndexHasher, SecretKey, aead};

/// Characters of a hashed key name (hex of a 128-bit hash).
pub const HASHED_KEY_LEN: usize = 2 * crate::crypto::index::INDEX_HASH_LEN;

/// Associated-data domain of sealed state values.
const CONTEXT: &[u8] = b"auditgate host state v1\0";

/// Hashes policy keys and seals state values under the store's host key.
pub struct HostSealing {
    hasher: IndexHasher,
    seal: SecretKey,
}

impl std::fmt::Debug for HostSealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostSealing(<keys hidden>)")
    }
}

impl HostSealing {
    /// Sealing under `key` (the store's host key).
    pub fn new(key: &SecretKey) -> HostSealing {
        HostSealing {
            hasher: IndexHasher::new(&derive(key, b"auditgate host key names v1")),
            seal: derive(key, b"auditgate host state values v1"),
        }
    }

    /// The name `key` of the policy with sled prefix `policy_prefix` is kept under:
    /// hex of a keyed hash, [`HASHED_KEY_LEN`] characters. Per policy, so two policies'
    /// entries for one user are not linkable by their names.
    pub fn key_name(&self, policy_prefix: &[u8], key: &str) -> String {
        let mut value = Vec::with_capacity(policy_prefix.len() + key.len());
        value.extend_from_slice(policy_prefix);
        value.extend_from_slice(key.as_bytes());
        hex::encode(self.hasher.hash("host key", &value))
    }

    /// Whether `name` has the shape of [`HostSealing::key_name`]'s answers (entries
    /// written before the trees were protected do not).
    pub fn is_key_name(name: &str) -> bool {
        name.len() == HASHED_KEY_LEN && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    /// `value` sealed, bound to its sled key `at` (a value cannot be moved to another key).
    pub fn seal(&self, at: &[u8], value: &[u8]) -> Option<Vec<u8>> {
        aead::seal(&self.seal, &aad(at), value).ok()
    }

    /// What [`HostSealing::seal`] sealed at `at`; `None` when it does not open.
    pub fn open(&self, at: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        aead::open(&self.seal, &aad(at), sealed).ok()
    }
}

fn derive(key: &SecretKey, purpose: &[u8]) -> SecretKey {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
    mac.update(purpose);
    let mut bytes = [0u8; aead::KEY_LEN];
    bytes.copy_from_slice(&mac.finalize().into_bytes());
    SecretKey::from_bytes(bytes)
}

fn aad(at: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONTEXT.len() + at.len());
    out.extend_from_slice(CONTEXT);
    out.extend_from_slice(at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_per_policy_and_hide_the_key() {
        let s = HostSealing::new(&SecretKey::random());
        let name = s.key_name(b"\0\0\0\x01p", "user:alice");
        assert_eq!(name, s.key_name(b"\0\0\0\x01p", "user:alice"));
        assert_ne!(name, s.key_name(b"\0\0\0\x01q", "user:alice"));
        assert_ne!(name, HostSealing::new(&SecretKey::random()).key_name(b"\0\0\0\x01p", "user:alice"));
        assert!(HostSealing::is_key_name(&name) && !name.contains("alice"));
        assert!(!HostSealing::is_key_name("user:alice"));
    }

    #[test]
    fn values_open_only_where_sealed() {
        let s = HostSealing::new(&SecretKey::random());
        let sealed = s.seal(b"k1", b"203.0.113.9").expect("seal");
        assert!(!sealed.windows(3).any(|w| w == b"203"));
        assert_eq!(s.open(b"k1", &sealed).as_deref(), Some(&b"203.0.113.9"[..]));
        assert_eq!(s.open(b"k2", &sealed), None);
    }
}
