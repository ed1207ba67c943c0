//! Walking a log to find the first damaged record: the hash chain (`seq`, `prev`), the
//! RFC 6962 tree over it, and the signed checkpoints it must agree with.
//!
//! [`LogWalker`] takes the records in key order, one at a time (constant memory), and
//! says what is wrong and where: a record that does not parse or no longer matches its
//! successor's link is `changed`; a key that skips a number is `missing`; a record whose
//! own `seq` is not its key is `reordered`; checkpoints beyond the end are `truncated`;
//! a checkpoint whose root differs from the recomputed one is `checkpoint-inconsistent`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::checkpoint::Checkpoint;
use super::merkle::{self, Frontier, Hash};

/// The kinds of damage the verifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DamageKind {
    /// The record's bytes are not what was chained.
    Changed,
    /// A record is absent.
    Missing,
    /// A record sits at another position than its own `seq`.
    Reordered,
    /// The log ends before a signed checkpoint's size.
    Truncated,
    /// A checkpoint's signature does not verify.
    SignatureInvalid,
    /// A checkpoint's root is not the root of the log at its size.
    CheckpointInconsistent,
    /// Checkpoints are missing from the sequence (numbers skip, links break).
    CheckpointGap,
    /// A stored Merkle subtree (what proofs are made of) differs from the records.
    TreeNode,
}

impl DamageKind {
    /// The kind as the CLI and the API print it.
    pub fn as_str(self) -> &'static str {
        match self {
            DamageKind::Changed => "changed",
            DamageKind::Missing => "missing",
            DamageKind::Reordered => "reordered",
            DamageKind::Truncated => "truncated",
            DamageKind::SignatureInvalid => "signature-invalid",
            DamageKind::CheckpointInconsistent => "checkpoint-inconsistent",
            DamageKind::CheckpointGap => "checkpoint-gap",
            DamageKind::TreeNode => "tree-node-changed",
        }
    }
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    /// The record named (for checkpoint problems: the checkpoint's size).
    pub seq: u64,
    /// What is wrong.
    pub kind: DamageKind,
    /// Details for people.
    pub detail: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq {}: {}: {}", self.seq, self.kind.as_str(), self.detail)
    }
}

#[derive(Deserialize)]
struct Header<'a> {
    seq: u64,
    #[serde(borrow)]
    prev: &'a str,
}

/// A record whose `prev` does not match the record before it; which of the two was
/// changed is decided by the next record.
#[derive(Debug, Clone, Copy)]
struct BrokenLink {
    seq: u64,
    leaf: Hash,
}

/// The streaming verifier.
#[derive(Debug)]
pub struct LogWalker {
    expected: u64,
    prev: Hash,
    tree: Frontier,
    broken: Option<BrokenLink>,
    /// A checkpoint whose root differs at the last record: the next record's link says
    /// whether that record was changed (link broken) or the log was re-chained (intact).
    mismatch: Option<(u64, u64)>,
    /// Perfect subtrees completed by the last push, from `nodes_from` up, for the caller
    /// to compare with stored ones.
    nodes: Vec<(u8, u64, Hash)>,
    nodes_from: Option<u8>,
    /// Checkpoint roots still to compare, by size.
    checkpoints: BTreeMap<u64, (u64, Hash)>,
}

impl LogWalker {
    /// A walker starting at `seq` 1, checking `checkpoints` on the way.
    pub fn new(checkpoints: &[Checkpoint]) -> LogWalker {
        LogWalker::start(1, [0; 32], Frontier::default(), checkpoints.iter())
    }

    /// A walker that continues at `seq` after a record whose leaf hash is `prev`, with
    /// the tree of the records before (`frontier`); checkpoints smaller than `seq - 1`
    /// are ignored.
    pub fn resume(seq: u64, prev: Hash, frontier: Frontier, checkpoints: &[Checkpoint]) -> LogWalker {
        let before = seq.saturating_sub(1);
        LogWalker::start(seq.max(1), prev, frontier, checkpoints.iter().filter(|c| c.size > before))
    }

