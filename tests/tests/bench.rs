//! `auditgate bench` against a real gateway: the report's counts match what the gateway
//! stored, there are no errors, and a refused key stops the run with a clear message.

use std::process::{Command, Output};

use auditgate_tests::*;
use serde_json::Value;

fn bench(gw: &Gateway, key: &str, args: &[&str]) -> Output {
    Command::new(binary_path())
        .arg("bench")
        .args(["--url", &gw.base_url(), "--json", "--threads", "1", "--pool", "2000"])
        .args(args)
        .env("AUDITGATE_BENCH_KEY", key)
        .output()
        .expect("run auditgate bench")
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "auditgate bench failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Events the bench's key stored (the gateway's own records, such as the failed
/// authentications of a refused key, are not the bench's).
fn stored(gw: &Gateway) -> u64 {
    gw.count_events() as u64
}

fn assert_clean(r: &Value) {
    for phase in ["measured", "warmup"] {
        assert_eq!(r[phase]["errors_by_status"], serde_json::json!({}), "{phase} errors: {r}");
        assert_eq!(r[phase]["transport_errors"], 0, "{phase}: {r}");
        assert_eq!(r[phase]["rejected"], 0, "{phase}: {r}");
    }
}

#[test]
fn bulk_bench_counts_what_the_gateway_stored() {
    let gw = Gateway::start_default();
    let out = bench(
        &gw,
        INGEST_KEY,
        &["--mode", "bulk", "--batch", "20", "-c", "3", "--duration", "2s", "--warmup", "300ms"],
    );
    let r = report(&out);
    assert_clean(&r);
    let measured = r["measured"]["accepted"].as_u64().unwrap_or(0);
    let total = measured + r["warmup"]["accepted"].as_u64().unwrap_or(0);
    assert!(measured >= 100, "too little was measured to mean anything: {r}");
    assert_eq!(total, stored(&gw), "the report and the gateway disagree: {r}");
    assert_eq!(r["mode"], "bulk");
    assert_eq!(r["batch"], 20);
    let eps = r["events_per_sec"].as_f64().unwrap_or(0.0);
    let secs = r["measured_secs"].as_f64().unwrap_or(0.0);
    assert!((1.9..10.0).contains(&secs), "{r}");
    assert!((eps - measured as f64 / secs).abs() < 1.0, "{r}");
    let l = &r["latency"];
    let p = |k: &str| l[k].as_f64().unwrap_or(-1.0);
    assert!(0.0 < p("p50_ms") && p("p50_ms") <= p("p90_ms") && p("p90_ms") <= p("p99_ms"), "{l}");
    assert!(p("p99_ms") <= p("max_ms"), "{l}");
    let size = r["mean_event_bytes"].as_f64().unwrap_or(0.0);
    assert!((500.0..700.0).contains(&size), "W1 events are ~600 bytes: {r}");
}

#[test]
fn single_bench_counts_and_the_redactor_saw_the_planted_secrets() {
    let gw = Gateway::start_default();
    let out =
        bench(&gw, INGEST_KEY, &["--mode", "single", "-c", "4", "--duration", "1500ms", "--warmup", "0s"]);
    let r = report(&out);
    assert_clean(&r);
    let accepted = r["measured"]["accepted"].as_u64().unwrap_or(0);
    assert_eq!(
        accepted,
        r["measured"]["requests"].as_u64().unwrap_or(u64::MAX),
        "one event per request: {r}"
    );
    assert_eq!(accepted, stored(&gw), "{r}");
    assert!(accepted >= 50, "{r}");
    // W1 plants credentials: with enough events, some stored record names a redacted path.
    let events = gw.query_all("", 1000);
    let redacted = events.iter().filter(|e| e["redacted"].as_array().is_some_and(|a| !a.is_empty())).count();
    assert!(redacted > 0, "no stored event was redacted among {}", events.len());
    let files = gw.data_files();
    assert!(
        files_containing(&files, b"4111 1111 1111 1111").is_empty(),
        "a planted card number reached the disk"
    );
}

#[test]
fn a_refused_key_stops_the_run_with_a_clear_message() {
    let gw = Gateway::start_default();
    for (key, status) in [("ag_not_a_key", "401"), (AUDITOR_KEY, "403")] {
        let out = bench(&gw, key, &["--duration", "5s", "--warmup", "0s"]);
        assert!(!out.status.success(), "bench with a bad key should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(status) && err.contains("ingest role"), "{err}");
    }
    assert_eq!(stored(&gw), 0);
}
