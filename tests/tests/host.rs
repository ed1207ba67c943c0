//! The WIT `host` interface through the real gateway: a test policy (`host-probe-policy`)
//! makes the host calls an event lists in `details.ops` and writes the answers into the
//! event (`details.results`) with `set`, so every answer is read back from the store.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use auditgate_tests::*;
use serde_json::{Value, json};

const PROBE: &str = "host-probe";

fn fixture(name: &str) -> String {
    workspace_root().join("tests").join("fixtures").join(name).to_string_lossy().into_owned()
}

/// The two fixture tables: `geo` (CSV, CIDR) and `users` (JSON, exact).
fn lookup_tables() -> String {
    format!(
        "\n[[lookup]]\nname = \"geo\"\npath = {}\nformat = \"csv\"\nkind = \"cidr\"\n\n[[lookup]]\nname = \"users\"\npath = {}\nformat = \"json\"\n",
        toml_str(&fixture("host-geo-cidr.csv")),
        toml_str(&fixture("host-users.json")),
    )
}

fn probe_spec(name: &str, on_error: OnError) -> PolicySpec {
    PolicySpec::new(name, &test_policies().host_probe, on_error)
}

/// The default config with the fixture tables instead of its own, the probe policy (plus
/// `more`) and `extra` TOML.
fn config_with(extra: &str, more: &[PolicySpec]) -> String {
    let mut policies = vec![probe_spec(PROBE, OnError::Reject).actions(&["probe.*"])];
    policies.extend_from_slice(more);
    let mut c = with_policies(&without_lookups(&default_config()), &policies);
    c.push_str(&lookup_tables());
    c.push_str(extra);
    c
}

fn ops_event(action: &str, ops: Value) -> Value {
    json!({"action": action, "outcome": "success", "user": "probe", "details": {"ops": ops}})
}

/// Posts one event with `ops` and returns the stored `details.results`.
#[track_caller]
fn run_ops(gw: &Gateway, action: &str, ops: Value) -> Value {
    let seq = gw.ingest_one(&ops_event(action, ops));
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "GET /v1/events/{seq}: {rec}");
    rec["details"]["results"].clone()
}

#[track_caller]
fn count(gw: &Gateway, key: &str, delta: i64, window: u32) -> i64 {
    let results =
        run_ops(gw, "probe.run", json!([{"op": "count", "key": key, "delta": delta, "window": window}]));
    results[0].as_i64().unwrap_or_else(|| panic!("no count in {results}"))
}

#[track_caller]
fn get(gw: &Gateway, action: &str, key: &str) -> Value {
    run_ops(gw, action, json!([{"op": "get", "key": key}]))[0].clone()
}

#[track_caller]
fn set(gw: &Gateway, action: &str, key: &str, value: &str, ttl: u32) {
    run_ops(gw, action, json!([{"op": "set", "key": key, "value": value, "ttl": ttl}]));
}

/// Waits (up to 10 s) until the gateway's log holds a line with every one of `needles`.
#[track_caller]
fn wait_for_log_line(gw: &Gateway, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(gw.log_path()).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "no log line with {needles:?}:\n{}", gw.log_tail(4000));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn counters_count_across_requests_and_within_the_window() {
    let gw = Gateway::start(&config_with("", &[]));
    assert_eq!(count(&gw, "fail:alice", 1, 2), 1);
    assert_eq!(count(&gw, "fail:alice", 1, 2), 2);
    assert_eq!(count(&gw, "fail:bob", 1, 2), 1, "keys are separate");
    assert_eq!(count(&gw, "long:alice", 5, 600), 5);
    // One request, three events (one batch): each sees the ones before it.
    let events: Vec<Value> = (0..3)
        .map(|_| {
            ops_event("probe.run", json!([{"op": "count", "key": "fail:alice", "delta": 1, "window": 2}]))
        })
        .collect();
    let (status, body) = gw.post_events(INGEST_KEY, &json!(events));
    assert_eq!(status, 200, "{body}");
    let mut counts = Vec::new();
    for r in body["results"].as_array().unwrap_or_else(|| panic!("{body}")) {
        let seq = r["seq"].as_u64().unwrap_or_else(|| panic!("{body}"));
        let (_, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
        counts.push(rec["details"]["results"][0].as_i64().unwrap_or_else(|| panic!("{rec}")));
    }
    assert_eq!(counts, vec![3, 4, 5]);
    assert_eq!(count(&gw, "fail:alice", 0, 2), 5, "delta 0 reads");
    // Past the 2 s window (bucketed by the second), the short counters are empty again;
    // the 10-minute one is not.
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(count(&gw, "fail:alice", 0, 2), 0);
    assert_eq!(count(&gw, "fail:alice", 1, 2), 1);
    assert_eq!(count(&gw, "long:alice", 0, 600), 5);
}

#[test]
fn counters_and_state_survive_a_graceful_restart() {
    let mut gw = Gateway::start(&config_with("", &[]));
    for n in 1..=3 {
        assert_eq!(count(&gw, "fail:carol", 1, 600), n);
    }
    set(&gw, "probe.run", "last-ip", "203.0.113.9", 0);
    set(&gw, "probe.run", "short", "x", 1);
    assert!(gw.stop(), "graceful stop failed:\n{}", gw.log_tail(3000));
    gw.restart();
    assert_eq!(count(&gw, "fail:carol", 1, 600), 4, "the window continues after a restart");
    assert_eq!(get(&gw, "probe.run", "last-ip"), json!("203.0.113.9"));
    // The 1 s TTL ran on while the gateway was down (wall clock).
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&gw, "probe.run", "short"), Value::Null);
}

