//! Making a sled flush reach the disk.
//!
//! sled 0.34's `flush()` writes its log with `sync_file_range`, which neither flushes the
//! drive's write cache nor the file's metadata (sled #1351, #1452). After each flush the
//! writer therefore calls [`DiskSync::sync`]: one `fsync` of sled's data file `db`, plus
//! an `fsync` of any new file in `blobs/` (sled writes values too big for its log there
//! without syncing them) and of that directory.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// Open handles for fsyncing what sled writes under the data directory.
#[derive(Debug)]
pub(crate) struct DiskSync {
    db_file: File,
    blobs_dir: PathBuf,
    synced_blobs: HashSet<OsString>,
}

impl DiskSync {
    /// Opens `<data_dir>/db` (sled must have created it already) and syncs the directory
    /// entries sled created.
    pub(crate) fn open(data_dir: &Path) -> Result<DiskSync, StoreError> {
        let db_file = OpenOptions::new().read(true).write(true).open(data_dir.join("db"))?;
        let mut sync = DiskSync { db_file, blobs_dir: data_dir.join("blobs"), synced_blobs: HashSet::new() };
        sync.sync()?;
        sync_dir(data_dir)?;
        Ok(sync)
    }

    /// fsyncs the data file and any blob file not synced yet.
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        self.db_file.sync_all()?;
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut present = HashSet::new();
        let mut new_files = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !self.synced_blobs.contains(&name) {
                match File::open(entry.path()) {
                    Ok(f) => f.sync_all()?,
                    // sled removed it meanwhile (garbage collection): nothing to sync.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                }
                new_files = true;
            }
            present.insert(name);
        }
        if new_files {
            sync_dir(&self.blobs_dir)?;
        }
        self.synced_blobs = present;
        Ok(())
    }
}

/// fsyncs a directory, so that the files created in it survive a power loss.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
