//! `examples/custom-policy`, a policy that is not bundled: built for wasm32-wasip2 like an
//! author builds one, loaded by path (`module = "…/custom_policy.wasm"`) into a running
//! gateway, and run by `auditgate policy test`.

use std::process::{Command, Stdio};

use auditgate_tests::*;
use serde_json::{Value, json};

const NAME: &str = "purchases";

/// The default chain plus the example policy, with `config` as its `[policy.config]`.
fn gateway(config: &str) -> Gateway {
    let spec = PolicySpec::new(NAME, custom_policy(), OnError::Reject).actions(&["purchase", "purchase.*"]);
    // `to_toml` ends with the `[policy.config]` header: the config lines go right after it.
    let text = format!("{}{config}\n", with_policies(&default_config(), &[spec]));
    Gateway::start(&text)
}

fn purchase(user: &str, amount: Value, customer: &str) -> Value {
    json!({"action": "purchase.complete", "outcome": "success", "user": user,
           "details": {"amount": amount, "currency": "EUR", "customer_id": customer}})
}

fn has_tag(record: &Value, tag: &str) -> bool {
    record["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))
}

#[test]
fn a_large_purchase_is_tagged_alerted_and_the_customer_pseudonymized() {
    let gw = gateway("threshold = 1000\nseverity = \"high\"");
    let customer = unique_token("C-");
    let big = gw.ingest_one(&purchase("carol", json!(2500), &customer));
    let small = gw.ingest_one(&purchase("dave", json!("99.50"), &customer));
    let login = gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": "carol",
                                      "details": {"amount": 1_000_000, "customer_id": customer}}));

    let big_rec = gw.record(big);
    assert!(has_tag(&big_rec, "large-purchase"), "{big_rec}");
    let pseudonym = big_rec["details"]["customer_id"].as_str().unwrap_or_default().to_string();
    assert!(pseudonym.starts_with("hmac-sha256:"), "{big_rec}");
    assert!(big_rec["redacted"].as_array().is_some_and(|r| r.contains(&json!("/details/customer_id"))));

    let small_rec = gw.record(small);
    assert!(!has_tag(&small_rec, "large-purchase"), "{small_rec}");
    assert_eq!(small_rec["details"]["customer_id"], pseudonym.as_str(), "same customer, same pseudonym");

    // Not a purchase: the policy's actions filter keeps it away; stored as sent.
    let login_rec = gw.record(login);
    assert_eq!(login_rec["details"]["customer_id"], customer.as_str(), "{login_rec}");
    assert!(!has_tag(&login_rec, "large-purchase"), "{login_rec}");

    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/alerts?policy={NAME}"));
    assert_eq!(status, 200, "{body}");
    let alerts = body["alerts"].as_array().cloned().unwrap_or_default();
    assert_eq!(alerts.len(), 1, "one alert, for the large purchase only: {body}");
    assert_eq!(alerts[0]["seq"], big);
    assert_eq!(alerts[0]["rule"], "purchase.large");
    assert_eq!(alerts[0]["severity"], "high");
    assert_eq!(alerts[0]["labels"]["user"], "carol");
    assert_eq!(alerts[0]["labels"]["amount"], "2500");
    assert_eq!(alerts[0]["labels"]["currency"], "EUR");
}

#[test]
fn a_purchase_customer_id_never_reaches_the_disk() {
    let gw = gateway("threshold = 10");
    let customer = unique_token("C-");
    gw.ingest_one(&purchase("erin", json!(5), &customer));
    let files = gw.data_files();
    let holding = files_containing(&files, customer.as_bytes());
    assert!(holding.is_empty(), "the customer id reached the disk in {holding:?}");
}

#[test]
fn a_bad_config_stops_the_gateway_with_the_policy_message() {
    let spec = PolicySpec::new(NAME, custom_policy(), OnError::Reject);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!("{}threshold = 5\nseverity = \"loud\"\n", with_policies(&default_config(), &[spec]));
    let config = config.replace(DATA_DIR_PLACEHOLDER, &toml_str(&dir.path().join("data").to_string_lossy()));
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, config).expect("write config");
    let out = Command::new(binary_path())
        .args(["check-config", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run auditgate");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(NAME) && stderr.contains("severity \"loud\""), "{stderr}");
}

