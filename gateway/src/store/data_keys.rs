//! The wrapped data keys of an encrypted store: sled tree `data_keys`, with caches.
//!
//! | key | value |
//! |---|---|
//! | `k` ‖ kid (16 bytes) | the data key wrapped by the master key (label `data:` ‖ kid) |
//! | `s` ‖ subject ref (16 bytes) | the kid of the subject's live key |
//! | `e` ‖ kid | erasure tombstone (JSON: when, who asked): the key was destroyed on purpose |
//! | `index` | the index key wrapped by the master key (label `index`) |
//! | `host` | the policy host's key wrapped by the master key (label `host`): keys the
//! hashes and seals the values of `host_counters`/`host_state` (see `engine::host::sealing`) |
//!
//! A subject ref is the keyed index hash of the subject (the event's `user`), so this
//! tree names nobody. Erasing a subject removes its `s` and `k` entries and leaves the
//! tombstone; a later event of the same subject gets a new key under a new kid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use sled::transaction::{ConflictableTransactionResult, TransactionError, Transactional};

use crate::crypto::{MasterKey, SecretKey};

use super::error::StoreError;

/// Bytes of a data key id.
pub(crate) const KID_LEN: usize = 16;
/// A data key's id (random).
pub(crate) type Kid = [u8; KID_LEN];
/// A subject's keyed hash.
pub(crate) type SubjectRef = [u8; 16];

const INDEX_KEY: &[u8] = b"index";
const HOST_KEY: &[u8] = b"host";

/// What a kid names.
#[derive(Debug, Clone)]
pub(crate) enum KeyState {
    /// The key exists.
    Live(Arc<SecretKey>),
    /// The key was destroyed by an erasure.
    Erased,
}

/// The data keys, unwrapped on first use and cached.
pub(crate) struct DataKeys {
    tree: sled::Tree,
    /// Swapped by [`DataKeys::rotate`]; read and written under `change` only.
    master: RwLock<MasterKey>,
    by_kid: RwLock<HashMap<Kid, Arc<SecretKey>>>,
    by_subject: RwLock<HashMap<SubjectRef, Kid>>,
    /// Serializes creating, loading into the caches, erasing and re-wrapping: an erased
    /// key is never put back into a cache by a reader that loaded it just before, and no
    /// key is wrapped under a master key that a rotation is replacing.
    change: Mutex<()>,
}

impl DataKeys {
    /// The keys in `tree`, wrapped by `master`.
    pub(crate) fn new(tree: sled::Tree, master: MasterKey) -> DataKeys {
        DataKeys {
            tree,
            master: RwLock::new(master),
            by_kid: RwLock::new(HashMap::new()),
            by_subject: RwLock::new(HashMap::new()),
            change: Mutex::new(()),
        }
    }

    /// The index key; created (not flushed) when `create` (a new store) and none exists.
    pub(crate) fn index_key(&self, create: bool) -> Result<SecretKey, StoreError> {
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        match self.named_key(INDEX_KEY, create)? {
            Some(key) => Ok(key),
            None => Err(StoreError::Corrupt("the encrypted store's index key is missing".into())),
        }
    }

    /// The policy host's key, created (not flushed) when missing: stores encrypted before
    /// the host's trees were protected get one at their next open.
    pub(crate) fn host_key(&self) -> Result<SecretKey, StoreError> {
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        self.named_key(HOST_KEY, true)?
            .ok_or_else(|| StoreError::Corrupt("the encrypted store's host key is missing".into()))
    }

    /// The store-wide key under `label`; created when `create` and missing. Call with
    /// `change` held.
    fn named_key(&self, label: &[u8], create: bool) -> Result<Option<SecretKey>, StoreError> {
        let master = self.master();
        match self.tree.get(label)? {
            Some(wrapped) => master.unwrap(label, &wrapped).map(Some).map_err(|e| {
                StoreError::Encryption(format!(
                    "the {} key does not open under the master key: {e}",
                    String::from_utf8_lossy(label)
                ))
            }),
            None if !create => Ok(None),
            None => {
                let key = SecretKey::random();
                let wrapped = master.wrap(label, &key).map_err(crypto_error)?;
                self.tree.insert(label, wrapped)?;
                Ok(Some(key))
            }
        }
    }

    /// The id of the master key the keys are wrapped under now.
    pub(crate) fn master_id(&self) -> String {
        self.master().id().to_owned()
    }