#[test]
fn counters_and_state_survive_sigkill_once_persisted() {
    let mut gw = Gateway::start(&config_with("\n[engine.host]\npersist_interval_ms = 100\n", &[]));
    for n in 1..=3 {
        assert_eq!(count(&gw, "fail:dave", 1, 600), n);
    }
    set(&gw, "probe.run", "k", "v", 0);
    // A few persister passes (each writes and flushes sled).
    std::thread::sleep(Duration::from_millis(600));
    gw.kill();
    gw.restart();
    assert_eq!(count(&gw, "fail:dave", 1, 600), 4);
    assert_eq!(get(&gw, "probe.run", "k"), json!("v"));
    wait_for_log_line(&gw, &["host state restored", PROBE]);
}

#[test]
fn state_is_per_policy_and_honours_its_ttl() {
    let other = probe_spec("host-probe-b", OnError::Reject).actions(&["other.*"]);
    let gw = Gateway::start(&config_with("", &[other]));
    set(&gw, "probe.run", "k1", "one-second", 1);
    set(&gw, "probe.run", "k2", "kept", 0);
    set(&gw, "probe.run", "k3", "two-seconds", 2);
    assert_eq!(get(&gw, "probe.run", "k1"), json!("one-second"));
    // The other policy has its own namespace, for state and for counters.
    assert_eq!(get(&gw, "other.run", "k2"), Value::Null);
    let results = run_ops(&gw, "other.run", json!([{"op": "count", "key": "k", "delta": 1, "window": 60}]));
    assert_eq!(results, json!([1]));
    assert_eq!(count(&gw, "k", 1, 60), 1);
    // Overwriting replaces the value and the TTL.
    set(&gw, "probe.run", "k2", "kept-2", 0);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(get(&gw, "probe.run", "k1"), Value::Null, "past its 1 s TTL");
    assert_eq!(get(&gw, "probe.run", "k3"), json!("two-seconds"));
    assert_eq!(get(&gw, "probe.run", "k2"), json!("kept-2"));
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(get(&gw, "probe.run", "k3"), Value::Null, "past its 2 s TTL");
    assert_eq!(get(&gw, "probe.run", "k2"), json!("kept-2"), "ttl 0 never expires");
}

