//! The wrapped data keys of an encrypted store: sled tree `data_keys`, with caches.
//!
//! | key | value |
//! |---|---|
//! | `k` ‖ kid (16 bytes) | the data key wrapped by the master key (label `data:` ‖ kid) |
//! | `s` ‖ subject ref (16 bytes) | the kid of the subject's live key |
//! | `e` ‖ kid | erasure tombstone (JSON: when, who asked): the key was destroyed on purpose |
//! | `index` | the index key wrapped by the master key (label `index`) |
//!
//! A subject ref is the keyed index hash of the subject (the event's `user`), so this
//! tree names nobody. Erasing a subject removes its `s` and `k` entries and leaves the
//! tombstone; a later event of the same subject gets a new key under a new kid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::crypto::{MasterKey, SecretKey};

use super::error::StoreError;

/// Bytes of a data key id.
pub(crate) const KID_LEN: usize = 16;
/// A data key's id (random).
pub(crate) type Kid = [u8; KID_LEN];
/// A subject's keyed hash.
pub(crate) type SubjectRef = [u8; 16];

const INDEX_KEY: &[u8] = b"index";

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
    master: MasterKey,
    by_kid: RwLock<HashMap<Kid, Arc<SecretKey>>>,
    by_subject: RwLock<HashMap<SubjectRef, Kid>>,
    /// Serializes creating, loading into the caches, and erasing: an erased key is never
    /// put back into a cache by a reader that loaded it just before.
    change: Mutex<()>,
}

impl DataKeys {
    /// The keys in `tree`, wrapped by `master`.
    pub(crate) fn new(tree: sled::Tree, master: MasterKey) -> DataKeys {
        DataKeys {
            tree,
            master,
            by_kid: RwLock::new(HashMap::new()),
            by_subject: RwLock::new(HashMap::new()),
            change: Mutex::new(()),
        }
    }

    /// The index key; created (not flushed) when `create` (a new store) and none exists.
    pub(crate) fn index_key(&self, create: bool) -> Result<SecretKey, StoreError> {
        match self.tree.get(INDEX_KEY)? {
            Some(wrapped) => self.master.unwrap(INDEX_KEY, &wrapped).map_err(|e| {
                StoreError::Encryption(format!("the index key does not open under the master key: {e}"))
            }),
            None if !create => Err(StoreError::Corrupt("the encrypted store's index key is missing".into())),
            None => {
                let key = SecretKey::random();
                let wrapped = self.master.wrap(INDEX_KEY, &key).map_err(crypto_error)?;
                self.tree.insert(INDEX_KEY, wrapped)?;
                Ok(key)
            }
        }
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
                let wrapped = self.master.wrap(&data_label(&kid), &key).map_err(crypto_error)?;
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
        let key = self.master.unwrap(&data_label(kid), &wrapped).map_err(|e| {
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
