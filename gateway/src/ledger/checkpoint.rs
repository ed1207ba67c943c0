//! Checkpoints: the C2SP `tlog-checkpoint` body (origin, tree size, base64 root) with one
//! extension line that numbers the checkpoint and links it to the previous one, so that
//! checkpoints removed from a copy are a visible gap rather than silence.
//!
//! ```text
//! <origin>
//! <size>
//! <base64 root>
//! auditgate-checkpoint <number> <base64 SHA-256 of the previous checkpoint's body>
//! ```
//!
//! A checkpoint file holds signed notes one after another, each followed by a blank line.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use super::merkle::Hash;
use super::note::{self, NoteError};

/// The extension line's keyword.
const EXTENSION: &str = "auditgate-checkpoint";

/// A checkpoint that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Format(String),
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// One checkpoint's content (what is signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name (`[checkpoints] origin`).
    pub origin: String,
    /// Number of records covered.
    pub size: u64,
    /// RFC 6962 root of the first `size` records.
    pub root: Hash,
    /// 1 for the first checkpoint of a log, then +1 each.
    pub number: u64,
    /// SHA-256 of the previous checkpoint's body; zeros for the first.
    pub prev: Hash,
}

impl Checkpoint {
    /// The note body, each line ending in `\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n{EXTENSION} {} {}\n",
            self.origin,
            self.size,
            B64.encode(self.root),
            self.number,
            B64.encode(self.prev)
        )
    }

    /// SHA-256 of the body: what the next checkpoint's `prev` holds.
    pub fn body_hash(&self) -> Hash {
        Sha256::digest(self.body().as_bytes()).into()
    }

    /// Reads a note body.
    pub fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |m: &str| CheckpointError::Format(m.to_string());
        let mut lines =
            body.strip_suffix('\n').ok_or_else(|| bad("the body does not end in a newline"))?.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| bad("no origin line"))?;
        let size = lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("the second line is not a tree size"))?;
        let root = lines
            .next()
            .and_then(|s| B64.decode(s).ok())
            .and_then(|b| <Hash>::try_from(b).ok())
            .ok_or_else(|| bad("the third line is not a base64 SHA-256 root"))?;
        let ext = lines.next().ok_or_else(|| bad(&format!("no {EXTENSION} line")))?;
        let mut words = ext.split(' ');
        let (Some(EXTENSION), Some(number), Some(prev), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(bad(&format!("expected `{EXTENSION} <number> <base64 hash>`, got {ext:?}")));
        };
        let number = number.parse::<u64>().map_err(|_| bad("the checkpoint number is not a number"))?;
        let prev = B64
            .decode(prev)
            .ok()
            .and_then(|b| <Hash>::try_from(b).ok())
            .ok_or_else(|| bad("the previous checkpoint hash is not base64 SHA-256"))?;
        if lines.next().is_some() {
            return Err(bad("unexpected lines after the extension line"));
        }
        Ok(Checkpoint { origin: origin.to_string(), size, root, number, prev })
    }

    /// Reads a signed note's body without checking the signature.
    pub fn parse_note_unverified(note: &str) -> Result<Checkpoint, CheckpointError> {
        let (body, _) = note::split_note(note)?;
        Self::parse_body(body)
    }
}

/// The text appended to a checkpoint file for one signed note.
pub fn file_entry(note: &str) -> String {
    format!("{note}\n")
}

/// Splits a checkpoint file into its notes (in file order).
pub fn split_file(text: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let mut current = String::new();
    let mut in_sigs = false;
    for line in text.split_inclusive('\n') {
        if line == "\n" {
            if current.is_empty() {
                // Blank lines between notes only separate them; they are not a note.
                continue;
            }
            if in_sigs {
                if !current.is_empty() {
                    notes.push(std::mem::take(&mut current));
                }
                in_sigs = false;
            } else {
                current.push_str(line);
                in_sigs = true;
            }
            continue;
        }
        current.push_str(line);
    }
    if !current.trim().is_empty() {
        notes.push(current);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::note::NoteSigner;

    fn cp(number: u64, size: u64) -> Checkpoint {
        Checkpoint {
            origin: "example.org/audit".into(),
            size,
            root: [7; 32],
            number,
            prev: [number as u8; 32],
        }
    }

    #[test]
    fn body_round_trips_and_follows_c2sp() {
        let c = cp(3, 1000);
        let body = c.body();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], "example.org/audit");
        assert_eq!(lines[1], "1000");
        assert_eq!(B64.decode(lines[2]).expect("b64"), vec![7u8; 32]);
        assert_eq!(Checkpoint::parse_body(&body).expect("parses"), c);
        assert!(Checkpoint::parse_body("o\n12\nAAAA\n").is_err());
    }

    #[test]
    fn blank_lines_between_notes_are_not_notes() {
        // Found by fuzz/checkpoint_parse: after a note, a run of blank lines became a note of
        // one "\n", which `auditgate verify` reported as a checkpoint with a bad signature.
        let s = NoteSigner::generate("example.org/audit").expect("key");
        let notes: Vec<String> = (1..=2).map(|n| s.sign(&cp(n, n * 10).body())).collect();
        let file = format!("\n\n{}\n\n\n\n{}\n\n\n", notes[0], notes[1]);
        assert_eq!(split_file(&file), notes);

        let fuzzed = format!(
            "fuzz.exhhhhhhhhhhample/log+0c419003+AXbD+f9{}Jxo0QWXPSShrfPMMVK+gvwlxvhgYDj/3PFwI2",
            "\n".repeat(38)
        );
        let split = split_file(&fuzzed);
        assert_eq!(split.len(), 2, "{split:?}");
        assert!(split.iter().all(|n| !n.trim().is_empty()), "{split:?}");
    }

    #[test]
    fn a_file_of_notes_splits_back() {
        let s = NoteSigner::generate("example.org/audit").expect("key");
        let notes: Vec<String> = (1..=3).map(|n| s.sign(&cp(n, n * 10).body())).collect();
        let file: String = notes.iter().map(|n| file_entry(n)).collect();
        assert_eq!(split_file(&file), notes);
        for (n, note) in notes.iter().enumerate() {
            assert_eq!(Checkpoint::parse_note_unverified(note).expect("parses").number, n as u64 + 1);
            assert!(s.verifier().open(note).is_ok());
        }
    }
}
