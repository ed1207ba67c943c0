//! Retention: archive the oldest records into segments, then remove them from sled.
//!
//! A run takes the prefix of the log (by `seq`, from the retention anchor) whose records
//! were received before the cutoff, stopping at the first record under a legal hold, the
//! first one not old enough, or the end of the latest signed checkpoint (a segment is
//! proven against one). Order, so that a crash at any point leaves the records in sled or
//! a complete segment, and a new run finishes the job:
//!
//! 1. the segment (`ledger::archive`) is written to a temporary directory, fsynced,
//!    renamed into `archive_dir` and the directory fsynced;
//! 2. the leaf hashes of the segment's last 16 records are kept as level-0 Merkle nodes
//!    (the subtrees below level 4 that proofs and the tree's edge still need), then the
//!    anchor (`meta/retention`) moves past the segment; flushed and fsynced;
//! 3. the records, their index entries and their `ids` entries are removed; flushed.
//!
//! A crash in 1 leaves the records (a stale segment starting at the anchor is replaced
//! by the next run); in 3, records below the anchor that the next run removes first.
//! Merkle subtrees of level ≥ 4 stay (hashes only): proofs of the remaining records need
//! them, and verification resumes from them at the anchor. Alerts stay.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::PoisonError;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::ledger::archive::{self, MANIFEST_FILE, MANIFEST_FORMAT, Manifest, RECORDS_FILE, hex_hash};
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::merkle::{self, Frontier};

use super::Store;
use super::chain::{self, SledNodes};
use super::durability::DiskSync;
use super::error::StoreError;
use super::holds::Matcher;
use super::indexes::{self, PLAIN};
use super::keys::{Position, read_u64, u64_key};
use super::record;

/// Records between two flushes while removing.
const REMOVE_FLUSH_EVERY: u64 = 10_000;

/// What to keep and where archived records go.
#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    /// Records received longer ago than this are due.
    pub max_age: Duration,
    /// Where segments are written (outside the data directory).
    pub archive_dir: PathBuf,
    /// Most records in one segment (a run writes as many segments as are due).
    pub max_segment_records: u64,
}

/// Why a run archived no further.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stopped {
    /// Record `seq` was received after the cutoff.
    NotOldEnough { seq: u64 },
    /// Record `seq` is under legal hold `hold`.
    Held { seq: u64, hold: String },
    /// Record `seq` is beyond the latest signed checkpoint (the next one will cover it).
    NotCheckpointed { seq: u64 },
    /// Everything in the log was archived.
    End,
    /// The store has no signed checkpoint to prove a segment against.
    NoCheckpoint,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::NotOldEnough { seq } => write!(f, "record {seq} is not old enough"),
            Stopped::Held { seq, hold } => write!(f, "record {seq} is under legal hold {hold}"),
            Stopped::NotCheckpointed { seq } => {
                write!(f, "record {seq} is not covered by a signed checkpoint yet")
            }
            Stopped::End => f.write_str("the whole log is archived"),
            Stopped::NoCheckpoint => {
                f.write_str("the store has no signed checkpoint (checkpoints.enabled = false?)")
            }
        }
    }
}

/// One segment a run wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentWritten {
    pub path: PathBuf,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Records received before this (RFC 3339) were due.
    pub cutoff: String,
    pub segments: Vec<SegmentWritten>,
    /// Records archived by this run.
    pub archived: u64,
    /// Records removed from sled (an interrupted earlier run's included).
    pub removed: u64,
    /// The first `seq` left in the log.
    pub first_remaining: u64,
    pub stopped: Stopped,
}

/// A run that failed; nothing unarchived was removed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("archive {path}: {source}")]
    Archive { path: String, source: std::io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> RetentionError + '_ {
    move |source| RetentionError::Archive { path: path.display().to_string(), source }
}

/// Progress of a run: `(phase, done, total)`, phase `archive` or `remove`.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

impl Store {
    /// The first `seq` still in the log (1 until retention archived something).
    pub fn retained_from(&self) -> Result<u64, StoreError> {
        self.inner.trees.retained_from()
    }

