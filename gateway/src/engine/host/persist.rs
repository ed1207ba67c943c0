//! Counters and state on disk: two sled trees beside the store's, in the same database.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `host_counters` | policy name length (u32 BE) ‖ policy ‖ key | `1` ‖ window (u32 BE) ‖ width (u64 BE) ‖ n × (bucket u64 BE ‖ sum i64 BE) |
//! | `host_state` | policy name length (u32 BE) ‖ policy ‖ key | `1` ‖ expiry, unix ms (u64 BE, 0 = never) ‖ value bytes |
//!
//! Over an encrypted store (a [`HostSealing`]) each key is the keyed hash the in-memory
//! table uses (`sealing::HostSealing::key_name`), and a state value is `2` ‖ expiry ‖
//! the value sealed (XChaCha20-Poly1305, bound to its sled key). Entries of the other
//! form (written before the trees were protected) are deleted when read back.
//!
//! The persister writes what changed since its last pass, then flushes sled, every
//! `engine.host.persist_interval_ms` and at shutdown. The store's group commits flush the
//! same database, so writes made between two passes may reach the disk even earlier.
//! After a crash (SIGKILL) at most the changes of the last interval are lost.

use std::collections::VecDeque;
use std::sync::Arc;

use super::counters::{Counter, CounterTable};
use super::sealing::HostSealing;
use super::state::StateTable;

/// The version byte of both value encodings.
const VERSION: u8 = 1;
/// The version byte of a sealed state value.
const VERSION_SEALED: u8 = 2;

/// The two trees.
#[derive(Debug, Clone)]
pub struct Durable {
    db: sled::Db,
    /// Hashed keys and sealed state values (encrypted stores).
    sealing: Option<Arc<HostSealing>>,
    counters: sled::Tree,
    state: sled::Tree,
}

/// Writes a pass made: key bytes → new value (`None`: delete).
pub type Changes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// The sled key prefix of one policy.
pub fn policy_prefix(policy: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + policy.len());
    k.extend_from_slice(&u32::try_from(policy.len()).unwrap_or(u32::MAX).to_be_bytes());
    k.extend_from_slice(policy.as_bytes());
    k
}

