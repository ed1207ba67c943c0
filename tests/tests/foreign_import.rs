//! A policy that imports something the gateway does not offer (`tests/policies/
//! foreign-import-policy` wants a `net` interface) is refused when it is loaded, with an
//! error naming the policy and the import; it never runs, and stored data is untouched.

use std::time::{Duration, Instant};

use auditgate_tests::*;
use serde_json::json;

const IMPORT: &str = "test:foreign-import/net";

#[test]
fn the_gateway_refuses_to_start_with_a_policy_importing_an_unknown_interface() {
    // Some data first, from a gateway with the default chain.
    let mut gw = Gateway::start_default();
    let seq = gw.ingest_one(&json!({"action": "user.login", "user": "alice", "outcome": "success"}));
    gw.stop();

    let policy = PolicySpec::new("wants-network", &test_policies().foreign_import, OnError::Reject);
    let config = with_policies(&default_config(), &[policy])
        .replace(DATA_DIR_PLACEHOLDER, &toml_str(&gw.data_dir().to_string_lossy()));
    let started = Instant::now();
    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success(), "the gateway must not start with this policy: {stderr}");
    assert!(stderr.contains("wants-network"), "the error names the policy: {stderr}");
    assert!(stderr.contains(IMPORT), "the error names the missing import: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "it fails at load, not after a wait");

    // The data dir still serves what was stored before.
    gw.restart();
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["user"], "alice");
    assert_eq!(gw.query_all("", 100).len(), 1);
}

#[test]
fn policy_test_refuses_a_policy_importing_an_unknown_interface() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "{\"action\":\"user.login\",\"outcome\":\"success\"}\n").expect("write events");
    let run = run_cli([
        "policy",
        "test",
        "--policy",
        &test_policies().foreign_import.to_string_lossy(),
        "--events",
        &events.to_string_lossy(),
    ]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains(IMPORT), "the error names the missing import: {}", run.stderr);
}
