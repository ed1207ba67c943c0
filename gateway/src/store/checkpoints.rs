//! Signed checkpoints of the log, made by the writer thread: every `every_events` records,
//! after `every` has passed with new records, and at close. Each is kept in the
//! `checkpoints` tree (number → signed note) and then appended to a file outside sled's
//! directory, so that a copy survives whoever rewrites the data directory.

use std::io::Write;
use std::path::PathBuf;
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
