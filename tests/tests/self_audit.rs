//! The gateway's own audit trail, against the real binary: start and stop, reloads with the
//! config file's hashes, failed authentications (and the alert after five, delivered to a
//! real webhook), refused roles, and a record of every auditor read with its parameters.
//! All of them are ordinary chained records with `source = "auditgate"`.

use std::time::Duration;

use auditgate_tests::receiver::{HttpReceiver, Reply};
use auditgate_tests::*;
use serde_json::{Value, json};

/// The gateway's own records with `action`, oldest first.
fn own(gw: &Gateway, action: &str) -> Vec<Value> {
    gw.query_all(&format!("source=auditgate&action={}", enc(action)), 1000)
}

/// The default config without the config-file watch: reloads here are the test's own.
fn unwatched() -> String {
    default_config().replacen("[server]\n", "[server]\nwatch_config = false\n", 1)
}

#[test]
fn start_reload_and_stop_are_recorded_with_config_hashes() {
    let mut gw = Gateway::start(&unwatched());
    let first_config = std::fs::read(gw.config_path()).expect("config");
    let starts = own(&gw, "auditgate.start");
    assert_eq!(starts.len(), 1, "{starts:?}");
    let start = &starts[0];
    assert_eq!(start["source"], "auditgate", "{start}");
    assert_eq!(start["user"], "auditgate", "{start}");
    assert_eq!(start["outcome"], "success", "{start}");
    assert_eq!(start["details"]["config_sha256"], sha256_hex(&first_config), "{start}");
    let (status, policies) = gw.get(ADMIN_KEY, "/v1/admin/policies");
    assert_eq!(status, 200, "{policies}");
    let active_set = policies["policy_set"].as_str().expect("policy_set").to_string();
    assert_eq!(start["details"]["policy_set"], active_set, "{start}");

    // An applied reload, by the admin key.
    let changed = set_value(&unwatched(), "timeout_ms", "60");
    gw.rewrite_config(&changed);
    let second_config = std::fs::read(gw.config_path()).expect("config");
    let (status, report) =
        gw.request(reqwest::Method::POST, "/v1/admin/reload", Auth::Bearer(ADMIN_KEY), None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["config_sha256_before"], sha256_hex(&first_config), "{report}");
    assert_eq!(report["config_sha256_after"], sha256_hex(&second_config), "{report}");
    let reloads = own(&gw, "auditgate.config.reload");
    assert_eq!(reloads.len(), 1, "{reloads:?}");
    let r = &reloads[0];
    assert_eq!(r["outcome"], "success", "{r}");
    assert_eq!(r["user"], "dev-admin", "{r}");
    assert_eq!(r["details"]["trigger"], "api", "{r}");
    assert_eq!(r["details"]["config_sha256_before"], sha256_hex(&first_config), "{r}");
    assert_eq!(r["details"]["config_sha256_after"], sha256_hex(&second_config), "{r}");
    assert_eq!(r["details"]["policy_set_before"], active_set, "{r}");
    assert_eq!(r["details"]["policy_set_after"], report["new_policy_set"], "{r}");

    // A refused reload (SIGHUP, a module that does not exist): recorded as a failure.
    let broken =
        changed.replacen("module = \"builtin:redact-secrets\"", "module = \"builtin:no-such-policy\"", 1);
    assert_ne!(broken, changed, "the default config names builtin:redact-secrets");
    gw.rewrite_config(&broken);
    let third_config = std::fs::read(gw.config_path()).expect("config");
    gw.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let reloads = own(&gw, "auditgate.config.reload");
        if reloads.len() == 2 {
            break reloads[1].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no record of the SIGHUP reload: {reloads:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(failed["outcome"], "failure", "{failed}");
    assert_eq!(failed["user"], "auditgate", "{failed}");
    assert_eq!(failed["details"]["trigger"], "sighup", "{failed}");
    assert_eq!(failed["details"]["config_sha256_before"], sha256_hex(&second_config), "{failed}");
    assert_eq!(failed["details"]["config_sha256_after"], sha256_hex(&third_config), "{failed}");
    let error = failed["details"]["error"].as_str().unwrap_or("");
    assert!(error.contains("no-such-policy"), "{failed}");

    // Stop (SIGTERM) and start again: the stop is in the chain before the second start,
    // and the whole chain verifies.
    gw.rewrite_config(&changed);
    assert!(gw.stop(), "graceful stop: {}", gw.log_tail(20));
    gw.restart();
    let stops = own(&gw, "auditgate.stop");
    assert_eq!(stops.len(), 1, "{stops:?}");
    let starts = own(&gw, "auditgate.start");
    assert_eq!(starts.len(), 2, "{starts:?}");
    let stop_seq = stops[0]["seq"].as_u64().expect("seq");
    assert!(starts[0]["seq"].as_u64() < Some(stop_seq), "{starts:?} {stops:?}");
    assert!(starts[1]["seq"].as_u64() > Some(stop_seq), "{starts:?} {stops:?}");
    assert_eq!(stops[0]["details"]["config_sha256"], sha256_hex(&second_config), "{}", stops[0]);
    let (status, verify) = gw.get(AUDITOR_KEY, "/v1/verify");
    assert_eq!(status, 200, "{verify}");
    assert_eq!(verify["status"], "ok", "{verify}");
}

#[test]
fn every_auditor_read_is_recorded_with_its_parameters() {
    let gw = Gateway::start_default();
    let user = unique_token("reader-");
    let seq = gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": user}));
    let email = format!("{}@example.com", unique_token("lookup-"));
    // (key, path): every audited route; the quarantine is the admin's.
    let reads: Vec<(&str, String)> = vec![
        (AUDITOR_KEY, format!("/v1/events?user={user}&action=user.login&limit=5")),
        (AUDITOR_KEY, format!("/v1/events/{seq}")),
        (AUDITOR_KEY, format!("/v1/events/{seq}/proof")),
        (AUDITOR_KEY, "/v1/alerts?severity=high".to_string()),
        (AUDITOR_KEY, "/v1/export?format=csv&action=user.login".to_string()),
        (AUDITOR_KEY, format!("/v1/lookup?value={}", enc(&email))),
        (ADMIN_KEY, "/v1/quarantine".to_string()),
        (AUDITOR_KEY, "/v1/stats?bucket=hour&by=outcome".to_string()),
        (AUDITOR_KEY, "/v1/reports/pci-dss".to_string()),
        (AUDITOR_KEY, "/v1/verify".to_string()),
        // A refused query is recorded too, with its status.
        (AUDITOR_KEY, "/v1/events?limit=0".to_string()),
    ];
    let mut statuses = Vec::new();
    for (key, path) in &reads {
        let response =
            gw.client().get(format!("{}{path}", gw.base_url())).bearer_auth(key).send().expect("request");
        statuses.push(response.status().as_u16());
    }
    // The proof may be 404 (no signed checkpoint covers the event yet): recorded either way.
    for (i, status) in statuses.iter().enumerate().take(10) {
        assert!(*status == 200 || (i == 2 && *status == 404), "{:?}: {status}", reads[i]);
    }
    assert_eq!(statuses[10], 400);

    let accesses = own(&gw, "auditgate.access");
    assert_eq!(accesses.len(), reads.len(), "one record per read: {accesses:#?}");
    for (access, ((key, path), status)) in accesses.iter().zip(reads.iter().zip(&statuses)) {
        let name = if *key == ADMIN_KEY { "dev-admin" } else { "dev-auditor" };
        assert_eq!(access["user"], name, "{access}");
        assert_eq!(access["ip"], "127.0.0.1", "{access}");
        assert_eq!(access["details"]["method"], "GET", "{access}");
        assert_eq!(path.split('?').next(), access["details"]["path"].as_str(), "{access}");
        assert_eq!(access["details"]["status"], *status, "{access}");
        let outcome = if *status < 400 { "success" } else { "failure" };
        assert_eq!(access["outcome"], outcome, "{access}");
    }
    assert_eq!(accesses[0]["details"]["params"], json!({"user": user, "action": "user.login", "limit": "5"}));
    assert_eq!(accesses[0]["details"]["route"], "/v1/events");
    assert_eq!(accesses[1]["details"]["route"], "/v1/events/{seq}");
    assert_eq!(accesses[4]["details"]["params"], json!({"format": "csv", "action": "user.login"}));

    // The lookup's value is never stored; its pseudonym is, and it is what the lookup answers.
    let (status, answer) = gw.get(AUDITOR_KEY, &format!("/v1/lookup?value={}", enc(&email)));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(accesses[5]["details"]["params"], json!({"value_pseudonym": answer["pseudonym"]}));
    let all_own = gw.query_all("source=auditgate", 1000);
    assert!(!Value::Array(all_own).to_string().contains(&email), "the looked-up value is in the log");

    // An export never contains its own record: every record in it was committed before.
    let response = gw
        .client()
        .get(format!("{}/v1/export?format=jsonl&source=auditgate", gw.base_url()))
        .bearer_auth(AUDITOR_KEY)
        .send()
        .expect("export");
    assert_eq!(response.status().as_u16(), 200);
    let body = response.text().expect("body");
    let exported: Vec<Value> = body.lines().map(json).collect();
    let export_record = own(&gw, "auditgate.access").pop().expect("the export's record");
    assert_eq!(export_record["details"]["params"], json!({"format": "jsonl", "source": "auditgate"}));
    let own_seq = export_record["seq"].as_u64().expect("seq");
    assert!(!exported.is_empty());
    assert!(exported.iter().all(|r| r["seq"].as_u64() < Some(own_seq)), "{export_record}");
}

#[test]
fn failed_authentication_is_recorded_and_five_raise_an_alert_at_the_sinks() {
    let hook = HttpReceiver::start(&[], Reply::Status(200));
    let config = format!(
        "{}\n[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = {}\n\
         [delivery]\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\n",
        default_config(),
        toml_str(&hook.url())
    );
    let gw = Gateway::start(&config);
    let wrong = unique_token("not-a-key-");

    // Four failures with one unknown key: recorded, no alert yet.
    for _ in 0..4 {
        let (status, body) = gw.get(&wrong, "/v1/events");
        assert_error(status, &body, 401, "unauthorized", &["unknown API key"]);
    }
    let failures = own(&gw, "auditgate.auth.failure");
    assert_eq!(failures.len(), 4, "{failures:?}");
    let (status, lookup) = gw.get(AUDITOR_KEY, &format!("/v1/lookup?value={}", enc(&wrong)));
    assert_eq!(status, 200, "{lookup}");
    for f in &failures {
        assert_eq!(f["outcome"], "failure", "{f}");
        assert_eq!(f["ip"], "127.0.0.1", "{f}");
        assert_eq!(f["details"]["reason"], "unknown_key", "{f}");
        // The key itself is never stored; its pseudonym is (an auditor can check a
        // suspected key with GET /v1/lookup).
        assert_eq!(f["details"]["key_fingerprint"], lookup["pseudonym"], "{f}");
        assert!(!f.to_string().contains(&wrong), "{f}");
        assert_eq!(f["details"]["path"], "/v1/events", "{f}");
    }
    let alerts_of = |gw: &Gateway| {
        let (status, body) = gw.get(AUDITOR_KEY, "/v1/alerts?rule=api_auth_failures&limit=100");
        assert_eq!(status, 200, "{body}");
        body["alerts"].as_array().expect("alerts").clone()
    };
    assert!(alerts_of(&gw).is_empty());

    // The fifth (an ingest attempt this time): one alert for the key, one for the IP.
    let (status, _) = gw.post_events(&wrong, &json!({"action": "user.login", "outcome": "success"}));
    assert_eq!(status, 401);
    let alerts = alerts_of(&gw);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let failures = own(&gw, "auditgate.auth.failure");
    assert_eq!(failures.len(), 5);
    let fifth = failures[4]["seq"].as_u64();
    let mut subjects: Vec<&str> =
        alerts.iter().map(|a| a["labels"]["subject"].as_str().unwrap_or("")).collect();
    subjects.sort();
    assert_eq!(subjects, ["ip", "key"], "{alerts:?}");
    for a in &alerts {
        assert_eq!(a["seq"].as_u64(), fifth, "the alert belongs to the fifth failure: {a}");
        assert_eq!(a["policy"], "auditgate", "{a}");
        assert_eq!(a["severity"], "high", "{a}");
        assert_eq!(a["labels"]["failures"], "5", "{a}");
    }
    // A missing key is a failure too (counted by IP); no second alert within the window.
    let (status, body) = gw.request(reqwest::Method::GET, "/v1/events", Auth::None, None);
    assert_eq!(status, 401, "{body}");
    let failures = own(&gw, "auditgate.auth.failure");
    assert_eq!(failures.len(), 6);
    assert_eq!(failures[5]["details"]["reason"], "missing_key");
    assert!(failures[5]["details"].get("key_fingerprint").is_none());
    assert_eq!(alerts_of(&gw).len(), 2);

    // A known key with the wrong role: an access-denied record naming the key.
    let (status, _) = gw.get(INGEST_KEY, "/v1/events");
    assert_eq!(status, 403);
    let denied = own(&gw, "auditgate.access.denied");
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["user"], INGEST_NAME);
    assert_eq!(denied[0]["details"]["role"], "ingest");

    // Both alerts reach the webhook.
    let got = hook.wait_for(Duration::from_secs(20), |r| {
        r.iter().filter(|r| r.json()["rule"] == "api_auth_failures").count() >= 2
    });
    let delivered: Vec<Value> =
        got.iter().map(|r| r.json()).filter(|j| j["rule"] == "api_auth_failures").collect();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
}

#[test]
fn an_api_key_cannot_be_named_like_the_gateway() {
    let config = with_key(&default_config(), "auditgate", "ingest", "some-key-value");
    let (status, output) = serve_until_exit(&config);
    assert!(!status.success(), "{output}");
    assert!(output.contains("keys[") && output.contains("auditgate"), "{output}");
}
