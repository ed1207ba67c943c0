//! An acknowledged event is on disk: SIGKILL during concurrent ingest, restart, and every
//! event whose 2xx was received is there, unchanged; new events continue after them.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auditgate_tests::*;
use reqwest::blocking::Client;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

const ROUNDS: usize = 5;
const SENDERS: usize = 3;

/// What the senders learned: acknowledged events by seq, and anything unexpected.
#[derive(Default)]
struct Ledger {
    acked: BTreeMap<u64, Value>,
    problems: Vec<String>,
}

fn event(round: usize, sender: usize, n: usize) -> Value {
    json!({
        "action": if n.is_multiple_of(3) { "user.login" } else { "api.call" },
        "outcome": if n.is_multiple_of(4) { "failure" } else { "success" },
        "user": format!("user-{sender}-{}", n % 17),
        "ip": format!("10.{round}.{sender}.{}", n % 250),
        "time": format!("2024-05-{:02}T{:02}:{:02}:{:02}Z", round + 1, sender, (n / 60) % 60, n % 60),
        "details": {"marker": format!("r{round}-s{sender}-n{n}"), "pad": "x".repeat(200)},
    })
}

/// How a sender sends, and whether its events carry an idempotency `id`.
#[derive(Clone)]
struct SenderSpec {
    base: String,
    round: usize,
    id: usize,
    with_ids: bool,
}

/// Posts `batch` the way sender `kind` does (0 single, 1 NDJSON, 2 array). `None` when
/// the request got no complete answer (cut by the kill).
fn post_batch(client: &Client, base: &str, kind: usize, batch: &[Value]) -> Option<(u16, Vec<u8>)> {
    let (url, content_type, body) = match kind % 3 {
        0 => (format!("{base}/v1/events"), "application/json", batch[0].to_string()),
        1 => (format!("{base}/v1/events/bulk"), "application/x-ndjson", ndjson(batch)),
        _ => (format!("{base}/v1/events"), "application/json", Value::Array(batch.to_vec()).to_string()),
    };
    let resp = client
        .post(&url)
        .header(AUTHORIZATION, format!("Bearer {INGEST_KEY}"))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .ok()?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().ok()?;
    Some((status, bytes.to_vec()))
}

/// Records the answer to `batch` in the ledger. Returns false on an unexpected answer.
fn record_answer(ledger: &Mutex<Ledger>, who: &str, batch: &[Value], status: u16, bytes: &[u8]) -> bool {
    let mut guard = ledger.lock().unwrap();
    let l: &mut Ledger = &mut guard;
    let answer: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => {
            l.problems
                .push(format!("{who}: {status} with a non-JSON body: {}", String::from_utf8_lossy(bytes)));
            return false;
        }
    };
    if status != 200 {
        l.problems.push(format!("{who}: {status} {answer}"));
        return false;
    }
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    if results.len() != batch.len() || answer["accepted"].as_u64() != Some(batch.len() as u64) {
        l.problems.push(format!("{who}: {} events sent, answer {answer}", batch.len()));
        return false;
    }
    for (ev, r) in batch.iter().zip(results) {
        let Some(seq) = r["seq"].as_u64() else {
            l.problems.push(format!("{who}: result without seq: {r}"));
            continue;
        };
        if r["duplicate"] == true {
            // A retry of an event stored before the kill: it must be the same event.
            match l.acked.get(&seq) {
                Some(prev) if prev["id"] == ev["id"] => {}
                Some(prev) => {
                    l.problems.push(format!("{who}: duplicate of seq {seq} names another event: {prev}"))
                }
                None => {
                    l.acked.insert(seq, ev.clone());
                }
            }
            continue;
        }
        if let Some(prev) = l.acked.insert(seq, ev.clone()) {
            l.problems.push(format!(
                "seq {seq} acknowledged twice: {} and {}",
                prev["details"]["marker"], ev["details"]["marker"]
            ));
        }
    }
    true
}

