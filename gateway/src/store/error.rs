//! The store's one error type.

use std::sync::Arc;

/// Everything that can go wrong in the store.
///
/// `Clone`, so that one failed group commit can answer every request of its batch with
/// the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// sled reported an error (I/O, corruption, unsupported configuration).
    #[error("storage engine error: {0}")]
    Sled(#[from] sled::Error),
    /// A file operation outside sled failed (fsync of the data file, the data directory).
    #[error("storage I/O error: {0}")]
    Io(Arc<std::io::Error>),
    /// A page cursor that this store did not hand out, or that was damaged on the way.
    #[error("{0}")]
    InvalidCursor(String),
    /// Bytes read from disk that do not have the shape this store writes.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// An item handed to `append` that cannot be stored (for example an indexed field
    /// longer than an index key allows).
    #[error("cannot store this item: {0}")]
    InvalidInput(String),
    /// The store's encryption state and the configuration disagree (encrypted store
    /// without the key or with another key, plain store with encryption on), or a key
    /// cannot be used.
    #[error("encryption: {0}")]
    Encryption(String),
    /// The writer has stopped (the store was closed, or the writer thread died).
    #[error("the store is closed")]
    Closed,
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(Arc::new(e))
    }
}
