//! Online master key rotation: every wrapped key of an encrypted store (data keys, the
//! index key, the host key) is re-wrapped under a new master key while the gateway runs.
//! Records are not rewritten: they are sealed under the data keys, which do not change,
//! so the hash chain, the Merkle tree and every checkpoint stay as they are.
//!
//! The re-wrapped keys and the marker's `master_key_id` change in one sled transaction
//! over the `data_keys` and `meta` trees, which is then flushed and fsynced like a group
//! commit: after a crash the store opens under exactly one of the two keys. The
//! rotation holds the data keys' change lock, so keys created or erased meanwhile wait
//! for it and are wrapped under the new key.

use crate::crypto::{MasterKey, SecretKey};

use super::Store;
use super::durability::DiskSync;
use super::error::StoreError;

/// What one rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Id of the master key the keys were wrapped under before.
    pub old_master_key_id: String,
    /// Id of the master key they are wrapped under now.
    pub new_master_key_id: String,
    /// Keys re-wrapped: every live data key, plus the index key and the host key.
    pub keys_rewrapped: u64,
}

impl Store {
    /// The id of the master key the store's keys are wrapped under (`None`: plain store).
    pub fn master_key_id(&self) -> Option<String> {
        self.inner.sealing.as_ref().map(|s| s.master_key_id())
    }

    /// The store-wide key the policy host keys its trees' hashes and seals their values
    /// with (`None`: plain store). Wrapped by the master key like the index key.
    pub fn host_key(&self) -> Option<SecretKey> {
        self.inner.sealing.as_ref().map(|s| s.host_key().clone())
    }

    /// Re-wraps every key under `new` and makes `new` the store's master key; answers once
    /// that is on disk (flushed and fsynced). The old master key no longer opens the store.
    /// [`StoreError::Encryption`] on a plain store, or when `new` is the key in use.
    pub fn rotate_master(&self, new: &MasterKey) -> Result<Rotation, StoreError> {
        let Some(s) = self.inner.sealing.as_deref() else {
            return Err(StoreError::Encryption(
                "master key rotation re-wraps the data keys of an encrypted store (storage.encryption = true)"
                    .into(),
            ));
        };
        let old_master_key_id = s.master_key_id();
        let keys_rewrapped = s.rotate_master(&self.inner.trees.meta, new)?;
        self.inner.db.flush()?;
        // The writer's fsync of sled's data file (and directory), on a handle of our own.
        DiskSync::open(&self.inner.data_dir)?;
        Ok(Rotation { old_master_key_id, new_master_key_id: new.id().to_owned(), keys_rewrapped })
    }
}
