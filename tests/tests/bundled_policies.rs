//! The bundled policies (`builtin:enrich-context`, `alert-bruteforce`,
//! `alert-password-spray`, `alert-anomaly`) through the real gateway: their alerts in
//! `GET /v1/alerts`, their tags and enrichment in the stored events.
//!
//! Times that matter (off-hours, travel) come from each event's `time`, never the clock.
//! The geo tests use the default `[[lookup]] geo` table (examples/geo-cidr.csv).

use auditgate_tests::*;
use serde_json::{Value, json};

/// A `[[policy]]` table running a bundled policy with `config` (TOML lines).
fn builtin(name: &str, on_error: &str, actions: Option<&[&str]>, config: &str) -> String {
    let mut s = format!(
        "\n[[policy]]\nname = {}\nmodule = {}\non_error = {}\ntimeout_ms = 200\nmemory_mb = 32\n",
        toml_str(name),
        toml_str(&format!("builtin:{name}")),
        toml_str(on_error)
    );
    if let Some(actions) = actions {
        let list: Vec<String> = actions.iter().map(|a| toml_str(a)).collect();
        s.push_str(&format!("actions = [{}]\n", list.join(", ")));
    }
    s.push_str("[policy.config]\n");
    s.push_str(config);
    s.push('\n');
    s
}

/// The default `policy.toml` with enrich-context's time zone set.
fn with_time_zone(config: &str, zone: &str, start: &str, end: &str) -> String {
    let commented = "# time_zone = \"Europe/Berlin\"";
    assert!(config.contains(commented), "policy.toml no longer has the commented time_zone line");
    let config = config.replacen(commented, &format!("time_zone = {}", toml_str(zone)), 1);
    let config = set_value(&config, "work_start", &toml_str(start));
    set_value(&config, "work_end", &toml_str(end))
}

fn alerts(gw: &Gateway, query: &str) -> Vec<Value> {
    let (status, body) = gw.get(AUDITOR_KEY, &format!("/v1/alerts?limit=1000&{query}"));
    assert_eq!(status, 200, "GET /v1/alerts?{query}: {body}");
    body["alerts"].as_array().cloned().unwrap_or_else(|| panic!("no alerts array: {body}"))
}

fn failed_login(user: &str, ip: &str) -> Value {
    json!({"action": "user.login", "outcome": "failure", "user": user, "ip": ip, "reason": "wrong_password"})
}

#[test]
fn bruteforce_five_failed_logins_raise_exactly_one_alert() {
    let gw = Gateway::start_default();
    let user = unique_token("victim-");
    // Each attempt from its own address, so only the per-user count crosses.
    let mut seqs = Vec::new();
    for n in 1..=8 {
        seqs.push(gw.ingest_one(&failed_login(&user, &format!("192.0.2.{n}"))));
        if n == 4 {
            assert!(alerts(&gw, "rule=bruteforce.user").is_empty(), "an alert before the fifth failure");
        }
    }
    let found = alerts(&gw, "rule=bruteforce.user");
    assert_eq!(found.len(), 1, "exactly one alert for the burst: {found:?}");
    let alert = &found[0];
    assert_eq!(alert["policy"], "alert-bruteforce", "{alert}");
    assert_eq!(alert["severity"], "high", "{alert}");
    assert_eq!(alert["seq"], seqs[4], "raised by the fifth failure: {alert}");
    assert_eq!(alert["labels"]["user"], user.as_str(), "{alert}");
    assert_eq!(alert["labels"]["count"], "5", "{alert}");
    assert!(alerts(&gw, "rule=bruteforce.ip").is_empty());
    for (i, seq) in seqs.iter().enumerate() {
        let tagged = tags(&gw.record(*seq)).contains(&"bruteforce");
        assert_eq!(tagged, i >= 4, "failure {}: tags {:?}", i + 1, tags(&gw.record(*seq)));
    }
    // A successful login of another user is untouched.
    let ok = gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": "someone"}));
    assert!(tags(&gw.record(ok)).is_empty());
}

#[test]
fn bruteforce_per_ip_and_lockouts() {
    let gw = Gateway::start_default();
    for n in 0..6 {
        gw.ingest_one(&failed_login(&format!("guess{n}"), "198.51.100.77"));
    }
    let by_ip = alerts(&gw, "rule=bruteforce.ip");
    assert_eq!(by_ip.len(), 1, "{by_ip:?}");
    assert_eq!(by_ip[0]["labels"]["ip"], "198.51.100.77");
    assert!(alerts(&gw, "rule=bruteforce.user").is_empty());

    let seq =
        gw.ingest_one(&json!({"action": "account.lockout", "outcome": "success", "user": "locked-lou"}));
    assert!(tags(&gw.record(seq)).contains(&"account-lockout"));
    let lockouts = alerts(&gw, &format!("seq={seq}"));
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");
    assert_eq!(lockouts[0]["rule"], "bruteforce.lockout");
    assert_eq!(lockouts[0]["labels"]["user"], "locked-lou");
}

