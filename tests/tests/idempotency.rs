//! Idempotency keys: a repeated `id` answers with the first `seq`, marked `duplicate`, and
//! stores nothing new.

use auditgate_tests::*;
use serde_json::{Value, json};

fn with_id(id: &str, n: usize) -> Value {
    json!({"id": id, "action": "purchase.complete", "outcome": "success", "user": "alice", "details": {"n": n}})
}

fn records_with_id(gw: &Gateway, id: &str) -> Vec<Value> {
    gw.query_all("", 1000).into_iter().filter(|r| r["id"] == id).collect()
}

#[test]
fn the_same_id_twice_in_separate_requests() {
    let gw = Gateway::start_default();
    let id = unique_token("order-");
    let (status, first) = gw.post_events(INGEST_KEY, &with_id(&id, 1));
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["accepted"], 1, "{first}");
    let seq = first["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{first}"));
    assert!(first["results"][0].get("duplicate").is_none_or(|d| d == false), "{first}");

    // The repeat, even with a different body: the first one stands.
    for n in [1, 2] {
        let (status, again) = gw.post_events(INGEST_KEY, &with_id(&id, n));
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["accepted"], 1, "duplicates count as accepted: {again}");
        assert_eq!(again["results"], json!([{"seq": seq, "duplicate": true}]), "{again}");
    }
    // Through NDJSON and an array too.
    let (status, again) = gw.post_bulk(INGEST_KEY, &ndjson(&[with_id(&id, 3)]));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["results"][0]["seq"], seq, "{again}");
    assert_eq!(again["results"][0]["duplicate"], true, "{again}");
    let (status, again) = gw.post_events(INGEST_KEY, &json!([with_id(&id, 4)]));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["results"][0]["seq"], seq, "{again}");
    assert_eq!(again["results"][0]["duplicate"], true, "{again}");

    let stored = records_with_id(&gw, &id);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["seq"], seq);
    assert_eq!(stored[0]["details"]["n"], 1, "the first body is kept");
    assert_eq!(gw.count_events(), 1);

    // A different id is a different event.
    let other = gw.ingest_one(&with_id(&unique_token("order-"), 5));
    assert!(other > seq, "{other} after {seq}");
    assert_eq!(gw.count_events(), 2);
}

#[test]
fn the_same_id_twice_within_one_array() {
    let gw = Gateway::start_default();
    let a = unique_token("a-");
    let b = unique_token("b-");
    let body = json!([with_id(&a, 1), with_id(&b, 2), with_id(&a, 3), with_id(&b, 4), with_id(&a, 5)]);
    let (status, answer) = gw.post_events(INGEST_KEY, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 5, "{answer}");
    let r = answer["results"].as_array().unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(r.len(), 5, "{answer}");
    let sa = r[0]["seq"].as_u64().unwrap_or_else(|| panic!("{answer}"));
    let sb = r[1]["seq"].as_u64().unwrap_or_else(|| panic!("{answer}"));
    assert_ne!(sa, sb, "{answer}");
    assert!(r[0].get("duplicate").is_none_or(|d| d == false), "{answer}");
    assert!(r[1].get("duplicate").is_none_or(|d| d == false), "{answer}");
    assert_eq!(r[2], json!({"seq": sa, "duplicate": true}), "{answer}");
    assert_eq!(r[3], json!({"seq": sb, "duplicate": true}), "{answer}");
    assert_eq!(r[4], json!({"seq": sa, "duplicate": true}), "{answer}");
    assert_eq!(gw.count_events(), 2);
    assert_eq!(records_with_id(&gw, &a)[0]["details"]["n"], 1);
    assert_eq!(records_with_id(&gw, &b)[0]["details"]["n"], 2);

    // Within one NDJSON body as well.
    let c = unique_token("c-");
    let (status, answer) = gw.post_bulk(INGEST_KEY, &ndjson(&[with_id(&c, 6), with_id(&c, 7)]));
    assert_eq!(status, 200, "{answer}");
    let sc = answer["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(answer["results"][1], json!({"seq": sc, "duplicate": true}), "{answer}");
    assert_eq!(gw.count_events(), 3);
}

#[test]
fn ids_are_remembered_across_a_restart() {
    let mut gw = Gateway::start_default();
    let id = unique_token("restart-");
    let seq = gw.ingest_one(&with_id(&id, 1));
    gw.kill();
    gw.restart();
    let (status, again) = gw.post_events(INGEST_KEY, &with_id(&id, 2));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["results"], json!([{"seq": seq, "duplicate": true}]), "{again}");
    assert_eq!(gw.count_events(), 1);
}

#[test]
fn an_invalid_event_does_not_claim_its_id() {
    let gw = Gateway::start_default();
    let id = unique_token("claim-");
    let mut bad = with_id(&id, 1);
    bad["ip"] = json!("not-an-ip");
    let (status, answer) = gw.post_events(INGEST_KEY, &bad);
    assert_eq!(status, 400, "{answer}");
    // The corrected event is new, not a duplicate.
    let (status, answer) = gw.post_events(INGEST_KEY, &with_id(&id, 2));
    assert_eq!(status, 200, "{answer}");
    assert!(answer["results"][0].get("duplicate").is_none_or(|d| d == false), "{answer}");
    assert_eq!(records_with_id(&gw, &id)[0]["details"]["n"], 2);
}