    fn start<'a>(
        expected: u64,
        prev: Hash,
        tree: Frontier,
        checkpoints: impl Iterator<Item = &'a Checkpoint>,
    ) -> LogWalker {
        LogWalker {
            expected,
            prev,
            tree,
            broken: None,
            mismatch: None,
            nodes: Vec::new(),
            nodes_from: None,
            checkpoints: checkpoints.map(|c| (c.size, (c.number, c.root))).collect(),
        }
    }

    /// Also hands out the perfect subtrees of level `level` and above that each record
    /// completes (see [`LogWalker::completed_nodes`]).
    pub fn with_nodes_from(mut self, level: u8) -> LogWalker {
        self.nodes_from = Some(level);
        self
    }

    /// The subtrees `(level, index, hash)` the last accepted record completed.
    pub fn completed_nodes(&self) -> &[(u8, u64, Hash)] {
        &self.nodes
    }

    /// Records checked so far (from the start of the log, for a resumed walk).
    pub fn checked(&self) -> u64 {
        self.expected - 1
    }

    /// The root of what was walked.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Checks the record stored under key `seq`.
    pub fn push(&mut self, seq: u64, bytes: &[u8]) -> Result<(), Damage> {
        let leaf = merkle::leaf_hash(bytes);
        if let Some(b) = self.broken.take() {
            // The record after a broken link: does it agree with the suspect?
            let agrees = header(bytes).is_some_and(|h| links_to(h.prev, &b.leaf));
            return Err(if agrees {
                changed(
                    b.seq.saturating_sub(1).max(1),
                    "its hash no longer matches the `prev` of the record after it",
                )
            } else {
                changed(b.seq, "its hash matches neither the record before nor the record after it")
            });
        }
        if seq != self.expected {
            return Err(Damage {
                seq: self.expected,
                kind: DamageKind::Missing,
                detail: format!("the log goes from seq {} to seq {seq}", self.expected - 1),
            });
        }
        let Some(h) = header(bytes) else {
            return Err(changed(seq, "the record is not a JSON object with `seq` and `prev`"));
        };
        if h.seq != seq {
            return Err(Damage {
                seq,
                kind: DamageKind::Reordered,
                detail: format!("position {seq} holds the record of seq {}", h.seq),
            });
        }
        let link_ok = links_to(h.prev, &self.prev);
        if let Some((size, number)) = self.mismatch.take()
            && link_ok
        {
            return Err(rewritten(size, number));
        }
        if !link_ok {
            self.broken = Some(BrokenLink { seq, leaf });
        }
        self.nodes.clear();
        if let Some(from) = self.nodes_from {
            let nodes = &mut self.nodes;
            self.tree.push(leaf, |level, index, h| {
                if level >= from {
                    nodes.push((level, index, *h));
                }
            });
        } else {
            self.tree.push(leaf, |_, _, _| {});
        }
        self.prev = leaf;
        self.expected += 1;
        let size = self.tree.size();
        if let Some((number, root)) = self.checkpoints.remove(&size)
            && root != self.tree.root()
            && self.broken.is_none()
        {
            self.mismatch = Some((size, number));
        }
        Ok(())
    }

    /// Ends the walk: a link broken at the last record, and checkpoints past the end.
    pub fn finish(mut self) -> Result<u64, Damage> {
        if let Some(b) = self.broken.take() {
            return Err(changed(
                b.seq - 1,
                &format!("its hash does not match the `prev` of record {} (the last one)", b.seq),
            ));
        }
        if let Some((size, number)) = self.mismatch.take() {
            return Err(rewritten(size, number));
        }
        if let Some((&size, &(number, _))) = self.checkpoints.iter().next_back() {
            return Err(Damage {
                seq: self.expected,
                kind: DamageKind::Truncated,
                detail: format!(
                    "signed checkpoint #{number} covers {size} records, the log ends at seq {}",
                    self.expected - 1
                ),
            });
        }
        Ok(self.expected - 1)
    }
}

/// Whether `prev` is the lower-case hex of `hash` (no allocation: this runs per record).
fn links_to(prev: &str, hash: &Hash) -> bool {
    let mut buf = [0u8; 64];
    hex::encode_to_slice(hash, &mut buf).is_ok() && prev.as_bytes() == buf
}

fn header(bytes: &[u8]) -> Option<Header<'_>> {
    serde_json::from_slice::<Header<'_>>(bytes).ok()
}

fn rewritten(size: u64, number: u64) -> Damage {
    Damage {
        seq: size,
        kind: DamageKind::CheckpointInconsistent,
        detail: format!(
            "signed checkpoint #{number} of size {size} has a different root than the log: the records up to {size} were rewritten"
        ),
    }
}

fn changed(seq: u64, detail: &str) -> Damage {
    Damage { seq, kind: DamageKind::Changed, detail: format!("record {seq} was changed: {detail}") }
}