    /// Runs retention once (blocking; one run at a time).
    pub fn run_retention(
        &self,
        policy: &RetentionPolicy,
        progress: Progress<'_>,
    ) -> Result<RetentionReport, RetentionError> {
        let _one = self.inner.retention.lock().unwrap_or_else(PoisonError::into_inner);
        let trees = &self.inner.trees;
        let now = chrono::Utc::now();
        let max_age = chrono::Duration::from_std(policy.max_age).unwrap_or(chrono::Duration::MAX);
        let cutoff = now.checked_sub_signed(max_age).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let mut report = RetentionReport {
            cutoff: crate::event::format_time(cutoff),
            segments: Vec::new(),
            archived: 0,
            removed: 0,
            first_remaining: trees.retained_from()?,
            stopped: Stopped::End,
        };
        // An interrupted run's removal first.
        report.removed += self.remove_records(1, report.first_remaining - 1, progress)?;

        let Some(note) = self.latest_checkpoint()? else {
            report.stopped = Stopped::NoCheckpoint;
            return Ok(report);
        };
        let cp = Checkpoint::parse_note_unverified(&note)
            .map_err(|e| StoreError::Corrupt(format!("the latest checkpoint: {e}")))?;
        let committed = self.count();
        let limit = cp.size.min(committed);
        let holds = self.hold_matchers()?;
        std::fs::create_dir_all(&policy.archive_dir).map_err(io_at(&policy.archive_dir))?;
        let cutoff_micros = cutoff.timestamp_micros();
        loop {
            let first = trees.retained_from()?;
            if first > limit {
                report.stopped =
                    if limit < committed { Stopped::NotCheckpointed { seq: first } } else { Stopped::End };
                break;
            }
            let last_allowed = limit.min(first.saturating_add(policy.max_segment_records.max(1) - 1));
            let scan = Scan { first, last_allowed, cutoff_micros, holds: &holds };
            let (written, stop) = self.write_segment(&scan, &note, &cp, policy, &report.cutoff, progress)?;
            if let Some(seg) = written {
                let last = seg.last_seq;
                self.advance_anchor(last)?;
                report.archived += last - first + 1;
                report.removed += self.remove_records(first, last, progress)?;
                report.first_remaining = last + 1;
                tracing::info!(first, last, path = %seg.path.display(), "retention archived a segment");
                report.segments.push(seg);
            }
            match stop {
                Some(s) => {
                    report.stopped = s;
                    break;
                }
                None if report.first_remaining > limit => {
                    report.stopped = if limit < committed {
                        Stopped::NotCheckpointed { seq: limit + 1 }
                    } else {
                        Stopped::End
                    };
                    break;
                }
                None => {}
            }
        }
        Ok(report)
    }

