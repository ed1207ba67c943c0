//! Ingest through every path (single, array, NDJSON) and read back through every filter,
//! in both orders, across pages.

use auditgate_tests::*;
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use serde_json::{Value, json};

const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const ACTIONS: [&str; 7] = [
    "user.login",
    "user.logout",
    "user.password.change",
    // Not matched by `user.*`: the prefix is "user.", not "user".
    "users.export",
    "account.lockout",
    "credential.decrypt",
    "admin.role.change",
];
const OUTCOMES: [&str; 4] = ["success", "failure", "error", "unknown"];
/// (as sent, canonical form)
const IPS: [(&str, &str); 5] = [
    ("10.0.0.1", "10.0.0.1"),
    ("192.168.1.20", "192.168.1.20"),
    ("2001:DB8::1", "2001:db8::1"),
    ("2001:0db8:0000:0000:0000:0000:0000:0002", "2001:db8::2"),
    ("fe80::AbCd", "fe80::abcd"),
];
const RESOURCES: [(&str, &str); 3] = [("document", "doc-1"), ("document", "doc-2"), ("account", "doc-1")];

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap()
}

/// One test event, as sent, with what the test knows about it.
#[derive(Debug, Clone)]
struct Sent {
    index: usize,
    event: Value,
    canonical_ip: Option<&'static str>,
    micros: i64,
    seq: u64,
}

/// 30 events over several users, actions, outcomes, IPs, resources and sessions. Times are
/// not in arrival order, several events share a time (ties are broken by seq), and times
/// are written with different offsets.
fn make_events() -> Vec<Sent> {
    (0..30)
        .map(|i| {
            let slot = ((i * 7) % 13) as i64;
            let extra_ms = if i % 5 == 0 { 250 } else { 0 };
            let instant = base_time() + Duration::minutes(slot * 5) + Duration::milliseconds(extra_ms);
            let offset = match i % 3 {
                0 => FixedOffset::east_opt(0).unwrap(),
                1 => FixedOffset::east_opt(2 * 3600).unwrap(),
                _ => FixedOffset::west_opt(5 * 3600 + 1800).unwrap(),
            };
            let time = instant.with_timezone(&offset).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            let mut e = json!({
                "action": ACTIONS[i % ACTIONS.len()],
                "outcome": OUTCOMES[(i / 2) % OUTCOMES.len()],
                "user": USERS[i % USERS.len()],
                "time": time,
                "request_id": format!("req-{i}"),
                "details": {"i": i},
            });
            let mut canonical_ip = None;
            if i % 6 != 5 {
                let (sent, canonical) = IPS[i % IPS.len()];
                e["ip"] = json!(sent);
                canonical_ip = Some(canonical);
            }
            if i % 4 != 3 {
                let (t, id) = RESOURCES[i % RESOURCES.len()];
                e["resource_type"] = json!(t);
                e["resource_id"] = json!(id);
            }
            if i % 5 != 4 {
                e["session_id"] = json!(format!("s-{}", i % 4));
            }
            if i % 7 == 0 {
                e["severity"] = json!("high");
            }
            Sent { index: i, event: e, canonical_ip, micros: instant.timestamp_micros(), seq: 0 }
        })
        .collect()
}

