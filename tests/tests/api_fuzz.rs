//! Reliability (opt-in: `--features reliability`): property-based fuzzing of the HTTP API
//! with schemathesis (`tests/schemathesis/run`) from the gateway's own `/openapi.json`,
//! against the real binary with the bundled policies of `policy.toml`. Fails on any 5xx,
//! and on an answer whose status, content type or body the document does not describe.
//!
//! `AUDITGATE_FUZZ_EXAMPLES` (default 300) bounds the examples per operation and phase;
//! `AUDITGATE_FUZZ_SEED` replays a run. Needs `python3` (the script makes its venv under
//! `target/` once, from PyPI).
#![cfg(feature = "reliability")]

use std::process::Command;

use auditgate_tests::*;
use reqwest::Method;
use serde_json::json;

#[test]
fn schemathesis_finds_no_server_error_and_no_undocumented_answer() {
    // A checkpoint per event, so that the proof endpoints have something to prove.
    let gw = Gateway::start(&format!("{}\n[checkpoints]\nevery_events = 1\n", default_config()));
    // Something to read: events, and alerts (alert-bruteforce: failed logins for one user).
    for n in 0..8 {
        gw.ingest_one(&json!({
            "action": "user.login", "outcome": "failure", "user": "fuzz-victim",
            "ip": "192.0.2.7", "reason": "wrong_password", "details": {"n": n},
        }));
    }
    let (status, alerts) = gw.get(AUDITOR_KEY, "/v1/alerts");
    assert_eq!(status, 200, "{alerts}");

    let (status, doc) = gw.request(Method::GET, "/openapi.json", Auth::None, None);
    assert_eq!(status, 200, "{doc}");
    // schemathesis leaves out the operation it loads the document from (GET /openapi.json).
    let operations: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().expect("path item").len())
        .sum::<usize>()
        - 1;

    let examples = std::env::var("AUDITGATE_FUZZ_EXAMPLES").unwrap_or_else(|_| "300".into());
    let mut cmd = Command::new(workspace_root().join("tests/schemathesis/run"));
    cmd.args([&gw.base_url(), INGEST_KEY, AUDITOR_KEY, ADMIN_KEY])
        .args(["--max-examples", &examples, "--workers", "2", "--request-timeout", "30"])
        .env("CARGO_TARGET_DIR", target_dir());
    if let Ok(seed) = std::env::var("AUDITGATE_FUZZ_SEED") {
        cmd.args(["--seed", &seed]);
    }
    let started = std::time::Instant::now();
    let out = cmd.output().expect("run tests/schemathesis/run (needs bash and python3)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: String =
        stdout.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    eprintln!("schemathesis ({} examples, {:.0?}):\n{summary}", examples, started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis failed ({}):\n{stdout}\n{stderr}\ngateway log:\n{}",
        out.status,
        gw.log_tail(4000)
    );
    assert!(
        stdout.contains(&format!("Tested: {operations}")),
        "schemathesis did not test all {operations} operations:\n{stdout}"
    );

    // Still up, and the log it wrote under fire verifies.
    let (status, answer) = gw.get(AUDITOR_KEY, "/v1/verify");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "ok", "{answer}");
}
