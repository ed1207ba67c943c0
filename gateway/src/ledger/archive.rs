//! Archive segments: what retention moves out of the store, and how a segment is proven
//! against a signed checkpoint without the store.
//!
//! A segment is a directory holding `records.jsonl.zst` (the stored record bytes exactly
//! as hashed, one per line, zstd-compressed) and `manifest.json` ([`Manifest`]). The
//! proof: the manifest's `left_frontier` (the subtree roots of the records before the
//! segment) plus the segment's leaves give the root of the tree of the first `last_seq`
//! records; the manifest's consistency proof takes that root to the root the signed
//! checkpoint commits to. Every record also links to the one before (`prev`), the first
//! to the manifest's `prev`. A changed byte anywhere breaks one of these, and
//! [`verify_segment`] names which.

use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::checkpoint::Checkpoint;
use super::merkle::{self, Frontier, Hash};
use super::note::NoteVerifier;

/// The manifest's `format` value.
pub const MANIFEST_FORMAT: &str = "auditgate-archive-segment/1";
/// File name of the manifest inside a segment directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the compressed records inside a segment directory.
pub const RECORDS_FILE: &str = "records.jsonl.zst";

/// What a segment's `manifest.json` says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// First and last `seq` in the segment (consecutive).
    pub first_seq: u64,
    pub last_seq: u64,
    /// Number of records (`last_seq - first_seq + 1`).
    pub records: u64,
    /// Hex leaf hash of the record before `first_seq` (64 zeros for seq 1): the first
    /// record's `prev`.
    pub prev: String,
    /// Hex RFC 6962 root of the segment's own leaves.
    pub segment_root: String,
    /// Hex roots of the perfect subtrees of the first `first_seq - 1` records, largest first.
    pub left_frontier: Vec<String>,
    /// Hex root of the tree of the first `last_seq` records.
    pub tree_root: String,
    /// The covering signed checkpoint (C2SP signed note), of size ≥ `last_seq`.
    pub checkpoint: String,
    /// Hex consistency proof from the tree of `last_seq` records to the checkpoint's.
    pub consistency_proof: Vec<String>,
    /// The records file's name and the hex SHA-256 of its (compressed) bytes.
    pub records_file: String,
    pub records_sha256: String,
    /// Gateway `received_at` of the first and last record.
    pub first_received_at: String,
    pub last_received_at: String,
    /// Records received before this time were due (RFC 3339).
    pub cutoff: String,
    /// When the segment was written (RFC 3339).
    pub created_at: String,
}

/// Why a segment does not verify; each names the part at fault.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("manifest: {0}")]
    Manifest(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("record {seq}: {detail}")]
    Record { seq: u64, detail: String },
    #[error("records file: {0}")]
    RecordsFile(String),
    #[error("proof: {0}")]
    Proof(String),
}

/// What a verified segment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    pub first_seq: u64,
    pub last_seq: u64,
    /// The checkpoint it was proven against.
    pub checkpoint_size: u64,
    pub checkpoint_number: u64,
    pub origin: String,
    /// Whether the checkpoint's signature was checked (a public key was given).
    pub signature_checked: bool,
}

/// Hex of a hash.
pub fn hex_hash(h: &Hash) -> String {
    hex::encode(h)
}

fn parse_hash(what: &str, text: &str) -> Result<Hash, ArchiveError> {
    let bytes = hex::decode(text).map_err(|e| ArchiveError::Manifest(format!("`{what}` is not hex: {e}")))?;
    <Hash>::try_from(bytes.as_slice())
        .map_err(|_| ArchiveError::Manifest(format!("`{what}` is {} bytes, expected 32", bytes.len())))
}

fn parse_hashes(what: &str, list: &[String]) -> Result<Vec<Hash>, ArchiveError> {
    list.iter().map(|h| parse_hash(what, h)).collect()
}

/// Reads the checkpoint of a manifest: its signature with `key`, else only its shape.
fn open_checkpoint(note: &str, key: Option<&NoteVerifier>) -> Result<Checkpoint, ArchiveError> {
    match key {
        Some(key) => {
            let body = key.open(note).map_err(|e| ArchiveError::Checkpoint(format!("signature: {e}")))?;
            Checkpoint::parse_body(body).map_err(|e| ArchiveError::Checkpoint(e.to_string()))
        }
        None => Checkpoint::parse_note_unverified(note).map_err(|e| ArchiveError::Checkpoint(e.to_string())),
    }
}