#[test]
fn password_spray_one_ip_against_many_users() {
    let config = default_config()
        + &builtin("alert-password-spray", "skip", Some(&["user.login"]), "threshold = 6\nwindow_secs = 600");
    let gw = Gateway::start(&config);
    let ip = "203.0.113.9";
    // The same user over and over is not a spray.
    for _ in 0..3 {
        gw.ingest_one(&failed_login("same-user", ip));
    }
    let mut seqs = Vec::new();
    for n in 0..8 {
        seqs.push(gw.ingest_one(&failed_login(&format!("sprayed{n}"), ip)));
    }
    let found = alerts(&gw, "rule=password_spray.ip");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["policy"], "alert-password-spray");
    assert_eq!(found[0]["labels"]["ip"], ip);
    assert_eq!(found[0]["labels"]["users"], "6");
    // same-user counts once: the sixth distinct user is sprayed4.
    assert_eq!(found[0]["seq"], seqs[4], "{found:?}");
    assert!(tags(&gw.record(seqs[7])).contains(&"password-spray"));
    assert!(!tags(&gw.record(seqs[3])).contains(&"password-spray"));
}

#[test]
fn off_hours_tag_follows_the_event_time_in_the_zone() {
    let config = with_time_zone(&default_config(), "America/New_York", "09:00", "17:00");
    let gw = Gateway::start(&config);
    let at = |time: &str| {
        gw.ingest_one(&json!({"action": "api.call", "outcome": "success", "user": "nina", "time": time}))
    };
    // Tuesday 2024-05-07 14:00 UTC = 10:00 EDT; 02:00 UTC = Monday 22:00 EDT;
    // Saturday 2024-05-11 15:00 UTC = 11:00 EDT.
    let day = gw.record(at("2024-05-07T14:00:00Z"));
    let night = gw.record(at("2024-05-07T02:00:00Z"));
    let weekend = gw.record(at("2024-05-11T15:00:00Z"));
    assert!(!tags(&day).contains(&"off-hours"), "{day}");
    assert_eq!(
        day["details"]["local_time"],
        json!({"time": "2024-05-07T10:00:00-04:00", "time_zone": "America/New_York", "weekday": "tue", "off_hours": false}),
        "{day}"
    );
    assert!(tags(&night).contains(&"off-hours"), "{night}");
    assert_eq!(night["details"]["local_time"]["time"], "2024-05-06T22:00:00-04:00", "{night}");
    assert!(tags(&weekend).contains(&"off-hours"), "{weekend}");
    assert_eq!(weekend["details"]["local_time"]["weekday"], "sat");
}

#[test]
fn user_agent_classes_are_stored_with_the_event() {
    let gw = Gateway::start_default();
    let chrome = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1";
    let seq = gw.ingest_one(
        &json!({"action": "user.login", "outcome": "success", "user": "uma", "user_agent": chrome,
                                     "details": {"mfa": true}}),
    );
    let rec = gw.record(seq);
    assert_eq!(rec["user_agent"], chrome, "the header itself is kept: {rec}");
    assert_eq!(
        rec["details"],
        json!({"mfa": true, "ua": {"browser": "Chrome", "version": "124", "os": "iOS", "device": "mobile", "bot": false, "scanner": false}}),
        "{rec}"
    );
    assert!(tags(&rec).is_empty(), "{rec}");
    let seq = gw.ingest_one(&json!({"action": "api.call", "outcome": "failure", "user_agent": "sqlmap/1.8#stable (https://sqlmap.org)"}));
    let rec = gw.record(seq);
    assert_eq!(
        rec["details"]["ua"],
        json!({"device": "bot", "bot": true, "bot_name": "sqlmap", "scanner": true})
    );
    assert_eq!(tags(&rec), ["scanner"]);
    // No user agent, no ip (so no geo), no time zone: the event is stored as sent.
    let seq = gw.ingest_one(&json!({"action": "api.call", "outcome": "success", "details": {"k": 1}}));
    assert_eq!(gw.record(seq)["details"], json!({"k": 1}));
}

