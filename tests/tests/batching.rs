//! A big request is not bounded by one policy call's `timeout_ms`: the engine hands a
//! policy at most 16 events per call, each call under its own deadline.

use auditgate_tests::*;
use serde_json::json;

#[test]
fn a_large_bulk_request_fits_under_a_tight_per_call_timeout() {
    // redact-secrets is the first policy of the default chain, so the first `timeout_ms`
    // line is its own. 20 ms is ample for 16 events and far too little for 3000 events of
    // ~2 KB each in a single call (every string is scanned by the value detectors).
    let config = set_value(&default_config(), "timeout_ms", "20");
    let gw = Gateway::start(&config);
    let text = "a quiet sentence without any secret in it, ".repeat(40);
    let lines: Vec<String> = (0..3000)
        .map(|i| {
            json!({
                "action": "api.call",
                "user": format!("user-{}", i % 50),
                "outcome": "success",
                "details": {"note": text, "n": i, "password": format!("pw-{i}")},
            })
            .to_string()
        })
        .collect();
    let (status, body) = gw.post_bulk(INGEST_KEY, &(lines.join("\n") + "\n"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rejected"],
        0,
        "no event may time out: {}",
        &body.to_string()[..2000.min(body.to_string().len())]
    );
    assert_eq!(body["accepted"], 3000, "{body}");
    assert_eq!(gw.count_events(), 3000);
    // The policy really ran on every event of the last chunk too.
    let last = gw.query_all("user=user-49&order=desc", 1);
    assert_ne!(last[0]["details"]["password"], "pw-2999", "{}", last[0]);
    assert_eq!(last[0]["redacted"], json!(["/details/password"]), "{}", last[0]);
}