/// Checks a manifest against the records (the decompressed lines of its records file):
/// sequence numbers, `prev` links, the segment root, the tree root from the left
/// frontier, and the consistency proof to the signed checkpoint (its signature too when
/// `key` is given).
pub fn verify_manifest(
    manifest: &Manifest,
    records: impl BufRead,
    key: Option<&NoteVerifier>,
) -> Result<SegmentReport, ArchiveError> {
    if manifest.format != MANIFEST_FORMAT {
        return Err(ArchiveError::Manifest(format!(
            "format is {:?}, expected {MANIFEST_FORMAT:?}",
            manifest.format
        )));
    }
    let (first, last) = (manifest.first_seq, manifest.last_seq);
    if first == 0 || last < first || manifest.records != last - first + 1 {
        return Err(ArchiveError::Manifest(format!(
            "seq range {first}..={last} does not hold {} records",
            manifest.records
        )));
    }
    let cp = open_checkpoint(&manifest.checkpoint, key)?;
    if cp.size < last {
        return Err(ArchiveError::Checkpoint(format!(
            "checkpoint #{} covers {} records, the segment ends at seq {last}",
            cp.number, cp.size
        )));
    }
    let left = parse_hashes("left_frontier", &manifest.left_frontier)?;
    let mut tree = Frontier::from_hashes(first - 1, &left).ok_or_else(|| {
        ArchiveError::Manifest(format!(
            "left_frontier has {} hashes; a tree of {} records has {}",
            left.len(),
            first - 1,
            (first - 1).count_ones()
        ))
    })?;
    let mut own = Frontier::default();
    let mut prev = parse_hash("prev", &manifest.prev)?;
    let mut expected = first;
    for line in records.split(b'\n') {
        let line = line.map_err(|e| ArchiveError::RecordsFile(format!("cannot decompress: {e}")))?;
        if line.is_empty() {
            continue;
        }
        if expected > last {
            return Err(ArchiveError::RecordsFile(format!(
                "holds more than the {} records of the manifest",
                manifest.records
            )));
        }
        let header: RecordHeader = serde_json::from_slice(&line).map_err(|e| ArchiveError::Record {
            seq: expected,
            detail: format!("not a JSON record with `seq` and `prev`: {e}"),
        })?;
        if header.seq != expected {
            return Err(ArchiveError::Record {
                seq: expected,
                detail: format!("line holds seq {}, expected {expected}", header.seq),
            });
        }
        if header.prev != hex_hash(&prev) {
            return Err(ArchiveError::Record {
                seq: expected,
                detail: if expected == first {
                    "its `prev` is not the manifest's `prev`".into()
                } else {
                    format!("its `prev` does not match record {}: one of the two was changed", expected - 1)
                },
            });
        }
        let leaf = merkle::leaf_hash(&line);
        tree.push(leaf, |_, _, _| {});
        own.push(leaf, |_, _, _| {});
        prev = leaf;
        expected += 1;
    }
    if expected != last + 1 {
        return Err(ArchiveError::RecordsFile(format!(
            "ends after seq {}, the manifest says {last}",
            expected - 1
        )));
    }
    if hex_hash(&own.root()) != manifest.segment_root {
        return Err(ArchiveError::Proof(
            "the records' Merkle root is not the manifest's `segment_root`".into(),
        ));
    }
    let root = tree.root();
    if hex_hash(&root) != manifest.tree_root {
        return Err(ArchiveError::Proof(format!(
            "the root of the first {last} records (left frontier + segment) is not the manifest's `tree_root`"
        )));
    }
    let proof = parse_hashes("consistency_proof", &manifest.consistency_proof)?;
    if !merkle::verify_consistency(last, cp.size, &root, &cp.root, &proof) {
        return Err(ArchiveError::Proof(format!(
            "the tree of {last} records is not consistent with signed checkpoint #{} of size {}: a record, the left frontier or the proof was changed",
            cp.number, cp.size
        )));
    }
    Ok(SegmentReport {
        first_seq: first,
        last_seq: last,
        checkpoint_size: cp.size,
        checkpoint_number: cp.number,
        origin: cp.origin,
        signature_checked: key.is_some(),
    })
}

