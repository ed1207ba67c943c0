//! Key/value state with TTL (`state-get`, `state-set`), one table per policy.
//!
//! Expiry is on the wall clock (unix milliseconds), so a TTL keeps running across a
//! restart. Expired entries answer `None` at once and are removed lazily (on access, on a
//! full table, and by the periodic sweep of the persister).

use std::collections::HashMap;

/// One value and when it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct StateEntry {
    pub value: Vec<u8>,
    /// Unix milliseconds after which the entry is gone; 0: never.
    pub expires_ms: u64,
    /// Changed since the last persist.
    pub dirty: bool,
}

impl StateEntry {
    /// Whether the entry is past its TTL at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_ms != 0 && now_ms >= self.expires_ms
    }
}

/// Why a `state-set` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateRefused {
    #[error("the policy already has {0} live state keys (cap engine.host.max_state_keys)")]
    TooManyKeys(usize),
    #[error("the policy's state would hold {0} bytes (cap engine.host.max_state_bytes {1})")]
    TooManyBytes(usize, usize),
}

/// Caps of one table.
#[derive(Debug, Clone, Copy)]
pub struct StateCaps {
    pub max_keys: usize,
    pub max_bytes: usize,
}

/// The state of one policy.
#[derive(Debug, Default)]
pub struct StateTable {
    pub entries: HashMap<String, StateEntry>,
    /// Keys changed (or removed) since the last persist.
    pub changed: Vec<String>,
    /// Sum of key and value lengths of all entries.
    pub bytes: usize,
    last_full_sweep_ms: u64,
}

fn entry_bytes(key: &str, value: &[u8]) -> usize {
    key.len() + value.len()
}

impl StateTable {
    /// The live value under `key`.
    pub fn get(&mut self, key: &str, now_ms: u64) -> Option<Vec<u8>> {
        let entry = self.entries.get(key)?;
        if !entry.is_expired(now_ms) {
            return Some(entry.value.clone());
        }
        self.remove(key);
        None
    }

    /// Stores `value` under `key` until `expires_ms` (0: never), within `caps`.
    pub fn set(
        &mut self,
        key: &str,
        value: Vec<u8>,
        expires_ms: u64,
        now_ms: u64,
        caps: StateCaps,
    ) -> Result<(), StateRefused> {
        let new_bytes = entry_bytes(key, &value);
        let total = match self.room_for(key, new_bytes, caps) {
            Err(_) if self.last_full_sweep_ms / 1000 != now_ms / 1000 => {
                // At most one full sweep per second: a full table must not make every call O(n).
                // The sweep may remove `key` itself, so the check is made again after it.
                self.last_full_sweep_ms = now_ms;
                self.sweep(now_ms);
                self.room_for(key, new_bytes, caps)?
            }
            fits => fits?,
        };
        self.bytes = total;
        match self.entries.get_mut(key) {
            Some(entry) => {
                entry.value = value;
                entry.expires_ms = expires_ms;
                if !entry.dirty {
                    entry.dirty = true;
                    self.changed.push(key.to_owned());
                }
            }
            None => {
                self.entries.insert(key.to_owned(), StateEntry { value, expires_ms, dirty: true });
                self.changed.push(key.to_owned());
            }
        }
        Ok(())
    }

    /// The table's byte total once `key` holds a value of `new_bytes` (key included), or
    /// why that would break `caps`.
    fn room_for(&self, key: &str, new_bytes: usize, caps: StateCaps) -> Result<usize, StateRefused> {
        let old = self.entries.get(key);
        if old.is_none() && self.entries.len() >= caps.max_keys {
            return Err(StateRefused::TooManyKeys(self.entries.len()));
        }
        let total = self.bytes - old.map_or(0, |e| entry_bytes(key, &e.value)) + new_bytes;
        if total > caps.max_bytes {
            return Err(StateRefused::TooManyBytes(total, caps.max_bytes));
        }
        Ok(total)
    }

    /// Inserts an entry read back from disk (not dirty).
    pub fn restore(&mut self, key: String, value: Vec<u8>, expires_ms: u64) {
        self.bytes += entry_bytes(&key, &value);
        if let Some(old) = self.entries.insert(key.clone(), StateEntry { value, expires_ms, dirty: false }) {
            self.bytes -= entry_bytes(&key, &old.value);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= entry_bytes(key, &old.value);
            if !old.dirty {
                self.changed.push(key.to_owned());
            }
        }
    }

    /// Removes every expired entry; returns how many.
    pub fn sweep(&mut self, now_ms: u64) -> usize {
        let expired: Vec<String> =
            self.entries.iter().filter(|(_, e)| e.is_expired(now_ms)).map(|(k, _)| k.clone()).collect();
        for key in &expired {
            self.remove(key);
        }
        expired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;
    const CAPS: StateCaps = StateCaps { max_keys: 2, max_bytes: 20 };

    #[test]
    fn ttl_is_honoured() {
        let mut t = StateTable::default();
        t.set("k", b"v".to_vec(), NOW + 1000, NOW, CAPS).expect("fits");
        t.set("forever", b"v".to_vec(), 0, NOW, CAPS).expect("fits");
        assert_eq!(t.get("k", NOW + 999), Some(b"v".to_vec()));
        assert_eq!(t.get("k", NOW + 1000), None);
        assert_eq!(t.get("forever", u64::MAX), Some(b"v".to_vec()));
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.bytes, "forever".len() + 1);
    }

    #[test]
    fn caps_refuse_and_expired_entries_make_room() {
        let mut t = StateTable::default();
        t.set("a", b"1".to_vec(), NOW + 10, NOW, CAPS).expect("fits");
        t.set("b", b"2".to_vec(), 0, NOW, CAPS).expect("fits");
        assert_eq!(t.set("c", b"3".to_vec(), 0, NOW, CAPS), Err(StateRefused::TooManyKeys(2)));
        // Overwriting an existing key is not a new key.
        t.set("b", b"22".to_vec(), 0, NOW, CAPS).expect("fits");
        assert_eq!(
            t.set("b", vec![0; 20], 0, NOW, CAPS),
            Err(StateRefused::TooManyBytes(1 + 1 + 1 + 20, 20))
        );
        assert_eq!(t.get("b", NOW), Some(b"22".to_vec()));
        // A second later "a" has expired: "c" fits.
        t.set("c", b"3".to_vec(), 0, NOW + 1000, CAPS).expect("fits after the sweep");
        assert_eq!(t.bytes, 1 + 2 + 1 + 1);
    }
}
