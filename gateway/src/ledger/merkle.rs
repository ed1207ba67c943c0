//! RFC 6962 (§2.1) Merkle tree hashing: leaf and node hashes, the root of any size,
//! inclusion and consistency proofs and their verification (RFC 9162 §2.1.3.2, §2.1.4.2).
//!
//! Proof generation reads perfect subtrees through [`NodeSource`], so the same code
//! serves the sled-backed tree of the store and the in-memory trees of the tests. Appends
//! go through [`Frontier`], which keeps the right edge of the tree: O(log n) hashing per
//! leaf, and it reports each completed subtree so that the store can keep it.

use sha2::{Digest, Sha256};

/// A SHA-256 output.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Where proof generation gets the hashes of perfect subtrees.
pub trait NodeSource {
    /// Why a hash could not be read.
    type Error;
    /// The root of the perfect subtree over leaves `[index << level, (index + 1) << level)`.
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// A proof that cannot be made for these sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRangeError {
    #[error("leaf index {index} is not inside a tree of size {size}")]
    Inclusion { index: u64, size: u64 },
    #[error("no consistency proof from size {from} to size {to}: expected 1 <= from <= to")]
    Consistency { from: u64, to: u64 },
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:end])` where `start` is a multiple of the largest power of two not above
/// `end - start` (true of every subtree RFC 6962 names), `end > start`.
pub fn subtree<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros() as u8;
        return src.perfect(level, start >> level);
    }
    let k = split(n);
    let left = subtree(src, start, start + k)?;
    let right = subtree(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 { Ok(empty_root()) } else { subtree(src, 0, size) }
}

/// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 PATH),
/// nearest sibling first.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Result<Vec<Hash>, ProofRangeError>, S::Error> {
    if index >= size {
        return Ok(Err(ProofRangeError::Inclusion { index, size }));
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(Ok(out))
}

fn path<S: NodeSource>(src: &S, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) -> Result<(), S::Error> {
    let n = end - start;
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < start + k {
        path(src, m, start, start + k, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        path(src, m, start + k, end, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of the first `from` and `to` leaves (RFC 6962
/// PROOF).
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    from: u64,
    to: u64,
) -> Result<Result<Vec<Hash>, ProofRangeError>, S::Error> {
    if from == 0 || from > to {
        return Ok(Err(ProofRangeError::Consistency { from, to }));
    }
    let mut out = Vec::new();
    subproof(src, from, 0, to, true, &mut out)?;
    Ok(Ok(out))
}

fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(subtree(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Checks a consistency proof between two roots (RFC 9162 §2.1.4.2).
pub fn verify_consistency(from: u64, to: u64, from_root: &Hash, to_root: &Hash, proof: &[Hash]) -> bool {
    if from == 0 || from > to {
        return false;
    }
    if from == to {
        return proof.is_empty() && from_root == to_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else { return false };
    let (mut fnode, mut snode) = (from - 1, to - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *from_root && sr == *to_root && snode == 0
}

/// The right edge of a tree: the roots of its perfect subtrees, largest (leftmost) first.
/// Appending a leaf merges equal-sized neighbours, as binary addition carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    /// The frontier of the tree of the first `size` leaves of `src` (O(log size) reads).
    pub fn load<S: NodeSource>(src: &S, size: u64) -> Result<Frontier, S::Error> {
        let mut stack = Vec::new();
        for level in (0..64u8).rev() {
            if size >> level & 1 == 1 {
                stack.push((level, src.perfect(level, (size >> level) - 1)?));
            }
        }
        Ok(Frontier { size, stack })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees, largest (leftmost) first: what an archive
    /// manifest stores to let the tree continue after the records it no longer holds.
    pub fn hashes(&self) -> Vec<Hash> {
        self.stack.iter().map(|&(_, h)| h).collect()
    }

    /// The frontier of a tree of `size` leaves from its subtree roots ([`Frontier::hashes`]);
    /// `None` when their number is not the number of one bits of `size`.
    pub fn from_hashes(size: u64, hashes: &[Hash]) -> Option<Frontier> {
        if hashes.len() != size.count_ones() as usize {
            return None;
        }
        let levels = (0..64u8).rev().filter(|l| size >> l & 1 == 1);
        Some(Frontier { size, stack: levels.zip(hashes.iter().copied()).collect() })
    }

    /// Appends a leaf; `completed(level, index, hash)` sees every perfect subtree this
    /// completes, the leaf itself (level 0) first.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u8, u64, &Hash)) {
        let (mut level, mut index, mut h) = (0u8, self.size, leaf);
        completed(level, index, &h);
        while let Some(&(l, left)) = self.stack.last()
            && l == level
        {
            self.stack.pop();
            h = node_hash(&left, &h);
            level += 1;
            index >>= 1;
            completed(level, index, &h);
        }
        self.stack.push((level, h));
        self.size += 1;
    }

    /// The root of the tree as it stands.
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else { return empty_root() };
        for (_, h) in iter {
            acc = node_hash(h, &acc);
        }
        acc
    }
}

/// An in-memory tree: every perfect subtree kept by level. For tests, benches and the
/// offline verifier's cross-checks.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.frontier.push(leaf, |level, index, h| {
            let level = level as usize;
            if levels.len() <= level {
                levels.push(Vec::new());
            }
            debug_assert_eq!(levels[level].len() as u64, index);
            levels[level].push(*h);
        });
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

/// A subtree the in-memory tree does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no perfect subtree at level {level}, index {index}")]
pub struct MissingNode {
    pub level: u8,
    pub index: u64,
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests;
