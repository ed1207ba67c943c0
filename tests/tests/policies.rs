//! Hostile policies (a trap, an endless loop) under each `on_error`: the gateway stays up,
//! applies the policy's `on_error`, isolates the bad event, and keeps serving.

use std::time::{Duration, Instant};

use auditgate_tests::*;
use serde_json::{Value, json};

const TRAP_NAME: &str = "hostile-trap";
const SPIN_NAME: &str = "hostile-spin";
const SAW: &str = "trap-policy-saw";

fn trap_gateway(on_error: OnError) -> Gateway {
    let policy = PolicySpec::new(TRAP_NAME, &test_policies().trap, on_error);
    Gateway::start(&with_policies(&default_config(), &[policy]))
}

fn spin_gateway(on_error: OnError) -> Gateway {
    let policy = PolicySpec::new(SPIN_NAME, &test_policies().spin, on_error).timeout_ms(100);
    Gateway::start(&with_policies(&default_config(), &[policy]))
}

fn trapping(n: usize) -> Value {
    json!({"action": "user.login", "outcome": "failure", "user": format!("t{n}"), "details": {"trap": true, "n": n}})
}

fn normal(n: usize) -> Value {
    json!({"action": "user.login", "outcome": "success", "user": format!("n{n}"), "details": {"trap": false, "n": n}})
}