/// One sender: posts until `stop` or until the gateway stops answering. Kind 0 sends
/// single events, kind 1 NDJSON batches of 25, kind 2 arrays of 10. Returns the batch
/// whose request was cut (not acknowledged), if any.
fn sender(
    spec: SenderSpec,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    acked_round: Arc<AtomicUsize>,
) -> Option<Vec<Value>> {
    let client = Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let who = format!("sender {}", spec.id);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let size = match spec.id % 3 {
            0 => 1,
            1 => 25,
            _ => 10,
        };
        let batch: Vec<Value> = (0..size)
            .map(|k| {
                let mut e = event(spec.round, spec.id, n + k);
                if spec.with_ids {
                    e["id"] = json!(format!("id-r{}-s{}-n{}", spec.round, spec.id, n + k));
                }
                e
            })
            .collect();
        n += size;
        // A request cut by the kill (connection reset, incomplete answer) was not
        // acknowledged: nothing to expect from it. The sender stops there.
        let Some((status, bytes)) = post_batch(&client, &spec.base, spec.id, &batch) else {
            return Some(batch);
        };
        if !record_answer(&ledger, &who, &batch, status, &bytes) {
            return None;
        }
        acked_round.fetch_add(batch.len(), Ordering::Relaxed);
    }
    None
}

/// Runs `SENDERS` senders against `gw`, SIGKILLs it at a random moment once some events
/// went through, and returns the cut batches (by sender).
fn ingest_and_kill(
    gw: &mut Gateway,
    round: usize,
    with_ids: bool,
    ledger: &Arc<Mutex<Ledger>>,
    rng: &mut Rng,
) -> Vec<(usize, Vec<Value>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let acked_round = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..SENDERS)
        .map(|id| {
            let spec = SenderSpec { base: gw.base_url(), round, id, with_ids };
            let (stop, ledger, acked_round) = (stop.clone(), ledger.clone(), acked_round.clone());
            std::thread::spawn(move || sender(spec, stop, ledger, acked_round))
        })
        .collect();
    // Let some events through, then kill at a random moment while all senders send.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked_round.load(Ordering::Relaxed) < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(rng.below(200)));
    gw.kill();
    stop.store(true, Ordering::Relaxed);
    let cut: Vec<(usize, Vec<Value>)> = threads
        .into_iter()
        .enumerate()
        .filter_map(|(id, t)| t.join().expect("a sender panicked").map(|b| (id, b)))
        .collect();
    let l = ledger.lock().unwrap();
    assert!(l.problems.is_empty(), "round {round}: unexpected answers:\n{}", l.problems.join("\n"));
    assert!(acked_round.load(Ordering::Relaxed) > 0, "round {round}: nothing was acknowledged in 20 s");
    cut
}

