//! `GET /metrics` and `/readyz` on the real binary: after a known mix of events the
//! counters equal the known counts, the whole exposition parses as OpenMetrics text, and
//! `/readyz` goes 503 while a `reject` policy keeps failing, then recovers.

use std::collections::BTreeMap;

use auditgate_tests::*;
use reqwest::Method;
use serde_json::{Value, json};

const TRAP_REJECT: &str = "trap-reject";
const TRAP_QUARANTINE: &str = "trap-quarantine";
const TRAP_SKIP: &str = "trap-skip";

/// The default chain plus the trap policy three times, each for its own action, so that
/// the action chooses what a trapping event meets: reject, quarantine or skip.
fn trap_gateway() -> Gateway {
    let trap = &test_policies().trap;
    let policies = [
        PolicySpec::new(TRAP_REJECT, trap, OnError::Reject).actions(&["trap.reject"]),
        PolicySpec::new(TRAP_QUARANTINE, trap, OnError::Quarantine).actions(&["trap.quarantine"]),
        PolicySpec::new(TRAP_SKIP, trap, OnError::Skip).actions(&["trap.skip"]),
    ];
    Gateway::start(&with_policies(&default_config(), &policies))
}

fn event(action: &str, trap: bool, n: usize) -> Value {
    json!({"action": action, "outcome": "success", "user": format!("u{n}"), "details": {"trap": trap, "n": n}})
}

fn with_id(mut ev: Value, id: &str) -> Value {
    ev["id"] = json!(id);
    ev
}

/// One sample line: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses an OpenMetrics text exposition strictly; any line out of format fails the test.
/// Checks: `# EOF` ends it; each family has one `# TYPE` before its samples; each sample
/// belongs to the family declared last, with a suffix its type allows; names and labels
/// are well-formed; histogram buckets are cumulative and end in `+Inf` equal to `_count`.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let body = text.strip_suffix("# EOF\n").unwrap_or_else(|| panic!("no final `# EOF`:\n{text}"));
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut samples = Vec::new();
    for (i, line) in body.lines().enumerate() {
        let at = || format!("line {}: {line:?}", i + 1);
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
            let name = name.unwrap_or_else(|| panic!("{}: metadata without a name", at()));
            assert!(valid_name(name), "{}: bad metric name", at());
            match kind {
                Some("TYPE") => {
                    let ty = rest.unwrap_or_else(|| panic!("{}: TYPE without a type", at()));
                    assert!(
                        ["counter", "gauge", "histogram", "info", "unknown", "summary", "stateset"]
                            .contains(&ty),
                        "{}: unknown type",
                        at()
                    );
                    assert!(
                        families.insert(name.to_string(), ty.to_string()).is_none(),
                        "{}: TYPE twice",
                        at()
                    );
                    current = Some((name.to_string(), ty.to_string()));
                }
                Some("HELP") | Some("UNIT") => {
                    assert!(rest.is_some_and(|r| !r.is_empty()), "{}: empty HELP/UNIT", at())
                }
                _ => panic!("{}: unknown comment", at()),
            }
            continue;
        }
        assert!(!line.starts_with('#'), "{}: a comment that is not metadata", at());
        let sample = parse_sample(line).unwrap_or_else(|e| panic!("{}: {e}", at()));
        let (family, ty) = current.as_ref().unwrap_or_else(|| panic!("{}: a sample before any TYPE", at()));
        let suffix = sample
            .name
            .strip_prefix(family.as_str())
            .unwrap_or_else(|| panic!("{}: not of family {family}", at()));
        let allowed: &[&str] = match ty.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_count", "_sum", "_created"],
            "info" => &["_info"],
            "summary" => &["", "_count", "_sum", "_created"],
            _ => &[""],
        };
        assert!(allowed.contains(&suffix), "{}: suffix {suffix:?} not allowed for a {ty}", at());
        samples.push(sample);
    }
    check_histograms(&families, &samples);
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(mut l) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = l.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = l.find("=\"").ok_or("label without =\"")?;
            let key = &l[..eq];
            let mut chars = key.chars();
            if !(chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                return Err(format!("bad label name {key:?}"));
            }
            l = &l[eq + 2..];
            let mut value = String::new();
            let mut it = l.char_indices();
            let end = loop {
                match it.next() {
                    Some((_, '\\')) => match it.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                }
            };
            if labels.insert(key.to_string(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            l = &l[end + 1..];
            l = l.strip_prefix(',').unwrap_or(l);
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut parts = rest.split(' ');
    let value = match parts.next().ok_or("no value")? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}"))?,
    };
    if let Some(ts) = parts.next() {
        ts.parse::<f64>().map_err(|e| format!("timestamp {ts:?}: {e}"))?;
    }
    if parts.next().is_some() {
        return Err("trailing text".into());
    }
    Ok(Sample { name: name.to_string(), labels, value })
}

