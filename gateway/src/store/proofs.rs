//! What the store answers about tamper evidence: checkpoints, roots, inclusion and
//! consistency proofs, and the exact bytes of a record (its Merkle leaf).

use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::merkle::{self, Hash};
use crate::ledger::verify::{self, Damage, DamageKind};

use super::Store;
use super::chain::SledNodes;
use super::error::StoreError;
use super::keys::u64_key;
use super::walk;

/// What [`Store::verify_range`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeCheck {
    /// The first and last `seq` checked.
    pub from: u64,
    pub to: u64,
    /// Records that passed.
    pub records: u64,
    /// Stored checkpoints compared with the log in the range.
    pub checkpoints: usize,
    /// The first damage, if any.
    pub damage: Option<Damage>,
}

impl Store {
    /// The latest signed checkpoint (a C2SP signed note), if any was made.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        match self.inner.trees.checkpoints.last()? {
            Some((_, v)) => Ok(Some(note_text(&v)?)),
            None => Ok(None),
        }
    }

    /// The signed checkpoint of exactly `size` records, if one was made.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StoreError> {
        for item in self.inner.trees.checkpoints.iter().rev() {
            let (_, v) = item?;
            let text = note_text(&v)?;
            let cp = crate::ledger::checkpoint::Checkpoint::parse_note_unverified(&text)
                .map_err(|e| StoreError::Corrupt(format!("a stored checkpoint: {e}")))?;
            if cp.size == size {
                return Ok(Some(text));
            }
            if cp.size < size {
                break;
            }
        }
        Ok(None)
    }

    /// Every stored checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<String>, StoreError> {
        self.inner.trees.checkpoints.iter().map(|item| note_text(&item?.1)).collect()
    }

    /// The stored bytes of record `seq` (durable records only): the Merkle leaf data.
    pub fn record_bytes(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if seq == 0 || seq > self.count() {
            return Ok(None);
        }
        Ok(self.inner.trees.log.get(u64_key(seq))?.map(|v| v.to_vec()))
    }

    /// The RFC 6962 root of the first `size` durable records.
    pub fn root(&self, size: u64) -> Result<Hash, StoreError> {
        self.check_size(size)?;
        merkle::root(&SledNodes { trees: &self.inner.trees }, size)
    }

    /// The audit path of record `seq` in the tree of the first `size` records.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        merkle::inclusion_proof(&SledNodes { trees: &self.inner.trees }, seq.wrapping_sub(1), size)?.map_err(
            |_| StoreError::InvalidInput(format!("record {seq} is not inside the first {size} records")),
        )
    }

    /// The consistency proof from the first `from` to the first `to` records.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(to)?;
        merkle::consistency_proof(&SledNodes { trees: &self.inner.trees }, from, to)?
            .map_err(|e| StoreError::InvalidInput(e.to_string()))
    }

    /// Walks the durable records `from..=to` (default: the whole log): hash chain, the
    /// records' own `seq`, and the roots of the stored checkpoints of sizes in the range
    /// (the sequence of stored checkpoints is checked too). Signatures are not checked
    /// here: `auditgate verify --public-key` does, offline.
    pub fn verify_range(&self, from: Option<u64>, to: Option<u64>) -> Result<RangeCheck, StoreError> {
        let count = self.count();
        let first = self.retained_from()?;
        let (from, to) = (from.unwrap_or(first), to.unwrap_or(count));
        if from < first && from > 0 {
            return Err(StoreError::InvalidInput(format!(
                "records before seq {first} were archived by retention (check them with `auditgate archive verify`); from must be at least {first}"
            )));
        }
        if from == 0 || to > count || (from > to && count > 0) {
            return Err(StoreError::InvalidInput(format!(
                "the range from={from} to={to} is not inside the log's {count} records (1 <= from <= to <= {count})"
            )));
        }
        let mut checkpoints = Vec::new();
        for note in self.checkpoints()? {
            match Checkpoint::parse_note_unverified(&note) {
                Ok(cp) => checkpoints.push(cp),
                Err(e) => {
                    let damage = Damage {
                        seq: 0,
                        kind: DamageKind::SignatureInvalid,
                        detail: format!("a stored checkpoint cannot be read: {e}"),
                    };
                    return Ok(RangeCheck { from, to, records: 0, checkpoints: 0, damage: Some(damage) });
                }
            }
        }
        if let Err(damage) = verify::check_sequence(&checkpoints) {
            return Ok(RangeCheck { from, to, records: 0, checkpoints: 0, damage: Some(damage) });
        }
        checkpoints.retain(|c| c.size >= from && c.size <= to);
        if count == 0 || from > count {
            return Ok(RangeCheck { from: 0, to: 0, records: 0, checkpoints: 0, damage: None });
        }
        let walked = walk::walk(&self.inner.trees, from, to, &checkpoints, |_, _| {})?;
        Ok(RangeCheck {
            from,
            to,
            records: walked.records,
            checkpoints: checkpoints.len(),
            damage: walked.damage,
        })
    }

    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let count = self.count();
        if size > count {
            return Err(StoreError::InvalidInput(format!(
                "tree size {size} is beyond the log's {count} records"
            )));
        }
        Ok(())
    }
}

fn note_text(v: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt("a stored checkpoint is not UTF-8".into()))
}
