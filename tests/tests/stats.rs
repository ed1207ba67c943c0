//! `GET /v1/stats`: a known mix of events at fixed past times gives exact counts per
//! bucket and group, top lists and the alert count; filters, defaults, refusals; the same
//! answer after a restart; an encrypted store's top lists show the plain values.
//!
//! The mix lies in a past period (2025-01-10, 10:00–14:00 UTC), so the gateway's own
//! `auditgate.*` events (timed now) are outside it and the counts can be exact.

use auditgate_tests::*;
use serde_json::{Value, json};

const FROM: &str = "2025-01-10T10:00:00Z";
const TO: &str = "2025-01-10T14:00:00Z";
const IP_A: &str = "203.0.113.9";
const IP_B: &str = "198.51.100.7";

/// The mix, one NDJSON line each.
fn mix() -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..6 {
        out.push(json!({"action": "user.login", "outcome": "failure", "user": "alice", "ip": IP_A,
            "time": format!("2025-01-10T10:0{i}:00Z"), "reason": "wrong_password"}));
    }
    out.push(json!({"action": "user.login", "outcome": "success", "user": "alice", "ip": IP_A,
        "time": "2025-01-10T10:30:00Z"}));
    for i in 0..2 {
        out.push(json!({"action": "user.login", "outcome": "failure", "user": "bob", "ip": IP_B,
            "time": format!("2025-01-10T11:1{i}:00+00:00")}));
    }
    // Another offset, same hour (11:59 UTC).
    out.push(json!({"action": "user.logout", "outcome": "success", "user": "bob",
        "time": "2025-01-10T12:59:00+01:00"}));
    out.push(json!({"action": "admin.role.change", "outcome": "success", "user": "carol", "ip": IP_A,
        "time": "2025-01-10T13:00:00Z", "changes": {"before": {"role": "user"}, "after": {"role": "admin"}}}));
    out.push(json!({"action": "data.export", "outcome": "error", "time": "2025-01-10T13:59:59Z"}));
    // Outside the period on both sides.
    out.push(json!({"action": "user.login", "outcome": "failure", "user": "alice", "time": "2025-01-10T09:59:59Z"}));
    out.push(json!({"action": "user.login", "outcome": "failure", "user": "alice", "time": "2025-01-10T14:00:00Z"}));
    out
}

/// Ingests the mix in one bulk request; returns the stored seqs.
fn ingest_mix(gw: &Gateway) -> Vec<u64> {
    let ndjson: String = mix().iter().map(|e| format!("{e}\n")).collect();
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], mix().len(), "{body}");
    body["results"].as_array().unwrap().iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

fn stats(gw: &Gateway, query: &str) -> Value {
    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/stats?{query}"));
    assert_eq!(status, 200, "GET /v1/stats?{query}: {body}");
    body
}

fn period(extra: &str) -> String {
    format!("from={FROM}&to={TO}{extra}")
}

