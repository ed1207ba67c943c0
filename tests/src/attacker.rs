//! The attacker's view of a stopped gateway: its sled files opened directly (the log tree
//! is `seq` (u64 BE) → record bytes, checkpoints `number` (u64 BE) → signed note, as the
//! design's storage section lays them out), and the external checkpoint file as text.
//!
//! Only for tamper tests: every function here damages the data the way someone with
//! write access to the disk, but without the signing key, could.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The data directory's sled database, opened with the gateway stopped.
pub struct DataDir {
    db: sled::Db,
}

fn key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// RFC 6962 leaf hash, lower-case hex: what a record's `prev` holds.
pub fn leaf_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    hex::encode(h.finalize())
}

impl DataDir {
    /// Opens `dir` (the gateway must not run).
    pub fn open(dir: &Path) -> DataDir {
        let db = sled::Config::new().path(dir).open().expect("open the stopped gateway's sled db");
        DataDir { db }
    }

    fn tree(&self, name: &str) -> sled::Tree {
        self.db.open_tree(name).expect("open a sled tree")
    }

    /// The stored bytes of record `seq`.
    pub fn record(&self, seq: u64) -> Vec<u8> {
        self.tree("log").get(key(seq)).expect("read").unwrap_or_else(|| panic!("no record {seq}")).to_vec()
    }

    /// Replaces the stored bytes of record `seq`.
    pub fn put_record(&self, seq: u64, bytes: &[u8]) {
        self.tree("log").insert(key(seq), bytes).expect("write");
    }

    /// Removes record `seq` from the log.
    pub fn delete_record(&self, seq: u64) {
        self.tree("log").remove(key(seq)).expect("remove");
    }

    /// Number of records in the log tree.
    pub fn record_count(&self) -> u64 {
        self.tree("log").len() as u64
    }

    /// The stored checkpoint notes, oldest first.
    pub fn checkpoints(&self) -> Vec<(u64, String)> {
        self.tree("checkpoints")
            .iter()
            .map(|item| {
                let (k, v) = item.expect("read");
                let n = u64::from_be_bytes(k.as_ref().try_into().expect("8-byte key"));
                (n, String::from_utf8(v.to_vec()).expect("UTF-8 note"))
            })
            .collect()
    }

    /// Removes the stored checkpoints covering more than `size` records, as an attacker
    /// who truncates the log would.
    pub fn drop_checkpoints_above(&self, size: u64) {
        for (n, note) in self.checkpoints() {
            let covered: u64 = note.lines().nth(1).and_then(|l| l.parse().ok()).expect("a size line");
            if covered > size {
                self.tree("checkpoints").remove(key(n)).expect("remove");
            }
        }
    }

    /// Rewrites every record from `from` on so that each `prev` links to the record before
    /// it again (after `edit` changed record `from`), like an attacker without the key who
    /// wants a consistent chain. Records are JSON objects with sorted ASCII keys, so
    /// `serde_json` writes the same canonical bytes the gateway does.
    pub fn rewrite_and_rechain(&self, from: u64, edit: impl FnOnce(&mut Value)) {
        let count = self.record_count();
        let mut prev = if from == 1 { "0".repeat(64) } else { leaf_hex(&self.record(from - 1)) };
        let mut edit = Some(edit);
        for seq in from..=count {
            let mut v: Value = serde_json::from_slice(&self.record(seq)).expect("a JSON record");
            if let Some(edit) = edit.take() {
                edit(&mut v);
            }
            v["prev"] = Value::String(prev);
            let bytes = serde_json::to_vec(&v).expect("json");
            prev = leaf_hex(&bytes);
            self.put_record(seq, &bytes);
        }
    }

    /// Flips one bit of the stored Merkle subtree `(level, index)` (key: level ‖ index
    /// u64 BE in the `merkle` tree); the records stay as they are.
    pub fn corrupt_merkle_node(&self, level: u8, index: u64) {
        let mut key = vec![level];
        key.extend_from_slice(&index.to_be_bytes());
        let tree = self.tree("merkle");
        let mut hash = tree.get(&key).expect("read").expect("the node is stored").to_vec();
        hash[0] ^= 1;
        tree.insert(key, hash).expect("write");
    }

    /// Flushes and closes.
    pub fn close(self) {
        self.db.flush().expect("flush");
    }
}