/// Sends events 0..10 one by one, 10..20 as one array, 20..30 as NDJSON; fills in `seq`.
fn ingest_all(gw: &Gateway, events: &mut [Sent]) {
    for s in events[..10].iter_mut() {
        s.seq = gw.ingest_one(&s.event);
    }
    let array: Vec<Value> = events[10..20].iter().map(|s| s.event.clone()).collect();
    let (status, body) = gw.post_events(INGEST_KEY, &Value::Array(array));
    assert_eq!(status, 200, "array: {body}");
    assert_eq!(body["accepted"], 10, "array: {body}");
    assert_eq!(body["rejected"], 0, "array: {body}");
    for (k, s) in events[10..20].iter_mut().enumerate() {
        s.seq = body["results"][k]["seq"].as_u64().unwrap_or_else(|| panic!("array result {k}: {body}"));
    }
    let lines: Vec<Value> = events[20..30].iter().map(|s| s.event.clone()).collect();
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&lines));
    assert_eq!(status, 200, "bulk: {body}");
    assert_eq!(body["accepted"], 10, "bulk: {body}");
    assert_eq!(body["rejected"], 0, "bulk: {body}");
    for (k, s) in events[20..30].iter_mut().enumerate() {
        s.seq = body["results"][k]["seq"].as_u64().unwrap_or_else(|| panic!("bulk result {k}: {body}"));
    }
    let got: Vec<u64> = events.iter().map(|s| s.seq).collect();
    // seq 1 is the gateway's start record; nothing else was written in between.
    let want: Vec<u64> = (2..=31).collect();
    assert_eq!(got, want, "one sender, in order: seq must run on from 2 in arrival order");
}

/// The seqs `pred` selects, in (time, seq) order, reversed for `desc`.
fn expected(events: &[Sent], pred: &dyn Fn(&Sent) -> bool, desc: bool) -> Vec<u64> {
    let mut sel: Vec<&Sent> = events.iter().filter(|s| pred(s)).collect();
    sel.sort_by_key(|s| (s.micros, s.seq));
    let mut out: Vec<u64> = sel.iter().map(|s| s.seq).collect();
    if desc {
        out.reverse();
    }
    out
}

fn field<'a>(s: &'a Sent, name: &str) -> Option<&'a str> {
    s.event.get(name).and_then(Value::as_str)
}

