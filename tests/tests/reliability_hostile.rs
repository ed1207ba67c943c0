//! Reliability (opt-in: `--features reliability`): hostile policies built as real WASM
//! (`tests/policies/hostile-policy`): a memory bomb, giant output (a million patches,
//! alerts or tags for one event), a panic, and slow-but-legal work. The gateway stays up
//! and answers other traffic meanwhile, each failure gets the policy's `on_error`, and
//! nothing acknowledged is lost (also across a SIGKILL and restart).
//!
//! The endless loop and the plain trap are covered by `policies.rs`.
#![cfg(feature = "reliability")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use auditgate_tests::*;
use reqwest::Method;
use serde_json::{Value, json};

const NAME: &str = "hostile";
const SAW: &str = "hostile-policy-saw";
const SLOW: &str = "hostile-policy-slow";
/// "Millions" of outputs would need more than the policy's memory cap allows to build;
/// one million per event is what a 256 MiB policy can return.
const GIANT: u64 = 1_000_000;

/// The failing kinds and what makes them fail.
const KINDS: [(&str, u64); 5] =
    [("oom", 0), ("patches", GIANT), ("alerts", GIANT), ("tags", GIANT), ("panic", 0)];

fn gateway(on_error: OnError) -> Gateway {
    let mut policy = PolicySpec::new(NAME, &test_policies().hostile, on_error).timeout_ms(10_000);
    policy.memory_mb = 256;
    Gateway::start(&with_policies(&default_config(), &[policy]))
}

fn hostile(kind: &str, n: u64, marker: usize) -> Value {
    json!({"action": "api.call", "outcome": "success", "user": format!("h{marker}"),
           "details": {"hostile": kind, "n": n, "marker": marker}})
}

fn normal(marker: usize) -> Value {
    json!({"action": "user.login", "outcome": "success", "user": format!("n{marker}"),
           "details": {"marker": marker}})
}

/// Every (seq → marker) acknowledged so far is stored with its marker.
fn assert_all_stored(gw: &Gateway, acked: &[(u64, usize)]) {
    let stored = gw.query_all("", 1000);
    for (seq, marker) in acked {
        let rec = stored.iter().find(|e| e["seq"] == *seq).unwrap_or_else(|| panic!("seq {seq} is missing"));
        assert_eq!(rec["details"]["marker"], *marker, "{rec}");
    }
    assert_eq!(stored.len(), acked.len(), "stored events that were never acknowledged as stored");
}

#[test]
fn each_hostile_kind_gets_quarantined_and_its_batch_neighbours_are_stored() {
    let mut gw = gateway(OnError::Quarantine);
    let mut acked = Vec::new();
    let mut marker = 0;
    for (kind, n) in KINDS {
        marker += 3;
        let batch = json!([normal(marker), hostile(kind, n, marker + 1), normal(marker + 2)]);
        let (status, body) = gw.post_events(INGEST_KEY, &batch);
        assert_eq!(status, 200, "{kind}: {body}");
        assert_eq!(
            (body["accepted"].as_u64(), body["quarantined"].as_u64()),
            (Some(2), Some(1)),
            "{kind}: {body}"
        );
        let r = &body["results"];
        assert!(r[1]["error"].as_str().is_some_and(|e| !e.is_empty()), "{kind}: {body}");
        for (i, m) in [(0, marker), (2, marker + 2)] {
            let seq = r[i]["seq"].as_u64().unwrap_or_else(|| panic!("{kind}: {body}"));
            let rec = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}")).1;
            assert!(tags(&rec).contains(&SAW), "{kind}: the policy still ran on its neighbours: {rec}");
            acked.push((seq, m));
        }
        let (status, _) = gw.request(Method::GET, "/healthz", Auth::None, None);
        assert_eq!(status, 200, "{kind}: the gateway is not healthy");
    }
    let (status, body) = gw.get(ADMIN_KEY, "/v1/quarantine?limit=1000");
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), KINDS.len(), "{body}");
    for item in &items {
        assert_eq!(item["policy"], NAME, "{item}");
    }
    let errors: Vec<&str> = items.iter().filter_map(|i| i["error"].as_str()).collect();
    for cap in ["patches", "alerts", "tags"] {
        assert!(errors.iter().any(|e| e.contains(cap)), "no error names the {cap} cap: {errors:?}");
    }
    assert_all_stored(&gw, &acked);
    gw.restart();
    assert_all_stored(&gw, &acked);
}

#[test]
fn under_reject_each_kind_is_422_and_under_skip_it_is_stored_unchanged() {
    let reject = gateway(OnError::Reject);
    let skip = gateway(OnError::Skip);
    for (i, (kind, n)) in KINDS.into_iter().enumerate() {
        let (status, body) = reject.post_events(INGEST_KEY, &hostile(kind, n, i));
        assert_error(status, &body, 422, "policy_rejected", &[NAME]);
        let seq = skip.ingest_one(&hostile(kind, n, i));
        let rec = skip.get(AUDITOR_KEY, &format!("/v1/events/{seq}")).1;
        assert!(!tags(&rec).iter().any(|t| t.starts_with('t') || *t == SAW), "{kind}: {rec}");
        assert_eq!(rec["details"]["hostile"], kind, "{rec}");
    }
    assert_eq!(reject.count_events(), 0);
    assert_eq!(skip.count_events(), KINDS.len());
}

#[test]
fn the_gateway_answers_other_traffic_while_policies_misbehave() {
    let gw = Arc::new(gateway(OnError::Skip));
    let stop = Arc::new(AtomicBool::new(false));
    // Two attackers: one cycles through the failing kinds, one sends slow-but-legal events.
    let attackers: Vec<_> = [false, true]
        .into_iter()
        .map(|slow| {
            let (gw, stop) = (gw.clone(), stop.clone());
            thread::spawn(move || {
                let mut acked = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let marker = 1_000_000 * (1 + usize::from(slow)) + i;
                    let event = if slow {
                        json!({"action": "api.call", "outcome": "success",
                               "details": {"hostile": "slow", "iters": 20_000_000u64, "marker": marker}})
                    } else {
                        let (kind, n) = KINDS[i % KINDS.len()];
                        hostile(kind, n, marker)
                    };
                    let seq = gw.ingest_one(&event);
                    if slow {
                        let rec = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}")).1;
                        assert!(tags(&rec).contains(&SLOW), "slow-but-legal work was cut: {rec}");
                    }
                    acked.push((seq, marker));
                }
                acked
            })
        })
        .collect();
    // Meanwhile, ordinary traffic: every request is answered, and stored.
    let mut acked = Vec::new();
    for marker in 0..60 {
        let (status, _) = gw.request(Method::GET, "/healthz", Auth::None, None);
        assert_eq!(status, 200);
        acked.push((gw.ingest_one(&normal(marker)), marker));
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let mut hostile_acked = 0;
    for a in attackers {
        let more = a.join().expect("an attacker thread failed");
        hostile_acked += more.len();
        acked.extend(more);
    }
    assert!(hostile_acked >= 4, "the attackers barely ran: {hostile_acked}");
    assert_all_stored(&gw, &acked);
}
