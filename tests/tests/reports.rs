//! `GET /v1/reports/{framework}`: met/gap per requirement for logs with and without the
//! evidence, the integrity section with a signed checkpoint, the retention gap, the HTML
//! page (every requirement, print CSS, no external asset), refusals.
//!
//! Each test uses its own past period, so the gateway's own `auditgate.*` events (timed
//! now) stay outside it.

use auditgate_tests::*;
use serde_json::{Value, json};

const FROM: &str = "2025-02-01T00:00:00Z";
const TO: &str = "2025-02-02T00:00:00Z";

fn config() -> String {
    format!("{}\n[checkpoints]\nevery_events = 1\n", default_config())
}

fn report(gw: &Gateway, framework: &str, extra: &str) -> Value {
    let url = format!("/v1/reports/{framework}?from={FROM}&to={TO}{extra}");
    let (status, body) = gw.get(AUDITOR_KEY, &url);
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

fn requirement<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no requirement {id} in {report}"))
}

fn ingest(gw: &Gateway, events: &[Value]) -> Vec<u64> {
    let ndjson: String = events.iter().map(|e| format!("{e}\n")).collect();
    let (status, body) = gw.post_bulk(INGEST_KEY, &ndjson);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], events.len(), "{body}");
    body["results"].as_array().unwrap().iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

fn wait_for_checkpoint(gw: &Gateway) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while gw.get(AUDITOR_KEY, "/v1/checkpoint").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint was signed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn failed_logins_meet_10_2_1_4_and_their_absence_is_a_gap() {
    let gw = Gateway::start(&config());
    let ok = ingest(
        &gw,
        &[
            json!({"action": "user.login", "outcome": "success", "user": "ann", "ip": "203.0.113.1", "time": "2025-02-01T08:00:00Z"}),
            json!({"action": "admin.role.change", "outcome": "success", "user": "ann", "ip": "203.0.113.1",
            "time": "2025-02-01T08:05:00Z", "changes": {"before": {"role": "user"}, "after": {"role": "admin"}}}),
        ],
    );
    wait_for_checkpoint(&gw);
    let without = report(&gw, "pci-dss", "");
    assert_eq!(without["framework"], "pci-dss");
    assert_eq!(without["from"], FROM);
    assert_eq!(without["to"], TO);
    assert_eq!(without["events"], 2);
    assert_eq!(requirement(&without, "10.2.1.4")["status"], "gap", "{without}");
    assert_eq!(requirement(&without, "10.2.1.4")["evidence"]["events"], 0);
    let admin = requirement(&without, "10.2.1.2");
    assert_eq!(admin["status"], "met");
    assert_eq!(admin["evidence"]["events"], 1);
    assert_eq!(admin["evidence"]["example_seqs"], json!([ok[1]]));

    let failed = ingest(
        &gw,
        &[
            json!({"action": "user.login", "outcome": "failure", "user": "ann", "ip": "203.0.113.1", "time": "2025-02-01T09:00:00Z"}),
            json!({"action": "user.login", "outcome": "failure", "user": "ben", "ip": "203.0.113.2", "time": "2025-02-01T09:01:00Z"}),
            // Outside the period: not counted.
            json!({"action": "user.login", "outcome": "failure", "user": "ben", "time": "2025-02-02T00:00:00Z"}),
        ],
    );
    let with = report(&gw, "pci-dss", "");
    let r = requirement(&with, "10.2.1.4");
    assert_eq!(r["status"], "met", "{r}");
    assert_eq!(r["evidence"]["events"], 2);
    assert_eq!(r["evidence"]["by_action"], json!({"user.login": 2}));
    assert_eq!(r["evidence"]["example_seqs"], json!([failed[0], failed[1]]));
    assert!(r["evidence_query"].as_str().unwrap().contains("action=user.login&outcome=failure"), "{r}");
    assert_eq!(with["events"], 4);

    // 10.2.2: every event has a user (and an ip), none a resource.
    let fields = requirement(&with, "10.2.2");
    assert_eq!(fields["status"], "met", "{fields}");
    assert_eq!(fields["evidence"]["with_user"], 4);
    assert_eq!(fields["evidence"]["shares"]["user"], 1.0);
    assert_eq!(fields["evidence"]["shares"]["resource"], 0.0);

    // 10.3: the period's records verify and a signed checkpoint exists.
    let integrity = requirement(&with, "10.3");
    assert_eq!(integrity["status"], "met", "{integrity}");
    assert_eq!(with["integrity"]["status"], "verified");
    assert_eq!(with["integrity"]["from_seq"], ok[0]);
    assert_eq!(with["integrity"]["to_seq"], failed[1]);
    assert!(with["integrity"]["records_checked"].as_u64().unwrap() >= 4, "{}", with["integrity"]);
    assert!(with["integrity"]["checkpoint_size"].as_u64().unwrap() >= 1);
    assert!(with["integrity"]["checkpoint_note"].as_str().unwrap().contains('\u{2014}'), "a signed note");

    // 10.5.1: no `[retention]` section in the config.
    let retention = requirement(&with, "10.5.1");
    assert_eq!(retention["status"], "gap");
    assert!(retention["summary"].as_str().unwrap().contains("no retention configured"), "{retention}");

    // 10.7: the store writes; no failed group commit.
    let failures = requirement(&with, "10.7");
    assert_eq!(failures["status"], "met", "{failures}");
    assert_eq!(failures["evidence"]["commit_failures_since_start"], 0);
    assert_eq!(
        with["met"].as_u64().unwrap() + with["gaps"].as_u64().unwrap(),
        with["requirements"].as_array().unwrap().len() as u64
    );
}

