//! Signed checkpoints of the log, made by the writer thread: every `every_events` records,
//! after `every` has passed with new records, and at close. Each is kept in the
//! `checkpoints` tree (number → signed note) and then appended to a file outside sled's
//! directory, so that a copy survives whoever rewrites the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::ledger::checkpoint::{self, Checkpoint};
use crate::ledger::merkle::Hash;
use crate::ledger::note::NoteSigner;

use crate::witness::WitnessSender;

use super::durability::DiskSync;
use super::error::StoreError;
use super::keys::u64_key;
use super::trees::Trees;

/// When and how the store signs checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointOptions {
    /// Signs the notes; its name is the signature line's name.
    pub signer: NoteSigner,
    /// The log's name, the first line of every checkpoint.
    pub origin: String,
    /// A checkpoint after at most this many new records.
    pub every_events: u64,
    /// A checkpoint when new records are this old.
    pub every: Duration,
    /// The file every checkpoint is appended to (outside the data directory).
    pub file: Option<PathBuf>,
    /// Where new checkpoints go to be POSTed to the witnesses (never blocks).
    pub witness: Option<WitnessSender>,
}

/// The writer's checkpoint state.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    opts: CheckpointOptions,
    last: Option<Checkpoint>,
    last_at: Instant,
}

impl Checkpointer {
    /// Continues after the last stored checkpoint.
    pub(crate) fn open(trees: &Trees, opts: CheckpointOptions) -> Result<Checkpointer, StoreError> {
        let last = match trees.checkpoints.last()? {
            None => None,
            Some((_, note)) => {
                let text = std::str::from_utf8(&note)
                    .map_err(|_| StoreError::Corrupt("a stored checkpoint is not UTF-8".into()))?;
                Some(
                    Checkpoint::parse_note_unverified(text)
                        .map_err(|e| StoreError::Corrupt(format!("the last stored checkpoint: {e}")))?,
                )
            }
        };
        if let (Some(path), Some(last)) = (&opts.file, &last) {
            catch_up_file(trees, path, last.number)?;
        }
        Ok(Checkpointer { opts, last, last_at: Instant::now() })
    }

    fn last_size(&self) -> u64 {
        self.last.as_ref().map_or(0, |c| c.size)
    }

    /// True when `size` records call for a checkpoint by count.
    pub(crate) fn due_by_count(&self, size: u64) -> bool {
        size > self.last_size() && size - self.last_size() >= self.opts.every_events
    }

    /// When the next timed checkpoint is due (none while nothing new was written).
    pub(crate) fn deadline(&self, size: u64) -> Option<Instant> {
        (size > self.last_size()).then(|| self.last_at + self.opts.every)
    }

    /// Signs and keeps a checkpoint of the first `size` records (root `root`), unless the
    /// last one already covers them. The sled copy is flushed before the file copy is
    /// written, so numbers are never handed out twice.
    pub(crate) fn make(
        &mut self,
        db: &sled::Db,
        trees: &Trees,
        sync: &mut DiskSync,
        size: u64,
        root: Hash,
    ) -> Result<(), StoreError> {
        self.last_at = Instant::now();
        if size <= self.last_size() {
            return Ok(());
        }
        let (number, prev) = match &self.last {
            Some(c) => (c.number + 1, c.body_hash()),
            None => (1, [0; 32]),
        };
        let cp = Checkpoint { origin: self.opts.origin.clone(), size, root, number, prev };
        let note = self.opts.signer.sign(&cp.body());
        trees.checkpoints.insert(u64_key(number), note.as_bytes())?;
        db.flush()?;
        sync.sync()?;
        self.last = Some(cp);
        if let Some(path) = &self.opts.file {
            let appended =
                std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| {
                    f.write_all(checkpoint::file_entry(&note).as_bytes())?;
                    f.sync_data()
                });
            if let Err(e) = appended {
                tracing::error!(file = %path.display(), error = %e, "cannot append the checkpoint to the file");
            }
        }
        if let Some(w) = &self.opts.witness {
            w.send(&note);
        }
        tracing::debug!(size, number, "checkpoint signed");
        Ok(())
    }
}