/// A series' labels other than `le`.
type SeriesKey = Vec<(String, String)>;

fn check_histograms(families: &BTreeMap<String, String>, samples: &[Sample]) {
    for (family, _) in families.iter().filter(|(_, ty)| *ty == "histogram") {
        // Per series: (le, cumulative count) of each bucket.
        let mut series: BTreeMap<SeriesKey, Vec<(f64, f64)>> = BTreeMap::new();
        for s in samples.iter().filter(|s| s.name == format!("{family}_bucket")) {
            let le = s.labels.get("le").unwrap_or_else(|| panic!("{s:?}: bucket without le"));
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().expect("le is a number") };
            let key =
                s.labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| (k.clone(), v.clone())).collect();
            series.entry(key).or_default().push((le, s.value));
        }
        for (labels, buckets) in series {
            assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{family}{labels:?}");
            let last = buckets.last().expect("a bucket");
            assert_eq!(last.0, f64::INFINITY, "{family}{labels:?}: the last bucket is +Inf");
            let count = samples
                .iter()
                .find(|s| {
                    s.name == format!("{family}_count")
                        && s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>() == labels
                })
                .unwrap_or_else(|| panic!("{family}{labels:?}: no _count"));
            assert_eq!(count.value, last.1, "{family}{labels:?}: +Inf bucket equals _count");
        }
    }
}

/// Scrapes `/metrics` (no key), checks its content type, parses it strictly.
fn scrape(gw: &Gateway) -> (String, Vec<Sample>) {
    let resp = gw.client().get(format!("{}/metrics", gw.base_url())).send().expect("GET /metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().expect("ascii").to_string();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = resp.text().expect("text");
    let samples = parse_exposition(&text);
    (text, samples)
}

/// The value of the sample `name` with exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.iter().find(|s| s.name == name && s.labels == want).map(|s| s.value)
}

fn must(samples: &[Sample], text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{text}"))
}

fn ready(gw: &Gateway) -> (u16, Value) {
    gw.request(Method::GET, "/readyz", Auth::None, None)
}

