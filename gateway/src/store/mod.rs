//! The durable audit log on sled: one writer thread with group commit, secondary indexes,
//! queries, idempotency, alerts and quarantine.
//!
//! The rest of the gateway uses [`Store`] and the vocabulary in [`api`] only. The layout
//! on disk is described in `trees.rs` (trees and values) and `keys.rs` (key bytes).

pub mod api;
pub use api::*;

mod alerts;
mod chain;
mod checkpoints;
mod cursor;
mod data_keys;
mod durability;
mod encryption;
mod erasure;
mod error;
mod holds;
mod idempotency;
mod indexes;
mod keys;
mod listing;
pub mod offline;
pub mod outbox;
mod proofs;
mod quarantine;
mod query;
mod record;
mod recovery;
mod retention;
mod rotation;
mod stats;
mod trees;
mod visible;
mod walk;
mod writer;

#[cfg(test)]
mod tests;

pub use checkpoints::CheckpointOptions;
pub use encryption::{DEFAULT_SEALED_FIELDS, ERASED, EncryptionOptions, UNSEALABLE_FIELDS};
pub use erasure::Erasure;
pub use error::StoreError;
pub use holds::{HoldError, HoldOrigin, HoldScope, LegalHold};
pub use outbox::{DeliveryState, OutboxEntry, OutboxOptions, OutboxSignal, OutboxSink};
pub use proofs::RangeCheck;
pub use retention::{Progress, RetentionError, RetentionPolicy, RetentionReport, SegmentWritten, Stopped};
pub use rotation::Rotation;
pub use stats::{
    ActionMatch, ActivityRow, FieldCounts, HOUR_MICROS, SEALED, StatsBy, StatsQuery, StatsResult,
};
pub use writer::FAILURE_RULE;

use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

use durability::DiskSync;
use encryption::Sealing;
use idempotency::{IdEntry, Window, now_micros};
use keys::u64_key;
use record::RecordEncoder;
use trees::{Counters, Trees};
use visible::Visible;
use writer::{Batching, Request, Writer, WriterHealth};

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled's directory: it holds sled's data file `db`, its `conf`, `blobs/` and
    /// `snap.*` snapshots.
    pub data_dir: PathBuf,
    /// sled page cache size in bytes.
    pub cache_capacity_bytes: u64,
    /// Extra time the writer may wait to gather a bigger group commit (0: none).
    pub flush_linger: Duration,
    /// How long a client `id` makes later events with the same `id` duplicates, counted
    /// from the first one's received time.
    pub idempotency_window: Duration,
    /// Most events in one group commit (a single bigger `append` still goes in one).
    pub max_batch_events: usize,
    /// Signed checkpoints; `None`: none are made.
    pub checkpoints: Option<CheckpointOptions>,
    /// Encryption at rest of personal fields; `None`: the store is plain. Must match
    /// how the store was created (a marker in sled says which).
    pub encryption: Option<EncryptionOptions>,
}

