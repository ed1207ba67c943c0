//! Crypto-shredding: erasing a subject destroys its data key, so every value sealed under
//! it reads back as [`super::ERASED`] while the records, their hash chain and the Merkle
//! tree stay exactly as they were (`auditgate verify` still passes).
//!
//! The subject's keyed index entries (user, IP, ...) of the records sealed under the key
//! are removed too, computed while the key still opens the records. Nothing is flushed
//! here: the caller appends the erasure event, whose group commit flushes it all.

use serde_json::{Value, json};

use super::Store;
use super::error::StoreError;
use super::indexes::{self, Index};
use super::keys::{POSITION_LEN, Position, u64_key};
use super::record;

/// What one erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The subject's keyed hash (hex): names it in the erasure event without naming it.
    pub subject_ref: String,
    /// A live data key was destroyed (`false`: the subject had none, say erased before).
    pub key_destroyed: bool,
    /// Index entries removed (keyed hashes of the subject's personal values).
    pub index_entries_removed: u64,
}

impl Store {
    /// True when the store seals personal fields (`storage.encryption`).
    pub fn is_encrypted(&self) -> bool {
        self.inner.sealing.is_some()
    }

    /// Erases `user`: destroys its data key (recording `requested_by` and the time in the
    /// key's tombstone) and removes its keyed index entries. Events of `user` stored later
    /// get a new key. [`StoreError::Encryption`] on a plain store.
    pub fn erase_subject(&self, user: &str, requested_by: &str) -> Result<Erasure, StoreError> {
        let Some(s) = self.inner.sealing.as_deref() else {
            return Err(StoreError::Encryption(
                "erasure destroys a subject's data key: it needs an encrypted store (storage.encryption = true)"
                    .into(),
            ));
        };
        let trees = &self.inner.trees;
        let keying = s.keying();
        let subject = s.subject_ref(Some(user));
        let mut doomed = Vec::new();
        if let Some(kid) = s.keys().subject_kid(&subject)? {
            let prefix = keying.user_prefix(user)?;
            for item in trees.index(Index::User).scan_prefix(&prefix) {
                let (key, _) = item?;
                if key.len() != prefix.len() + POSITION_LEN {
                    continue;
                }
                let pos = Position::from_key_suffix(&key)?;
                let Some(bytes) = trees.log.get(u64_key(pos.seq))? else { continue };
                let mut fields = record::decode(&bytes)?;
                if s.kid_of(&fields) != Some(kid) {
                    continue;
                }
                // A record that does not open is left alone (its entries are only hints).
                if s.open(&mut fields, "a record being erased").is_err() {
                    continue;
                }
                if fields.get("user").and_then(Value::as_str) != Some(user) {
                    continue;
                }
                for (index, key) in indexes::keys_at(indexes::prefixes(&fields, keying)?, pos) {
                    if keying.hashes_index(index) {
                        doomed.push((index, key));
                    }
                }
            }
        }
        let tombstone = json!({
            "erased_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "requested_by": requested_by,
        });
        let tombstone = serde_json::to_vec(&tombstone)
            .map_err(|e| StoreError::InvalidInput(format!("cannot encode as JSON: {e}")))?;
        let destroyed = s.keys().erase(&subject, &tombstone)?;
        let mut removed = 0;
        for (index, key) in doomed {
            if trees.index(index).remove(key)?.is_some() {
                removed += 1;
            }
        }
        Ok(Erasure {
            subject_ref: hex::encode(subject),
            key_destroyed: destroyed.is_some(),
            index_entries_removed: removed,
        })
    }
}