#[derive(Deserialize)]
struct RecordHeader {
    seq: u64,
    prev: String,
}

/// Verifies the segment at `path` (its directory, or its `manifest.json`): the manifest
/// proof of [`verify_manifest`] over the decompressed records, then the records file's
/// SHA-256.
pub fn verify_segment(path: &Path, key: Option<&NoteVerifier>) -> Result<SegmentReport, ArchiveError> {
    let dir = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
    let manifest_path = dir.join(MANIFEST_FILE);
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| ArchiveError::Read { path: p.display().to_string(), source })
    };
    let manifest: Manifest = serde_json::from_slice(&read(&manifest_path)?)
        .map_err(|e| ArchiveError::Manifest(format!("{}: {e}", manifest_path.display())))?;
    if manifest.records_file.contains('/')
        || manifest.records_file.contains('\\')
        || manifest.records_file.starts_with('.')
    {
        return Err(ArchiveError::Manifest(format!(
            "records_file {:?} is not a plain file name",
            manifest.records_file
        )));
    }
    let compressed = read(&dir.join(&manifest.records_file))?;
    let decoder = zstd::stream::read::Decoder::new(compressed.as_slice())
        .map_err(|e| ArchiveError::RecordsFile(format!("cannot decompress: {e}")))?;
    let report = verify_manifest(&manifest, std::io::BufReader::new(decoder), key)?;
    let sha = hex::encode(Sha256::digest(&compressed));
    if sha != manifest.records_sha256 {
        return Err(ArchiveError::RecordsFile(format!(
            "SHA-256 {sha} differs from the manifest's records_sha256 (the compressed bytes were changed)"
        )));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::checkpoint::Checkpoint;
    use crate::ledger::merkle::MemoryTree;
    use crate::ledger::note::NoteSigner;

    /// A log of `n` linked records, its tree, and a signed checkpoint of all of it.
    fn log(n: u64) -> (Vec<Vec<u8>>, MemoryTree, NoteSigner, String) {
        let mut tree = MemoryTree::default();
        let mut prev = [0u8; 32];
        let mut records = Vec::new();
        for seq in 1..=n {
            let bytes = format!(r#"{{"action":"a","prev":"{}","seq":{seq}}}"#, hex_hash(&prev)).into_bytes();
            prev = merkle::leaf_hash(&bytes);
            tree.push(prev);
            records.push(bytes);
        }
        let signer = NoteSigner::generate("test.local/log").expect("key");
        let cp = Checkpoint {
            origin: "test.local/log".into(),
            size: n,
            root: tree.root(),
            number: 1,
            prev: [0; 32],
        };
        let note = signer.sign(&cp.body());
        (records, tree, signer, note)
    }

    fn manifest(records: &[Vec<u8>], tree: &MemoryTree, note: &str, first: u64, last: u64) -> Manifest {
        let left = Frontier::load(tree, first - 1).expect("frontier");
        let mut own = Frontier::default();
        for r in &records[(first - 1) as usize..last as usize] {
            own.push(merkle::leaf_hash(r), |_, _, _| {});
        }
        let prev = if first == 1 { [0; 32] } else { merkle::leaf_hash(&records[first as usize - 2]) };
        let proof = merkle::consistency_proof(tree, last, tree.size()).expect("nodes").expect("range");
        Manifest {
            format: MANIFEST_FORMAT.into(),
            first_seq: first,
            last_seq: last,
            records: last - first + 1,
            prev: hex_hash(&prev),
            segment_root: hex_hash(&own.root()),
            left_frontier: left.hashes().iter().map(hex_hash).collect(),
            tree_root: hex_hash(&merkle::root(tree, last).expect("root")),
            checkpoint: note.into(),
            consistency_proof: proof.iter().map(hex_hash).collect(),
            records_file: RECORDS_FILE.into(),
            records_sha256: String::new(),
            first_received_at: String::new(),
            last_received_at: String::new(),
            cutoff: String::new(),
            created_at: String::new(),
        }
    }

    fn lines(records: &[Vec<u8>], first: u64, last: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for r in &records[(first - 1) as usize..last as usize] {
            out.extend_from_slice(r);
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn segments_anywhere_in_the_log_prove_against_the_checkpoint() {
        let (records, tree, signer, note) = log(37);
        for (first, last) in [(1, 1), (1, 16), (1, 37), (2, 5), (17, 33), (20, 37), (37, 37)] {
            let m = manifest(&records, &tree, &note, first, last);
            let report =
                verify_manifest(&m, lines(&records, first, last).as_slice(), Some(&signer.verifier()))
                    .unwrap_or_else(|e| panic!("{first}..={last}: {e}"));
            assert_eq!((report.first_seq, report.last_seq, report.checkpoint_size), (first, last, 37));
            assert!(report.signature_checked);
        }
    }

    #[test]
    fn a_changed_record_is_named() {
        let (records, tree, signer, note) = log(20);
        let m = manifest(&records, &tree, &note, 5, 12);
        let mut text = lines(&records, 5, 12);
        // Change the action of the third record of the segment (seq 7).
        let third = text.split(|b| *b == b'\n').take(2).map(|l| l.len() + 1).sum::<usize>();
        text[third + 11] = b'b';
        let err = verify_manifest(&m, text.as_slice(), Some(&signer.verifier())).expect_err("changed");
        assert!(matches!(err, ArchiveError::Record { seq: 8, .. }), "{err}");
    }

    #[test]
    fn a_changed_last_record_fails_the_proof() {
        let (records, tree, signer, note) = log(20);
        let m = manifest(&records, &tree, &note, 5, 12);
        let mut text = lines(&records, 5, 12);
        let at = text.len() - 30;
        text[at] = if text[at] == b'0' { b'1' } else { b'0' };
        let err = verify_manifest(&m, text.as_slice(), Some(&signer.verifier())).expect_err("changed");
        assert!(matches!(err, ArchiveError::Proof(_) | ArchiveError::Record { .. }), "{err}");
    }

    #[test]
    fn a_forged_frontier_or_manifest_root_fails() {
        let (records, tree, signer, note) = log(20);
        let key = signer.verifier();
        let mut m = manifest(&records, &tree, &note, 5, 12);
        m.left_frontier[0] = hex_hash(&[7; 32]);
        let err = verify_manifest(&m, lines(&records, 5, 12).as_slice(), Some(&key)).expect_err("frontier");
        assert!(matches!(err, ArchiveError::Proof(_)), "{err}");
        // Recomputing tree_root to match the forged frontier does not help: the proof fails.
        let mut forged =
            Frontier::from_hashes(4, &parse_hashes("f", &m.left_frontier).expect("hex")).expect("shape");
        for r in &records[4..12] {
            forged.push(merkle::leaf_hash(r), |_, _, _| {});
        }
        m.tree_root = hex_hash(&forged.root());
        let err = verify_manifest(&m, lines(&records, 5, 12).as_slice(), Some(&key)).expect_err("proof");
        assert!(err.to_string().contains("not consistent with signed checkpoint"), "{err}");
    }

    #[test]
    fn a_checkpoint_signed_by_another_key_is_refused() {
        let (records, tree, _signer, note) = log(10);
        let other = NoteSigner::generate("test.local/log").expect("key");
        let m = manifest(&records, &tree, &note, 1, 10);
        let err =
            verify_manifest(&m, lines(&records, 1, 10).as_slice(), Some(&other.verifier())).expect_err("key");
        assert!(matches!(err, ArchiveError::Checkpoint(_)), "{err}");
        // Without a key only the shape is read, and the proof still holds.
        assert!(
            !verify_manifest(&m, lines(&records, 1, 10).as_slice(), None)
                .expect("unsigned")
                .signature_checked
        );
    }

    #[test]
    fn missing_and_extra_records_are_named() {
        let (records, tree, _s, note) = log(10);
        let m = manifest(&records, &tree, &note, 3, 8);
        let err = verify_manifest(&m, lines(&records, 3, 7).as_slice(), None).expect_err("short");
        assert!(matches!(err, ArchiveError::RecordsFile(_)), "{err}");
        let err = verify_manifest(&m, lines(&records, 3, 9).as_slice(), None).expect_err("long");
        assert!(matches!(err, ArchiveError::RecordsFile(_)), "{err}");
        let err = verify_manifest(&m, lines(&records, 4, 8).as_slice(), None).expect_err("shifted");
        assert!(matches!(err, ArchiveError::Record { seq: 3, .. }), "{err}");
    }
}