/// The audit log. Cheap to clone (all clones share one database and one writer).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    trees: Trees,
    visible: Arc<Visible>,
    window: Window,
    sealing: Option<Arc<Sealing>>,
    sender: Mutex<Option<Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Whether the writer's last group commit failed.
    health: Arc<WriterHealth>,
    /// Pending outbox entries of the configured sinks.
    backlog: Arc<outbox::Backlog>,
    /// Wakes the delivery workers.
    signal: Arc<OutboxSignal>,
    /// The `stats` tree, filled by `indexer` after the writer.
    rollups: Arc<stats::Rollups>,
    indexer: stats::Indexer,
    /// sled's directory (fsyncs outside the writer: key rotation, retention).
    data_dir: PathBuf,
    /// `[[legal_hold]]` from the config.
    config_holds: RwLock<Vec<LegalHold>>,
    /// One retention run at a time.
    retention: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("count", &self.count()).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating when missing) the store in `opts.data_dir`, removes what an
    /// interrupted group commit left behind, and starts the writer thread.
    ///
    /// Start-up cost does not grow with the log: the next `seq` comes from the commit
    /// marker and the last key of the log tree.
    pub fn open(opts: &StoreOptions) -> Result<Store, StoreError> {
        Store::open_with_outbox(opts, OutboxOptions::default())
    }

    /// [`Store::open`] with alert sinks: every alert committed from now on gets one
    /// outbox entry per sink whose minimum severity it reaches, in the alert's own group
    /// commit; the delivery workers wait on `outbox.signal`.
    pub fn open_with_outbox(opts: &StoreOptions, outbox: OutboxOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(&opts.data_dir)?;
        let db = open_sled(opts)?;
        let trees = Trees::open(&db)?;
        let mut sync = DiskSync::open(&opts.data_dir)?;
        let sealing = encryption::open(&db, &trees, opts.encryption.as_ref(), &opts.data_dir)?.map(Arc::new);
        let committed = recover(&db, &trees, &mut sync, sealing.as_deref())?;
        if sealing.is_some() {
            // A new encrypted store's marker and index key, before anything is sealed.
            db.flush()?;
            sync.sync()?;
        }

        outbox::discard_above(&trees.outbox, committed.alert)?;
        let backlog = Arc::new(outbox::Backlog::default());
        backlog.add(outbox::count_pending(&trees.outbox, &outbox.sinks, committed.alert)?);
        let signal = outbox.signal.clone();

        let visible = Arc::new(Visible::new(committed));
        let window = Window::new(opts.idempotency_window);
        let (tx, rx) = mpsc::channel();
        let health = Arc::new(WriterHealth::default());
        let writer = Writer {
            db: db.clone(),
            trees: trees.clone(),
            sync,
            visible: visible.clone(),
            committed,
            encoder: RecordEncoder::new(chain::head_at(&trees, committed.seq)?),
            tree: chain::TreeState::load(&trees, committed.seq)?,
            checkpoints: match &opts.checkpoints {
                Some(c) => Some(checkpoints::Checkpointer::open(&trees, c.clone())?),
                None => None,
            },
            window,
            batching: Batching { max_events: opts.max_batch_events, linger: opts.flush_linger },
            sealing: sealing.clone(),
            health: health.clone(),
            outbox,
            backlog: backlog.clone(),
        };
        let handle = writer.spawn(rx)?;
        let rollups = Arc::new(stats::Rollups::open(&db, trees.clone(), visible.clone(), sealing.clone())?);
        let indexer = stats::Indexer::spawn(rollups.clone())?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                trees,
                visible,
                window,
                sealing,
                sender: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                health,
                backlog,
                signal,
                rollups,
                indexer,
                data_dir: opts.data_dir.clone(),
                config_holds: RwLock::new(Vec::new()),
                retention: Mutex::new(()),
            }),
        })
    }

    /// Appends `items` and resolves once they are on disk (flushed and fsynced), with one
    /// outcome per item in the same order. Records get consecutive `seq`s in arrival
    /// order; a record whose client `id` was stored within the idempotency window is
    /// answered with the first `seq` and stores nothing.
    ///
    /// An error means none of the items is acknowledged (the whole group commit failed,
    /// or this request was refused alone with [`StoreError::InvalidInput`]).
    pub async fn append(&self, items: Vec<Pending>) -> Result<Vec<AppendOutcome>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        {
            let sender = self.inner.sender.lock().unwrap_or_else(PoisonError::into_inner);
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            let n = items.len();
            // Counted before the send: the writer's decrement never comes first.
            crate::metrics::global().queued(n);
            if sender.send(Request { items, reply }).is_err() {
                crate::metrics::global().dequeued(n);
                return Err(StoreError::Closed);
            }
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The `seq` of the durable record stored with client `id` within the idempotency
    /// window (counted to now). A cheap pre-check; the writer decides authoritatively.
    pub fn lookup_client_id(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let Some(entry) = IdEntry::read(&self.inner.trees.ids, id)? else { return Ok(None) };
        let live = entry.seq <= self.inner.visible.seq() && self.inner.window.covers(entry, now_micros());
        Ok(live.then_some(entry.seq))
    }

    /// The durable record at `seq` as a JSON object: the event fields plus `seq`,
    /// `received_at`, `source`, `policy_set`, `redacted` and `tags`.
    pub fn get(&self, seq: u64) -> Result<Option<Value>, StoreError> {
        if seq == 0 || seq > self.inner.visible.seq() || seq < self.inner.trees.retained_from()? {
            return Ok(None);
        }
        match self.inner.trees.log.get(u64_key(seq))? {
            Some(bytes) => {
                let mut record = record::decode(&bytes)?;
                if let Some(s) = &self.inner.sealing {
                    s.open(&mut record, &format!("record {seq}"))?;
                }
                Ok(Some(Value::Object(record)))
            }
            None => Ok(None),
        }
    }

    /// One page of records matching `q`, in (event time, `seq`) order.
    /// A cursor this store did not hand out is [`StoreError::InvalidCursor`].
    pub fn query(&self, q: &EventQuery) -> Result<Page, StoreError> {
        query::run(&self.inner.trees, &self.inner.visible, self.inner.sealing.as_deref(), q)
    }

    /// One page of alerts matching `q`, in alert id order. Items:
    /// `{"id", "seq", "time", "policy", "rule", "severity", "summary", "labels": {k: v},
    /// "delivery": [{"sink", "state", "attempts", "last_error", "next_attempt"}]}`.
    pub fn alerts(&self, q: &AlertQuery) -> Result<Page, StoreError> {
        alerts::list(&self.inner.trees, &self.inner.visible, self.inner.sealing.as_deref(), q)
    }

    /// The durable alert `id` (sealed members opened), as `GET /v1/alerts` lists it
    /// without the `delivery` states.
    pub fn alert(&self, id: u64) -> Result<Option<Value>, StoreError> {
        if id == 0 || id > self.inner.visible.alert() {
            return Ok(None);
        }
        alerts::get(&self.inner.trees, self.inner.sealing.as_deref(), id)
    }

    /// The pending outbox entries of `sink` for committed alerts with id `>= from`,
    /// oldest first (the delivery worker's work list), and the last committed alert id
    /// the scan covered.
    pub fn outbox_pending(
        &self,
        sink: &str,
        from: u64,
    ) -> Result<(Vec<(u64, OutboxEntry)>, u64), StoreError> {
        let max = self.inner.visible.alert();
        Ok((outbox::open_entries(&self.inner.trees.outbox, sink, from, max)?, max))
    }

    /// Records a delivery attempt's outcome for (`alert`, `sink`): written only over a
    /// pending entry of a committed alert; the backlog shrinks when it becomes final.
    /// Not flushed ([`Store::outbox_flush`]): a lost update means one more delivery.
    pub fn outbox_update(&self, alert: u64, sink: &str, entry: &OutboxEntry) -> Result<(), StoreError> {
        if alert == 0 || alert > self.inner.visible.alert() {
            return Ok(());
        }
        self.inner.trees.outbox.insert(outbox::key(alert, sink), outbox::encode(entry)?)?;
        if entry.state != DeliveryState::Pending {
            self.inner.backlog.add(-1);
        }
        Ok(())
    }

    /// Flushes the delivery workers' outbox updates.
    pub fn outbox_flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// What the delivery workers wait on.
    pub fn outbox_signal(&self) -> Arc<OutboxSignal> {
        self.inner.signal.clone()
    }

    /// One page of quarantined events, oldest first. Items:
    /// `{"id", "received_at", "source", "policy", "error", "event": {...}}`.
    pub fn quarantine(&self, limit: usize, cursor: Option<&str>) -> Result<Page, StoreError> {
        quarantine::list(&self.inner.trees, &self.inner.visible, self.inner.sealing.as_deref(), limit, cursor)
    }

    /// `GET /v1/stats`: counts per bucket, totals, top lists and alerts from the hourly
    /// rollups (and the committed records the indexer has not counted yet), never by
    /// loading the period's events.
    pub fn stats(&self, q: &StatsQuery) -> Result<StatsResult, StoreError> {
        self.inner.rollups.stats(q, |seq| self.get(seq).ok().flatten())
    }

    /// Every (action, outcome) pair with events in the hours `[from, to)` (µs, whole
    /// hours), with the fields they carry: the compliance reports' evidence counts.
    pub fn activity(&self, from_micros: i64, to_micros: i64) -> Result<Vec<ActivityRow>, StoreError> {
        self.inner.rollups.activity(from_micros, to_micros)
    }

    /// The last `seq` the stats rollups have counted (the rest is counted per query).
    pub fn stats_high_water(&self) -> Result<u64, StoreError> {
        self.inner.rollups.high_water()
    }

    /// The `seq`s of the first and last event (in time order) with a time in
    /// `[from, to)` (µs), read from the time index: the span the reports verify.
    pub fn seq_span(&self, from_micros: i64, to_micros: i64) -> Result<Option<(u64, u64)>, StoreError> {
        let lo = keys::Position { time_micros: from_micros, seq: 0 }.to_bytes();
        let hi = keys::Position { time_micros: to_micros, seq: 0 }.to_bytes();
        let index = self.inner.trees.index(indexes::Index::Time);
        let visible = self.count();
        let seq_of =
            |item: Option<Result<(sled::IVec, sled::IVec), sled::Error>>| -> Result<Option<u64>, StoreError> {
                match item {
                    Some(kv) => Ok(Some(keys::Position::from_key_suffix(&kv?.0)?.seq)),
                    None => Ok(None),
                }
            };
        let mut range = index.range(lo..hi);
        let (Some(a), b) = (seq_of(range.next())?, seq_of(range.next_back())?) else { return Ok(None) };
        let b = b.unwrap_or(a);
        let (lo, hi) = (a.min(b), a.max(b).min(visible));
        Ok((lo <= hi).then_some((lo, hi)))
    }

    /// The sled database, for the policy host's own trees (`host_counters`, `host_state`)
    /// kept beside the store's; they must never touch the store's trees.
    pub fn sled_db(&self) -> &sled::Db {
        &self.inner.db
    }

    /// The error of the writer's last group commit, while no later one succeeded: the store
    /// cannot write (`/readyz`).
    pub fn write_failure(&self) -> Option<String> {
        self.inner.health.failure()
    }

    /// A handle on [`Store::write_failure`] that does not keep the database open: what the
    /// watch for returning disk space holds while the gateway waits to reopen the store.
    pub fn write_health(&self) -> WriteHealth {
        WriteHealth(self.inner.health.clone())
    }

    /// sled's bytes on disk (walks sled's files: for scrapes, not the hot path).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// Number of durable records in the log (`seq`s are consecutive from 1).
    pub fn count(&self) -> u64 {
        self.inner.visible.seq()
    }

    /// Stops the writer once every request already handed to it is answered, then
    /// flushes. Later `append`s fail with [`StoreError::Closed`]; reads keep working.
    /// Idempotent. Dropping the last clone of the store does the same.
    pub fn flush_and_close(&self) -> Result<(), StoreError> {
        self.inner.stop_writer();
        self.inner.db.flush()?;
        Ok(())
    }

    /// [`Store::flush_and_close`], logging instead of returning a flush error.
    pub fn close(&self) {
        if let Err(e) = self.flush_and_close() {
            tracing::error!(error = %e, "flushing the store on close failed");
        }
    }
}

