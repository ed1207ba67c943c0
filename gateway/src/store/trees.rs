//! The sled trees of the store and the commit marker in the `meta` tree.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `log` | `seq` (u64 BE) | record JSON |
//! | `idx_time`, `idx_user`, `idx_action`, `idx_ip`, `idx_resource` | see [`super::keys`] | empty |
//! | `ids` | client `id` bytes | `seq` (u64 BE) ‖ first received time (i64 µs BE) |
//! | `alerts` | alert id (u64 BE) | alert JSON |
//! | `alerts_by_seq` | `seq` ‖ alert id | empty |
//! | `quarantine` | quarantine id (u64 BE) | item JSON |
//! | `outbox` | alert id (u64 BE) ‖ sink name | delivery state JSON (see `outbox`) |
//! | `merkle` | level (u8) ‖ index (u64 BE) | SHA-256 of a perfect subtree, levels ≥ 4 (see `chain`) |
//! | `checkpoints` | checkpoint number (u64 BE) | signed note (see `checkpoints`) |
//! | `meta` | `committed` | last committed `seq` ‖ alert id ‖ quarantine id (u64 BE each) |
//! | `meta` | `retention` | first `seq` still in the log after retention archived the ones before (u64 BE; absent: 1) |
//! | `merkle` | 0 ‖ index (u64 BE) | leaf hash of an archived record whose 16-leaf block proofs and the tree's edge still need (see `retention`) |
//! | `legal_holds` | hold id | legal hold JSON (see `holds`); `\0next` holds the last number handed out |
//! | `meta` | `encryption` | encrypted stores only: JSON marker with the master key's id (see `encryption`) |
//! | `data_keys` | see `data_keys` | encrypted stores only: wrapped data keys, subject refs, tombstones, the index key |
//! | `stats` | see `stats` | hourly rollups for `GET /v1/stats` and the reports, derived from the log by the indexer thread |

use super::error::StoreError;
use super::indexes::Index;
use super::keys::read_u64;

/// Key of the commit marker in the `meta` tree.
const COMMITTED_KEY: &[u8] = b"committed";

/// Key of the retention anchor in the `meta` tree.
const RETENTION_KEY: &[u8] = b"retention";

/// Handles to every tree of the store.
#[derive(Debug, Clone)]
pub(crate) struct Trees {
    /// `seq` → record.
    pub log: sled::Tree,
    /// The five secondary indexes, in [`Index`] order.
    pub indexes: [sled::Tree; 5],
    /// Client `id` → (`seq`, first received time).
    pub ids: sled::Tree,
    /// Alert id → alert.
    pub alerts: sled::Tree,
    /// `seq ‖ alert id` → nothing: the alerts of one event.
    pub alerts_by_seq: sled::Tree,
    /// Quarantine id → item.
    pub quarantine: sled::Tree,
    /// `alert id ‖ sink` → delivery state.
    pub outbox: sled::Tree,
    /// Stored Merkle subtrees.
    pub merkle: sled::Tree,
    /// Signed checkpoints by number.
    pub checkpoints: sled::Tree,
    /// The commit marker.
    pub meta: sled::Tree,
    /// Legal holds made through the API.
    pub holds: sled::Tree,
}

impl Trees {
    /// Opens (creating when missing) every tree in `db`.
    pub(crate) fn open(db: &sled::Db) -> Result<Trees, StoreError> {
        let [t, u, a, i, r] = Index::ALL;
        Ok(Trees {
            log: db.open_tree("log")?,
            indexes: [
                db.open_tree(t.tree_name())?,
                db.open_tree(u.tree_name())?,
                db.open_tree(a.tree_name())?,
                db.open_tree(i.tree_name())?,
                db.open_tree(r.tree_name())?,
            ],
            ids: db.open_tree("ids")?,
            alerts: db.open_tree("alerts")?,
            alerts_by_seq: db.open_tree("alerts_by_seq")?,
            quarantine: db.open_tree("quarantine")?,
            outbox: db.open_tree("outbox")?,
            merkle: db.open_tree("merkle")?,
            checkpoints: db.open_tree("checkpoints")?,
            meta: db.open_tree("meta")?,
            holds: db.open_tree("legal_holds")?,
        })
    }

    /// The tree of `index`.
    pub(crate) fn index(&self, index: Index) -> &sled::Tree {
        &self.indexes[index as usize]
    }

    /// Reads the commit marker; `None` on a store that never committed.
    pub(crate) fn committed(&self) -> Result<Option<Counters>, StoreError> {
        match self.meta.get(COMMITTED_KEY)? {
            None => Ok(None),
            Some(v) if v.len() == 24 => Ok(Some(Counters {
                seq: read_u64(&v[0..8])?,
                alert: read_u64(&v[8..16])?,
                quarantine: read_u64(&v[16..24])?,
            })),
            Some(v) => {
                Err(StoreError::Corrupt(format!("the commit marker has {} bytes, expected 24", v.len())))
            }
        }
    }

    /// The first `seq` still in the log: 1, or the one after the last record retention
    /// archived and removed (records below it may still be present while a removal is
    /// unfinished; they are no longer part of the log).
    pub(crate) fn retained_from(&self) -> Result<u64, StoreError> {
        match self.meta.get(RETENTION_KEY)? {
            None => Ok(1),
            Some(v) => read_u64(&v),
        }
    }

    /// Moves the retention anchor (not flushed).
    pub(crate) fn set_retained_from(&self, first: u64) -> Result<(), StoreError> {
        self.meta.insert(RETENTION_KEY, &first.to_be_bytes()[..])?;
        Ok(())
    }

    /// Writes the commit marker (not flushed).
    pub(crate) fn set_committed(&self, c: Counters) -> Result<(), StoreError> {
        self.meta.insert(COMMITTED_KEY, &c.to_bytes()[..])?;
        Ok(())
    }

    /// The highest numbers present in the log, alerts and quarantine trees. Records that
    /// retention archived count as present (it may have removed the whole log).
    pub(crate) fn last_keys(&self) -> Result<Counters, StoreError> {
        let last = |tree: &sled::Tree| -> Result<u64, StoreError> {
            match tree.last()? {
                Some((k, _)) => read_u64(&k),
                None => Ok(0),
            }
        };
        Ok(Counters {
            seq: last(&self.log)?.max(self.retained_from()?.saturating_sub(1)),
            alert: last(&self.alerts)?,
            quarantine: last(&self.quarantine)?,
        })
    }
}

/// The last number handed out (and committed) for each kind of entry; 0 for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counters {
    /// Last log `seq`.
    pub seq: u64,
    /// Last alert id.
    pub alert: u64,
    /// Last quarantine id.
    pub quarantine: u64,
}

impl Counters {
    /// The 24 bytes of the commit marker.
    pub(crate) fn to_bytes(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[0..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..16].copy_from_slice(&self.alert.to_be_bytes());
        out[16..24].copy_from_slice(&self.quarantine.to_be_bytes());
        out
    }
}