    /// Re-wraps every data key, the index key and the host key under `new`, and writes
    /// `marker` (naming `new`'s id) under `marker_key` in `meta`, all in one sled
    /// transaction; then `new` wraps every key created later. Nothing is flushed here.
    /// Holds `change` throughout, so no key is created or erased meanwhile. Answers the
    /// number of keys re-wrapped. Any key that does not open under the current master key
    /// stops the rotation before anything is written.
    pub(crate) fn rotate(
        &self,
        new: &MasterKey,
        meta: &sled::Tree,
        marker_key: &[u8],
        marker: &[u8],
    ) -> Result<u64, StoreError> {
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.master();
        if old.id() == new.id() {
            return Err(StoreError::Encryption(format!(
                "the new master key (id {}) is the one in use already",
                new.id()
            )));
        }
        let mut rewrapped = Vec::new();
        for item in self.tree.iter() {
            let (name, wrapped) = item?;
            let (label, what) = match name.first() {
                Some(b'k') if name.len() == 1 + KID_LEN => {
                    let label = data_label(name[1..].try_into().unwrap_or(&[0; KID_LEN]));
                    (label, format!("data key {}", hex::encode(&name[1..])))
                }
                _ if name.as_ref() == INDEX_KEY || name.as_ref() == HOST_KEY => {
                    (name.to_vec(), format!("the {} key", String::from_utf8_lossy(&name)))
                }
                _ => continue,
            };
            let key = old.unwrap(&label, &wrapped).map_err(|e| {
                StoreError::Encryption(format!(
                    "{what} does not open under the current master key ({e}): nothing was rotated"
                ))
            })?;
            rewrapped.push((name, new.wrap(&label, &key).map_err(crypto_error)?));
        }
        (&self.tree, meta)
            .transaction(|(keys, meta)| -> ConflictableTransactionResult<(), ()> {
                for (name, wrapped) in &rewrapped {
                    keys.insert(name.as_ref(), wrapped.as_slice())?;
                }
                meta.insert(marker_key, marker)?;
                Ok(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => StoreError::Encryption("the rotation was aborted".into()),
            })?;
        *self.master.write().unwrap_or_else(PoisonError::into_inner) = new.clone();
        Ok(rewrapped.len() as u64)
    }

    fn master(&self) -> MasterKey {
        read(&self.master).clone()
    }

    /// The live key of `subject`, created (written to the tree, not flushed: the writer's
    /// flush makes it durable before any record sealed under it) when it has none.
    pub(crate) fn for_subject(&self, subject: &SubjectRef) -> Result<(Kid, Arc<SecretKey>), StoreError> {
        if let Some(kid) = read(&self.by_subject).get(subject).copied()
            && let Some(key) = read(&self.by_kid).get(&kid)
        {
            return Ok((kid, key.clone()));
        }
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        let stored = self.tree.get(tagged(b's', subject))?;
        let (kid, key) = match stored {
            Some(kid) => {
                let kid: Kid = kid
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("a subject's kid has {} bytes", kid.len())))?;
                match self.load(&kid)? {
                    Some(key) => (kid, key),
                    None => return Err(StoreError::Corrupt("a subject's data key is missing".into())),
                }
            }
            None => {
                let kid: Kid = rand::random();
                let key = SecretKey::random();
                let wrapped = self.master().wrap(&data_label(&kid), &key).map_err(crypto_error)?;
                self.tree.insert(tagged(b'k', &kid), wrapped)?;
                self.tree.insert(tagged(b's', subject), &kid[..])?;
                (kid, Arc::new(key))
            }
        };
        write(&self.by_kid).insert(kid, key.clone());
        write(&self.by_subject).insert(*subject, kid);
        Ok((kid, key))
    }

    /// The key named `kid`, or that it was erased; `None` when it never existed here.
    pub(crate) fn by_kid(&self, kid: &Kid) -> Result<Option<KeyState>, StoreError> {
        if let Some(key) = read(&self.by_kid).get(kid) {
            return Ok(Some(KeyState::Live(key.clone())));
        }
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = self.load(kid)? {
            write(&self.by_kid).insert(*kid, key.clone());
            return Ok(Some(KeyState::Live(key)));
        }
        Ok(self.tree.contains_key(tagged(b'e', kid))?.then_some(KeyState::Erased))
    }

    /// The kid of `subject`'s live key, if it has one.
    pub(crate) fn subject_kid(&self, subject: &SubjectRef) -> Result<Option<Kid>, StoreError> {
        match self.tree.get(tagged(b's', subject))? {
            Some(kid) => Ok(kid.as_ref().try_into().ok()),
            None => Ok(None),
        }
    }

    /// Destroys `subject`'s live key (not flushed) and leaves `tombstone` under its kid.
    /// Answers the destroyed kid, `None` when the subject had no key.
    pub(crate) fn erase(&self, subject: &SubjectRef, tombstone: &[u8]) -> Result<Option<Kid>, StoreError> {
        let _guard = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(kid) = self.subject_kid(subject)? else { return Ok(None) };
        self.tree.insert(tagged(b'e', &kid), tombstone)?;
        self.tree.remove(tagged(b'k', &kid))?;
        self.tree.remove(tagged(b's', subject))?;
        write(&self.by_kid).remove(&kid);
        write(&self.by_subject).remove(subject);
        Ok(Some(kid))
    }

    fn load(&self, kid: &Kid) -> Result<Option<Arc<SecretKey>>, StoreError> {
        let Some(wrapped) = self.tree.get(tagged(b'k', kid))? else { return Ok(None) };
        let key = self.master().unwrap(&data_label(kid), &wrapped).map_err(|e| {
            StoreError::Encryption(format!(
                "data key {} does not open under the master key: {e}",
                hex::encode(kid)
            ))
        })?;
        Ok(Some(Arc::new(key)))
    }
}

fn tagged(tag: u8, id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + id.len());
    key.push(tag);
    key.extend_from_slice(id);
    key
}

fn data_label(kid: &Kid) -> Vec<u8> {
    let mut label = b"data:".to_vec();
    label.extend_from_slice(kid);
    label
}

fn crypto_error(e: crate::crypto::CryptoError) -> StoreError {
    StoreError::Encryption(e.to_string())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