#[test]
fn metrics_count_a_known_mix_of_events() {
    let gw = trap_gateway();
    let (_, before) = scrape(&gw);
    assert_eq!(value(&before, "auditgate_events_stored_total", &[]), Some(0.0));

    // Bulk: 4 stored, 3 invalid, 2 rejected by a policy, 1 quarantined, 1 skipped-but-stored.
    let mut lines: Vec<String> =
        (0..3).map(|n| with_id(event("user.login", false, n), &format!("m-{n}")).to_string()).collect();
    lines.push(event("trap.skip", true, 3).to_string());
    lines.push(r#"{"action": "user.login"}"#.into()); // no outcome
    lines.push(r#"{"action": "user.login", "outcome": "success", "colour": "red"}"#.into()); // unknown field
    lines.push("{not json".into());
    lines.push(event("trap.reject", true, 4).to_string());
    lines.push(event("trap.reject", true, 5).to_string());
    lines.push(event("trap.quarantine", true, 6).to_string());
    let (status, body) = gw.post_bulk(INGEST_KEY, &(lines.join("\n") + "\n"));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["rejected"].as_u64()), (Some(4), Some(5)), "{body}");
    assert_eq!(body["quarantined"], 1, "{body}");

    // Two duplicates (retries of stored ids), then one single invalid and one single rejected.
    let retry =
        json!([with_id(event("user.login", false, 0), "m-0"), with_id(event("user.login", false, 1), "m-1")]);
    let (status, body) = gw.post_events(INGEST_KEY, &retry);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][1]["duplicate"], true, "{body}");
    let (status, body) = gw.post_events(INGEST_KEY, &json!({"action": "user.login"}));
    assert_eq!(status, 400, "{body}");
    let (status, body) = gw.post_events(INGEST_KEY, &event("trap.reject", true, 7));
    assert_error(status, &body, 422, "policy_rejected", &[TRAP_REJECT]);

    let (text, samples) = scrape(&gw);
    let m = |name: &str, labels: &[(&str, &str)]| must(&samples, &text, name, labels);
    assert_eq!(m("auditgate_events_stored_total", &[]), 4.0);
    let not_stored = "auditgate_events_not_stored_total";
    assert_eq!(m(not_stored, &[("reason", "invalid")]), 4.0);
    assert_eq!(m(not_stored, &[("reason", "policy_rejected")]), 3.0);
    assert_eq!(m(not_stored, &[("reason", "quarantined")]), 1.0);
    assert_eq!(m(not_stored, &[("reason", "duplicate")]), 2.0);
    assert_eq!(m(not_stored, &[("reason", "unavailable")]), 0.0);
    // Every record: the four events and the gateway's own (its start);
    // nothing audited happened since the scrape, and one page lists what was there.
    assert_eq!(m("auditgate_store_records", &[]), gw.query_all_records("", 1000).len() as f64);
    assert_eq!(gw.count_events(), 4);
    assert!(m("auditgate_store_disk_bytes", &[]) > 0.0, "{text}");
    assert_eq!(m("auditgate_store_queue_events", &[]), 0.0);
    assert!(m("auditgate_store_commit_records_count", &[]) >= 1.0, "{text}");
    // The four events and the start record (scrapes are not audited, nor recorded).
    assert_eq!(m("auditgate_store_commit_records_sum", &[]), 5.0, "{text}");
    assert_eq!(m("auditgate_store_commit_failures_total", &[]), 0.0);

    // Policy calls: the trap policies each saw their own events; errors are failed events.
    for policy in ["redact-secrets", TRAP_REJECT, TRAP_QUARANTINE, TRAP_SKIP] {
        let calls = m("auditgate_policy_call_duration_seconds_count", &[("policy", policy)]);
        assert!(calls >= 1.0, "{policy}: {calls} calls\n{text}");
    }
    assert_eq!(m("auditgate_policy_errors_total", &[("policy", TRAP_REJECT)]), 3.0);
    assert_eq!(m("auditgate_policy_errors_total", &[("policy", TRAP_QUARANTINE)]), 1.0);
    assert_eq!(m("auditgate_policy_errors_total", &[("policy", TRAP_SKIP)]), 1.0);
    assert_eq!(m("auditgate_policy_errors_total", &[("policy", "redact-secrets")]), 0.0);

    // Requests by route pattern and status class (this scrape is counted after it answers).
    let req = |method, route, status| {
        m("auditgate_http_requests_total", &[("method", method), ("route", route), ("status", status)])
    };
    assert_eq!(req("POST", "/v1/events/bulk", "2xx"), 1.0);
    assert_eq!(req("POST", "/v1/events", "2xx"), 1.0);
    assert_eq!(req("POST", "/v1/events", "4xx"), 2.0);
    assert_eq!(req("GET", "/metrics", "2xx"), 1.0);
    gw.get(AUDITOR_KEY, "/v1/events/1");
    gw.get(AUDITOR_KEY, "/v1/nope");

    let version = samples.iter().find(|s| s.name == "auditgate_build_info").expect("build info");
    assert!(version.labels.get("version").is_some_and(|v| !v.is_empty()), "{version:?}");
    assert_eq!(version.value, 1.0);
    assert_eq!(m("auditgate_policy_reloads_total", &[("result", "ok")]), 0.0);

    // A reload is counted; so are the route patterns just asked for.
    let (status, body) = gw.request(Method::POST, "/v1/admin/reload", Auth::Bearer(ADMIN_KEY), None);
    assert_eq!(status, 200, "{body}");
    let (text, samples) = scrape(&gw);
    let m = |name: &str, labels: &[(&str, &str)]| must(&samples, &text, name, labels);
    assert_eq!(m("auditgate_policy_reloads_total", &[("result", "ok")]), 1.0);
    assert_eq!(m("auditgate_policy_reloads_total", &[("result", "failed")]), 0.0);
    let req = |method, route, status| {
        m("auditgate_http_requests_total", &[("method", method), ("route", route), ("status", status)])
    };
    assert_eq!(req("GET", "/v1/events/{seq}", "2xx"), 1.0);
    assert_eq!(req("GET", "unmatched", "4xx"), 1.0);
    assert_eq!(req("GET", "/metrics", "2xx"), 2.0);
}

