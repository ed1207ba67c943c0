//! Removing what a group commit wrote but never committed.
//!
//! The writer writes a batch in this order: log, indexes, ids, alerts, quarantine, and last
//! the commit marker (`meta/committed`); then it flushes. sled recovers a contiguous
//! prefix of its log after a crash, so a recovered marker implies its whole batch; but a
//! crash (or a failed write) before the marker can leave entries numbered above it. They
//! were never acknowledged, so they are removed, together with every index, id and alert
//! entry derived from them (Merkle subtrees and alert outbox entries included), before their numbers are handed
//! out again. The chain head and the tree's right edge are derived from what remains.

use std::ops::RangeFrom;

use serde_json::Value;

use super::chain;
use super::encryption::Sealing;
use super::error::StoreError;
use super::indexes::{self, PLAIN};
use super::keys::{Position, read_u64, u64_key};
use super::record;
use super::trees::{Counters, Trees};

/// What [`discard_uncommitted`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Discarded {
    /// Log records.
    pub records: u64,
    /// Alerts.
    pub alerts: u64,
    /// Quarantine items.
    pub quarantined: u64,
}

/// Removes every entry numbered above `committed` (not flushed: the caller flushes).
///
/// The marker is rewritten first, so an interrupted clean-up is finished by the next one.
/// In an encrypted store, `sealing` opens each record first (its index keys come from
/// the plain fields).
pub(crate) fn discard_uncommitted(
    trees: &Trees,
    committed: Counters,
    sealing: Option<&Sealing>,
) -> Result<Discarded, StoreError> {
    trees.set_committed(committed)?;
    let mut done = Discarded::default();

    for item in trees.log.range(after(committed.seq)) {
        let (key, value) = item?;
        let seq = read_u64(&key)?;
        // A record that no longer decodes cannot name its index entries; those can only
        // point at this seq and are ignored by readers until the seq is reused, when the
        // query filters (applied to the loaded record) keep them out of results.
        if let Ok(mut fields) = record::decode(&value) {
            let keying = sealing.map_or(&PLAIN, Sealing::keying);
            let opened = sealing.is_none_or(|s| s.open(&mut fields, "an uncommitted record").is_ok());
            if let (true, Some(time_micros), Ok(prefixes)) =
                (opened, record::time_micros(&fields), indexes::prefixes(&fields, keying))
            {
                for (index, key) in indexes::keys_at(prefixes, Position { time_micros, seq }) {
                    trees.index(index).remove(key)?;
                }
            }
            if let Some(Value::String(id)) = fields.get("id")
                && let Some(v) = trees.ids.get(id.as_bytes())?
                && v.len() >= 8
                && read_u64(&v[..8])? == seq
            {
                trees.ids.remove(id.as_bytes())?;
            }
        }
        trees.log.remove(key)?;
        done.records += 1;
    }

    chain::discard_nodes_above(trees, committed.seq)?;

    for item in trees.alerts.range(after(committed.alert)) {
        let (key, _) = item?;
        trees.alerts.remove(key)?;
        done.alerts += 1;
    }
    for item in trees.alerts_by_seq.range(after(committed.seq)) {
        let (key, _) = item?;
        trees.alerts_by_seq.remove(key)?;
    }
    super::outbox::discard_above(&trees.outbox, committed.alert)?;

    for item in trees.quarantine.range(after(committed.quarantine)) {
        let (key, _) = item?;
        trees.quarantine.remove(key)?;
        done.quarantined += 1;
    }
    Ok(done)
}

/// Keys numbered strictly above `n`.
fn after(n: u64) -> RangeFrom<[u8; 8]> {
    u64_key(n.saturating_add(1))..
}
