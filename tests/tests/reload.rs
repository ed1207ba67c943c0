//! Hot reload of the policy set through the real gateway: `POST /v1/admin/reload`, SIGHUP
//! and the config file watch; a bad new config leaves the old set serving; host counters
//! survive the swap; `GET /v1/admin/policies` reports what is loaded.

use std::time::{Duration, Instant};

use auditgate_tests::*;
use reqwest::Method;
use serde_json::{Value, json};

/// How long a reload triggered by a signal or a file change may take to show.
const RELOAD_DEADLINE: Duration = Duration::from_secs(30);

/// `config` with the file watch off: the test alone decides when a reload happens.
fn no_watch(config: &str) -> String {
    assert!(config.contains("[server]\n"), "no [server] table");
    config.replacen("[server]\n", "[server]\nwatch_config = false\n", 1)
}

/// `config` without the `[[policy]]` table named `name` (and its `[policy.config]`).
fn without_policy(config: &str, name: &str) -> String {
    let lines: Vec<&str> = config.lines().collect();
    let mut out = String::with_capacity(config.len());
    let mut skipping = false;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("[[") {
            skipping = t == "[[policy]]"
                && lines.get(i + 1).is_some_and(|next| next.trim() == format!("name = {}", toml_str(name)));
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(out.matches("[[policy]]").count() < config.matches("[[policy]]").count(), "no [[policy]] {name}");
    out
}

fn reload(gw: &Gateway) -> (u16, Value) {
    gw.request(Method::POST, "/v1/admin/reload", Auth::Bearer(ADMIN_KEY), None)
}

fn policies(gw: &Gateway) -> Value {
    let (status, body) = gw.get(ADMIN_KEY, "/v1/admin/policies");
    assert_eq!(status, 200, "GET /v1/admin/policies: {body}");
    body
}

fn chain(answer: &Value) -> Vec<String> {
    answer["policies"]
        .as_array()
        .unwrap_or_else(|| panic!("no policies array: {answer}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn browser_login(user: &str) -> Value {
    json!({"action": "user.login", "outcome": "success", "user": user, "ip": "192.0.2.10",
           "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
}

/// Polls `GET /v1/admin/policies` until `done` holds, or panics at the deadline.
fn wait_for(gw: &Gateway, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + RELOAD_DEADLINE;
    loop {
        let answer = policies(gw);
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {RELOAD_DEADLINE:?}; last answer {answer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_reload_swaps_the_chain_and_events_name_the_set_that_processed_them() {
    let config_a = no_watch(&default_config());
    let trap = PolicySpec::new("trap", &test_policies().trap, OnError::Skip);
    let config_b = with_policies(&without_policy(&config_a, "enrich-context"), &[trap]);
    let gw = Gateway::start(&config_a);

    let before = policies(&gw);
    assert_eq!(chain(&before), ["redact-secrets", "enrich-context", "alert-bruteforce"]);
    let set_a = before["policy_set"].as_str().expect("policy_set").to_string();
    assert_eq!(before["reloads"]["ok"], 0, "{before}");
    assert_eq!(before["watch_config"], false, "{before}");
    for p in before["policies"].as_array().expect("policies") {
        let sha = p["sha256"].as_str().unwrap_or_default();
        assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{p}");
    }
    let old_seq = gw.ingest_one(&browser_login("before-reload"));

    gw.rewrite_config(&config_b);
    let (status, answer) = reload(&gw);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["trigger"], "api");
    assert_eq!(answer["old_policy_set"], set_a.as_str(), "{answer}");
    let set_b = answer["new_policy_set"].as_str().expect("new_policy_set").to_string();
    assert_ne!(set_b, set_a);
    assert_eq!(answer["changed"], true);
    assert_eq!(chain(&answer), ["redact-secrets", "alert-bruteforce", "trap"]);
    let trap_bytes = std::fs::read(&test_policies().trap).expect("trap policy");
    let loaded_trap = &answer["policies"][2];
    assert_eq!(loaded_trap["sha256"], sha256_hex(&trap_bytes).as_str(), "{answer}");
    assert_eq!(loaded_trap["from_cache"], false, "first load of the trap policy compiles: {answer}");
    assert_eq!(answer["policies"][0]["from_cache"], true, "cached at start-up: {answer}");
    assert!(answer["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{answer}");
    assert!(answer["swap_us"].as_f64().is_some(), "{answer}");
    assert_eq!(answer["needs_restart"], json!([]), "{answer}");

    let new_seq = gw.ingest_one(&browser_login("after-reload"));
    let (old, new) = (gw.record(old_seq), gw.record(new_seq));
    assert_eq!(old["policy_set"], set_a.as_str(), "{old}");
    assert!(old["details"]["ua"].is_object(), "enrich-context ran before the reload: {old}");
    assert!(!tags(&old).contains(&"trap-policy-saw"), "{old}");
    assert_eq!(new["policy_set"], set_b.as_str(), "{new}");
    assert!(new["details"].get("ua").is_none(), "enrich-context is out of the new chain: {new}");
    assert!(tags(&new).contains(&"trap-policy-saw"), "the trap policy is in the new chain: {new}");

    let now = policies(&gw);
    assert_eq!(now["policy_set"], set_b.as_str());
    assert_eq!(chain(&now), ["redact-secrets", "alert-bruteforce", "trap"]);
    assert_eq!(now["reloads"]["ok"], 1, "{now}");
    assert_eq!(now["reloads"]["failed"], 0, "{now}");
    assert_eq!(now["reloads"]["last"]["result"], "ok", "{now}");
    assert_eq!(now["reloads"]["last"]["trigger"], "api", "{now}");
    assert!(now["policies"][2]["calls"].as_u64().is_some_and(|c| c >= 1), "{now}");

    // Back to the first set: the same name, every module from the cache.
    gw.rewrite_config(&config_a);
    let (status, answer) = reload(&gw);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["new_policy_set"], set_a.as_str(), "{answer}");
    assert!(answer["policies"].as_array().expect("policies").iter().all(|p| p["from_cache"] == true));
    assert_eq!(gw.record(gw.ingest_one(&browser_login("back")))["policy_set"], set_a.as_str());

    // Keys a reload does not apply are named, not applied.
    gw.rewrite_config(&set_value(&config_a, "max_depth", "31"));
    let (status, answer) = reload(&gw);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["needs_restart"], json!(["server.max_depth"]), "{answer}");
    assert_eq!(answer["new_policy_set"], set_a.as_str(), "{answer}");
}

/// What a bad config is, the config, the policy and key its error names, a word of the message.
type BadConfig<'a> = (&'a str, String, Option<&'a str>, Option<&'a str>, &'a str);

#[test]
fn a_bad_config_is_refused_by_name_and_the_old_set_keeps_serving() {
    let config = no_watch(&default_config());
    let gw = Gateway::start(&config);
    let set = policies(&gw)["policy_set"].as_str().expect("policy_set").to_string();
    let junk = gw.data_dir().with_file_name("junk.wasm");
    std::fs::write(&junk, b"\0asm this is not a component").expect("write junk");
    let missing = gw.data_dir().with_file_name("missing.wasm");
    let cases: Vec<BadConfig> = vec![
        ("broken TOML", format!("{config}\n[[policy\n"), None, None, "policy.toml"),
        (
            "missing module",
            with_policies(&config, &[PolicySpec::new("ghost", &missing, OnError::Skip)]),
            Some("ghost"),
            Some("policy[3].module"),
            "cannot read module",
        ),
        (
            "invalid module",
            with_policies(&config, &[PolicySpec::new("junk", &junk, OnError::Skip)]),
            Some("junk"),
            Some("policy[3].module"),
            "not a valid policy component",
        ),
        (
            "init fails",
            set_value(&config, "threshold", "\"many\""),
            Some("alert-bruteforce"),
            Some("policy[2].config"),
            "init failed",
        ),
        (
            "invalid value",
            set_value(&config, "timeout_ms", "0"),
            None,
            Some("policy[0].timeout_ms"),
            "1..=60000",
        ),
        (
            "missing lookup table",
            config.replace("examples/geo-cidr.csv", "examples/no-such-table.csv"),
            None,
            Some("lookup"),
            "no-such-table.csv",
        ),
    ];
    for (n, (what, bad, policy, key, needle)) in cases.iter().enumerate() {
        gw.rewrite_config(bad);
        let (status, answer) = reload(&gw);
        assert_eq!(status, 422, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_config", "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{what}: the message does not name `{needle}`: {answer}");
        if let Some(policy) = policy {
            assert!(message.contains(&format!("policy `{policy}`")), "{what}: names no policy: {answer}");
        }
        if let Some(key) = key {
            assert!(message.contains(key), "{what}: names no key `{key}`: {answer}");
        }
        assert!(message.contains(&format!("active policy set {set} is unchanged")), "{what}: {answer}");

        let status = policies(&gw);
        assert_eq!(status["policy_set"], set.as_str(), "{what}: {status}");
        assert_eq!(status["reloads"]["failed"], n as u64 + 1, "{what}: {status}");
        assert_eq!(status["reloads"]["last"]["result"], "failed", "{what}: {status}");
        assert!(status["reloads"]["last"]["error"].as_str().is_some_and(|e| e.contains(needle)), "{status}");
        // Ingest goes on with the old set.
        let seq = gw.ingest_one(&browser_login(&format!("still-served-{n}")));
        let rec = gw.record(seq);
        assert_eq!(rec["policy_set"], set.as_str(), "{what}: {rec}");
        assert!(rec["details"]["ua"].is_object(), "{what}: the old chain ran: {rec}");
    }
    assert!(gw.log_tail(200_000).contains("policy reload failed"), "the failures are logged");
    assert_eq!(policies(&gw)["reloads"]["ok"], 0);
}

#[test]
fn sighup_reloads_the_config_file() {
    let config = no_watch(&default_config());
    let mut gw = Gateway::start(&config);
    let set = policies(&gw)["policy_set"].as_str().expect("policy_set").to_string();
    gw.rewrite_config(&without_policy(&config, "enrich-context"));
    gw.signal("HUP");
    let after = wait_for(&gw, "a reload on SIGHUP", |a| a["policy_set"] != set.as_str());
    assert_eq!(chain(&after), ["redact-secrets", "alert-bruteforce"]);
    assert_eq!(after["reloads"]["last"]["trigger"], "sighup", "{after}");
    assert!(gw.is_running(), "SIGHUP must not end the gateway");
    let rec = gw.record(gw.ingest_one(&browser_login("after-hup")));
    assert_eq!(rec["policy_set"], after["policy_set"], "{rec}");
}

#[test]
fn editing_the_config_file_reloads_it() {
    let config = default_config();
    let gw = Gateway::start(&config);
    let before = policies(&gw);
    assert_eq!(before["watch_config"], true, "{before}");
    let set = before["policy_set"].as_str().expect("policy_set").to_string();

    gw.rewrite_config(&without_policy(&config, "enrich-context"));
    let after = wait_for(&gw, "a reload after the file changed", |a| a["policy_set"] != set.as_str());
    assert_eq!(chain(&after), ["redact-secrets", "alert-bruteforce"]);
    assert_eq!(after["reloads"]["last"]["trigger"], "file", "{after}");
    let new_set = after["policy_set"].clone();

    // A broken save is refused; the set it replaced keeps serving.
    gw.rewrite_config(&format!("{config}\n[[policy\n"));
    let failed = wait_for(&gw, "a failed reload after a broken save", |a| a["reloads"]["failed"] != 0);
    assert_eq!(failed["policy_set"], new_set, "{failed}");
    assert_eq!(failed["reloads"]["last"]["trigger"], "file", "{failed}");
    assert_eq!(gw.record(gw.ingest_one(&browser_login("after-broken-save")))["policy_set"], new_set);
}

fn alerts(gw: &Gateway, query: &str) -> Vec<Value> {
    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/alerts?limit=1000&{query}"));
    assert_eq!(status, 200, "GET /v1/alerts?{query}: {body}");
    body["alerts"].as_array().cloned().unwrap_or_else(|| panic!("no alerts array: {body}"))
}

fn user_alerts(gw: &Gateway, user: &str) -> Vec<Value> {
    alerts(gw, "rule=bruteforce.user").into_iter().filter(|a| a["labels"]["user"] == user).collect()
}

fn failed_login(user: &str, ip: &str) -> Value {
    json!({"action": "user.login", "outcome": "failure", "user": user, "ip": ip, "reason": "wrong_password"})
}

#[test]
fn a_bruteforce_count_survives_reloads() {
    let config = no_watch(&default_config());
    let gw = Gateway::start(&config);
    let reload_to = |text: &str| {
        gw.rewrite_config(text);
        let (status, answer) = reload(&gw);
        assert_eq!(status, 200, "{answer}");
    };

    // Three failures, a reload that keeps alert-bruteforce, then the fifth alerts.
    let kept = unique_token("kept-");
    for n in 1..=3 {
        gw.ingest_one(&failed_login(&kept, &format!("192.0.2.{n}")));
    }
    reload_to(&without_policy(&config, "enrich-context"));
    gw.ingest_one(&failed_login(&kept, "192.0.2.4"));
    assert!(user_alerts(&gw, &kept).is_empty(), "an alert before the fifth failure");
    let fifth = gw.ingest_one(&failed_login(&kept, "192.0.2.5"));
    let found = user_alerts(&gw, &kept);
    assert_eq!(found.len(), 1, "the count went on across the reload: {found:?}");
    assert_eq!(found[0]["seq"], fifth);
    assert_eq!(found[0]["labels"]["count"], "5");

    // Three failures, alert-bruteforce leaves the chain (two failures it never sees), comes
    // back: its count is restored from sled, so the second failure after that is the fifth.
    let back = unique_token("back-");
    for n in 1..=3 {
        gw.ingest_one(&failed_login(&back, &format!("198.51.100.{n}")));
    }
    reload_to(&without_policy(&config, "alert-bruteforce"));
    for n in 4..=5 {
        gw.ingest_one(&failed_login(&back, &format!("198.51.100.{n}")));
    }
    reload_to(&config);
    gw.ingest_one(&failed_login(&back, "198.51.100.6"));
    assert!(user_alerts(&gw, &back).is_empty(), "failures outside the chain were not counted");
    let fifth = gw.ingest_one(&failed_login(&back, "198.51.100.7"));
    let found = user_alerts(&gw, &back);
    assert_eq!(found.len(), 1, "the count was restored when the policy came back: {found:?}");
    assert_eq!(found[0]["seq"], fifth);
    assert_eq!(found[0]["labels"]["count"], "5");
}
