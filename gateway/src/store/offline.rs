//! `auditgate verify`: checks a data directory with the server stopped. Opens sled
//! directly (no recovery: the files are looked at as they are), walks the committed log,
//! and checks the checkpoints kept in sled and, when given, those of an external file.
//!
//! Only records up to the commit marker are the log. A crash in the middle of a group
//! commit can leave records above it whose Merkle subtrees were not written yet; they
//! were never acknowledged and the gateway removes them at its next start (see
//! `recovery`), so they are counted and reported, not verified.

use std::path::Path;

use crate::ledger::checkpoint::{self, Checkpoint};
use crate::ledger::note::NoteVerifier;
use crate::ledger::verify::{self, Damage, DamageKind};

use super::error::StoreError;
use super::keys::u64_key;
use super::trees::Trees;
use super::walk;

/// What an offline verification found.
#[derive(Debug)]
pub struct OfflineReport {
    /// Records checked.
    pub records: u64,
    /// Checkpoints compared with the log.
    pub checkpoints: usize,
    /// Whether signatures were checked (a public key was given).
    pub signatures_checked: bool,
    /// Records above the commit marker: written by a group commit that never finished,
    /// never acknowledged, removed at the gateway's next start.
    pub uncommitted: u64,
    /// The first damage found, if any.
    pub damage: Option<Damage>,
    /// The first `seq` in the log: records before it were archived by retention (1: none).
    pub first_seq: u64,
}

/// Where the checkpoints to trust come from.
#[derive(Debug, Default)]
pub struct OfflineInputs<'a> {
    /// Text of an external checkpoint file.
    pub checkpoint_file: Option<&'a str>,
    /// The log's public key (`name+id+base64`).
    pub public_key: Option<&'a NoteVerifier>,
}

/// Verifies the store in `data_dir`; `progress(done, total)` is called now and then.
pub fn verify_dir(
    data_dir: &Path,
    inputs: &OfflineInputs<'_>,
    progress: impl FnMut(u64, u64),
) -> Result<OfflineReport, StoreError> {
    if !data_dir.join("db").exists() && !data_dir.join("conf").exists() {
        return Err(StoreError::InvalidInput(format!(
            "{} is not an auditgate data directory",
            data_dir.display()
        )));
    }
    let db = sled::Config::new().path(data_dir).open()?;
    let trees = Trees::open(&db)?;
    let mut notes: Vec<String> = Vec::new();
    for item in trees.checkpoints.iter() {
        let (_, v) = item?;
        notes.push(String::from_utf8_lossy(&v).into_owned());
    }
    let stored_count = notes.len();
    if let Some(text) = inputs.checkpoint_file {
        notes.extend(checkpoint::split_file(text));
    }
    let mut report = OfflineReport {
        records: 0,
        checkpoints: notes.len(),
        signatures_checked: inputs.public_key.is_some(),
        uncommitted: 0,
        damage: None,
        first_seq: trees.retained_from()?,
    };
    let mut parsed = Vec::with_capacity(notes.len());
    for note in &notes {
        let cp = match inputs.public_key {
            Some(key) => key
                .open(note)
                .map_err(|e| e.to_string())
                .and_then(|body| Checkpoint::parse_body(body).map_err(|e| e.to_string())),
            None => Checkpoint::parse_note_unverified(note).map_err(|e| e.to_string()),
        };
        match cp {
            Ok(cp) => parsed.push(cp),
            Err(e) => {
                let size = Checkpoint::parse_note_unverified(note).map_or(0, |c| c.size);
                report.damage = Some(Damage {
                    seq: size,
                    kind: DamageKind::SignatureInvalid,
                    detail: format!("checkpoint of size {size}: {e}"),
                });
                return Ok(report);
            }
        }
    }
    let (stored, external) = parsed.split_at(stored_count);
    for list in [stored, external] {
        if let Err(d) = verify::check_sequence(list) {
            report.damage = Some(d);
            return Ok(report);
        }
    }
    let committed = trees.committed()?.map_or(0, |c| c.seq);
    report.uncommitted = trees.log.range(u64_key(committed.saturating_add(1))..).count() as u64;
    // After retention the walk starts at the anchor: the kept Merkle subtrees give the tree
    // before it, the kept leaf of the record before it the expected `prev`.
    let walked = walk::walk(&trees, report.first_seq, committed, &parsed, progress)?;
    report.records = walked.records;
    report.damage = walked.damage;
    Ok(report)
}
