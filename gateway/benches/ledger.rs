//! Costs of tamper evidence: per appended event (canonical encoding, leaf hash, tree
//! update) against plain `serde_json` encoding; verification throughput of the streaming
//! walker; inclusion proof generation.

use auditgate::ledger::jcs;
use auditgate::ledger::merkle::{self, Frontier, MemoryTree};
use auditgate::ledger::verify::LogWalker;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use std::hint::black_box;

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
    g.finish();
}

fn verify_speed(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut prev = [0u8; 32];
    let mut log = Vec::with_capacity(N as usize);
    for seq in 1..=N {
        let bytes = jcs::object_to_vec(&record(seq, &prev)).unwrap_or_default();
        prev = merkle::leaf_hash(&bytes);
        log.push(bytes);
    }
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.bench_function("walk 100k records", |b| {
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
    g.finish();
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
}

criterion_group!(benches, append_cost, verify_speed, proofs);
criterion_main!(benches);