/// Every acknowledged event is stored unchanged under its seq; stored seqs run 1..=n; no
/// event is stored twice. Returns the highest stored seq.
fn verify(gw: &Gateway, ledger: &Ledger, when: &str) -> u64 {
    // The gateway's own records (its starts, these queries) fill their seqs too.
    let all = gw.query_all_records("", 1000);
    let mut by_seq = BTreeMap::new();
    let mut markers = HashSet::new();
    for rec in all {
        let seq = rec["seq"].as_u64().unwrap_or_else(|| panic!("{when}: record without seq: {rec}"));
        let marker = rec["details"]["marker"].as_str().unwrap_or_default().to_string();
        let own = rec["source"] == "auditgate";
        assert!(own || markers.insert(marker.clone()), "{when}: event {marker} stored twice");
        assert!(by_seq.insert(seq, rec).is_none(), "{when}: seq {seq} listed twice");
    }
    let max = by_seq.keys().next_back().copied().unwrap_or(0);
    let stored: Vec<u64> = by_seq.keys().copied().collect();
    let missing_seqs: Vec<u64> = (1..=max).filter(|s| !by_seq.contains_key(s)).collect();
    assert!(
        missing_seqs.is_empty(),
        "{when}: the stored seqs have gaps: {missing_seqs:?} (of {})",
        stored.len()
    );
    let mut lost = Vec::new();
    for (seq, sent) in &ledger.acked {
        match by_seq.get(seq) {
            None => lost.push(format!("seq {seq} ({}) is missing", sent["details"]["marker"])),
            Some(rec) => {
                if let Some(d) = diff_event(sent, rec, None) {
                    lost.push(format!("seq {seq} changed: {d}"));
                }
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{when}: {} of {} acknowledged events lost or changed:\n{}",
        lost.len(),
        ledger.acked.len(),
        lost.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    max
}

#[test]
fn acknowledged_events_survive_sigkill_during_concurrent_ingest() {
    let mut gw = Gateway::start_default();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = Rng::from_clock();
    for round in 0..ROUNDS {
        if round > 0 {
            gw.restart();
            verify(&gw, &ledger.lock().unwrap(), &format!("after kill {round}"));
        }
        ingest_and_kill(&mut gw, round, false, &ledger, &mut rng);
    }
    gw.restart();
    let l = ledger.lock().unwrap();
    let max = verify(&gw, &l, "after the last kill");
    let unacked_stored = max as usize - l.acked.len();
    let max_acked = l.acked.keys().next_back().copied().unwrap_or(0);
    drop(l);
    // New events continue after everything stored.
    let seq = gw
        .ingest_one(&json!({"action": "user.logout", "outcome": "success", "details": {"marker": "after"}}));
    // After everything stored (the gateway's records of the listing above come between),
    // and with no gap: the listing below checks 1..=seq again.
    assert!(
        seq > max,
        "the next seq {seq} is after the highest stored one ({max}; highest acknowledged {max_acked})"
    );
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["details"]["marker"], "after", "{rec}");
    assert!(verify(&gw, &ledger.lock().unwrap(), "after the next event") >= seq);
    eprintln!(
        "durability: {} acknowledged events over {ROUNDS} kills, {unacked_stored} stored without an acknowledgement",
        ledger.lock().unwrap().acked.len()
    );
}

#[test]
fn a_clean_restart_keeps_everything_and_continues_the_sequence() {
    let mut gw = Gateway::start_default();
    let mut sent = BTreeMap::new();
    for n in 0..5 {
        let e = event(0, 9, n);
        sent.insert(gw.ingest_one(&e), e);
    }
    let batch: Vec<Value> = (5..15).map(|n| event(0, 9, n)).collect();
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&batch));
    assert_eq!(status, 200, "{body}");
    for (e, r) in batch.into_iter().zip(body["results"].as_array().unwrap()) {
        sent.insert(r["seq"].as_u64().unwrap(), e);
    }
    gw.kill();
    gw.restart();
    let ledger = Ledger { acked: sent, problems: Vec::new() };
    let max = verify(&gw, &ledger, "after restart");
    // 15 events and the gateway's two start records; the listing's own record comes after.
    assert_eq!(gw.count_events(), 15, "15 events were sent");
    assert_eq!(max, 17, "15 events and two start records");
    let seq = gw.ingest_one(&event(1, 9, 0));
    assert!(seq > max, "{seq} after {max}");
    assert!(verify(&gw, &ledger, "after the next event") >= seq);
}

#[test]
fn retries_after_a_kill_store_each_event_once() {
    // Clients retry what was not acknowledged, with the same ids: after the restart each
    // id is stored exactly once, and an id acknowledged before the kill keeps its seq.
    let mut gw = Gateway::start_default();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = Rng::from_clock();
    let mut retried = 0;
    for round in 0..3 {
        let cut = ingest_and_kill(&mut gw, round, true, &ledger, &mut rng);
        gw.restart();
        let client = gw.client();
        for (kind, batch) in cut {
            let (status, bytes) = post_batch(&client, &gw.base_url(), kind, &batch)
                .unwrap_or_else(|| panic!("round {round}: the retry got no answer"));
            retried += batch.len();
            assert!(
                record_answer(&ledger, &format!("retry of sender {kind}"), &batch, status, &bytes),
                "round {round}: {:?}",
                ledger.lock().unwrap().problems
            );
        }
        let l = ledger.lock().unwrap();
        assert!(l.problems.is_empty(), "round {round}: {}", l.problems.join("\n"));
        verify(&gw, &l, &format!("after kill {round} and the retries"));
        // Each id once.
        let mut ids = HashSet::new();
        for rec in gw.query_all("", 1000) {
            let id = rec["id"].as_str().unwrap_or_else(|| panic!("an event without id: {rec}")).to_string();
            assert!(ids.insert(id.clone()), "round {round}: id {id} stored twice");
        }
        let sent_ids: HashSet<String> =
            l.acked.values().map(|e| e["id"].as_str().unwrap_or_default().to_string()).collect();
        assert!(sent_ids.is_subset(&ids), "round {round}: an acknowledged id is not stored");
    }
    eprintln!("retries: {retried} events retried after kills");
}