#[test]
fn lookup_answers_exact_and_longest_prefix_matches() {
    let gw = Gateway::start(&config_with("", &[]));
    let geo = |ip: &str| json!({"op": "lookup", "table": "geo", "key": ip});
    let results = run_ops(
        &gw,
        "probe.run",
        json!([
            geo("203.0.113.7"),
            geo("203.0.113.130"),
            geo("203.0.113.200"),
            geo("203.0.113.201"),
            geo("198.51.100.9"),
            geo("2001:db8:abcd::1"),
            geo("2001:db8:1::1"),
            geo("::ffff:203.0.113.7"),
            geo("192.0.2.1"),
            geo("not-an-ip"),
            {"op": "lookup", "table": "users", "key": "alice"},
            {"op": "lookup", "table": "users", "key": "bob"},
            {"op": "lookup", "table": "users", "key": "mallory"},
            {"op": "lookup", "table": "no-such-table", "key": "alice"},
        ]),
    );
    let berlin = json!({"country": "DE", "city": "Berlin", "lat": "52.52", "lon": "13.40", "asn": "AS3320"});
    let paris = json!({"country": "FR", "city": "Paris", "lat": "48.86", "lon": "2.35", "asn": "AS3215"});
    let expected = json!([
        berlin,
        paris,
        {"country": "NL", "city": "Amsterdam", "lat": "52.37", "lon": "4.90", "asn": "AS1136"},
        paris,
        {"country": "US", "city": "Washington, D.C.", "lat": "38.90", "lon": "-77.04", "asn": "AS701"},
        {"country": "AU", "city": "Sydney", "lat": "-33.87", "lon": "151.21", "asn": "AS1221"},
        {"country": "JP", "city": "Tokyo", "lat": "35.68", "lon": "139.69", "asn": "AS2516"},
        berlin,
        null,
        null,
        {"team": "payments", "admin": true},
        "contractor",
        null,
        null,
    ]);
    assert_eq!(results, expected);
    wait_for_log_line(&gw, &["no-such-table", PROBE]);
}

fn caps_config() -> String {
    config_with(
        "\n[engine.host]\nmax_key_bytes = 32\nmax_value_bytes = 16\nmax_counter_keys = 2\nmax_state_keys = 2\nmax_window_secs = 3600\n",
        &[],
    )
}

/// Posts `ops`; the probe (on_error = reject) must fail with a message naming `needles`.
#[track_caller]
fn assert_refused(gw: &Gateway, ops: Value, needles: &[&str]) {
    let before = gw.count_events();
    let (status, body) = gw.post_events(INGEST_KEY, &ops_event("probe.run", ops));
    let mut all = vec![PROBE, "refused"];
    all.extend_from_slice(needles);
    assert_error(status, &body, 422, "policy_rejected", &all);
    assert_eq!(gw.count_events(), before, "a refused call stored its event");
}

#[test]
fn calls_over_a_cap_trap_the_policy_and_its_on_error_applies() {
    let gw = Gateway::start(&caps_config());
    let long_key = "k".repeat(33);
    assert_refused(
        &gw,
        json!([{"op": "count", "key": long_key, "delta": 1, "window": 60}]),
        &["max_key_bytes"],
    );
    assert_refused(&gw, json!([{"op": "count", "key": "a", "delta": 1, "window": 0}]), &["max_window_secs"]);
    assert_refused(
        &gw,
        json!([{"op": "count", "key": "a", "delta": 1, "window": 3601}]),
        &["max_window_secs"],
    );
    assert_eq!(count(&gw, "a", 1, 60), 1);
    assert_eq!(count(&gw, "b", 1, 60), 1);
    assert_refused(
        &gw,
        json!([{"op": "count", "key": "c", "delta": 1, "window": 60}]),
        &["max_counter_keys"],
    );
    assert_eq!(count(&gw, "a", 1, 60), 2, "existing counters keep counting");
    assert_eq!(count(&gw, "c", 0, 60), 0, "reading an unknown counter is not refused");

    assert_refused(
        &gw,
        json!([{"op": "set", "key": "v", "value": "x".repeat(17), "ttl": 0}]),
        &["max_value_bytes"],
    );
    assert_eq!(get(&gw, "probe.run", "v"), Value::Null, "the refused value was not stored");
    assert_refused(&gw, json!([{"op": "get", "key": long_key}]), &["max_key_bytes"]);
    set(&gw, "probe.run", "s1", "x".repeat(16).as_str(), 0);
    set(&gw, "probe.run", "s2", "y", 0);
    assert_refused(&gw, json!([{"op": "set", "key": "s3", "value": "z", "ttl": 0}]), &["max_state_keys"]);
    set(&gw, "probe.run", "s2", "overwritten", 0);
    assert_eq!(get(&gw, "probe.run", "s2"), json!("overwritten"));

    // In a batch only the event that broke the cap fails.
    let events = json!([
        ops_event("probe.run", json!([{"op": "count", "key": "a", "delta": 0, "window": 60}])),
        ops_event("probe.run", json!([{"op": "count", "key": "d", "delta": 1, "window": 60}])),
        ops_event("probe.run", json!([{"op": "get", "key": "s1"}])),
    ]);
    let (status, body) = gw.post_events(INGEST_KEY, &events);
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["rejected"].as_u64()), (Some(2), Some(1)), "{body}");
    assert_eq!(body["results"][1]["error"]["code"], "policy_rejected", "{body}");
    // The gateway is fine and the policy still works.
    assert_eq!(get(&gw, "probe.run", "s1"), json!("x".repeat(16)));
}