fn tags(record: &Value) -> Vec<String> {
    record["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("tags is not an array: {record}"))
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

/// A normal event goes through, and the trap policy ran on it.
#[track_caller]
fn normal_event_still_passes(gw: &Gateway, n: usize, expect_tag: bool) {
    let seq = gw.ingest_one(&normal(n));
    let rec = gw.record(seq);
    assert_eq!(rec["details"]["n"], n, "{rec}");
    if expect_tag {
        assert!(tags(&rec).contains(&SAW.to_string()), "the trap policy should have tagged it: {rec}");
    }
}

fn quarantine_items(gw: &Gateway) -> Vec<Value> {
    let (status, body) = gw.get(ADMIN_KEY, "/v1/quarantine?limit=1000");
    assert_eq!(status, 200, "GET /v1/quarantine: {body}");
    body["items"].as_array().cloned().unwrap_or_else(|| panic!("no items array: {body}"))
}

#[test]
fn trap_under_reject_is_422_and_stores_nothing() {
    let gw = trap_gateway(OnError::Reject);
    normal_event_still_passes(&gw, 0, true);
    let before = gw.count_events();
    let (status, body) = gw.post_events(INGEST_KEY, &trapping(1));
    assert_error(status, &body, 422, "policy_rejected", &[TRAP_NAME]);
    assert_eq!(gw.count_events(), before, "a rejected event was stored");
    assert!(quarantine_items(&gw).is_empty(), "reject does not quarantine");
    // The trapped instance was replaced: the policy still works, many times over.
    for n in 2..6 {
        normal_event_still_passes(&gw, n, true);
    }
    let (status, body) = gw.post_events(INGEST_KEY, &trapping(6));
    assert_error(status, &body, 422, "policy_rejected", &[TRAP_NAME]);
    normal_event_still_passes(&gw, 7, true);
}

#[test]
fn trap_under_reject_in_a_batch_fails_alone() {
    let gw = trap_gateway(OnError::Reject);
    let before = gw.count_events();
    let (status, body) = gw.post_events(INGEST_KEY, &json!([normal(1), trapping(2), normal(3)]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["rejected"], 1, "{body}");
    let results = body["results"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(results.len(), 3, "{body}");
    assert_eq!(results[1]["index"], 1, "{body}");
    assert_eq!(results[1]["error"]["code"], "policy_rejected", "{body}");
    assert!(results[1]["error"]["message"].as_str().unwrap_or("").contains(TRAP_NAME), "{body}");
    for (i, n) in [(0, 1), (2, 3)] {
        let seq = results[i]["seq"].as_u64().unwrap_or_else(|| panic!("result {i}: {body}"));
        let rec = gw.record(seq);
        assert_eq!(rec["details"]["n"], n, "{rec}");
        assert!(tags(&rec).contains(&SAW.to_string()), "{rec}");
    }
    assert_eq!(gw.count_events(), before + 2);

    // The same over NDJSON, with the trap on the first line.
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&[trapping(4), normal(5), normal(6)]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["rejected"], 1, "{body}");
    assert_eq!(body["results"][0]["index"], 0, "{body}");
    assert_eq!(body["results"][0]["line"], 1, "{body}");
    assert_eq!(body["results"][0]["error"]["code"], "policy_rejected", "{body}");
    assert_eq!(gw.count_events(), before + 4);
    normal_event_still_passes(&gw, 7, true);
}

#[test]
fn trap_under_quarantine_goes_to_the_quarantine_only() {
    let gw = trap_gateway(OnError::Quarantine);
    normal_event_still_passes(&gw, 0, true);
    let before = gw.count_events();
    let secret = unique_token("qsecret-");
    let mut ev = trapping(1);
    ev["details"]["password"] = json!(secret);
    let (status, body) = gw.post_events(INGEST_KEY, &ev);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 0, "{body}");
    assert_eq!(body["rejected"], 0, "{body}");
    assert_eq!(body["quarantined"], 1, "{body}");
    let result = &body["results"][0];
    let id = result.get("quarantined").cloned().unwrap_or_else(|| panic!("no quarantined id: {body}"));
    assert!(!id.is_null(), "{body}");
    assert!(result["error"].as_str().is_some_and(|e| !e.is_empty()), "no error text: {body}");
    assert!(result.get("seq").is_none(), "a quarantined event has no seq: {body}");
    assert_eq!(gw.count_events(), before, "a quarantined event is not in /v1/events");

    let items = quarantine_items(&gw);
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["id"], id, "{item}");
    assert_eq!(item["policy"], TRAP_NAME, "{item}");
    assert_eq!(item["source"], INGEST_NAME, "{item}");
    assert!(item["error"].as_str().is_some_and(|e| !e.is_empty()), "{item}");
    assert!(
        item["received_at"].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "{item}"
    );
    assert_eq!(item["event"]["details"]["n"], 1, "{item}");
    assert_eq!(item["event"]["details"]["trap"], true, "{item}");
    // redact-secrets ran before the trap: what sits in quarantine is redacted too.
    assert_eq!(item["event"]["details"]["password"], "[REDACTED]", "{item}");
    let leaks = files_containing(&gw.data_files(), secret.as_bytes());
    assert!(leaks.is_empty(), "the quarantined event's secret is on disk: {leaks:?}");

    // A batch: only the trapping event is quarantined.
    let (status, body) = gw.post_events(INGEST_KEY, &json!([normal(2), trapping(3), normal(4)]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["quarantined"], 1, "{body}");
    assert!(body["results"][1].get("quarantined").is_some(), "{body}");
    assert!(body["results"][0]["seq"].is_u64() && body["results"][2]["seq"].is_u64(), "{body}");
    assert_eq!(quarantine_items(&gw).len(), 2);
    assert_eq!(gw.count_events(), before + 2);
    normal_event_still_passes(&gw, 5, true);
}

#[test]
fn trap_under_skip_stores_without_the_policys_changes() {
    let gw = trap_gateway(OnError::Skip);
    let (status, body) = gw.post_events(INGEST_KEY, &trapping(1));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    let seq = body["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));
    let rec = gw.record(seq);
    assert_eq!(rec["details"]["n"], 1, "{rec}");
    assert!(!tags(&rec).contains(&SAW.to_string()), "skip drops the failed policy's decision: {rec}");
    assert!(quarantine_items(&gw).is_empty());
    normal_event_still_passes(&gw, 2, true);
    // In a batch, the neighbours keep their tag.
    let (status, body) = gw.post_events(INGEST_KEY, &json!([normal(3), trapping(4), normal(5)]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 3, "{body}");
    let tagged: Vec<bool> = (0..3)
        .map(|i| {
            let seq = body["results"][i]["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));
            tags(&gw.record(seq)).contains(&SAW.to_string())
        })
        .collect();
    assert_eq!(tagged, [true, false, true], "{body}");
}

#[test]
fn the_actions_filter_selects_what_a_policy_sees() {
    let policy = PolicySpec::new(TRAP_NAME, &test_policies().trap, OnError::Reject).actions(&["user.*"]);
    let gw = Gateway::start(&with_policies(&default_config(), &[policy]));
    // Not selected: stored, untouched by the trap policy.
    let mut ev = trapping(1);
    ev["action"] = json!("api.call");
    let seq = gw.ingest_one(&ev);
    assert!(!tags(&gw.record(seq)).contains(&SAW.to_string()));
    // Selected.
    let (status, body) = gw.post_events(INGEST_KEY, &trapping(2));
    assert_error(status, &body, 422, "policy_rejected", &[TRAP_NAME]);
    normal_event_still_passes(&gw, 3, true);
}

#[test]
fn an_endless_loop_under_skip_is_cut_by_the_timeout() {
    let gw = spin_gateway(OnError::Skip);
    let started = Instant::now();
    let (status, body) = gw.post_events(
        INGEST_KEY,
        &json!({
            "action": "user.login", "outcome": "success", "details": {"spin": true, "n": 1}
        }),
    );
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    assert!(took < Duration::from_secs(5), "a 100 ms timeout took {took:?}");
    let seq = body["results"][0]["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(gw.record(seq)["details"]["n"], 1);
    // And the gateway keeps working, spinning events included.
    for n in 2..5 {
        let seq = gw.ingest_one(
            &json!({"action": "user.login", "outcome": "success", "details": {"spin": false, "n": n}}),
        );
        assert_eq!(gw.record(seq)["details"]["n"], n);
    }
    let started = Instant::now();
    let (status, body) = gw.post_events(
        INGEST_KEY,
        &json!({
            "action": "user.login", "outcome": "success", "details": {"spin": true, "n": 5}
        }),
    );
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn an_endless_loop_under_reject_is_422() {
    let gw = spin_gateway(OnError::Reject);
    let before = gw.count_events();
    let started = Instant::now();
    let (status, body) = gw.post_events(
        INGEST_KEY,
        &json!({
            "action": "user.login", "outcome": "success", "details": {"spin": true}
        }),
    );
    let took = started.elapsed();
    assert_error(status, &body, 422, "policy_rejected", &[SPIN_NAME]);
    assert!(took < Duration::from_secs(5), "a 100 ms timeout took {took:?}");
    assert_eq!(gw.count_events(), before);
    let seq =
        gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "details": {"spin": false}}));
    assert!(seq >= 1);
    assert_eq!(gw.count_events(), before + 1);
}

#[test]
fn the_gateway_survives_many_hostile_events() {
    // Both hostile policies in one chain, under skip; a stream of mixed events.
    let config = with_policies(
        &default_config(),
        &[
            PolicySpec::new(TRAP_NAME, &test_policies().trap, OnError::Skip),
            PolicySpec::new(SPIN_NAME, &test_policies().spin, OnError::Skip).timeout_ms(100),
        ],
    );
    let mut gw = Gateway::start(&config);
    let started = Instant::now();
    let mut batch = Vec::new();
    for n in 0..12 {
        batch.push(json!({
            "action": "user.login", "outcome": "success",
            "details": {"trap": n % 3 == 0, "spin": n % 5 == 0, "n": n},
        }));
    }
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&batch));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 12, "{body}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(gw.is_running(), "the gateway died");
    normal_event_still_passes(&gw, 100, true);
    assert_eq!(gw.count_events(), 13);
}