/// Runs `auditgate policy test --json` on the example with `events` and returns the exit
/// status and the parsed lines.
fn policy_test(config: &str, events: &str) -> (bool, Vec<Value>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, ev) = (dir.path().join("cfg.toml"), dir.path().join("events.jsonl"));
    std::fs::write(&cfg, config).expect("write cfg");
    std::fs::write(&ev, events).expect("write events");
    let out = Command::new(binary_path())
        .args(["policy", "test", "--json", "--policy"])
        .arg(custom_policy())
        .arg("--config")
        .arg(&cfg)
        .arg("--events")
        .arg(&ev)
        .stdin(Stdio::null())
        .output()
        .expect("run auditgate policy test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {e}: {l}")))
        .collect();
    (out.status.success(), lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn policy_test_shows_each_decision_and_the_resulting_event() {
    let events = ndjson(&[
        purchase("carol", json!(1500), "C-1"),
        purchase("dave", json!(20), "C-1"),
        json!({"action": "user.login", "outcome": "success"}),
    ]);
    let (ok, lines, stderr) = policy_test("threshold = 1000\n", &events);
    assert!(ok, "all events pass: {stderr}");
    assert_eq!(lines.len(), 3, "{lines:?}");

    let big = &lines[0];
    assert_eq!((big["line"].clone(), big["ok"].clone()), (json!(1), json!(true)), "{big}");
    assert_eq!(big["decision"]["tags"], json!(["large-purchase"]));
    assert_eq!(big["decision"]["alerts"][0]["rule"], "purchase.large");
    assert_eq!(big["decision"]["alerts"][0]["severity"], "medium");
    assert_eq!(big["decision"]["patches"], json!([{"op": "pseudonymize", "path": "/details/customer_id"}]));
    let pseudonym = big["event"]["details"]["customer_id"].as_str().unwrap_or_default();
    assert!(pseudonym.starts_with("hmac-sha256:"), "{big}");
    assert_eq!(big["event"]["details"]["amount"], 1500);
    assert_eq!(big["redacted"], json!(["/details/customer_id"]));

    assert_eq!(lines[1]["decision"]["alerts"], json!([]));
    assert_eq!(lines[1]["event"]["details"]["customer_id"], pseudonym, "same key, same pseudonym");
    assert_eq!(lines[2]["decision"], json!({"patches": [], "alerts": [], "tags": []}));
}

#[test]
fn policy_test_reports_bad_lines_by_number_and_goes_on() {
    let events = format!(
        "{}\n{{\"action\": \"purchase\"\n{}\n\n{}\n",
        json!({"action": "purchase", "outcome": "success", "details": {"amount": 5}}),
        json!({"action": "purchase", "outcome": "success", "extra": 1}),
        json!({"action": "purchase", "outcome": "success", "details": {"amount": 50}}),
    );
    let (ok, lines, stderr) = policy_test("threshold = 10\n", &events);
    assert!(!ok, "a failed line makes the exit status non-zero");
    assert!(stderr.contains("2 of 4 events failed"), "{stderr}");
    let numbers: Vec<u64> = lines.iter().filter_map(|l| l["line"].as_u64()).collect();
    assert_eq!(numbers, [1, 2, 3, 5]);
    assert_eq!(lines[1]["error"]["code"], "invalid_json", "{}", lines[1]);
    assert_eq!(lines[2]["error"]["code"], "unknown_field", "{}", lines[2]);
    assert!(lines[2]["error"]["message"].as_str().is_some_and(|m| m.contains("extra")));
    assert_eq!(lines[3]["ok"], true);
    assert_eq!(lines[3]["decision"]["tags"], json!(["large-purchase"]));
}

#[test]
fn policy_test_refuses_a_bad_config_with_the_policy_message() {
    let (ok, lines, stderr) = policy_test("threshold = 10\nactions = []\n", "{}\n");
    assert!(!ok && lines.is_empty());
    assert!(stderr.contains("actions: expected at least one action"), "{stderr}");
}