    /// Writes the segment of the due records from `scan.first` on (none due: `None`)
    /// and says why it stopped before `scan.last_allowed`, if it did.
    fn write_segment(
        &self,
        scan: &Scan<'_>,
        note: &str,
        cp: &Checkpoint,
        policy: &RetentionPolicy,
        cutoff: &str,
        progress: Progress<'_>,
    ) -> Result<(Option<SegmentWritten>, Option<Stopped>), RetentionError> {
        let trees = &self.inner.trees;
        let first = scan.first;
        let tmp = policy.archive_dir.join(format!(".tmp-segment-{first:012}"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_at(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io_at(&tmp))?;
        let records_path = tmp.join(RECORDS_FILE);
        let file = File::create(&records_path).map_err(io_at(&records_path))?;
        let mut encoder =
            zstd::stream::write::Encoder::new(BufWriter::new(file), 3).map_err(io_at(&records_path))?;
        let nodes = SledNodes { trees };
        let left = Frontier::load(&nodes, first - 1)?;
        let prev = chain::head_at(trees, first - 1)?;
        let mut tree = left.clone();
        let mut own = Frontier::default();
        let (mut last, mut first_received, mut last_received) = (first - 1, String::new(), String::new());
        let mut stop = None;
        let total = scan.last_allowed - first + 1;
        for item in trees.log.range(u64_key(first)..=u64_key(scan.last_allowed)) {
            let (key, bytes) = item.map_err(StoreError::from)?;
            let seq = read_u64(&key)?;
            if seq != last + 1 {
                return Err(
                    StoreError::Corrupt(format!("record {} is missing from the log", last + 1)).into()
                );
            }
            if let Some(s) = self.keeps(seq, &bytes, scan)? {
                stop = Some(s);
                break;
            }
            let received = record::decode(&bytes)?
                .get("received_at")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            if seq == first {
                first_received = received.clone();
            }
            last_received = received;
            encoder.write_all(&bytes).map_err(io_at(&records_path))?;
            encoder.write_all(b"\n").map_err(io_at(&records_path))?;
            let leaf = merkle::leaf_hash(&bytes);
            tree.push(leaf, |_, _, _| {});
            own.push(leaf, |_, _, _| {});
            last = seq;
            if (seq - first + 1).is_multiple_of(65_536) {
                progress("archive", seq - first + 1, total);
            }
        }
        if stop.is_none() && last < scan.last_allowed {
            return Err(StoreError::Corrupt(format!("record {} is missing from the log", last + 1)).into());
        }
        let writer = encoder.finish().map_err(io_at(&records_path))?;
        let file = writer.into_inner().map_err(|e| io_at(&records_path)(e.into_error()))?;
        file.sync_all().map_err(io_at(&records_path))?;
        drop(file);
        if last < first {
            std::fs::remove_dir_all(&tmp).map_err(io_at(&tmp))?;
            return Ok((None, stop));
        }
        progress("archive", last - first + 1, last - first + 1);
        let proof = merkle::consistency_proof(&nodes, last, cp.size)?
            .map_err(|e| StoreError::Corrupt(format!("consistency proof {last}..{}: {e}", cp.size)))?;
        let compressed = std::fs::read(&records_path).map_err(io_at(&records_path))?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            first_seq: first,
            last_seq: last,
            records: last - first + 1,
            prev: hex_hash(&prev),
            segment_root: hex_hash(&own.root()),
            left_frontier: left.hashes().iter().map(hex_hash).collect(),
            tree_root: hex_hash(&tree.root()),
            checkpoint: note.to_string(),
            consistency_proof: proof.iter().map(hex_hash).collect(),
            records_file: RECORDS_FILE.into(),
            records_sha256: hex::encode(Sha256::digest(&compressed)),
            first_received_at: first_received,
            last_received_at: last_received,
            cutoff: cutoff.to_string(),
            created_at: crate::event::format_time(chrono::Utc::now()),
        };
        // The manifest must prove what was written before anything is removed.
        archive::verify_manifest(
            &manifest,
            std::io::BufReader::new(
                zstd::stream::read::Decoder::new(compressed.as_slice()).map_err(io_at(&records_path))?,
            ),
            None,
        )
        .map_err(|e| StoreError::Corrupt(format!("the new segment {first}..={last} does not verify: {e}")))?;
        let manifest_path = tmp.join(MANIFEST_FILE);
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| StoreError::InvalidInput(format!("manifest: {e}")))?;
        let mut f = File::create(&manifest_path).map_err(io_at(&manifest_path))?;
        f.write_all(&text).map_err(io_at(&manifest_path))?;
        f.sync_all().map_err(io_at(&manifest_path))?;
        drop(f);
        sync_dir(&tmp)?;
        // A segment starting here is a leftover of a run interrupted before it moved the
        // anchor: its records are still in sled, it is replaced.
        let prefix = format!("segment-{first:012}-");
        for entry in std::fs::read_dir(&policy.archive_dir).map_err(io_at(&policy.archive_dir))? {
            let entry = entry.map_err(io_at(&policy.archive_dir))?;
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_dir_all(entry.path()).map_err(io_at(&entry.path()))?;
            }
        }
        let dest = policy.archive_dir.join(format!("segment-{first:012}-{last:012}"));
        std::fs::rename(&tmp, &dest).map_err(io_at(&dest))?;
        sync_dir(&policy.archive_dir)?;
        Ok((Some(SegmentWritten { path: dest, first_seq: first, last_seq: last }), stop))
    }

    /// Why record `seq` must stay (and ends the segment), if it must.
    fn keeps(&self, seq: u64, bytes: &[u8], scan: &Scan<'_>) -> Result<Option<Stopped>, StoreError> {
        let mut fields = record::decode(bytes)?;
        let received = fields
            .get("received_at")
            .and_then(|v| v.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_micros());
        // A record without a readable `received_at` is never taken for old.
        if received.is_none_or(|r| r >= scan.cutoff_micros) {
            return Ok(Some(Stopped::NotOldEnough { seq }));
        }
        if scan.holds.is_empty() {
            return Ok(None);
        }
        if let Some(s) = &self.inner.sealing {
            // An erased subject reads back as `[erased]`: no user hold names it.
            s.open(&mut fields, &format!("record {seq}"))?;
        }
        let user = fields.get("user").and_then(|v| v.as_str());
        let time = record::time_micros(&fields);
        Ok(scan
            .holds
            .iter()
            .find(|m| m.covers(user, time))
            .map(|m| Stopped::Held { seq, hold: m.hold.id.clone() }))
    }

    /// Keeps the leaves the tree still needs and moves the anchor past `last`; durable
    /// when this returns.
    fn advance_anchor(&self, last: u64) -> Result<(), StoreError> {
        let trees = &self.inner.trees;
        let nodes = SledNodes { trees };
        for seq in last.saturating_sub(15).max(1)..=last {
            let leaf = nodes.leaf(seq)?;
            chain::keep_leaf(trees, seq, &leaf)?;
        }
        trees.set_retained_from(last + 1)?;
        chain::drop_kept_leaves_before(trees, last.saturating_sub(15).max(1))?;
        self.inner.db.flush()?;
        DiskSync::open(&self.inner.data_dir)?.sync()
    }

    /// Removes the records `first..=last` still in the log with their index and id
    /// entries; answers how many were there.
    fn remove_records(&self, first: u64, last: u64, progress: Progress<'_>) -> Result<u64, StoreError> {
        if last < first {
            return Ok(0);
        }
        let trees = &self.inner.trees;
        let keying = self.inner.sealing.as_deref().map_or(&PLAIN, super::encryption::Sealing::keying);
        let mut removed = 0;
        let total = last - first + 1;
        for item in trees.log.range(u64_key(first)..=u64_key(last)) {
            let (key, bytes) = item?;
            let seq = read_u64(&key)?;
            if let Ok(mut fields) = record::decode(&bytes) {
                let opened = self
                    .inner
                    .sealing
                    .as_deref()
                    .is_none_or(|s| s.open(&mut fields, "an archived record").is_ok());
                if let (true, Some(time_micros), Ok(prefixes)) =
                    (opened, record::time_micros(&fields), indexes::prefixes(&fields, keying))
                {
                    for (index, key) in indexes::keys_at(prefixes, Position { time_micros, seq }) {
                        trees.index(index).remove(key)?;
                    }
                }
                if let Some(serde_json::Value::String(id)) = fields.get("id")
                    && let Some(v) = trees.ids.get(id.as_bytes())?
                    && v.len() >= 8
                    && read_u64(&v[..8])? == seq
                {
                    trees.ids.remove(id.as_bytes())?;
                }
            }
            trees.log.remove(key)?;
            removed += 1;
            if removed % REMOVE_FLUSH_EVERY == 0 {
                self.inner.db.flush()?;
                progress("remove", removed, total);
            }
        }
        self.inner.db.flush()?;
        DiskSync::open(&self.inner.data_dir)?.sync()?;
        progress("remove", removed, total);
        Ok(removed)
    }
}

/// One segment's bounds and what keeps records.
struct Scan<'a> {
    first: u64,
    last_allowed: u64,
    cutoff_micros: i64,
    holds: &'a [Matcher],
}

fn sync_dir(dir: &Path) -> Result<(), RetentionError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))
}
