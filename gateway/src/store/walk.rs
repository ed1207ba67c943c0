//! One walk over the stored log with [`LogWalker`], shared by `auditgate verify` (a
//! stopped data directory, `offline`) and `GET /v1/verify` (the running store).

use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::merkle::Frontier;
use crate::ledger::merkle::Hash;
use crate::ledger::verify::{Damage, DamageKind, LogWalker};

use super::chain::{self, SledNodes};
use super::error::StoreError;
use super::keys::{read_u64, u64_key};
use super::trees::Trees;

/// How often the walk reports progress (records).
const PROGRESS_EVERY: u64 = 65_536;

/// What one walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Walked {
    /// Records that passed (from `from` on).
    pub records: u64,
    /// The first damage, if any.
    pub damage: Option<Damage>,
}

/// Walks the records with keys `from..=to`, comparing `checkpoints` on the way;
/// `progress(done, total)` now and then.
///
/// From `from > 1` on, the walk starts from the stored record `from - 1` (its hash is the
/// expected `prev`) and the stored Merkle subtrees left of `from` (for checkpoint roots).
pub(crate) fn walk(
    trees: &Trees,
    from: u64,
    to: u64,
    checkpoints: &[Checkpoint],
    mut progress: impl FnMut(u64, u64),
) -> Result<Walked, StoreError> {
    let from = from.max(1);
    let walker = if from == 1 {
        LogWalker::new(checkpoints)
    } else {
        let before = from - 1;
        let frontier = Frontier::load(&SledNodes { trees }, before)?;
        LogWalker::resume(from, chain::head_at(trees, before)?, frontier, checkpoints)
    };
    let mut walker = walker.with_nodes_from(chain::STORED_FROM_LEVEL);
    let total = to.saturating_sub(from - 1);
    // Nothing to read when `to < from`; the walker still compares the checkpoints.
    let range = (to >= from).then(|| trees.log.range(u64_key(from)..=u64_key(to))).into_iter().flatten();
    let mut done = 0u64;
    for item in range {
        let (key, value) = item?;
        let seq = read_u64(&key)?;
        if let Err(d) = walker.push(seq, &value) {
            return Ok(Walked { records: walker.checked() - (from - 1), damage: Some(d) });
        }
        if let Some(d) = check_nodes(trees, seq, walker.completed_nodes())? {
            return Ok(Walked { records: walker.checked() - (from - 1), damage: Some(d) });
        }
        done += 1;
        if done.is_multiple_of(PROGRESS_EVERY) {
            progress(done, total);
        }
    }
    progress(done, total);
    let records = walker.checked() - (from - 1);
    let damage = walker.finish().err();
    Ok(Walked { records, damage })
}

/// Compares the subtrees a record completed with the stored ones (proofs are made of
/// them): a missing or different one is named by the last record it covers.
fn check_nodes(trees: &Trees, seq: u64, nodes: &[(u8, u64, Hash)]) -> Result<Option<Damage>, StoreError> {
    for &(level, index, hash) in nodes {
        let stored = trees.merkle.get(chain::node_key(level, index))?;
        if stored.as_deref() != Some(&hash[..]) {
            let what = if stored.is_some() { "differs from" } else { "is missing for" };
            return Ok(Some(Damage {
                seq,
                kind: DamageKind::TreeNode,
                detail: format!(
                    "the stored Merkle subtree (level {level}, index {index}) {what} records {}..={seq}: proofs from this store would not verify",
                    (index << level) + 1
                ),
            }));
        }
    }
    Ok(None)
}
