//! Costs of tamper evidence:
//!
//! - `append`: per appended event, canonical encoding + leaf hash + tree update against
//!   plain `serde_json` encoding (the difference is the ledger's extra CPU cost), the sled
//!   insert of one stored Merkle subtree (about one per 8 records) and the signature of
//!   one checkpoint (one per `every_events`, 1000 by default);
//! - `verify`: throughput of the streaming walker in memory, and of `auditgate verify`'s
//!   library function over a real sled data directory;
//! - `proofs`: inclusion and consistency proofs in memory (1M leaves) and from a real
//!   store of `LEDGER_BENCH_RECORDS` records (default 1M), built once into
//!   `<target>/bench-data/` (~20 s; kept for later runs). A 10M-record build was tried:
//!   sled 0.34 grew past the memory of a 24 GB machine and the bench was killed.
//!
//! `cargo bench -p auditgate --bench ledger`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auditgate::ledger::checkpoint::Checkpoint;
use auditgate::ledger::jcs;
use auditgate::ledger::merkle::{self, Frontier, Hash, MemoryTree};
use auditgate::ledger::note::NoteSigner;
use auditgate::ledger::verify::LogWalker;
use auditgate::store::offline::{OfflineInputs, verify_dir};
use auditgate::store::{Store, StoreOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

/// A ~600-byte W1-like record with `seq` and `prev`.
fn record(seq: u64, prev: &[u8; 32]) -> Map<String, Value> {
    let v = json!({
        "action": "user.login", "outcome": "failure", "user": format!("user-{}", seq % 10_000),
        "ip": "203.0.113.7", "time": "2026-01-02T03:04:05.123456Z", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "session_id": "s-7f3a9c", "request_id": "r-0011223344", "reason": "wrong_password", "severity": "info",
        "details": {"method": "password", "mfa": false, "attempt": 3, "geo": {"country": "DE", "city": "Berlin"}},
        "seq": seq, "received_at": "2026-01-02T03:04:05.123456Z", "source": "web", "policy_set": "a3459c4d4e4d88fd299edd247e87f01e",
        "redacted": ["/details/password"], "tags": ["auth"], "prev": hex::encode(prev),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn append_cost(c: &mut Criterion) {
    let rec = record(42, &[7; 32]);
    let mut g = c.benchmark_group("append");
    g.bench_function("serde_json_to_vec (baseline)", |b| b.iter(|| serde_json::to_vec(black_box(&rec))));
    let mut frontier = Frontier::default();
    g.bench_function("jcs + leaf hash + frontier push", |b| {
        b.iter(|| {
            let bytes = jcs::object_to_vec(black_box(&rec)).unwrap_or_default();
            let leaf = merkle::leaf_hash(&bytes);
            frontier.push(leaf, |_, _, h| {
                black_box(h);
            });
        })
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = sled::Config::new().path(dir.path()).open().unwrap_or_else(|e| panic!("sled: {e}"));
    let nodes = db.open_tree("merkle").unwrap_or_else(|e| panic!("sled: {e}"));
    let mut index = 0u64;
    g.bench_function("sled insert of one stored Merkle subtree (~1 per 8 records)", |b| {
        b.iter(|| {
            index += 1;
            let mut key = [4u8; 9];
            key[1..].copy_from_slice(&index.to_be_bytes());
            nodes.insert(key, &merkle::leaf_hash(&key)[..]).map(|_| ())
        })
    });
    let signer = NoteSigner::generate("bench.example/log").unwrap_or_else(|e| panic!("key: {e}"));
    let cp = Checkpoint {
        origin: "bench.example/log".into(),
        size: 1000,
        root: [9; 32],
        number: 1,
        prev: [0; 32],
    };
    g.bench_function("sign one checkpoint (1 per every_events records)", |b| {
        b.iter(|| signer.sign(black_box(&cp.body())))
    });
    g.finish();
}

/// `n` chained ~600-byte records.
fn chained_log(n: u64) -> Vec<Vec<u8>> {
    let mut prev = [0u8; 32];
    let mut log = Vec::with_capacity(n as usize);
    for seq in 1..=n {
        let bytes = jcs::object_to_vec(&record(seq, &prev)).unwrap_or_default();
        prev = merkle::leaf_hash(&bytes);
        log.push(bytes);
    }
    log
}

fn verify_speed(c: &mut Criterion) {
    const N: u64 = 100_000;
    let log = chained_log(N);
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.bench_function("walk 100k records in memory", |b| {
        b.iter(|| {
            let mut w = LogWalker::new(&[]);
            for (i, bytes) in log.iter().enumerate() {
                if w.push(i as u64 + 1, bytes).is_err() {
                    break;
                }
            }
            w.finish()
        })
    });
    // The same records in a sled data directory, verified as `auditgate verify` does.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    write_store(dir.path(), N, |seq, _| log[seq as usize - 1].clone());
    g.bench_function("offline verify_dir, 100k records on sled", |b| {
        b.iter(|| {
            let report = verify_dir(dir.path(), &OfflineInputs::default(), |_, _| {})
                .unwrap_or_else(|e| panic!("verify: {e}"));
            assert!(report.damage.is_none() && report.records == N);
        })
    });
    g.finish();
}

/// Where the big store is kept between runs.
fn bench_data_dir(records: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("target")
    });
    target.join("bench-data").join(format!("ledger-{records}"))
}

/// Writes a store of `records` records (`make(seq, prev)`) in the store's on-disk layout
/// (log records, Merkle subtrees of level >= 4, the commit marker), as the writer would.
fn write_store(dir: &Path, records: u64, make: impl Fn(u64, &Hash) -> Vec<u8>) -> Hash {
    let db =
        sled::Config::new().path(dir).mode(sled::Mode::LowSpace).open().unwrap_or_else(|e| panic!("{e}"));
    let log = db.open_tree("log").unwrap_or_else(|e| panic!("{e}"));
    let nodes = db.open_tree("merkle").unwrap_or_else(|e| panic!("{e}"));
    let mut frontier = Frontier::default();
    let mut prev: Hash = [0; 32];
    let (mut rb, mut nb) = (sled::Batch::default(), sled::Batch::default());
    for seq in 1..=records {
        let bytes = make(seq, &prev);
        prev = merkle::leaf_hash(&bytes);
        rb.insert(&seq.to_be_bytes()[..], bytes);
        frontier.push(prev, |level, index, h| {
            if level >= 4 {
                let mut key = [0u8; 9];
                key[0] = level;
                key[1..].copy_from_slice(&index.to_be_bytes());
                nb.insert(&key[..], &h[..]);
            }
        });
        if seq % 100_000 == 0 || seq == records {
            log.apply_batch(std::mem::take(&mut rb)).unwrap_or_else(|e| panic!("{e}"));
            nodes.apply_batch(std::mem::take(&mut nb)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let mut marker = [0u8; 24];
    marker[..8].copy_from_slice(&records.to_be_bytes());
    db.open_tree("meta").and_then(|m| m.insert("committed", &marker[..])).unwrap_or_else(|e| panic!("{e}"));
    db.flush().unwrap_or_else(|e| panic!("{e}"));
    frontier.root()
}

/// The big store of small chained records for the proof benches.
fn build_store(dir: &Path, records: u64) {
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(dir);
    let root = write_store(dir, records, |seq, prev| {
        format!("{{\"prev\":\"{}\",\"seq\":{seq}}}", hex::encode(prev)).into_bytes()
    });
    std::fs::write(dir.with_extension("root"), hex::encode(root)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("built a store of {records} records in {:?}", started.elapsed());
}

fn proofs(c: &mut Criterion) {
    let mut tree = MemoryTree::default();
    for i in 0..(1u64 << 20) {
        tree.push(merkle::leaf_hash(&i.to_be_bytes()));
    }
    let n = tree.size();
    c.bench_function("inclusion proof, 1M-leaf in-memory tree", |b| {
        b.iter(|| merkle::inclusion_proof(&tree, black_box(n / 3), n))
    });
    c.bench_function("consistency proof, 1M-leaf in-memory tree", |b| {
        b.iter(|| merkle::consistency_proof(&tree, black_box(n / 3), n))
    });

    let records: u64 =
        std::env::var("LEDGER_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = bench_data_dir(records);
    if !dir.with_extension("root").exists() {
        build_store(&dir, records);
    }
    let store = Store::open(&StoreOptions {
        data_dir: dir.clone(),
        cache_capacity_bytes: 64 << 20,
        flush_linger: Duration::ZERO,
        idempotency_window: Duration::from_secs(60),
        max_batch_events: 10_000,
        checkpoints: None,
        encryption: None,
    })
    .unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
    assert_eq!(store.count(), records);
    let want = std::fs::read_to_string(dir.with_extension("root")).unwrap_or_default();
    assert_eq!(hex::encode(store.root(records).unwrap_or_else(|e| panic!("{e}"))), want.trim());
    let mut g = c.benchmark_group(format!("proofs from a {}M-record sled store", records / 1_000_000));
    let mut seq = 0u64;
    g.bench_function("inclusion proof (random record, full size)", |b| {
        b.iter(|| {
            seq = (seq + 7_919_993) % records + 1;
            store.inclusion_proof(seq, records).unwrap_or_else(|e| panic!("{e}"))
        })
    });
    g.bench_function("consistency proof (size/3 -> size)", |b| {
        b.iter(|| store.consistency_proof(black_box(records / 3), records).unwrap_or_else(|e| panic!("{e}")))
    });
    g.finish();
    store.close();
}

criterion_group!(benches, append_cost, verify_speed, proofs);
criterion_main!(benches);
