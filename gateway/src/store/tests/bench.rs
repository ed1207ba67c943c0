//! A rough throughput figure (ignored by default; run in release mode):
//! `cargo test --release -- --ignored --nocapture append_throughput`.
//! `CACHE_MB` sets the sled cache (default 64).

use std::time::Instant;

use super::super::{Pending, Store};
use super::{ev, options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly in release mode"]
async fn append_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = options(dir.path());
    opts.cache_capacity_bytes =
        std::env::var("CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(64) << 20;
    let store = Store::open(&opts).expect("open");
    let total = 100_000;
    let batch = 1_000;
    let reason = "x".repeat(150);
    // ~600 bytes stored per record; random-looking client ids (UUID-like), 10k users,
    // 1k IPs and resources: the keys land all over the indexes, as in production.
    let make = |i: usize| {
        let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ev().id(&format!("{h:016x}-{i:08x}"))
            .user(&format!("user{:05}", h % 10_000))
            .action(["user.login", "user.logout", "credential.decrypt", "admin.role.change"][i % 4])
            .outcome(if i.is_multiple_of(5) { "failure" } else { "success" })
            .ip(&format!("10.{}.{}.{}", h % 4, (h >> 8) % 250, (h >> 16) % 250))
            .set("user_agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
            .set("session_id", &format!("sess-{:06}", h % 50_000))
            .set("resource_type", "account")
            .set("resource_id", &format!("acct-{}", (h >> 24) % 1000))
            .set("reason", &reason)
            .at((i / 100) as i64)
            .pending()
    };
    let sample = match make(0) {
        Pending::Record(r) => serde_json::to_vec(&r.event).expect("json").len(),
        Pending::Quarantine(_) => 0,
    };
    let start = Instant::now();
    for b in 0..total / batch {
        let items = (b * batch..(b + 1) * batch).map(make).collect();
        store.append(items).await.expect("append");
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(store.count(), total as u64);
    let stored = serde_json::to_vec(&store.get(1).expect("get").expect("present")).expect("json").len();
    let disk = walk(&opts.data_dir);
    println!(
        "appended {total} events (event {sample} B, stored record {stored} B) in batches of {batch}: \
         {secs:.2} s, {:.0} events/s, {:.0} B on disk per event",
        total as f64 / secs,
        disk as f64 / total as f64
    );
}

fn walk(p: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::metadata(p) else { return 0 };
    if meta.is_dir() {
        std::fs::read_dir(p).map(|rd| rd.flatten().map(|e| walk(&e.path())).sum()).unwrap_or(0)
    } else {
        meta.len()
    }
}
