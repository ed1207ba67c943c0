//! Single-record proof bundles: one stored record, its RFC 6962 inclusion proof and the
//! signed checkpoint the proof is against. `GET /v1/events/{seq}/proof` answers with one;
//! `auditgate proof verify` checks it with the log's public key alone (no server, no data).
//!
//! ```json
//! {"seq": 2, "leaf_index": 1, "tree_size": 6, "record": {...},
//!  "proof": ["<base64 hash>", ...], "checkpoint": "<signed note>"}
//! ```
//!
//! The record is stored as RFC 8785 canonical JSON, so its canonical form is the exact
//! leaf data: the verifier re-canonicalizes `record` and hashes it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::checkpoint::Checkpoint;
use super::jcs;
use super::merkle::{self, Hash};
use super::note::NoteVerifier;

/// One record with the proof that it is in the signed log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// The record's `seq` (1-based).
    pub seq: u64,
    /// Its leaf index in the tree: `seq - 1`.
    pub leaf_index: u64,
    /// The size of the tree the proof is for: the checkpoint's size.
    pub tree_size: u64,
    /// The stored record.
    #[schema(value_type = crate::http::openapi::StoredEvent)]
    pub record: Map<String, Value>,
    /// The audit path, nearest sibling first, base64.
    pub proof: Vec<String>,
    /// The signed checkpoint (C2SP signed note) of size `tree_size`.
    pub checkpoint: String,
}

/// Why a bundle does not prove its record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle is not valid: {0}")]
    Malformed(String),
    #[error("signature invalid: {0}")]
    Signature(String),
    #[error(
        "the inclusion proof does not lead to the checkpoint's root: the record or the proof was changed"
    )]
    Proof,
}

/// What a valid bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The record's `seq`.
    pub seq: u64,
    /// The checkpoint's origin, size and number.
    pub origin: String,
    pub tree_size: u64,
    pub checkpoint_number: u64,
}

impl ProofBundle {
    /// Builds the bundle of record bytes `record` (as stored) at `seq`.
    pub fn new(
        seq: u64,
        record: &[u8],
        proof: &[Hash],
        checkpoint: &str,
    ) -> Result<ProofBundle, BundleError> {
        let cp = Checkpoint::parse_note_unverified(checkpoint)
            .map_err(|e| BundleError::Malformed(e.to_string()))?;
        let record = match serde_json::from_slice::<Value>(record) {
            Ok(Value::Object(m)) => m,
            _ => return Err(BundleError::Malformed("the stored record is not a JSON object".into())),
        };
        Ok(ProofBundle {
            seq,
            leaf_index: seq.wrapping_sub(1),
            tree_size: cp.size,
            record,
            proof: proof.iter().map(|h| B64.encode(h)).collect(),
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Reads a bundle from its JSON text.
    pub fn parse(text: &[u8]) -> Result<ProofBundle, BundleError> {
        serde_json::from_slice(text).map_err(|e| BundleError::Malformed(e.to_string()))
    }

    /// Checks the checkpoint's signature with `key`, that the bundle's numbers agree with
    /// each other and with the record, and the inclusion proof against the signed root.
    pub fn verify(&self, key: &NoteVerifier) -> Result<Proven, BundleError> {
        let bad = |m: String| BundleError::Malformed(m);
        let body = key.open(&self.checkpoint).map_err(|e| BundleError::Signature(e.to_string()))?;
        let cp = Checkpoint::parse_body(body).map_err(|e| BundleError::Signature(e.to_string()))?;
        if self.seq == 0 || self.leaf_index != self.seq - 1 {
            return Err(bad(format!("leaf_index {} is not seq {} - 1", self.leaf_index, self.seq)));
        }
        if self.tree_size != cp.size {
            return Err(bad(format!(
                "tree_size {} is not the checkpoint's size {}",
                self.tree_size, cp.size
            )));
        }
        if self.record.get("seq").and_then(Value::as_u64) != Some(self.seq) {
            return Err(bad(format!("the record's own `seq` is not {}", self.seq)));
        }
        let mut path = Vec::with_capacity(self.proof.len());
        for (i, p) in self.proof.iter().enumerate() {
            let h = B64
                .decode(p)
                .ok()
                .and_then(|b| <Hash>::try_from(b).ok())
                .ok_or_else(|| bad(format!("proof[{i}] is not a base64 SHA-256 hash")))?;
            path.push(h);
        }
        let bytes = jcs::object_to_vec(&self.record).map_err(|e| bad(format!("the record: {e}")))?;
        let leaf = merkle::leaf_hash(&bytes);
        if !merkle::verify_inclusion(self.leaf_index, cp.size, &leaf, &path, &cp.root) {
            return Err(BundleError::Proof);
        }
        Ok(Proven { seq: self.seq, origin: cp.origin, tree_size: cp.size, checkpoint_number: cp.number })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::merkle::MemoryTree;
    use crate::ledger::note::NoteSigner;
    use serde_json::json;

    fn log(n: u64) -> (Vec<Vec<u8>>, MemoryTree) {
        let mut prev = [0u8; 32];
        let mut tree = MemoryTree::default();
        let mut out = Vec::new();
        for seq in 1..=n {
            let v = json!({"seq": seq, "prev": hex::encode(prev), "user": format!("ü-{seq}"), "n": 1.5e300});
            let bytes = jcs::to_vec(&v).expect("jcs");
            prev = merkle::leaf_hash(&bytes);
            tree.push(prev);
            out.push(bytes);
        }
        (out, tree)
    }

    fn bundle(seq: u64) -> (ProofBundle, NoteSigner) {
        let (records, tree) = log(11);
        let signer = NoteSigner::generate("example.org/log").expect("key");
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 11,
            root: tree.root(),
            number: 4,
            prev: [3; 32],
        };
        let note = signer.sign(&cp.body());
        let proof = merkle::inclusion_proof(&tree, seq - 1, 11).expect("source").expect("range");
        (ProofBundle::new(seq, &records[seq as usize - 1], &proof, &note).expect("bundle"), signer)
    }

    #[test]
    fn a_bundle_verifies_and_survives_a_json_round_trip() {
        for seq in [1, 6, 11] {
            let (b, signer) = bundle(seq);
            let text = serde_json::to_vec_pretty(&b).expect("json");
            let again = ProofBundle::parse(&text).expect("parses");
            let proven = again.verify(&signer.verifier()).expect("valid");
            assert_eq!((proven.seq, proven.tree_size, proven.checkpoint_number), (seq, 11, 4));
        }
    }

    #[test]
    fn changes_are_refused_with_their_reason() {
        let (b, signer) = bundle(6);
        let key = signer.verifier();
        let mut changed = b.clone();
        changed.record.insert("user".into(), json!("mallory"));
        assert_eq!(changed.verify(&key), Err(BundleError::Proof));
        let mut moved = b.clone();
        moved.seq = 7;
        moved.leaf_index = 6;
        assert!(matches!(moved.verify(&key), Err(BundleError::Malformed(_))));
        let mut resigned = b.clone();
        resigned.checkpoint = resigned.checkpoint.replacen("\n11\n", "\n12\n", 1);
        assert!(matches!(resigned.verify(&key), Err(BundleError::Signature(_))));
        let other = NoteSigner::generate("example.org/log").expect("key").verifier();
        assert!(matches!(b.verify(&other), Err(BundleError::Signature(_))));
        let mut short = b;
        short.proof.pop();
        assert_eq!(short.verify(&key), Err(BundleError::Proof));
    }
}