#[test]
fn anomaly_privilege_change_off_hours_and_scanner_alerts() {
    let config = default_config()
        + &builtin(
            "alert-anomaly",
            "skip",
            None,
            "time_zone = \"Europe/Berlin\"\nwork_start = \"09:00\"\nwork_end = \"18:00\"",
        );
    let gw = Gateway::start(&config);
    // Wednesday 2024-05-08 10:00 UTC = 12:00 CEST: a privilege change in working hours.
    let change = gw.ingest_one(&json!({
        "action": "admin.role.change", "outcome": "success", "user": "root", "time": "2024-05-08T10:00:00Z",
        "resource_type": "user", "resource_id": "bob",
        "changes": {"before": {"role": "viewer"}, "after": {"role": "admin"}},
    }));
    let found = alerts(&gw, &format!("seq={change}"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["rule"], "anomaly.privilege_change");
    assert_eq!(found[0]["policy"], "alert-anomaly");
    assert_eq!(found[0]["severity"], "medium");
    assert_eq!(
        (&found[0]["labels"]["before"], &found[0]["labels"]["after"]),
        (&json!("viewer"), &json!("admin"))
    );
    assert!(tags(&gw.record(change)).contains(&"privilege-change"));

    // 23:30 CEST: credential access off hours (and a privilege change, off hours too).
    let night = gw.ingest_one(&json!({"action": "credential.decrypt", "outcome": "success", "user": "root",
                                       "time": "2024-05-08T21:30:00Z"}));
    let found = alerts(&gw, &format!("seq={night}"));
    assert_eq!(
        found.iter().map(|a| a["rule"].as_str().unwrap_or("")).collect::<Vec<_>>(),
        ["anomaly.off_hours"]
    );
    assert_eq!(found[0]["labels"]["local_time"], "2024-05-08T23:30:00+02:00");
    assert!(tags(&gw.record(night)).contains(&"off-hours"));

    // Two requests from one scanner: both tagged, one alert.
    let nikto = "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)";
    let scans: Vec<u64> = (0..2)
        .map(|_| gw.ingest_one(&json!({"action": "api.call", "outcome": "failure", "ip": "192.0.2.250", "user_agent": nikto})))
        .collect();
    let found = alerts(&gw, "rule=anomaly.scanner");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["labels"]["scanner"], "Nikto");
    assert_eq!(found[0]["seq"], scans[0]);
    for seq in scans {
        assert!(tags(&gw.record(seq)).contains(&"scanner"));
    }
}

// ---------------------------------------------------------------------------------------
// Geo: from the default policy.toml's [[lookup]] geo table.
// ---------------------------------------------------------------------------------------

#[test]
fn geo_enrichment_from_the_cidr_table() {
    let gw = Gateway::start(&default_config());
    let at = |ip: &str| {
        gw.record(
            gw.ingest_one(&json!({"action": "user.login", "outcome": "success", "user": "gia", "ip": ip})),
        )
    };
    assert_eq!(
        at("192.0.2.10")["details"]["geo"],
        json!({"country": "DE", "city": "Berlin", "lat": 52.52, "lon": 13.405, "asn": "AS64496"})
    );
    // Longest prefix: 192.0.2.128/25 inside 192.0.2.0/24; 2001:db8:1::/48 inside 2001:db8::/32.
    assert_eq!(at("192.0.2.200")["details"]["geo"]["city"], "Paris");
    assert_eq!(at("2001:db8:1::5")["details"]["geo"]["country"], "GB");
    assert_eq!(at("2001:db8:ffff::1")["details"]["geo"]["country"], "JP");
    // Not in the table: no geo.
    let rec = at("100.64.0.1");
    assert!(rec["details"].get("geo").is_none_or(Value::is_null), "{rec}");
}

#[test]
fn new_country_and_impossible_travel_from_enriched_logins() {
    let config = default_config() + &builtin("alert-anomaly", "skip", Some(&["user.login"]), "");
    let gw = Gateway::start(&config);
    let login = |ip: &str, time: &str| {
        gw.ingest_one(
            &json!({"action": "user.login", "outcome": "success", "user": "tom", "ip": ip, "time": time}),
        )
    };
    let berlin = login("192.0.2.10", "2024-05-08T08:00:00Z");
    assert!(alerts(&gw, &format!("seq={berlin}")).is_empty(), "the first login is the baseline");
    // New York 30 minutes later.
    let new_york = login("198.51.100.10", "2024-05-08T08:30:00Z");
    let mut rules: Vec<String> = alerts(&gw, &format!("seq={new_york}"))
        .iter()
        .map(|a| a["rule"].as_str().unwrap_or("").to_string())
        .collect();
    rules.sort();
    assert_eq!(rules, ["anomaly.impossible_travel", "anomaly.new_country"]);
    let rec = gw.record(new_york);
    assert_eq!(rec["details"]["geo"]["country"], "US");
    assert!(tags(&rec).contains(&"impossible-travel") && tags(&rec).contains(&"new-country"), "{rec}");
}