#[test]
fn policy_log_lines_are_rate_limited_cut_and_summarised() {
    let gw = Gateway::start(&config_with(
        "\n[engine.host]\nlog_lines_per_sec = 1\nlog_burst = 5\nmax_log_bytes = 64\n",
        &[],
    ));
    let marker = unique_token("logline-");
    run_ops(&gw, "probe.run", json!([{"op": "log", "level": 2, "message": marker, "repeat": 50}]));
    let summary = wait_for_log_line(&gw, &["dropped by the rate limit", PROBE]);
    let log = std::fs::read_to_string(gw.log_path()).unwrap_or_default();
    let written = log.lines().filter(|l| l.contains(&marker)).count();
    assert!((5..=7).contains(&written), "{written} of 50 lines written:\n{}", gw.log_tail(4000));
    let dropped: u64 = summary
        .split("dropped=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no dropped=N in {summary:?}"));
    assert_eq!(dropped as usize + written, 50, "{summary}");
    assert!(log.lines().any(|l| l.contains(&marker) && l.contains(PROBE)), "lines name the policy");

    std::thread::sleep(Duration::from_millis(1100));
    let long = format!("{marker}-long-{}", "z".repeat(500));
    run_ops(&gw, "probe.run", json!([{"op": "log", "level": 3, "message": long}]));
    let line = wait_for_log_line(&gw, &[&format!("{marker}-long-"), "bytes cut"]);
    assert!(!line.contains(&"z".repeat(100)), "the line was not cut: {line}");
}

/// Runs `auditgate ARGS`; it must exit (within 30 s) with a failure; returns stderr.
fn run_failing(args: &[&str]) -> String {
    let mut child = Command::new(binary_path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn auditgate");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("auditgate {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "auditgate {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_lookup_file_fails_start_up_naming_table_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("tables")).expect("mkdir");
    std::fs::write(
        dir.path().join("tables").join("bad-geo.csv"),
        "network,country\n203.0.113.0/24,DE\n203.0.113.300/24,FR\n",
    )
    .expect("write table");
    let data = dir.path().join("data");
    let base =
        without_lookups(&default_config()).replace(DATA_DIR_PLACEHOLDER, &toml_str(&data.to_string_lossy()));
    let config = dir.path().join("policy.toml");
    std::fs::write(
        &config,
        format!("{base}\n[[lookup]]\nname = \"geo\"\npath = \"tables/bad-geo.csv\"\nformat = \"csv\"\nkind = \"cidr\"\n"),
    )
    .expect("write config");
    let config = config.to_string_lossy().into_owned();
    for command in ["serve", "check-config"] {
        let stderr = run_failing(&[command, "--config", &config]);
        for needle in ["`geo`", "bad-geo.csv", "line 3", "203.0.113.300/24"] {
            assert!(stderr.contains(needle), "{command}: the error should name {needle}: {stderr}");
        }
    }

    // A missing file, and a duplicate table name.
    let missing = dir.path().join("missing.toml");
    std::fs::write(&missing, format!("{base}\n[[lookup]]\nname = \"geo\"\npath = \"tables/nope.csv\"\n"))
        .expect("write config");
    let stderr = run_failing(&["check-config", "--config", &missing.to_string_lossy()]);
    assert!(stderr.contains("nope.csv") && stderr.contains("`geo`"), "{stderr}");
    let dup = dir.path().join("dup.toml");
    let table = "\n[[lookup]]\nname = \"geo\"\npath = \"tables/bad-geo.csv\"\n";
    std::fs::write(&dup, format!("{base}{table}{table}")).expect("write config");
    let stderr = run_failing(&["check-config", "--config", &dup.to_string_lossy()]);
    assert!(stderr.contains("lookup[1].name") && stderr.contains("duplicate"), "{stderr}");
}