fn time_at(slot: i64) -> DateTime<Utc> {
    base_time() + Duration::minutes(slot * 5)
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[test]
fn every_filter_in_both_orders_across_pages() {
    // Without the example geo table: the events use documentation addresses, and this test
    // compares every stored record field by field with what was sent.
    let gw = Gateway::start(&without_lookups(&default_config()));
    let mut events = make_events();
    ingest_all(&gw, &mut events);

    // Every stored record holds what was sent, plus the gateway's fields.
    let all = gw.query_all("", 1000);
    assert_eq!(all.len(), 30, "all events: {all:?}");
    for rec in &all {
        assert_record_shape(rec);
        let seq = rec["seq"].as_u64().unwrap();
        let sent = events.iter().find(|s| s.seq == seq).unwrap_or_else(|| panic!("unknown seq {seq}"));
        if let Some(d) = diff_event(&sent.event, rec, sent.canonical_ip) {
            panic!("event {} (seq {seq}) stored differently: {d}\nrecord: {rec}", sent.index);
        }
        assert_eq!(rec["source"], INGEST_NAME, "{rec}");
        assert_eq!(rec["redacted"], json!([]), "nothing to redact: {rec}");
        if sent.event.get("severity").is_none() {
            assert_eq!(rec["severity"], "info", "default severity: {rec}");
        }
        let (status, one) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
        assert_eq!(status, 200, "GET /v1/events/{seq}: {one}");
        assert_eq!(&one, rec, "GET /v1/events/{seq} differs from the listing");
    }
    // IPv6 canonical text form, explicitly.
    let v6 = all.iter().find(|r| r["details"]["i"] == 2).unwrap();
    assert_eq!(v6["ip"], "2001:db8::1", "{v6}");

    let t5 = time_at(5);
    let t3 = time_at(3);
    let t9 = time_at(9);
    let t4_plus2 = time_at(4).with_timezone(&FixedOffset::east_opt(2 * 3600).unwrap()).to_rfc3339();
    let t4 = time_at(4).timestamp_micros();
    type Pred = Box<dyn Fn(&Sent) -> bool>;
    let cases: Vec<(String, Pred)> = vec![
        (String::new(), Box::new(|_| true)),
        ("user=alice".into(), Box::new(|s| field(s, "user") == Some("alice"))),
        ("action=user.login".into(), Box::new(|s| field(s, "action") == Some("user.login"))),
        (
            format!("action={}", enc("user.*")),
            Box::new(|s| field(s, "action").is_some_and(|a| a.starts_with("user."))),
        ),
        ("action=users.export".into(), Box::new(|s| field(s, "action") == Some("users.export"))),
        ("outcome=failure".into(), Box::new(|s| field(s, "outcome") == Some("failure"))),
        ("ip=10.0.0.1".into(), Box::new(|s| s.canonical_ip == Some("10.0.0.1"))),
        (format!("ip={}", enc("2001:db8::1")), Box::new(|s| s.canonical_ip == Some("2001:db8::1"))),
        (format!("ip={}", enc("2001:db8::2")), Box::new(|s| s.canonical_ip == Some("2001:db8::2"))),
        (format!("ip={}", enc("fe80::abcd")), Box::new(|s| s.canonical_ip == Some("fe80::abcd"))),
        (
            "resource_type=document&resource_id=doc-1".into(),
            Box::new(|s| {
                field(s, "resource_type") == Some("document") && field(s, "resource_id") == Some("doc-1")
            }),
        ),
        ("resource_type=account".into(), Box::new(|s| field(s, "resource_type") == Some("account"))),
        ("resource_id=doc-1".into(), Box::new(|s| field(s, "resource_id") == Some("doc-1"))),
        ("session_id=s-2".into(), Box::new(|s| field(s, "session_id") == Some("s-2"))),
        ("source=dev-ingest".into(), Box::new(|_| true)),
        ("source=somebody-else".into(), Box::new(|_| false)),
        ("user=nobody".into(), Box::new(|_| false)),
        (format!("from={}", enc(&utc(t5))), Box::new(move |s| s.micros >= t5.timestamp_micros())),
        (format!("to={}", enc(&utc(t5))), Box::new(move |s| s.micros < t5.timestamp_micros())),
        (
            format!("from={}&to={}", enc(&utc(t3)), enc(&utc(t9))),
            Box::new(move |s| s.micros >= t3.timestamp_micros() && s.micros < t9.timestamp_micros()),
        ),
        // The same instant written with an offset.
        (format!("from={}", enc(&t4_plus2)), Box::new(move |s| s.micros >= t4)),
        (
            "user=bob&outcome=success".into(),
            Box::new(|s| field(s, "user") == Some("bob") && field(s, "outcome") == Some("success")),
        ),
        (
            format!("action={}&from={}&to={}", enc("user.*"), enc(&utc(t3)), enc(&utc(t9))),
            Box::new(move |s| {
                field(s, "action").is_some_and(|a| a.starts_with("user."))
                    && s.micros >= t3.timestamp_micros()
                    && s.micros < t9.timestamp_micros()
            }),
        ),
    ];
    let mut failures = Vec::new();
    for (query, pred) in &cases {
        for desc in [false, true] {
            let q = if desc {
                if query.is_empty() { "order=desc".to_string() } else { format!("{query}&order=desc") }
            } else if query.is_empty() {
                "order=asc".to_string()
            } else {
                format!("{query}&order=asc")
            };
            let want = expected(&events, pred.as_ref(), desc);
            let got_records = gw.query_all(&q, 7);
            let got = seqs(&got_records);
            if got != want {
                failures.push(format!("GET /v1/events?{q} (pages of 7):\n   want {want:?}\n   got  {got:?}"));
            }
            // And in one page.
            let one_page = seqs(&gw.query_all(&q, 1000));
            if one_page != want {
                failures
                    .push(format!("GET /v1/events?{q} (one page):\n   want {want:?}\n   got  {one_page:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} filter(s) answered wrongly:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn pages_have_no_gap_and_no_duplicate_for_every_limit() {
    let gw = Gateway::start_default();
    let mut events = make_events();
    ingest_all(&gw, &mut events);
    let want_asc = expected(&events, &|_| true, false);
    let want_desc = expected(&events, &|_| true, true);
    // The app's events only: each page read adds a self-audit record at the end of the
    // log, which an unfiltered ascending walk with a small limit would chase forever.
    for limit in [1, 2, 7, 10, 29, 30, 31] {
        let asc = seqs(&gw.query_all("source=dev-ingest&order=asc", limit));
        assert_no_dups(&asc);
        assert_eq!(asc, want_asc, "asc, limit {limit}");
        let desc = seqs(&gw.query_all("source=dev-ingest&order=desc", limit));
        assert_no_dups(&desc);
        assert_eq!(desc, want_desc, "desc, limit {limit}");
    }
    // A page of exactly `limit` at the end: the cursor may be non-null, but the next page
    // is then empty with a null cursor (query_all checks that it terminates).
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/events?source=dev-ingest&limit=1000");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"].as_array().map(Vec::len), Some(30), "{body}");
    assert!(body["next_cursor"].is_null(), "everything fits in one page: {body}");
    // Default limit is 100: 30 events fit.
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/events?source=dev-ingest");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"].as_array().map(Vec::len), Some(30), "{body}");
}

#[test]
fn default_time_is_the_received_time_and_defaults_apply() {
    let gw = Gateway::start_default();
    let before = Utc::now() - Duration::seconds(2);
    let seq =
        gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": "zoe", "ip": "::1"}));
    let after = Utc::now() + Duration::seconds(2);
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "{rec}");
    assert_record_shape(&rec);
    let t = time_micros(rec["time"].as_str().unwrap());
    assert!(
        (before.timestamp_micros()..=after.timestamp_micros()).contains(&t),
        "time defaults to the received time: {rec}"
    );
    assert_eq!(rec["severity"], "info", "{rec}");
    assert_eq!(rec["ip"], "::1", "{rec}");
    assert_eq!(rec["user"], "zoe", "{rec}");
    assert_eq!(rec["source"], INGEST_NAME, "{rec}");
}

#[test]
fn bad_queries_are_refused() {
    let gw = Gateway::start_default();
    for i in 0..3 {
        gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": format!("u{i}")}));
    }
    // A real cursor exists: limit 1 over 3 events.
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/events?limit=1");
    assert_eq!(status, 200, "{body}");
    assert!(body["next_cursor"].is_string(), "3 events, limit 1: a next_cursor is due: {body}");

    for q in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "cursor=definitely-not-a-cursor",
        "cursor=%FF%FE",
        "cursor=%21%21%21",
        // Not named by the contract, but an unreadable order or time cannot be guessed at.
        "order=sideways",
        "from=yesterday",
        "to=2024-13-01T00:00:00Z",
    ] {
        let path = format!("/v1/events?{q}");
        let (status, body) = gw.get(AUDITOR_KEY, &path);
        assert_error(status, &body, 400, "invalid_query", &[]);
    }
    // The limits themselves are fine.
    for q in ["limit=1", "limit=1000"] {
        let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/events?{q}"));
        assert_eq!(status, 200, "{q}: {body}");
    }
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/events/999");
    assert_error(status, &body, 404, "not_found", &[]);
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/events/0");
    assert!(status == 404 || status == 400, "seq 0 does not exist: {status} {body}");
}

#[test]
fn alerts_and_quarantine_listings_have_their_shape() {
    let gw = Gateway::start_default();
    gw.ingest_one(&json!({"action": "user.login", "outcome": "failure", "user": "mallory"}));
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/alerts");
    assert_eq!(status, 200, "{body}");
    assert!(body["alerts"].is_array(), "{body}");
    assert!(body["next_cursor"].is_null() || body["next_cursor"].is_string(), "{body}");
    let (status, body) = gw.get(ADMIN_KEY, "/v1/quarantine");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], json!([]), "nothing was quarantined: {body}");
    assert!(body["next_cursor"].is_null(), "{body}");
    for path in ["/v1/alerts?limit=0", "/v1/quarantine?limit=1001", "/v1/alerts?cursor=%21%21"] {
        let key = if path.starts_with("/v1/quarantine") { ADMIN_KEY } else { AUDITOR_KEY };
        let (status, body) = gw.get(key, path);
        assert_error(status, &body, 400, "invalid_query", &[]);
    }
}
