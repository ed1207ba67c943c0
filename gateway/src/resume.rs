//! Resuming ingest in place after the store stopped being able to write (a full disk).
//!
//! sled keeps the I/O error of a failed flush for the life of the open database: every
//! later write fails with it, even once space is back. So while the writer is failing,
//! the gateway probes its data directory; once a probe write succeeds, the current
//! serving round ends (requests in flight finish, the listening socket stays open and
//! new connections wait in its backlog), the store is closed and opened again (its
//! recovery drops anything past the last commit marker, so `seq` goes on without a
//! gap), and a new round starts with the policy set that was in service.
//!
//! A disk that fills again right away would make that a loop; resumes closer together
//! than [`CALM`] double the wait before the next probe, up to [`MAX_WAIT`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::store::WriteHealth;

/// How often the data directory is probed while the store cannot write (the first wait).
pub const PROBE_EVERY: Duration = Duration::from_secs(2);
/// Resumes further apart than this start again from [`PROBE_EVERY`].
pub const CALM: Duration = Duration::from_secs(60);
/// The longest wait between probes after repeated resumes.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// Bytes a probe writes and fsyncs: two of sled's default 512 KiB log segments. A probe
/// that fits shows the file system takes writes again, not that any batch will fit; a
/// disk that fills again at once is what [`Backoff`] is for.
pub const PROBE_BYTES: usize = 1 << 20;
/// The probe file, in the data directory; removed after each probe.
const PROBE_FILE: &str = "auditgate-write-probe";

/// The probe interval across rounds: doubles while resumes come in quick succession.
#[derive(Debug)]
pub struct Backoff {
    last_resume: Option<Instant>,
    wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { last_resume: None, wait: PROBE_EVERY }
    }
}

impl Backoff {
    /// The probe interval for the round about to start.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// A resume is happening now.
    pub fn resumed(&mut self) {
        let now = Instant::now();
        self.wait = match self.last_resume {
            Some(last) if now.duration_since(last) < CALM => (self.wait * 2).min(MAX_WAIT),
            _ => PROBE_EVERY,
        };
        self.last_resume = Some(now);
    }
}

/// Resolves once the store is failing and `data_dir` takes a probe write again; checks
/// every `every`. Never resolves while the store writes.
pub async fn writable_again(health: WriteHealth, data_dir: PathBuf, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if health.failure().is_none() {
            continue;
        }
        let dir = data_dir.clone();
        let probed = tokio::task::spawn_blocking(move || probe(&dir)).await;
        match probed {
            Ok(Ok(())) => return,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, dir = %data_dir.display(), "the data directory still cannot be written")
            }
            Err(e) => tracing::warn!(error = %e, "the write probe did not run"),
        }
    }
}

/// Writes, fsyncs and removes [`PROBE_BYTES`] in `dir`.
pub fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(PROBE_FILE);
    let written = (|| {
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&vec![0u8; PROBE_BYTES])?;
        file.sync_all()
    })();
    let removed = std::fs::remove_file(&path);
    written?;
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_for_quick_resumes_and_caps() {
        let mut b = Backoff::default();
        assert_eq!(b.wait(), PROBE_EVERY);
        b.resumed();
        assert_eq!(b.wait(), PROBE_EVERY, "the first resume keeps the base interval");
        b.resumed();
        assert_eq!(b.wait(), PROBE_EVERY * 2, "a second one within a minute doubles it");
        for _ in 0..20 {
            b.resumed();
        }
        assert_eq!(b.wait(), MAX_WAIT);
    }

    #[test]
    fn a_probe_leaves_nothing_behind_and_fails_on_a_missing_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        probe(dir.path()).expect("probe");
        assert_eq!(std::fs::read_dir(dir.path()).expect("read dir").count(), 0);
        assert!(probe(&dir.path().join("missing")).is_err());
    }
}
