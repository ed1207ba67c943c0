//! The sled store on the real disk, through its public API only:
//!
//! - `store_append`: `Store::append` of 1, 16, 100 and 1000 W1 events per call into a fresh
//!   store in a temporary directory. Every call resolves only after the writer's group
//!   commit is flushed and fsynced, so this is the durable append rate per batch size
//!   (events/s); one caller at a time, so no group commit spans two calls.
//! - `store_query`: `Store::query` against a store of `STORE_BENCH_RECORDS` W1 events
//!   (default 1M): one user's newest 100 events (the busiest user, ~10% of the log, and a
//!   user with ~0.1%), 100 events of a one-minute time range, and the newest 100 of one
//!   action. The store is built once through `Store::append` in batches of 10k into
//!   `<target>/bench-data/store-query-<N>/` (1M: ~3 min, 3.8 GB) and kept for later runs; a
//!   `complete` marker beside it tells a finished build from an interrupted one, which is
//!   rebuilt. 10M records (the design's query target) are not feasible on the 24 GB, 2-core
//!   machine this was written on: ~3 KB on disk per record is ~30 GB, more than its free
//!   disk, and sled 0.34 already outgrew 24 GB of memory building 10M (smaller) records for
//!   the ledger bench.
//!
//! Events are workload W1 of `auditgate bench` (~600 bytes, 10k Zipf users, 1k IPs),
//! validated by `event::parse_event` and wrapped in a `NewRecord` the way `ingest` does,
//! with a unique client `id` each (so the idempotency tree is written too) and no policy
//! changes. No checkpoints (their cost is in the ledger bench).
//!
//! `cargo bench -p auditgate --bench store`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auditgate::event::{self, Limits, ValidEvent};
use auditgate::loadgen::workload::{Workload, WorkloadSpec, write_event};
use auditgate::store::{AppendOutcome, EventQuery, NewRecord, Order, Pending, Store, StoreOptions};
use chrono::{DateTime, Utc};
use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use serde_json::Value;

/// Event time of the first event: 2026-01-01T00:00:00Z in microseconds.
const T0_MICROS: i64 = 1_767_225_600_000_000;
/// Event time between two consecutive events (100 events/s of application time).
const STEP_MICROS: i64 = 10_000;

/// W1 events, parsed once; `pending(n)` makes the `n`-th event of a log from them.
struct Events {
    pool: Vec<ValidEvent>,
    received_at: String,
}

impl Events {
    fn new() -> Events {
        let workload = Workload::generate(&WorkloadSpec::default());
        let limits = Limits { max_event_bytes: 64 << 10, max_depth: 32 };
        let now = Utc::now();
        let pool = workload
            .events
            .iter()
            .map(|body| {
                let mut bytes = Vec::new();
                write_event(&mut bytes, "placeholder", &event::format_time(now), body);
                event::parse_event(&bytes, limits, now)
                    .unwrap_or_else(|e| panic!("a W1 event is invalid: {e}"))
            })
            .collect();
        Events { pool, received_at: event::format_time(now) }
    }

    /// The `n`-th event (from 0): a pooled W1 event with its own random-looking `id` and a
    /// `time` `n` steps after [`T0_MICROS`], as `ingest` hands it to the store.
    fn pending(&self, n: u64) -> Pending {
        let valid = &self.pool[(n % self.pool.len() as u64) as usize];
        let id = format!("{:016x}-{n:08x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let time_micros = T0_MICROS + n as i64 * STEP_MICROS;
        let time =
            DateTime::from_timestamp_micros(time_micros).unwrap_or_else(|| panic!("time {time_micros}"));
        let mut fields = valid.fields.clone();
        fields.insert("id".into(), Value::String(id.clone()));
        fields.insert("time".into(), Value::String(event::format_time(time)));
        Pending::Record(NewRecord {
            client_id: Some(id),
            event: fields,
            time_micros,
            received_at: self.received_at.clone(),
            source: "bench".into(),
            policy_set: "a3459c4d4e4d88fd299edd247e87f01e".into(),
            redacted: Vec::new(),
            tags: Vec::new(),
            alerts: Vec::new(),
        })
    }

    /// Events `from..from + count`.
    fn batch(&self, from: u64, count: u64) -> Vec<Pending> {
        (from..from + count).map(|n| self.pending(n)).collect()
    }
}

/// The gateway's default storage settings (`[storage]` of the config) for `dir`.
fn options(dir: &Path) -> StoreOptions {
    StoreOptions {
        data_dir: dir.to_path_buf(),
        cache_capacity_bytes: 64 << 20,
        flush_linger: Duration::ZERO,
        idempotency_window: Duration::from_secs(86_400),
        max_batch_events: 10_000,
        checkpoints: None,
        encryption: None,
    }
}

/// A runtime to await `Store::append` on (the writer is its own thread).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

/// Appends `items` and checks every one was stored.
fn append(rt: &tokio::runtime::Runtime, store: &Store, items: Vec<Pending>) {
    let count = items.len();
    let outcomes = rt.block_on(store.append(items)).unwrap_or_else(|e| panic!("append: {e}"));
    assert_eq!(outcomes.len(), count);
    assert!(outcomes.iter().all(|o| matches!(o, AppendOutcome::Stored { .. })), "not all stored");
}

fn store_append(c: &mut Criterion) {
    let events = Events::new();
    let rt = runtime();
    let mut g = c.benchmark_group("store_append");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(8));
    for batch in [1u64, 16, 100, 1000] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store = Store::open(&options(dir.path())).unwrap_or_else(|e| panic!("open: {e}"));
        let mut next = 0u64;
        g.throughput(Throughput::Elements(batch));
        g.bench_with_input(
            BenchmarkId::new("durable append, events per call", batch),
            &batch,
            |b, &batch| {
                b.iter_batched(
                    || {
                        next += batch;
                        events.batch(next - batch, batch)
                    },
                    |items| append(&rt, &store, items),
                    BatchSize::PerIteration,
                )
            },
        );
        store.close();
    }
    g.finish();
}