fn full_key(prefix: &[u8], key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + key.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Encodes one counter.
pub fn encode_counter(c: &Counter) -> Vec<u8> {
    let mut v = Vec::with_capacity(13 + c.buckets.len() * 16);
    v.push(VERSION);
    v.extend_from_slice(&c.window.to_be_bytes());
    v.extend_from_slice(&c.width.to_be_bytes());
    for (b, sum) in &c.buckets {
        v.extend_from_slice(&b.to_be_bytes());
        v.extend_from_slice(&sum.to_be_bytes());
    }
    v
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Decodes one counter (`None`: not a counter of this version).
pub fn decode_counter(bytes: &[u8]) -> Option<Counter> {
    if bytes.first() != Some(&VERSION) || bytes.len() < 13 || !(bytes.len() - 13).is_multiple_of(16) {
        return None;
    }
    let window = u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?);
    let width = u64_at(bytes, 5)?;
    let mut buckets = VecDeque::with_capacity((bytes.len() - 13) / 16);
    for chunk in bytes[13..].chunks_exact(16) {
        let b = u64_at(chunk, 0)?;
        let sum = i64::from_be_bytes(chunk.get(8..16)?.try_into().ok()?);
        buckets.push_back((b, sum));
    }
    (width > 0 && window > 0).then_some(Counter { window, width, buckets, dirty: false })
}

fn encode_state(expires_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + value.len());
    v.push(VERSION);
    v.extend_from_slice(&expires_ms.to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn decode_state(bytes: &[u8]) -> Option<(u64, Vec<u8>)> {
    if bytes.first() != Some(&VERSION) {
        return None;
    }
    Some((u64_at(bytes, 1)?, bytes.get(9..)?.to_vec()))
}

/// The sealed form of a state value stored at sled key `at` (`None`: cannot seal).
fn encode_sealed_state(sealing: &HostSealing, at: &[u8], expires_ms: u64, value: &[u8]) -> Option<Vec<u8>> {
    let sealed = sealing.seal(at, value)?;
    let mut v = Vec::with_capacity(9 + sealed.len());
    v.push(VERSION_SEALED);
    v.extend_from_slice(&expires_ms.to_be_bytes());
    v.extend_from_slice(&sealed);
    Some(v)
}

fn decode_sealed_state(sealing: &HostSealing, at: &[u8], bytes: &[u8]) -> Option<(u64, Vec<u8>)> {
    if bytes.first() != Some(&VERSION_SEALED) {
        return None;
    }
    Some((u64_at(bytes, 1)?, sealing.open(at, bytes.get(9..)?)?))
}

/// Takes what changed in `table` since the last pass (clearing the dirty marks).
pub fn counter_changes(prefix: &[u8], table: &mut CounterTable) -> Changes {
    let changed = std::mem::take(&mut table.changed);
    let mut out = Vec::with_capacity(changed.len());
    for key in changed {
        let value = table.entries.get_mut(&key).map(|c| {
            c.dirty = false;
            encode_counter(c)
        });
        out.push((full_key(prefix, &key), value));
    }
    out
}

/// Takes what changed in `table` since the last pass (clearing the dirty marks); values
/// sealed when `sealing`.
pub fn state_changes(prefix: &[u8], table: &mut StateTable, sealing: Option<&HostSealing>) -> Changes {
    let changed = std::mem::take(&mut table.changed);
    let mut out = Vec::with_capacity(changed.len());
    for key in changed {
        let at = full_key(prefix, &key);
        let value = table.entries.get_mut(&key).and_then(|e| {
            e.dirty = false;
            match sealing {
                Some(s) => encode_sealed_state(s, &at, e.expires_ms, &e.value),
                None => Some(encode_state(e.expires_ms, &e.value)),
            }
        });
        out.push((at, value));
    }
    out
}

impl Durable {
    /// Opens (creating when missing) the trees in `db`; with `sealing` (an encrypted
    /// store) keys are hashed and state values sealed.
    pub fn open(db: &sled::Db, sealing: Option<Arc<HostSealing>>) -> Result<Durable, sled::Error> {
        Ok(Durable {
            db: db.clone(),
            sealing,
            counters: db.open_tree("host_counters")?,
            state: db.open_tree("host_state")?,
        })
    }

    /// The sealing of an encrypted store's trees.
    pub fn sealing(&self) -> Option<&Arc<HostSealing>> {
        self.sealing.as_ref()
    }

    /// Reads back the live counters and state of one policy; what expired meanwhile (or
    /// does not decode, or is in plain over an encrypted store) is queued for deletion.
    pub fn load_policy(
        &self,
        prefix: &[u8],
        counters: &mut CounterTable,
        state: &mut StateTable,
        now_secs: u64,
        now_ms: u64,
    ) -> Result<(), sled::Error> {
        for item in self.counters.scan_prefix(prefix) {
            let (k, v) = item?;
            let Ok(key) = std::str::from_utf8(&k[prefix.len()..]) else { continue };
            let plain_key = self.sealing.is_some() && !HostSealing::is_key_name(key);
            match decode_counter(&v) {
                Some(c) if !c.is_expired(now_secs) && !plain_key => {
                    counters.entries.insert(key.to_owned(), c);
                }
                _ => counters.changed.push(key.to_owned()),
            }
        }
        for item in self.state.scan_prefix(prefix) {
            let (k, v) = item?;
            let Ok(key) = std::str::from_utf8(&k[prefix.len()..]) else { continue };
            let decoded = match &self.sealing {
                Some(s) if HostSealing::is_key_name(key) => decode_sealed_state(s, &k, &v),
                Some(_) => None,
                None => decode_state(&v),
            };
            match decoded {
                Some((expires_ms, value)) if expires_ms == 0 || expires_ms > now_ms => {
                    state.restore(key.to_owned(), value, expires_ms);
                }
                _ => state.changed.push(key.to_owned()),
            }
        }
        Ok(())
    }

    /// Applies one pass of changes; `true` when anything was written.
    pub fn write(&self, counters: Changes, state: Changes) -> Result<bool, sled::Error> {
        let wrote = !counters.is_empty() || !state.is_empty();
        for (tree, changes) in [(&self.counters, counters), (&self.state, state)] {
            if changes.is_empty() {
                continue;
            }
            let mut batch = sled::Batch::default();
            for (k, v) in changes {
                match v {
                    Some(v) => batch.insert(k, v),
                    None => batch.remove(k),
                }
            }
            tree.apply_batch(batch)?;
        }
        Ok(wrote)
    }

    /// Makes the written changes survive the process (sled flush).
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.db.flush().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_state_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = 1_700_000_000u64;
        let prefix = policy_prefix("p");
        {
            let db = sled::open(dir.path()).expect("open");
            let d = Durable::open(&db, None).expect("trees");
            let mut c = CounterTable::default();
            c.add("fail:alice", 3, 60, now, 10).expect("fits");
            c.add("old", 1, 1, now - 100, 10).expect("fits");
            let mut s = StateTable::default();
            let caps = super::super::state::StateCaps { max_keys: 10, max_bytes: 1000 };
            s.set("k", b"v".to_vec(), 0, now * 1000, caps).expect("fits");
            s.set("gone", b"v".to_vec(), now * 1000 - 1, now * 1000 - 10, caps).expect("fits");
            let wrote = d
                .write(counter_changes(&prefix, &mut c), state_changes(&prefix, &mut s, None))
                .expect("write");
            assert!(wrote);
            assert!(c.changed.is_empty() && c.entries.values().all(|c| !c.dirty));
            d.flush().expect("flush");
        }
        let db = sled::open(dir.path()).expect("reopen");
        let d = Durable::open(&db, None).expect("trees");
        let (mut c, mut s) = (CounterTable::default(), StateTable::default());
        d.load_policy(&prefix, &mut c, &mut s, now + 1, now * 1000 + 1).expect("load");
        assert_eq!(c.add("fail:alice", 1, 60, now + 1, 10), Ok(4));
        assert!(!c.entries.contains_key("old"));
        assert_eq!(s.get("k", now * 1000), Some(b"v".to_vec()));
        assert!(!s.entries.contains_key("gone"));
        // Expired entries are queued for deletion from disk.
        assert!(c.changed.iter().any(|k| k == "old") && s.changed.iter().any(|k| k == "gone"));
        // Another policy's prefix sees nothing.
        let (mut c2, mut s2) = (CounterTable::default(), StateTable::default());
        d.load_policy(&policy_prefix("pp"), &mut c2, &mut s2, now, now * 1000).expect("load");
        assert!(c2.entries.is_empty() && s2.entries.is_empty());
    }

    #[test]
    fn sealed_trees_hold_no_key_or_value_in_plain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = 1_700_000_000u64;
        let prefix = policy_prefix("p");
        let key = crate::crypto::SecretKey::random();
        let sealing = Arc::new(HostSealing::new(&key));
        let name = sealing.key_name(&prefix, "user:alice");
        {
            let db = sled::open(dir.path()).expect("open");
            let d = Durable::open(&db, Some(sealing.clone())).expect("trees");
            let (mut c, mut s) = (CounterTable::default(), StateTable::default());
            c.add(&name, 2, 60, now, 10).expect("fits");
            // An entry of the plain form, as written before the trees were protected.
            c.add("user:bob", 1, 60, now, 10).expect("fits");
            let caps = super::super::state::StateCaps { max_keys: 10, max_bytes: 1000 };
            s.set(&name, b"203.0.113.9".to_vec(), 0, now * 1000, caps).expect("fits");
            let sealed = Some(&*sealing);
            d.write(counter_changes(&prefix, &mut c), state_changes(&prefix, &mut s, sealed)).expect("write");
            for tree in [&d.counters, &d.state] {
                for item in tree.iter() {
                    let (k, v) = item.expect("item");
                    assert!(!k.windows(5).any(|w| w == b"alice") && !v.windows(3).any(|w| w == b"203"));
                }
            }
            d.flush().expect("flush");
        }
        let db = sled::open(dir.path()).expect("reopen");
        let d = Durable::open(&db, Some(sealing.clone())).expect("trees");
        let (mut c, mut s) = (CounterTable::default(), StateTable::default());
        d.load_policy(&prefix, &mut c, &mut s, now + 1, now * 1000 + 1).expect("load");
        assert_eq!(c.add(&name, 1, 60, now + 1, 10), Ok(3));
        assert_eq!(s.get(&name, now * 1000 + 1), Some(b"203.0.113.9".to_vec()));
        assert!(!c.entries.contains_key("user:bob") && c.changed.iter().any(|k| k == "user:bob"));
        // Under another host key the sealed value does not open: dropped, never misread.
        let other = Durable::open(&db, Some(Arc::new(HostSealing::new(&crate::crypto::SecretKey::random()))))
            .expect("trees");
        let (mut c2, mut s2) = (CounterTable::default(), StateTable::default());
        other.load_policy(&prefix, &mut c2, &mut s2, now + 1, now * 1000 + 1).expect("load");
        assert!(s2.entries.is_empty() && s2.changed.contains(&name));
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(decode_counter(b""), None);
        assert_eq!(decode_counter(&[1, 0, 0]), None);
        assert_eq!(decode_counter(&[2; 29]), None);
        let c = Counter { window: 60, width: 1, buckets: [(5, 7), (6, -1)].into(), dirty: false };
        assert_eq!(decode_counter(&encode_counter(&c)), Some(c));
    }
}