impl Inner {
    fn stop_writer(&self) {
        drop(self.sender.lock().unwrap_or_else(PoisonError::into_inner).take());
        let handle = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the store writer thread panicked");
        }
        self.indexer.stop();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// Whether the store's writer can write, without a handle on the database.
#[derive(Debug, Clone)]
pub struct WriteHealth(Arc<WriterHealth>);

impl WriteHealth {
    /// As [`Store::write_failure`].
    pub fn failure(&self) -> Option<String> {
        self.0.failure()
    }
}

/// How long `open` waits for sled's lock on the data directory. sled releases the lock
/// only when its last background job of an earlier handle in this process is done, which
/// can trail the handle's drop by a moment; another process holding it is a hard error.
const LOCK_WAIT: Duration = Duration::from_secs(3);

fn open_sled(opts: &StoreOptions) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(&opts.data_dir)
        .cache_capacity(opts.cache_capacity_bytes)
        // Measured: no throughput difference to `HighThroughput` here, ~5% less disk.
        .mode(sled::Mode::LowSpace)
        // The writer flushes every batch itself.
        .flush_every_ms(None);
    let start = Instant::now();
    loop {
        match config.open() {
            // sled wraps the lock's WouldBlock in an `Other` error with this text.
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if start.elapsed() >= LOCK_WAIT {
                    return Err(StoreError::Io(Arc::new(std::io::Error::new(
                        e.kind(),
                        format!(
                            "{} is in use by another process (is another auditgate running on it?): {e}",
                            opts.data_dir.display()
                        ),
                    ))));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

/// Reads the commit marker, removes anything written after it (an interrupted group
/// commit), and returns the counters to continue from.
fn recover(
    db: &sled::Db,
    trees: &Trees,
    sync: &mut DiskSync,
    sealing: Option<&Sealing>,
) -> Result<Counters, StoreError> {
    let last = trees.last_keys()?;
    let committed = match trees.committed()? {
        Some(c) => c,
        None if last == Counters::default() => {
            // A new store: write the marker before the first batch can need it.
            trees.set_committed(last)?;
            db.flush()?;
            sync.sync()?;
            return Ok(last);
        }
        None => {
            tracing::warn!(
                seq = last.seq,
                "store has no commit marker; taking everything present as committed"
            );
            last
        }
    };
    if last.seq < committed.seq || last.alert < committed.alert || last.quarantine < committed.quarantine {
        return Err(StoreError::Corrupt(format!(
            "committed entries are missing: log ends at seq {} (committed {}), alerts at {} ({}), quarantine at {} ({})",
            last.seq, committed.seq, last.alert, committed.alert, last.quarantine, committed.quarantine
        )));
    }
    if last != committed {
        let gone = recovery::discard_uncommitted(trees, committed, sealing)?;
        db.flush()?;
        sync.sync()?;
        tracing::warn!(
            records = gone.records,
            alerts = gone.alerts,
            quarantined = gone.quarantined,
            "removed the unacknowledged tail of an interrupted group commit"
        );
    }
    Ok(committed)
}
