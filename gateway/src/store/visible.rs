//! What readers may see: the counters of the last durable group commit.
//!
//! The writer puts a batch into the trees before it is flushed; readers skip anything
//! numbered above these counters, so a query never returns a record that a crash could
//! still take away.

use std::sync::atomic::{AtomicU64, Ordering};

use super::trees::Counters;

/// The last durable `seq`, alert id and quarantine id, shared by the writer and readers.
#[derive(Debug, Default)]
pub(crate) struct Visible {
    seq: AtomicU64,
    alert: AtomicU64,
    quarantine: AtomicU64,
}

impl Visible {
    /// Counters starting at `c`.
    pub(crate) fn new(c: Counters) -> Visible {
        Visible {
            seq: AtomicU64::new(c.seq),
            alert: AtomicU64::new(c.alert),
            quarantine: AtomicU64::new(c.quarantine),
        }
    }

    /// Publishes a durable commit (called by the writer after the fsync).
    pub(crate) fn publish(&self, c: Counters) {
        self.alert.store(c.alert, Ordering::Release);
        self.quarantine.store(c.quarantine, Ordering::Release);
        self.seq.store(c.seq, Ordering::Release);
    }

    /// Last durable `seq`.
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Last durable alert id.
    pub(crate) fn alert(&self) -> u64 {
        self.alert.load(Ordering::Acquire)
    }

    /// Last durable quarantine id.
    pub(crate) fn quarantine(&self) -> u64 {
        self.quarantine.load(Ordering::Acquire)
    }
}
