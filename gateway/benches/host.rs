//! The host interface's hot paths: `counter-add` (one hot key, and many keys) and a
//! `lookup` in a CIDR table of 100 000 networks (v4 and v6).
//!
//! `cargo bench -p auditgate --bench host`

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, criterion_group, criterion_main};

use auditgate::config::{HostLimits, LookupConfig, LookupFormat, LookupKind};
use auditgate::engine::host::HostServices;
use auditgate::engine::host::lookup::LookupTables;

/// xorshift64: deterministic addresses and keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn counters(c: &mut Criterion) {
    let host = HostServices::in_memory(&["bench"], HostLimits::default(), LookupTables::default())
        .expect("host services");
    let ctx = host.context("bench").expect("context");
    c.bench_function("counter_add/one_key_300s", |b| {
        b.iter(|| ctx.counter_add(black_box("fail:alice"), 1, 300).expect("within caps"))
    });
    let keys: Vec<String> = (0..10_000).map(|i| format!("fail:user-{i}")).collect();
    let mut i = 0usize;
    c.bench_function("counter_add/10k_keys_300s", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            ctx.counter_add(black_box(&keys[i]), 1, 300).expect("within caps")
        })
    });
}

fn cidr_lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("geo.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(file, "network,country,city,asn").expect("write");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 100_000 {
        let r = rng.next();
        let net = match r % 4 {
            0 => format!("{}.{}.0.0/16", (r >> 8) as u8, (r >> 16) as u8),
            1 | 2 => format!("{}.{}.{}.0/24", (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8),
            _ => format!("2001:db8:{:x}::/48", (r >> 8) as u16),
        };
        if seen.insert(net.clone()) {
            writeln!(file, "{net},C{},City {},AS{}", r % 200, r % 5000, r % 60_000).expect("write");
        }
    }
    drop(file);
    let tables = LookupTables::load(&[LookupConfig {
        name: "geo".into(),
        path,
        format: Some(LookupFormat::Csv),
        kind: LookupKind::Cidr,
    }])
    .expect("table loads");
    let table = tables.table("geo").expect("geo");
    let probes: Vec<String> = (0..4096)
        .map(|_| {
            let r = rng.next();
            if r.is_multiple_of(4) {
                format!("2001:db8:{:x}::{:x}", (r >> 8) as u16, (r >> 24) as u16)
            } else {
                std::net::Ipv4Addr::from((r >> 16) as u32).to_string()
            }
        })
        .collect();
    let hits = probes.iter().filter(|p| table.get(p).is_some()).count();
    eprintln!("cidr bench: 100000 networks, {hits}/{} probes match", probes.len());
    let mut i = 0usize;
    c.bench_function("lookup/cidr_100k_table_get", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            table.get(black_box(&probes[i])).map(str::len)
        })
    });
    let host = HostServices::in_memory(&["bench"], HostLimits::default(), tables).expect("host services");
    let ctx = host.context("bench").expect("context");
    c.bench_function("lookup/cidr_100k_host_call", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            ctx.lookup("geo", black_box(&probes[i]))
        })
    });
}

criterion_group!(benches, counters, cidr_lookup);
criterion_main!(benches);