#[test]
fn metrics_show_the_last_checkpoint() {
    let gw = Gateway::start(&format!("{}\n[checkpoints]\nevery_events = 1\n", default_config()));
    let (_, samples) = scrape(&gw);
    // Every record is checkpointed: the gateway's start record already is.
    assert_eq!(value(&samples, "auditgate_checkpoint_size", &[]), Some(1.0), "the start record's checkpoint");
    for n in 0..3 {
        gw.ingest_one(&event("user.login", false, n));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (text, samples) = scrape(&gw);
        // The gateway's start record and the three events.
        if value(&samples, "auditgate_checkpoint_size", &[]) == Some(4.0) {
            assert!(value(&samples, "auditgate_checkpoint_number", &[]).is_some_and(|n| n >= 1.0), "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no checkpoint of size 4:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_parser_refuses_malformed_expositions() {
    let good = "# TYPE a counter\na_total 1\n# EOF\n";
    assert_eq!(parse_exposition(good).len(), 1);
    for bad in [
        "# TYPE a counter\na_total 1\n",                // no EOF
        "# TYPE a counter\na 1\n# EOF\n",               // counter sample without _total
        "a_total 1\n# EOF\n",                           // no TYPE
        "# TYPE a counter\na_total{x=\"1} 1\n# EOF\n",  // unterminated label
        "# TYPE a counter\na_total one\n# EOF\n",       // not a number
        "# TYPE a gauge\n# TYPE a gauge\na 1\n# EOF\n", // TYPE twice
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# EOF\n", // not cumulative
    ] {
        let result = std::panic::catch_unwind(|| parse_exposition(bad));
        assert!(result.is_err(), "accepted: {bad:?}");
    }
}

#[test]
fn readyz_fails_while_a_reject_policy_keeps_failing_and_recovers() {
    let gw = trap_gateway();
    assert_eq!(ready(&gw).0, 200);
    let bulk = |action: &str, trap: bool, n: usize| {
        let events: Vec<Value> = (0..n).map(|i| event(action, trap, i)).collect();
        let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson(&events));
        assert_eq!(status, 200, "{body}");
        body
    };

    // A failing `skip` policy does not make the gateway unready.
    bulk("trap.skip", true, 30);
    assert_eq!(ready(&gw).0, 200, "{:?}", ready(&gw));

    // 19 failures in a row: still ready; the 20th: 503 naming the policy.
    let body = bulk("trap.reject", true, 19);
    assert_eq!(body["rejected"], 19, "{body}");
    assert_eq!(ready(&gw).0, 200, "{:?}", ready(&gw));
    bulk("trap.reject", true, 1);
    let (status, body) = ready(&gw);
    assert_error(status, &body, 503, "policy_failing", &[TRAP_REJECT, "reject"]);
    assert!(!error_message(&body).contains(TRAP_SKIP), "{body}");
    // Liveness is not readiness.
    assert_eq!(gw.request(Method::GET, "/healthz", Auth::None, None).0, 200);
    // Other events still flow meanwhile.
    bulk("user.login", false, 2);
    assert_eq!(ready(&gw).0, 503);

    // One event the policy succeeds on ends it.
    let body = bulk("trap.reject", false, 1);
    assert_eq!(body["accepted"], 1, "{body}");
    let (status, body) = ready(&gw);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
}