/// Brings the checkpoint file up to sled's last checkpoint (`last`): a checkpoint is made
/// durable in sled before it is appended to the file, so a crash between the two leaves
/// the file one behind, and the next checkpoint would look like a gap to a verifier.
/// Checkpoints the file lacks are appended from sled, in order; a torn last entry (a crash
/// during the append) is cut off first. A file with no checkpoint yet starts with the next
/// one, as always; a file ahead of sled is left alone (and reported).
fn catch_up_file(trees: &Trees, path: &Path, last: u64) -> Result<(), StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(file_error(path, e)),
    };
    // Each entry is a note followed by a blank line.
    let complete = if text.is_empty() || text.ends_with("\n\n") {
        text.len()
    } else {
        text.rfind("\n\n").map_or(0, |i| i + 2)
    };
    let in_file = checkpoint::split_file(&text[..complete])
        .last()
        .and_then(|note| Checkpoint::parse_note_unverified(note).ok())
        .map(|c| c.number);
    let Some(in_file) = in_file else { return Ok(()) };
    if in_file > last {
        tracing::error!(
            file = %path.display(),
            in_file,
            in_store = last,
            "the checkpoint file is ahead of the store: the data directory may have been rolled back"
        );
        return Ok(());
    }
    if in_file == last && complete == text.len() {
        return Ok(());
    }
    let file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| file_error(path, e))?;
    if complete < text.len() {
        tracing::warn!(file = %path.display(), bytes = text.len() - complete, "cutting off a torn checkpoint entry");
        file.set_len(complete as u64).map_err(|e| file_error(path, e))?;
    }
    let mut appended = 0u64;
    let mut out = std::io::BufWriter::new(file);
    std::io::Seek::seek(&mut out, std::io::SeekFrom::End(0)).map_err(|e| file_error(path, e))?;
    for item in trees.checkpoints.range(u64_key(in_file + 1)..=u64_key(last)) {
        let (_, note) = item?;
        let note = std::str::from_utf8(&note)
            .map_err(|_| StoreError::Corrupt("a stored checkpoint is not UTF-8".into()))?;
        out.write_all(checkpoint::file_entry(note).as_bytes()).map_err(|e| file_error(path, e))?;
        appended += 1;
    }
    let file = out.into_inner().map_err(|e| file_error(path, e.into_error()))?;
    file.sync_data().map_err(|e| file_error(path, e))?;
    if appended > 0 {
        tracing::info!(file = %path.display(), appended, "checkpoint file caught up with the store");
    }
    Ok(())
}

fn file_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::from(std::io::Error::new(e.kind(), format!("checkpoint file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::note::NoteSigner;

    #[test]
    fn a_file_left_behind_by_a_crash_is_caught_up_and_a_torn_entry_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new().path(dir.path().join("db")).open().expect("sled");
        let trees = Trees::open(&db).expect("trees");
        let signer = NoteSigner::generate("test.example/log").expect("a key");
        let notes: Vec<String> = (1..=4u64)
            .map(|n| {
                let cp = Checkpoint {
                    origin: "test.example/log".into(),
                    size: n * 10,
                    root: [n as u8; 32],
                    number: n,
                    prev: [0; 32],
                };
                signer.sign(&cp.body())
            })
            .collect();
        for (i, note) in notes.iter().enumerate() {
            trees.checkpoints.insert(u64_key(i as u64 + 1), note.as_bytes()).expect("insert");
        }
        let file = dir.path().join("checkpoints.txt");
        // The file got #1 and half of #2 before the crash.
        let torn = &notes[1][..notes[1].len() / 2];
        std::fs::write(&file, format!("{}{torn}", checkpoint::file_entry(&notes[0]))).expect("write");
        catch_up_file(&trees, &file, 4).expect("caught up");
        let text = std::fs::read_to_string(&file).expect("read");
        let numbers: Vec<u64> = checkpoint::split_file(&text)
            .iter()
            .map(|n| Checkpoint::parse_note_unverified(n).expect("a whole note").number)
            .collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
        // Up to date: nothing changes; no file or an empty one: nothing is written.
        catch_up_file(&trees, &file, 4).expect("no-op");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), text);
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "").expect("write");
        catch_up_file(&trees, &empty, 4).expect("no-op");
        assert_eq!(std::fs::read_to_string(&empty).expect("read"), "");
        catch_up_file(&trees, &dir.path().join("missing.txt"), 4).expect("no-op");
    }
}
