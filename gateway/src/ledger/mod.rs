//! Tamper evidence: canonical record bytes, the RFC 6962 Merkle tree over the log, signed
//! checkpoints and the verifier that names the first damaged record.
//!
//! Everything here is independent of sled: the store feeds it bytes and keeps what it
//! produces (see `store::chain`), and the offline verifier reads the same files.

pub mod archive;
pub mod bundle;
pub mod checkpoint;
pub mod jcs;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod verify;
