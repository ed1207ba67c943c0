//! Client ids: the `ids` tree entry format and the idempotency window.
//!
//! The first record stored with a client `id` writes `seq ‖ received time`. A later
//! record with the same `id`, received less than the window after that first one, is a
//! duplicate: it is answered with the first `seq` and stores nothing. Once the window has
//! passed, the id is free again and the next record with it replaces the entry.

use std::time::Duration;

use super::error::StoreError;
use super::keys::read_u64;

/// One `ids` tree value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdEntry {
    /// The `seq` of the first record stored with this id.
    pub seq: u64,
    /// When that record was received, microseconds since the epoch.
    pub first_received_micros: i64,
}

impl IdEntry {
    /// The 16 stored bytes.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..].copy_from_slice(&self.first_received_micros.to_be_bytes());
        out
    }

    /// Reads the entry of `id`, if any.
    pub(crate) fn read(ids: &sled::Tree, id: &str) -> Result<Option<IdEntry>, StoreError> {
        let Some(v) = ids.get(id.as_bytes())? else { return Ok(None) };
        if v.len() != 16 {
            return Err(StoreError::Corrupt(format!("an `ids` entry has {} bytes, expected 16", v.len())));
        }
        Ok(Some(IdEntry { seq: read_u64(&v[..8])?, first_received_micros: read_u64(&v[8..])? as i64 }))
    }
}

/// The idempotency window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    micros: i64,
}

impl Window {
    /// A window of `d`.
    pub(crate) fn new(d: Duration) -> Window {
        Window { micros: i64::try_from(d.as_micros()).unwrap_or(i64::MAX) }
    }

    /// True when a record received at `received_micros` repeats `first`.
    pub(crate) fn covers(self, first: IdEntry, received_micros: i64) -> bool {
        received_micros.saturating_sub(first.first_received_micros) < self.micros
    }

    /// A record's received time from its RFC 3339 `received_at`; now if that does not
    /// parse (the gateway always writes it, so this is only a fallback).
    pub(crate) fn received_micros(self, received_at: &str) -> i64 {
        match chrono::DateTime::parse_from_rfc3339(received_at) {
            Ok(t) => t.timestamp_micros(),
            Err(_) => now_micros(),
        }
    }
}

/// The current time, microseconds since the epoch.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
