//! A second gateway on a data directory that a running one holds refuses to start, says
//! why, and leaves the first one and its data alone.

use std::time::{Duration, Instant};

use auditgate_tests::*;
use serde_json::json;

#[test]
fn a_second_gateway_on_the_same_data_dir_refuses_to_start() {
    let gw = Gateway::start_default();
    let seq = gw.ingest_one(&json!({"action": "user.login", "user": "alice", "outcome": "success"}));

    // The same data dir, another port.
    let config = default_config().replace(DATA_DIR_PLACEHOLDER, &toml_str(&gw.data_dir().to_string_lossy()));
    let started = Instant::now();
    let (status, stderr) = serve_until_exit(&config);
    assert!(!status.success(), "the second gateway must not run: {stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "it gives up instead of waiting forever");

    // The first one still serves its data.
    let (status, rec) = gw.get(AUDITOR_KEY, &format!("/v1/events/{seq}"));
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["user"], "alice");
}
