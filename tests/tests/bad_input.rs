//! Bad input: each refused with the exact status and code, a message naming the problem,
//! and nothing stored. Mixed batches keep their good events.

use auditgate_tests::*;
use serde_json::{Value, json};

fn good(n: usize) -> Value {
    json!({"action": "user.login", "outcome": "success", "user": format!("good-{n}"), "details": {"n": n}})
}

/// A gateway holding one good event (so "nothing stored" is checked against a non-empty log).
fn seeded(config: &str) -> Gateway {
    let gw = Gateway::start(config);
    gw.ingest_one(&good(0));
    assert_eq!(gw.count_events(), 1);
    gw
}

/// Sends `body` to POST /v1/events and checks the refusal and that nothing was stored.
#[track_caller]
fn refused(gw: &Gateway, body: Vec<u8>, status: u16, code: &str, needles: &[&str]) -> Value {
    let before = gw.count_events();
    let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    let (got, answer) = gw.post_events_raw(INGEST_KEY, body);
    assert_eq!(got, status, "body {shown}: want {status} {code}, got {got} {answer}");
    assert_error(got, &answer, status, code, needles);
    assert_eq!(gw.count_events(), before, "body {shown}: refused, yet something was stored");
    answer
}

#[test]
fn malformed_json_is_invalid_json() {
    let gw = seeded(&default_config());
    refused(&gw, br#"{"action":"user.login","outcome":"#.to_vec(), 400, "invalid_json", &[]);
    refused(&gw, br#"{"action":"user.login","outcome":"success"}}"#.to_vec(), 400, "invalid_json", &[]);
    refused(&gw, br#"[{"action":"user.login","outcome":"success"},"#.to_vec(), 400, "invalid_json", &[]);
    refused(&gw, b"not json at all".to_vec(), 400, "invalid_json", &[]);
    refused(&gw, Vec::new(), 400, "invalid_json", &[]);
}

#[test]
fn invalid_utf8_inside_a_string_is_invalid_json() {
    let gw = seeded(&default_config());
    let mut body = br#"{"action":"user.login","outcome":"success","user":"ab"#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(br#"cd"}"#);
    refused(&gw, body.clone(), 400, "invalid_json", &[]);
    // The same line in NDJSON: the request is answered, the line is refused.
    let mut bulk = serde_json::to_vec(&good(1)).unwrap();
    bulk.push(b'\n');
    bulk.extend_from_slice(&body);
    bulk.push(b'\n');
    let (status, answer) = gw.post_bulk_raw(INGEST_KEY, bulk);
    // Either the whole body is refused as not UTF-8, or only its second line: both keep
    // the store consistent. What is not allowed: a 2xx storing the bad line.
    match status {
        400 => {
            assert_eq!(error_code(&answer), "invalid_json", "{answer}");
            assert_eq!(gw.count_events(), 1, "refused, yet stored");
        }
        200 => {
            assert_eq!(answer["accepted"], 1, "{answer}");
            assert_eq!(answer["rejected"], 1, "{answer}");
            assert_eq!(answer["results"][1]["index"], 1, "{answer}");
            assert_eq!(answer["results"][1]["line"], 2, "{answer}");
            assert_eq!(answer["results"][1]["error"]["code"], "invalid_json", "{answer}");
            assert_eq!(gw.count_events(), 2);
        }
        _ => panic!("NDJSON with an invalid UTF-8 line: {status} {answer}"),
    }
}

#[test]
fn unknown_field_is_named() {
    let gw = seeded(&default_config());
    let body = json!({"action": "user.login", "outcome": "success", "usr": "alice"});
    refused(&gw, body.to_string().into_bytes(), 400, "unknown_field", &["usr"]);
    let body = json!({"action": "user.login", "outcome": "success", "detials": {}});
    refused(&gw, body.to_string().into_bytes(), 400, "unknown_field", &["detials"]);
}

#[test]
fn missing_required_fields_are_named() {
    let gw = seeded(&default_config());
    refused(
        &gw,
        json!({"outcome": "success", "user": "a"}).to_string().into_bytes(),
        400,
        "missing_field",
        &["action"],
    );
    refused(
        &gw,
        json!({"action": "user.login"}).to_string().into_bytes(),
        400,
        "missing_field",
        &["outcome"],
    );
}

#[test]
fn invalid_fields_are_named() {
    let gw = seeded(&default_config());
    let base = || json!({"action": "user.login", "outcome": "success"});
    let cases: Vec<(&str, Value)> = vec![
        ("ip", json!("300.1.2.3")),
        ("ip", json!("10.0.0.1/24")),
        ("ip", json!("2001:db8::g")),
        ("ip", json!(12345)),
        ("time", json!("yesterday")),
        ("time", json!("2024-13-01T00:00:00Z")),
        ("time", json!("2024-03-01T10:00:00")),
        ("time", json!(1_700_000_000)),
        ("outcome", json!("maybe")),
        ("outcome", json!(1)),
        ("action", json!("User.Login")),
        ("action", json!("user login")),
        ("action", json!("a".repeat(129))),
        ("action", json!("")),
        ("action", json!(5)),
        ("user", json!("u".repeat(257))),
        ("user", json!(42)),
        ("reason", json!("r".repeat(1025))),
        ("severity", json!("urgent")),
        ("details", json!("a string")),
        ("details", json!([1, 2])),
        ("changes", json!({"before": {}, "during": {}})),
        ("changes", json!({"before": "x"})),
        ("changes", json!([])),
        ("id", json!("i".repeat(129))),
        ("id", json!(7)),
        ("user_agent", json!(5)),
        ("session_id", json!(true)),
        ("request_id", json!({})),
        ("resource_type", json!([])),
        ("resource_id", json!(1.5)),
    ];
    let mut failures = Vec::new();
    for (field, value) in cases {
        let mut e = base();
        e[field] = value.clone();
        let before = gw.count_events();
        let (status, answer) = gw.post_events(INGEST_KEY, &e);
        let ok = status == 400
            && error_code(&answer) == "invalid_field"
            && error_message(&answer).contains(field)
            && gw.count_events() == before;
        if !ok {
            failures.push(format!("{field} = {value}: {status} {answer}"));
        }
    }
    assert!(failures.is_empty(), "want 400 invalid_field naming the field:\n{}", failures.join("\n"));
    // The limits themselves are accepted.
    let mut e = base();
    e["action"] = json!("a".repeat(128));
    e["user"] = json!("u".repeat(256));
    e["reason"] = json!("r".repeat(1024));
    e["id"] = json!("i".repeat(128));
    e["severity"] = json!("critical");
    e["changes"] = json!({"before": {"x": 1}, "after": {"x": 2}});
    gw.ingest_one(&e);
}

#[test]
fn gateway_fields_are_refused() {
    let gw = seeded(&default_config());
    let cases = [
        ("seq", json!(5)),
        ("received_at", json!("2024-01-01T00:00:00Z")),
        ("source", json!("someone-else")),
        ("policy_set", json!("00ff")),
        ("redacted", json!([])),
        ("tags", json!(["x"])),
    ];
    for (field, value) in cases {
        let mut e = json!({"action": "user.login", "outcome": "success"});
        e[field] = value;
        let before = gw.count_events();
        let (status, answer) = gw.post_events(INGEST_KEY, &e);
        assert_eq!(status, 400, "{field}: {answer}");
        // The contract refuses them with unknown fields but names no code of their own:
        // any of these is accepted, as long as the message names the field.
        let code = error_code(&answer);
        assert!(
            ["unknown_field", "invalid_field", "reserved_field"].contains(&code),
            "{field}: unexpected code: {answer}"
        );
        assert!(error_message(&answer).contains(field), "{field}: the message should name it: {answer}");
        assert_eq!(gw.count_events(), before, "{field}: stored");
    }
}

#[test]
fn an_event_over_64_kib_is_413() {
    let gw = seeded(&default_config());
    let mut e = good(1);
    e["details"]["blob"] = json!("x".repeat(70_000));
    let answer = refused(&gw, e.to_string().into_bytes(), 413, "event_too_large", &[]);
    let m = error_message(&answer).to_lowercase();
    assert!(
        m.contains("65536") || m.contains("64 kib") || m.contains("max_event_bytes"),
        "the message should name the limit: {answer}"
    );
    // Just under the limit goes through.
    let mut e = good(2);
    e["details"]["blob"] = json!("x".repeat(60_000));
    gw.ingest_one(&e);
}

#[test]
fn a_request_over_max_request_bytes_is_413() {
    let config = set_value(&default_config(), "max_request_bytes", "200000");
    let gw = seeded(&config);
    let big = |n: usize| {
        let mut e = good(n);
        e["details"]["blob"] = json!("y".repeat(60_000));
        e
    };
    // 4 × 60 KB = 240 KB: over, whole request refused, none of its events kept.
    let body = Value::Array((1..=4).map(big).collect());
    let answer = refused(&gw, body.to_string().into_bytes(), 413, "request_too_large", &[]);
    let m = error_message(&answer);
    assert!(
        m.contains("200000") || m.contains("max_request_bytes"),
        "the message should name the limit: {answer}"
    );
    // Same over NDJSON.
    let lines: Vec<Value> = (1..=4).map(big).collect();
    let (status, answer) = gw.post_bulk(INGEST_KEY, &ndjson(&lines));
    assert_error(status, &answer, 413, "request_too_large", &[]);
    assert_eq!(gw.count_events(), 1, "a refused bulk request stored something");
    // 3 × 60 KB = 180 KB: under, all kept.
    let body = Value::Array((1..=3).map(big).collect());
    let (status, answer) = gw.post_events(INGEST_KEY, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(gw.count_events(), 4);
}

fn nested(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

#[test]
fn nesting_over_max_depth_is_too_deep() {
    let gw = seeded(&default_config());
    let body = format!(r#"{{"action":"user.login","outcome":"success","details":{}}}"#, nested(40));
    refused(&gw, body.into_bytes(), 400, "too_deep", &[]);
    // Arrays count too.
    let body = format!(
        r#"{{"action":"user.login","outcome":"success","details":{{"a":{}1{}}}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    refused(&gw, body.into_bytes(), 400, "too_deep", &[]);
    // A very deep body must not crash the parser either (stack).
    let body = format!(r#"{{"action":"user.login","outcome":"success","details":{}}}"#, nested(10_000));
    refused(&gw, body.into_bytes(), 400, "too_deep", &[]);
    // Moderate nesting is fine.
    let body = format!(r#"{{"action":"user.login","outcome":"success","details":{}}}"#, nested(10));
    let (status, answer) = gw.post_events_raw(INGEST_KEY, body.into_bytes());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(gw.count_events(), 2);
}

#[test]
fn a_mixed_array_keeps_the_good_events() {
    let gw = seeded(&default_config());
    let mut unknown = good(2);
    unknown["colour"] = json!("blue");
    let mut bad_ip = good(4);
    bad_ip["ip"] = json!("999.0.0.1");
    let mut big = good(5);
    big["details"]["blob"] = json!("z".repeat(70_000));
    let body = json!([good(1), unknown, good(3), bad_ip, big, good(6)]);
    let (status, answer) = gw.post_events(INGEST_KEY, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["rejected"], 3, "{answer}");
    let results = answer["results"].as_array().unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(results.len(), 6, "{answer}");
    for (i, code, needle) in
        [(1, "unknown_field", "colour"), (3, "invalid_field", "ip"), (4, "event_too_large", "")]
    {
        assert_eq!(results[i]["index"], i, "result {i}: {answer}");
        assert_eq!(results[i]["error"]["code"], code, "result {i}: {answer}");
        let m = results[i]["error"]["message"].as_str().unwrap_or("");
        assert!(!m.is_empty() && m.contains(needle), "result {i}: {answer}");
        assert!(results[i].get("seq").is_none(), "result {i}: {answer}");
    }
    let mut kept = Vec::new();
    for i in [0, 2, 5] {
        kept.push(results[i]["seq"].as_u64().unwrap_or_else(|| panic!("result {i}: {answer}")));
    }
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "seqs in input order: {answer}");
    assert_eq!(gw.count_events(), 4);
    for (seq, n) in kept.iter().zip([1, 3, 6]) {
        let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
        assert_eq!(status, 200, "{rec}");
        assert_eq!(rec["details"]["n"], n, "{rec}");
    }
}

#[test]
fn a_mixed_ndjson_batch_keeps_the_good_lines_and_names_the_bad_ones() {
    let gw = seeded(&default_config());
    let mut unknown = good(2);
    unknown["colour"] = json!("blue");
    // Line 3 is blank (ignored), line 5 is not JSON, line 6 has no final newline.
    let text = format!(
        "{}\n{}\n\n{}\n{}\n{}",
        good(1),
        unknown,
        good(3),
        r#"{"action":"user.login","outcome":"#,
        good(4)
    );
    let (status, answer) = gw.post_bulk(INGEST_KEY, &text);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["rejected"], 2, "{answer}");
    let results = answer["results"].as_array().unwrap_or_else(|| panic!("{answer}"));
    // One result per event (blank lines are not events); `index` is the position among
    // the events, `line` the 1-based line of the body.
    assert_eq!(results.len(), 5, "{answer}");
    assert_eq!(results[1]["index"], 1, "{answer}");
    assert_eq!(results[1]["line"], 2, "{answer}");
    assert_eq!(results[1]["error"]["code"], "unknown_field", "{answer}");
    assert!(results[1]["error"]["message"].as_str().unwrap_or("").contains("colour"), "{answer}");
    assert_eq!(results[3]["index"], 3, "{answer}");
    assert_eq!(results[3]["line"], 5, "{answer}");
    assert_eq!(results[3]["error"]["code"], "invalid_json", "{answer}");
    for (i, n) in [(0, 1), (2, 3), (4, 4)] {
        let seq = results[i]["seq"].as_u64().unwrap_or_else(|| panic!("result {i}: {answer}"));
        let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
        assert_eq!(status, 200, "{rec}");
        assert_eq!(rec["details"]["n"], n, "{rec}");
    }
    assert_eq!(gw.count_events(), 4);
    // CRLF line ends are lines too.
    let text = format!("{}\r\n{}\r\n", good(7), good(8));
    let (status, answer) = gw.post_bulk(INGEST_KEY, &text);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 2, "CRLF NDJSON: {answer}");
    assert_eq!(gw.count_events(), 6);
}

/// Found by schemathesis (`api_fuzz.rs`): an integer beyond ±2^53 in `details` or `changes`
/// passed validation and failed at the writer (RFC 8785 numbers are doubles), so the
/// request was a 503 `unavailable`. It is a 400 naming the field and the path; in a batch
/// only that event fails.
#[test]
fn an_integer_beyond_2_pow_53_is_invalid_field_not_503() {
    let gw = seeded(&default_config());
    let big = "9007199254740993"; // 2^53 + 1
    let body =
        format!(r#"{{"action":"user.login","outcome":"success","details":{{"a":[1,{{"n":{big}}}]}}}}"#);
    let answer = refused(&gw, body.into_bytes(), 400, "invalid_field", &["details", "/a/1/n", "16-digit"]);
    assert!(error_message(&answer).contains("send it as a string"), "{answer}");
    // The value is not repeated: a long integer may be a card number.
    assert!(!answer.to_string().contains(big), "{answer}");
    let body = format!(
        r#"{{"action":"admin.role.change","outcome":"success","changes":{{"after":{{"n":-{big}}}}}}}"#
    );
    refused(&gw, body.into_bytes(), 400, "invalid_field", &["changes", "/after/n"]);
    // The largest exact integers and doubles of any size are kept.
    let ok = r#"{"action":"user.login","outcome":"success","details":{"max":9007199254740992,"min":-9007199254740992,"f":1e300}}"#;
    let (status, answer) = gw.post_events_raw(INGEST_KEY, ok.as_bytes().to_vec());
    assert_eq!(status, 200, "{answer}");
    // In an array and in NDJSON, only the event holding it fails.
    let bad = format!(r#"{{"action":"user.login","outcome":"success","details":{{"n":{big}}}}}"#);
    let array = format!("[{},{bad}]", good(1));
    let (status, answer) = gw.post_events_raw(INGEST_KEY, array.into_bytes());
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["accepted"].as_u64(), answer["rejected"].as_u64()), (Some(1), Some(1)), "{answer}");
    assert_eq!(answer["results"][1]["error"]["code"], "invalid_field", "{answer}");
    let (status, answer) = gw.post_bulk(INGEST_KEY, &format!("{bad}\n{}\n", good(2)));
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["accepted"].as_u64(), answer["rejected"].as_u64()), (Some(1), Some(1)), "{answer}");
    assert_eq!(gw.count_events(), 4);
}

/// Found with schemathesis (`api_fuzz.rs`, content-type conformance): a `{seq}` that is not
/// valid UTF-8 was refused by axum's path extractor in plain text, not with the API's JSON
/// error body.
#[test]
fn a_path_seq_that_is_not_utf8_gets_the_json_error_body() {
    let gw = Gateway::start_default();
    for path in ["/v1/events/%FF", "/v1/events/%FF%FE/proof"] {
        let (status, answer) = gw.request(reqwest::Method::GET, path, Auth::Bearer(AUDITOR_KEY), None);
        assert_error(status, &answer, 400, "invalid_query", &["seq"]);
    }
    for path in ["/v1/events/abc", "/v1/events/-1/proof"] {
        let (status, answer) = gw.get(AUDITOR_KEY, path);
        assert_error(status, &answer, 400, "invalid_query", &["`seq` must be a positive integer"]);
    }
}

#[test]
fn a_method_a_route_does_not_answer_gets_405_with_the_json_error_and_allow() {
    let gw = Gateway::start_default();
    let (status, answer) = gw.request(reqwest::Method::DELETE, "/v1/events", Auth::Bearer(AUDITOR_KEY), None);
    assert_error(status, &answer, 405, "method_not_allowed", &["/v1/events", "DELETE"]);
    let resp =
        gw.client().put(format!("{}/v1/checkpoint", gw.base_url())).send().expect("PUT /v1/checkpoint");
    assert_eq!(resp.status().as_u16(), 405);
    let allow = resp.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(allow.contains("GET"), "Allow: {allow}");
}