#[test]
fn change_management_needs_before_and_after_on_every_change() {
    let gw = Gateway::start(&config());
    ingest(
        &gw,
        &[json!({"action": "admin.config.change", "outcome": "success", "user": "root",
        "time": "2025-02-01T10:00:00Z", "changes": {"before": {"x": 1}, "after": {"x": 2}}})],
    );
    let sox = report(&gw, "sox", "");
    assert_eq!(requirement(&sox, "ITGC-CM-1")["status"], "met");
    assert_eq!(requirement(&sox, "ITGC-CM-2")["status"], "met", "{sox}");
    ingest(
        &gw,
        &[json!({"action": "admin.config.change", "outcome": "success", "user": "root",
        "time": "2025-02-01T11:00:00Z"})],
    );
    let sox = report(&gw, "sox", "");
    let cm2 = requirement(&sox, "ITGC-CM-2");
    assert_eq!(cm2["status"], "gap", "{cm2}");
    assert_eq!(cm2["evidence"], json!({"events": 2, "with_changes": 1}));
    // 7 years of retention are asked for; none is configured.
    assert_eq!(requirement(&sox, "ITGC-LOG-2")["evidence"]["required_days"], 2555);
}

#[test]
fn every_framework_answers_json_and_a_printable_html_page() {
    let gw = Gateway::start(&config());
    ingest(
        &gw,
        &[
            json!({"action": "user.login", "outcome": "failure", "user": "eve", "time": "2025-02-01T12:00:00Z"}),
        ],
    );
    wait_for_checkpoint(&gw);
    for framework in ["pci-dss", "soc2", "sox", "gdpr", "iso27001"] {
        let json = report(&gw, framework, "");
        let requirements = json["requirements"].as_array().unwrap();
        assert!(requirements.len() >= 5, "{framework}: {json}");
        for r in requirements {
            assert!(r["status"] == "met" || r["status"] == "gap", "{framework}: {r}");
            assert!(!r["evidence_query"].as_str().unwrap().is_empty(), "{framework}: {r}");
        }
        let url = format!("{}/v1/reports/{framework}?from={FROM}&to={TO}&format=html", gw.base_url());
        let resp = gw.client().get(&url).bearer_auth(AUDITOR_KEY).send().expect("GET the html report");
        assert_eq!(resp.status().as_u16(), 200);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let html = resp.text().unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{framework}");
        for r in requirements {
            let id = r["id"].as_str().unwrap();
            assert!(html.contains(&format!("<strong>{id}</strong>")), "{framework}: {id} is not in the page");
        }
        assert!(html.contains("@media print") && html.contains("@page"), "{framework}: no print CSS");
        assert!(html.contains(FROM) && html.contains(TO), "{framework}: no period");
        assert!(html.contains(json["gateway_version"].as_str().unwrap()), "{framework}: no version");
        assert!(html.contains("Generated") && html.contains("Integrity"), "{framework}");
        assert!(
            !html.contains("<script") && !html.contains("src=") && !html.contains("<link"),
            "{framework}: an external asset"
        );
    }
    let gdpr = report(&gw, "gdpr", "");
    // The default chain pseudonymizes nothing here and the store is plain.
    assert_eq!(requirement(&gdpr, "Art. 32(1)(a)")["status"], "gap");
    assert_eq!(requirement(&gdpr, "Art. 17")["status"], "gap");
}

#[test]
fn bad_requests_are_refused_by_name() {
    let gw = Gateway::start_default();
    let (status, body) = gw.get(AUDITOR_KEY, "/v1/reports/hipaa");
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("pci-dss"), "{body}");
    for (query, named) in [
        ("format=pdf", "`format`"),
        ("from=soon", "`from`"),
        ("from=2025-02-02T00:00:00Z&to=2025-02-01T00:00:00Z", "`from`"),
        ("framework=soc2", "`framework`"),
    ] {
        let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/reports/soc2?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(named), "{query}: {body}");
    }
}