#[test]
fn counts_per_bucket_group_and_top_lists_are_exact() {
    let gw = Gateway::start_default();
    let seqs = ingest_mix(&gw);

    let by_action = stats(&gw, &period(""));
    assert_eq!(by_action["from"], FROM);
    assert_eq!(by_action["to"], TO);
    assert_eq!(by_action["bucket"], "hour");
    assert_eq!(by_action["by"], "action");
    let buckets = by_action["buckets"].as_array().unwrap();
    let starts: Vec<&str> = buckets.iter().map(|b| b["start"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        ["2025-01-10T10:00:00Z", "2025-01-10T11:00:00Z", "2025-01-10T12:00:00Z", "2025-01-10T13:00:00Z"]
    );
    assert_eq!(buckets[0]["counts"], json!({"user.login": 7}));
    assert_eq!(buckets[1]["counts"], json!({"user.login": 2, "user.logout": 1}));
    assert_eq!(buckets[2]["counts"], json!({}));
    assert_eq!(buckets[3]["counts"], json!({"admin.role.change": 1, "data.export": 1}));
    assert_eq!(
        by_action["totals"],
        json!({"user.login": 9, "user.logout": 1, "admin.role.change": 1, "data.export": 1})
    );
    assert_eq!(
        by_action["top_failed_users"],
        json!([{"user": "alice", "failures": 6}, {"user": "bob", "failures": 2}])
    );
    assert_eq!(by_action["top_ips"], json!([{"ip": IP_A, "events": 8}, {"ip": IP_B, "events": 2}]));

    // Alerts: what the policies raised on these events (the default chain's brute-force
    // rule fires on alice's failures), counted through the alerts API.
    let (status, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts?limit=1000");
    assert_eq!(status, 200, "{alerts}");
    let in_period = &seqs[..seqs.len() - 2];
    let raised = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| in_period.contains(&a["seq"].as_u64().unwrap()))
        .count();
    assert!(raised >= 1, "the brute-force policy raised nothing: {alerts}");
    assert_eq!(by_action["alerts"], raised);

    let by_outcome = stats(&gw, &period("&by=outcome"));
    assert_eq!(by_outcome["totals"], json!({"success": 3, "failure": 8, "error": 1}));
    assert_eq!(by_outcome["buckets"][0]["counts"], json!({"success": 1, "failure": 6}));

    // Events without a user (ip) are not counted under by=user (by=ip).
    let by_user = stats(&gw, &period("&by=user"));
    assert_eq!(by_user["totals"], json!({"alice": 7, "bob": 3, "carol": 1}));
    assert_eq!(by_user["buckets"][1]["counts"], json!({"bob": 3}));
    let by_ip = stats(&gw, &period("&by=ip"));
    assert_eq!(by_ip["totals"], json!({IP_A: 8, IP_B: 2}));
    assert_eq!(by_ip["buckets"][3]["counts"], json!({IP_A: 1}));

    // Filters: an action prefix, an exact action, an outcome, and both.
    let logins = stats(&gw, &period("&by=outcome&action=user.*"));
    assert_eq!(logins["totals"], json!({"success": 2, "failure": 8}));
    let exact = stats(&gw, &period("&action=user.logout"));
    assert_eq!(exact["totals"], json!({"user.logout": 1}));
    assert_eq!(exact["top_failed_users"], json!([]));
    let failures = stats(&gw, &period("&by=user&outcome=failure"));
    assert_eq!(failures["totals"], json!({"alice": 6, "bob": 2}));
    assert_eq!(failures["top_ips"], json!([{"ip": IP_A, "events": 6}, {"ip": IP_B, "events": 2}]));
    let none = stats(&gw, &period("&action=admin.*&outcome=failure"));
    assert_eq!(none["totals"], json!({}));
    assert_eq!(none["alerts"], 0);

    // Day buckets are whole UTC days; an unaligned `from` is rounded down.
    let day = stats(&gw, &period("&bucket=day"));
    assert_eq!(day["from"], "2025-01-10T00:00:00Z");
    assert_eq!(day["to"], "2025-01-11T00:00:00Z");
    assert_eq!(day["buckets"].as_array().unwrap().len(), 1);
    // The whole day also holds the two events just outside the hour range.
    assert_eq!(day["totals"]["user.login"], 11);
    let half = stats(&gw, "from=2025-01-10T10:30:00Z&to=2025-01-10T11:00:01Z");
    assert_eq!(half["from"], "2025-01-10T10:00:00Z");
    assert_eq!(half["to"], "2025-01-10T12:00:00Z");
    assert_eq!(half["totals"], json!({"user.login": 9, "user.logout": 1}));
}

#[test]
fn the_answer_is_the_same_after_a_restart() {
    let mut gw = Gateway::start_default();
    ingest_mix(&gw);
    let queries =
        [period(""), period("&by=user"), period("&by=ip&outcome=failure"), period("&bucket=day&by=outcome")];
    // Right after the ingest: the indexer may not have counted everything yet, the rest is
    // counted on the fly. After a while: all from the rollups.
    let first: Vec<Value> = queries.iter().map(|q| stats(&gw, q)).collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let settled: Vec<Value> = queries.iter().map(|q| stats(&gw, q)).collect();
    assert_eq!(first, settled);
    gw.restart();
    let after: Vec<Value> = queries.iter().map(|q| stats(&gw, q)).collect();
    assert_eq!(first, after);
    // New events after the restart are added to the durable rollups.
    gw.ingest_one(
        &json!({"action": "user.login", "outcome": "failure", "user": "bob", "time": "2025-01-10T12:30:00Z"}),
    );
    let more = stats(&gw, &period("&by=user"));
    assert_eq!(more["totals"], json!({"alice": 7, "bob": 4, "carol": 1}));
    assert_eq!(more["buckets"][2]["counts"], json!({"bob": 1}));
}

#[test]
fn defaults_are_the_last_24_hours_by_action_per_hour() {
    let gw = Gateway::start_default();
    let marker = "stats.default.check";
    gw.ingest_one(&json!({"action": marker, "outcome": "success", "user": "now-user"}));
    let body = stats(&gw, "");
    assert_eq!(body["bucket"], "hour");
    assert_eq!(body["by"], "action");
    let buckets = body["buckets"].as_array().unwrap();
    // 24 hours widened to whole hours: 24, or 25 when now is not on the hour.
    assert!(buckets.len() == 24 || buckets.len() == 25, "{} buckets", buckets.len());
    let from = chrono::DateTime::parse_from_rfc3339(body["from"].as_str().unwrap()).unwrap();
    let to = chrono::DateTime::parse_from_rfc3339(body["to"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now();
    assert!(from <= now - chrono::Duration::hours(24) && to >= now, "{from}..{to} around {now}");
    assert_eq!(body["totals"][marker], 1, "{body}");
    assert_eq!(buckets.last().unwrap()["counts"][marker], 1, "{body}");
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let gw = Gateway::start_default();
    let cases = [
        ("bucket=week", "`bucket`"),
        ("by=resource", "`by`"),
        ("outcome=maybe", "`outcome`"),
        ("action=User.Login", "`action`"),
        ("from=yesterday", "`from`"),
        ("to=2025-13-01T00:00:00Z", "`to`"),
        ("from=2025-01-10T12:00:00Z&to=2025-01-10T10:00:00Z", "`from`"),
        ("from=2000-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "10000"),
        ("limit=10", "`limit`"),
    ];
    for (query, named) in cases {
        let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/stats?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{query}: {message}");
    }
    // 10000 day buckets is the most answered.
    let (status, body) =
        gw.get(AUDITOR_KEY, "/v1/stats?bucket=day&from=2000-01-01T00:00:00Z&to=2027-05-19T00:00:00Z");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["buckets"].as_array().unwrap().len(), 10_000);
}

#[test]
fn an_encrypted_store_shows_plain_values_in_top_lists() {
    let gw = Gateway::start_with(
        &default_config(),
        StartOptions {
            env: vec![
                ("AUDITGATE_STORAGE__ENCRYPTION".into(), "true".into()),
                ("AUDITGATE_MASTER_KEY".into(), "5".repeat(64)),
            ],
            ..StartOptions::default()
        },
    );
    ingest_mix(&gw);
    let body = stats(&gw, &period("&by=user"));
    assert_eq!(body["totals"], json!({"alice": 7, "bob": 3, "carol": 1}));
    assert_eq!(
        body["top_failed_users"],
        json!([{"user": "alice", "failures": 6}, {"user": "bob", "failures": 2}])
    );
    assert_eq!(body["top_ips"], json!([{"ip": IP_A, "events": 8}, {"ip": IP_B, "events": 2}]));
    // The rollups name nobody on disk: no file of the data dir holds carol's name (her
    // event reaches no policy that keeps state of its own, unlike the failed logins, whose
    // brute-force counters are the policy host's).
    let mut gw = gw;
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(gw.stop(), "the gateway did not stop cleanly");
    for (path, bytes) in gw.data_files() {
        let found = bytes.windows(5).any(|w| w == b"carol");
        assert!(!found, "{} holds a user name in the clear", path.display());
    }
}
