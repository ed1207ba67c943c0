//! Reliability (opt-in: `--features reliability`): SIGKILL the gateway at random moments
//! while several clients ingest, restart it, and check after every round that no
//! acknowledged event is missing, that `seq` has no gap, and that the real
//! `auditgate verify --data DIR` passes on the stopped data dir.
//!
//! `AUDITGATE_CRASH_ROUNDS` (default 20) sets the rounds, `AUDITGATE_CRASH_SEED` replays a
//! run (the seed is printed).
#![cfg(feature = "reliability")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use auditgate_tests::*;
use reqwest::blocking::Client;
use serde_json::{Value, json};

const CLIENTS: usize = 4;
const BATCH: usize = 20;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// One client: bulk batches of unique events until `stop`; returns the acknowledged
/// (id → seq) pairs.
fn client(url: String, round: u64, thread_no: usize, stop: Arc<AtomicBool>) -> Vec<(String, u64)> {
    let http = Client::builder().timeout(Duration::from_secs(10)).build().expect("http client");
    let mut acked = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut body = String::new();
        let mut ids = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            n += 1;
            let id = format!("r{round}-c{thread_no}-{n}");
            let failed = n.is_multiple_of(5);
            let event = json!({
                "id": id, "action": "user.login", "outcome": if failed { "failure" } else { "success" },
                "user": format!("crash-user-{}", n % 50), "ip": format!("10.9.{}.{}", thread_no, n % 200),
                "details": {"round": round, "client": thread_no, "n": n, "password": "hunter2"},
            });
            body.push_str(&event.to_string());
            body.push('\n');
            ids.push(id);
        }
        let answer = http
            .post(format!("{url}/v1/events/bulk"))
            .header("Authorization", format!("Bearer {INGEST_KEY}"))
            .header("Content-Type", "application/x-ndjson")
            .body(body)
            .send();
        let Ok(resp) = answer else {
            thread::sleep(Duration::from_millis(5));
            continue;
        };
        let status = resp.status().as_u16();
        // A body cut by the kill is not an acknowledgement.
        let Ok(bytes) = resp.bytes() else { continue };
        if status != 200 {
            assert!(status == 503, "ingest answered {status}: {}", String::from_utf8_lossy(&bytes));
            continue;
        }
        let body: Value = serde_json::from_slice(&bytes).expect("a 200 answer is JSON");
        let results = body["results"].as_array().expect("results array");
        assert_eq!(results.len(), BATCH, "{body}");
        for (id, r) in ids.into_iter().zip(results) {
            let seq = r["seq"].as_u64().unwrap_or_else(|| panic!("event {id} not stored: {r}"));
            acked.push((id, seq));
        }
    }
    acked
}

/// `auditgate verify` on the stopped data dir (checkpoint file, public key) must pass.
fn verify_offline(gw: &Gateway, round: u64) -> String {
    let run = gw.verify_offline();
    // 0: intact; 3: intact but no checkpoint yet (nothing to detect truncation with).
    assert!(
        (run.code == Some(0) || run.code == Some(3)) && run.stdout.starts_with("ok:"),
        "round {round}: auditgate verify failed ({:?}):\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    run.stdout
}

#[test]
fn sigkill_during_ingest_loses_no_acknowledged_event() {
    let rounds = env_u64("AUDITGATE_CRASH_ROUNDS").unwrap_or(20);
    let seed = env_u64("AUDITGATE_CRASH_SEED").unwrap_or_else(|| Rng::from_clock().next_u64());
    eprintln!("crash loop: {rounds} rounds, AUDITGATE_CRASH_SEED={seed}");
    let mut rng = Rng::new(seed);
    let mut gw = Gateway::start_default();
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut kills_with_load = 0;
    for round in 1..=rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let url = gw.base_url();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (url, stop) = (url.clone(), stop.clone());
                thread::spawn(move || client(url, round, t, stop))
            })
            .collect();
        // Let the load build up, then kill at a random moment.
        thread::sleep(Duration::from_millis(150 + rng.below(1200)));
        gw.kill();
        stop.store(true, Ordering::Relaxed);
        let before = acked.len();
        for c in clients {
            for (id, seq) in c.join().expect("a client thread panicked") {
                if let Some(old) = acked.insert(id.clone(), seq) {
                    panic!("{id} acknowledged twice: seq {old} and {seq}");
                }
            }
        }
        if acked.len() > before {
            kills_with_load += 1;
        }
        let verified = verify_offline(&gw, round);
        gw.restart();
        // Every acknowledged event is there, with the seq it was acknowledged with.
        // The gateway's own records (a start per round, these listings) fill seqs too.
        let all = gw.query_all_records("", 1000);
        // Queries list by event time; seq order is the writer's arrival order.
        let mut seqs = seqs(&all);
        seqs.sort_unstable();
        let want: Vec<u64> = (1..=all.len() as u64).collect();
        if let Some(i) = (0..seqs.len()).find(|&i| seqs[i] != want[i]) {
            let ready = gw.request(reqwest::Method::GET, "/readyz", Auth::None, None).1;
            let direct = gw.get(AUDITOR_KEY, &format!("/v1/events/{}", want[i]));
            panic!(
                "round {round}: seq is not 1..={} without gaps: /readyz {ready}, GET /v1/events/{}: {direct:?}; position {i} holds {} (around: {:?})",
                all.len(),
                want[i],
                seqs[i],
                &seqs[i.saturating_sub(3)..(i + 3).min(seqs.len())]
            );
        }
        let stored: Vec<&Value> = all.iter().filter(|e| e["source"] != "auditgate").collect();
        let by_id: HashMap<&str, u64> =
            stored.iter().filter_map(|e| Some((e["id"].as_str()?, e["seq"].as_u64()?))).collect();
        let missing: Vec<&String> = acked.keys().filter(|id| !by_id.contains_key(id.as_str())).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged events missing after the restart, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        for (id, seq) in &acked {
            assert_eq!(by_id.get(id.as_str()), Some(seq), "round {round}: {id} moved");
        }
        let unique: HashSet<&str> = by_id.keys().copied().collect();
        assert_eq!(unique.len(), stored.len(), "round {round}: an id is stored twice");
        // The redactor ran on everything stored.
        assert!(stored.iter().all(|e| e["details"]["password"] != "hunter2"), "round {round}: unredacted");
        eprintln!(
            "round {round}: {} acknowledged so far, {} stored; {}",
            acked.len(),
            stored.len(),
            verified.lines().next().unwrap_or("")
        );
    }
    assert!(kills_with_load * 2 >= rounds, "only {kills_with_load} of {rounds} kills hit acknowledged load");
    // A graceful stop at the end, then the offline verify once more.
    assert!(gw.stop(), "the gateway did not stop cleanly");
    verify_offline(&gw, rounds + 1);
}
