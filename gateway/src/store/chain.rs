//! The store's half of tamper evidence: the Merkle tree's stored subtrees, the writer's
//! view of the chain head and the tree's right edge, and reading perfect subtrees back
//! for roots and proofs.
//!
//! Only subtrees of [`STORED_FROM_LEVEL`] and above (16 leaves and more) are kept in the
//! `merkle` tree: about one sled insert per 8 appended records instead of two per record.
//! Smaller subtrees are hashed again from the log records when a proof needs them (at
//! most 15 records per proof). The chain head (the hash of the last record) and the right
//! edge are derived from the log and these nodes at open; nothing else is stored.

use crate::ledger::merkle::{self, Frontier, Hash, NodeSource};

use super::error::StoreError;
use super::keys::u64_key;
use super::trees::Trees;

/// Lowest level of the subtrees kept in sled (level `l` covers `2^l` records).
pub(crate) const STORED_FROM_LEVEL: u8 = 4;

/// The `prev` of the first record.
pub(crate) const GENESIS: Hash = [0; 32];

/// Key of a stored subtree: level ‖ index (u64 BE).
pub(crate) fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Perfect subtrees of the committed log, read from sled.
pub(crate) struct SledNodes<'a> {
    /// The trees to read.
    pub trees: &'a Trees,
}

impl SledNodes<'_> {
    /// The leaf hash of record `seq` (hashing its stored bytes; for a record retention
    /// archived, the leaf hash it kept, see [`keep_leaf`]).
    pub(crate) fn leaf(&self, seq: u64) -> Result<Hash, StoreError> {
        if let Some(bytes) = self.trees.log.get(u64_key(seq))? {
            return Ok(merkle::leaf_hash(&bytes));
        }
        match self.trees.merkle.get(node_key(0, seq.wrapping_sub(1)))? {
            Some(v) => <Hash>::try_from(&v[..])
                .map_err(|_| StoreError::Corrupt(format!("the kept leaf of record {seq} is not 32 bytes"))),
            None => Err(StoreError::Corrupt(format!("record {seq} is missing from the log"))),
        }
    }
}

impl NodeSource for SledNodes<'_> {
    type Error = StoreError;

    fn perfect(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        if level >= STORED_FROM_LEVEL {
            return match self.trees.merkle.get(node_key(level, index))? {
                Some(v) => <Hash>::try_from(&v[..]).map_err(|_| {
                    StoreError::Corrupt(format!("Merkle node ({level}, {index}) is not 32 bytes"))
                }),
                None => Err(StoreError::Corrupt(format!("Merkle node ({level}, {index}) is missing"))),
            };
        }
        if level == 0 {
            return self.leaf(index + 1);
        }
        let half = index << 1;
        let left = self.perfect(level - 1, half)?;
        let right = self.perfect(level - 1, half + 1)?;
        Ok(merkle::node_hash(&left, &right))
    }
}

/// The writer's running state of the tree.
#[derive(Debug, Clone)]
pub(crate) struct TreeState {
    frontier: Frontier,
}

impl TreeState {
    /// The state after the first `size` committed records.
    pub(crate) fn load(trees: &Trees, size: u64) -> Result<TreeState, StoreError> {
        Ok(TreeState { frontier: Frontier::load(&SledNodes { trees }, size)? })
    }

    /// Appends one leaf; subtrees to keep go to `out` as (key, hash).
    pub(crate) fn append(&mut self, leaf: Hash, out: &mut Vec<([u8; 9], Hash)>) {
        self.frontier.push(leaf, |level, index, h| {
            if level >= STORED_FROM_LEVEL {
                out.push((node_key(level, index), *h));
            }
        });
    }

    /// Number of leaves.
    pub(crate) fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root now.
    pub(crate) fn root(&self) -> Hash {
        self.frontier.root()
    }
}

/// Keeps the leaf hash of record `seq` (about to be archived and removed) as a level-0
/// node, for the subtrees below [`STORED_FROM_LEVEL`] that proofs and the tree's edge
/// still compute from it (not flushed).
pub(crate) fn keep_leaf(trees: &Trees, seq: u64, leaf: &Hash) -> Result<(), StoreError> {
    trees.merkle.insert(node_key(0, seq - 1), &leaf[..])?;
    Ok(())
}

/// Drops kept leaves of records before `seq` (no proof needs them any more; not flushed).
pub(crate) fn drop_kept_leaves_before(trees: &Trees, seq: u64) -> Result<(), StoreError> {
    for item in trees.merkle.range(node_key(0, 0)..node_key(0, seq.saturating_sub(1))) {
        let (key, _) = item?;
        trees.merkle.remove(key)?;
    }
    Ok(())
}

/// The chain head after `size` records: the leaf hash of the last one.
pub(crate) fn head_at(trees: &Trees, size: u64) -> Result<Hash, StoreError> {
    if size == 0 { Ok(GENESIS) } else { SledNodes { trees }.leaf(size) }
}

/// Removes stored subtrees that cover any record above `size` (not flushed).
pub(crate) fn discard_nodes_above(trees: &Trees, size: u64) -> Result<u64, StoreError> {
    let mut removed = 0;
    for level in STORED_FROM_LEVEL..64 {
        let first_invalid = size >> level;
        let range = node_key(level, first_invalid)..=node_key(level, u64::MAX);
        for item in trees.merkle.range(range) {
            let (key, _) = item?;
            trees.merkle.remove(key)?;
            removed += 1;
        }
    }
    Ok(removed)
}