/// Where the big store is kept between runs.
fn bench_data_dir(records: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("target")
    });
    target.join("bench-data").join(format!("store-query-{records}"))
}

/// Bytes under `path`.
fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else { return 0 };
    if meta.is_dir() {
        std::fs::read_dir(path).map(|rd| rd.flatten().map(|e| disk_bytes(&e.path())).sum()).unwrap_or(0)
    } else {
        meta.len()
    }
}

/// Builds the query store of `records` events through `Store::append`, 10k per call.
fn build_store(dir: &Path, records: u64, events: &Events) {
    const BATCH: u64 = 10_000;
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(dir);
    let store = Store::open(&options(dir)).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
    let rt = runtime();
    let mut done = 0u64;
    while done < records {
        let count = BATCH.min(records - done);
        append(&rt, &store, events.batch(done, count));
        done += count;
        if done.is_multiple_of(100_000) || done == records {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "store-query: {done}/{records} events in {secs:.0} s ({:.0} events/s)",
                done as f64 / secs
            );
        }
    }
    store.flush_and_close().unwrap_or_else(|e| panic!("close: {e}"));
    let bytes = disk_bytes(dir);
    eprintln!(
        "built a store of {records} events in {:?}: {:.2} GB on disk, {} B per event",
        started.elapsed(),
        bytes as f64 / 1e9,
        bytes / records.max(1)
    );
    std::fs::write(dir.with_extension("complete"), format!("{records} events, {bytes} bytes\n"))
        .unwrap_or_else(|e| panic!("marker: {e}"));
}

/// The `seq`s of a page, checking it is full.
fn page_seqs(store: &Store, q: &EventQuery) -> Vec<u64> {
    let page = store.query(q).unwrap_or_else(|e| panic!("query: {e}"));
    assert_eq!(page.items.len(), q.limit, "a page of {} for {q:?}", page.items.len());
    page.items.iter().filter_map(|r| r.get("seq").and_then(Value::as_u64)).collect()
}

fn store_query(c: &mut Criterion) {
    let records: u64 =
        std::env::var("STORE_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = bench_data_dir(records);
    if !dir.with_extension("complete").exists() {
        build_store(&dir, records, &Events::new());
    }
    let store = Store::open(&options(&dir)).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
    assert_eq!(store.count(), records);

    let newest = |user: &str| EventQuery {
        user: Some(user.into()),
        limit: 100,
        order: Order::Desc,
        ..EventQuery::default()
    };
    let mid = T0_MICROS + (records as i64 / 2) * STEP_MICROS;
    let queries = [
        ("one user, newest 100: the busiest (~10% of events)", newest("user-00000@corp.example.com")),
        ("one user, newest 100: rank 100 (~0.1% of events)", newest("user-00100@corp.example.com")),
        (
            "time range, first 100 of one minute",
            EventQuery {
                from_micros: Some(mid),
                to_micros: Some(mid + 60_000_000),
                limit: 100,
                ..EventQuery::default()
            },
        ),
        (
            "one action, newest 100: admin.role.change (~5%)",
            EventQuery {
                action: Some("admin.role.change".into()),
                limit: 100,
                order: Order::Desc,
                ..EventQuery::default()
            },
        ),
    ];
    let mut g = c.benchmark_group(format!("store_query ({records} events)"));
    g.sample_size(50);
    g.measurement_time(Duration::from_secs(5));
    for (name, q) in &queries {
        let seqs = page_seqs(&store, q);
        if q.order == Order::Desc {
            assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{name}: not newest first");
        }
        g.bench_function(*name, |b| b.iter(|| store.query(black_box(q)).unwrap_or_else(|e| panic!("{e}"))));
    }
    g.finish();
    store.close();
}

criterion_group!(benches, store_append, store_query);
criterion_main!(benches);