/// Checks a sequence of checkpoints (file order): numbers step by one and each links to
/// the one before. The first checkpoint may be any number (an auditor's file can start
/// late); a later jump is a gap.
pub fn check_sequence(checkpoints: &[Checkpoint]) -> Result<(), Damage> {
    for pair in checkpoints.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.number != a.number + 1 || b.prev != a.body_hash() {
            let missing = b.number.saturating_sub(a.number + 1);
            return Err(Damage {
                seq: a.size,
                kind: DamageKind::CheckpointGap,
                detail: format!(
                    "after checkpoint #{} (size {}) comes #{} (size {}): {missing} checkpoint(s) missing",
                    a.number, a.size, b.number, b.size
                ),
            });
        }
        if b.size < a.size {
            return Err(Damage {
                seq: b.size,
                kind: DamageKind::CheckpointInconsistent,
                detail: format!("checkpoint #{} has a smaller size than #{}", b.number, a.number),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `n` chained records and checkpoints (numbers 1..) at `sizes`.
    fn log(n: u64, sizes: &[u64]) -> (Vec<Vec<u8>>, Vec<Checkpoint>) {
        let mut prev = [0u8; 32];
        let mut tree = Frontier::default();
        let mut records = Vec::new();
        let mut cps = Vec::new();
        for seq in 1..=n {
            let bytes = serde_json::to_vec(
                &json!({"prev": hex::encode(prev), "seq": seq, "user": format!("u{seq}")}),
            )
            .expect("json");
            prev = merkle::leaf_hash(&bytes);
            tree.push(prev, |_, _, _| {});
            records.push(bytes);
            if sizes.contains(&seq) {
                let number = cps.len() as u64 + 1;
                cps.push(Checkpoint {
                    origin: "o".into(),
                    size: seq,
                    root: tree.root(),
                    number,
                    prev: [0; 32],
                });
            }
        }
        (records, cps)
    }

    fn walk(records: &[Vec<u8>], cps: &[Checkpoint]) -> Result<u64, Damage> {
        let mut w = LogWalker::new(cps);
        for (i, r) in records.iter().enumerate() {
            w.push(i as u64 + 1, r)?;
        }
        w.finish()
    }

    fn kind(r: Result<u64, Damage>) -> (u64, DamageKind) {
        let d = r.expect_err("damage");
        (d.seq, d.kind)
    }

    #[test]
    fn an_intact_log_passes_and_truncation_is_named() {
        let (records, cps) = log(12, &[4, 8, 12]);
        assert_eq!(walk(&records, &cps), Ok(12));
        assert_eq!(kind(walk(&records[..10], &cps)), (11, DamageKind::Truncated));
    }

    #[test]
    fn a_changed_record_is_named_even_at_a_checkpoint_size() {
        for i in [1u64, 3, 4, 8, 11] {
            let (mut records, cps) = log(12, &[4, 8, 12]);
            let r = &mut records[i as usize - 1];
            let at = r.len() - 3;
            r[at] ^= 1;
            assert_eq!(kind(walk(&records, &cps)), (i, DamageKind::Changed), "record {i}");
        }
    }

    #[test]
    fn a_changed_last_record_is_caught_by_its_checkpoint() {
        let (mut records, cps) = log(12, &[4, 8, 12]);
        let r = &mut records[11];
        let at = r.len() - 3;
        r[at] ^= 1;
        assert_eq!(kind(walk(&records, &cps)), (12, DamageKind::CheckpointInconsistent));
    }

    #[test]
    fn a_rechained_log_is_checkpoint_inconsistent_and_moves_are_named() {
        let (records, cps) = log(12, &[4, 8, 12]);
        let mut rechained = records.clone();
        // A consistent chain with different content: the first checkpoint tells.
        for r in &mut rechained {
            *r = String::from_utf8(r.clone()).expect("utf8").replace("\"u", "\"v").into_bytes();
        }
        let mut prev = [0u8; 32];
        for (i, r) in rechained.iter_mut().enumerate() {
            let mut v: serde_json::Value = serde_json::from_slice(r).expect("json");
            v["prev"] = json!(hex::encode(prev));
            v["seq"] = json!(i as u64 + 1);
            *r = serde_json::to_vec(&v).expect("json");
            prev = merkle::leaf_hash(r);
        }
        assert_eq!(kind(walk(&rechained, &cps)), (4, DamageKind::CheckpointInconsistent));
        let mut swapped = records.clone();
        swapped.swap(5, 6);
        assert_eq!(kind(walk(&swapped, &cps)), (6, DamageKind::Reordered));
        let mut w = LogWalker::new(&cps);
        let mut found = None;
        for (i, r) in records.iter().enumerate().filter(|(i, _)| *i != 2) {
            if let Err(d) = w.push(i as u64 + 1, r) {
                found = Some((d.seq, d.kind));
                break;
            }
        }
        assert_eq!(found, Some((3, DamageKind::Missing)));
    }

    #[test]
    fn a_resumed_walk_checks_the_rest() {
        let (records, cps) = log(12, &[4, 8, 12]);
        let mut tree = Frontier::default();
        for r in &records[..5] {
            tree.push(merkle::leaf_hash(r), |_, _, _| {});
        }
        let mut w = LogWalker::resume(6, merkle::leaf_hash(&records[4]), tree, &cps);
        for (i, r) in records.iter().enumerate().skip(5) {
            w.push(i as u64 + 1, r).expect("intact");
        }
        assert_eq!(w.finish(), Ok(12));
    }

    #[test]
    fn checkpoint_gaps_are_named() {
        let (_, cps) = log(12, &[2, 4, 6, 8, 10]);
        let linked: Vec<Checkpoint> = cps
            .iter()
            .scan([0u8; 32], |prev, c| {
                let c = Checkpoint { prev: *prev, ..c.clone() };
                *prev = c.body_hash();
                Some(c)
            })
            .collect();
        assert_eq!(check_sequence(&linked), Ok(()));
        let gap: Vec<Checkpoint> = [0, 3, 4].iter().map(|&i| linked[i].clone()).collect();
        let d = check_sequence(&gap).expect_err("gap");
        assert_eq!((d.seq, d.kind), (2, DamageKind::CheckpointGap));
        assert!(d.detail.contains("2 checkpoint(s) missing"), "{d}");
    }
}
