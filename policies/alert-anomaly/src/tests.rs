//! Native tests through the SDK's host stand-in.

use auditgate_sdk::host::native;
use auditgate_sdk::runtime::{evaluate_one, init};
use serde_json::{Value as Json, json};

use super::*;

fn policy(config: Json) -> AlertAnomaly {
    init::<AlertAnomaly>(config.to_string().as_bytes()).expect("valid config")
}

fn decide(p: &AlertAnomaly, event: &Json) -> Decision {
    evaluate_one(p, event.to_string().as_bytes()).expect("evaluates")
}

fn rules(d: &Decision) -> Vec<&str> {
    d.alerts().iter().map(|a| a.rule.as_str()).collect()
}

fn label<'d>(d: &'d Decision, name: &str) -> Option<&'d str> {
    d.alerts().iter().flat_map(|a| &a.labels).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn login(user: &str, time: &str, geo: Json) -> Json {
    json!({"action": "user.login", "outcome": "success", "user": user, "time": time, "details": {"geo": geo}})
}

fn berlin() -> Json {
    json!({"country": "DE", "city": "Berlin", "lat": 52.52, "lon": 13.405})
}
fn munich() -> Json {
    json!({"country": "DE", "city": "Munich", "lat": 48.137, "lon": 11.575})
}
fn new_york() -> Json {
    json!({"country": "US", "city": "New York", "lat": 40.7128, "lon": -74.006})
}
fn paris() -> Json {
    json!({"country": "FR", "city": "Paris", "lat": 48.8566, "lon": 2.3522})
}

#[test]
fn off_hours_sensitive_actions_in_the_zone() {
    native::reset();
    let p = policy(json!({"time_zone": "Europe/Berlin", "work_start": "09:00", "work_end": "18:00"}));
    let ev = |action: &str, time: &str| json!({"action": action, "outcome": "success", "user": "root", "time": time});
    // Wednesday 2024-05-08 21:30 UTC = 23:30 CEST.
    let d = decide(&p, &ev("credential.decrypt", "2024-05-08T21:30:00Z"));
    assert_eq!(rules(&d), [rule::OFF_HOURS]);
    assert_eq!(d.alerts()[0].severity, Severity::Medium);
    assert_eq!(label(&d, "local_time"), Some("2024-05-08T23:30:00+02:00"));
    assert_eq!(d.tags(), ["off-hours"]);
    // The same action at 10:00 CEST, and a harmless action at night: nothing.
    assert!(decide(&p, &ev("credential.decrypt", "2024-05-08T08:00:00Z")).is_empty());
    assert!(decide(&p, &ev("purchase.complete", "2024-05-08T21:30:00Z")).is_empty());
    // Without a time zone the rule is off.
    let p = policy(json!({}));
    assert!(decide(&p, &ev("admin.user.create", "2024-05-08T21:30:00Z")).is_empty());
}

#[test]
fn privilege_changes_by_pattern() {
    native::reset();
    let p = policy(json!({}));
    let d = decide(
        &p,
        &json!({"action": "admin.role.change", "outcome": "success", "user": "admin1", "resource_id": "user:bob",
                "changes": {"before": {"role": "viewer"}, "after": {"role": "owner"}}}),
    );
    assert_eq!(rules(&d), [rule::PRIVILEGE_CHANGE]);
    assert_eq!(d.alerts()[0].severity, Severity::Medium);
    assert_eq!(d.alerts()[0].summary, "admin.role.change by admin1 on user:bob");
    assert_eq!((label(&d, "before"), label(&d, "after")), (Some("viewer"), Some("owner")));
    assert_eq!(d.tags(), ["privilege-change"]);
    let d = decide(&p, &json!({"action": "iam.privilege.grant", "outcome": "failure"}));
    assert_eq!(rules(&d), [rule::PRIVILEGE_CHANGE]);
    assert_eq!(d.alerts()[0].severity, Severity::Low);
    assert_eq!(
        rules(&decide(&p, &json!({"action": "group.role.add", "outcome": "success"}))),
        [rule::PRIVILEGE_CHANGE]
    );
    assert!(decide(&p, &json!({"action": "user.roles.list", "outcome": "success"})).is_empty());
    // A configured list extends the defaults ...
    let p = policy(json!({"privilege_actions": ["sudo.*"]}));
    for action in ["admin.role.change", "sudo.exec"] {
        assert_eq!(
            rules(&decide(&p, &json!({"action": action, "outcome": "success"}))),
            [rule::PRIVILEGE_CHANGE],
            "{action}"
        );
    }
    // ... and replaces them only when told to, saying what it drops.
    native::take_logs();
    let p = policy(json!({"privilege_actions": ["sudo.*"], "replace_defaults": ["privilege_actions"]}));
    assert!(decide(&p, &json!({"action": "admin.role.change", "outcome": "success"})).is_empty());
    assert_eq!(
        rules(&decide(&p, &json!({"action": "sudo.exec", "outcome": "success"}))),
        [rule::PRIVILEGE_CHANGE]
    );
    let logs = native::take_logs();
    assert!(
        logs.iter().any(|(_, l)| l.starts_with("`privilege_actions` replaces the built-in list")
            && l.ends_with("admin.role.change, *.privilege.*, *.role.*")),
        "{logs:?}"
    );
    let error = init::<AlertAnomaly>(json!({"replace_defaults": ["work_days"]}).to_string().as_bytes()).err();
    assert!(error.is_some_and(|e| e.contains("`replace_defaults` names `work_days`")));
}

#[test]
fn first_login_from_a_new_country() {
    native::reset();
    let p = policy(json!({}));
    // The first login only sets the baseline; a second from the same country is quiet.
    assert!(decide(&p, &login("ana", "2024-05-01T08:00:00Z", berlin())).is_empty());
    assert!(decide(&p, &login("ana", "2024-05-02T08:00:00Z", munich())).is_empty());
    // France, a day later: new country, no impossible travel.
    let d = decide(&p, &login("ana", "2024-05-03T08:00:00Z", paris()));
    assert_eq!(rules(&d), [rule::NEW_COUNTRY]);
    assert_eq!((label(&d, "country"), label(&d, "known")), (Some("FR"), Some("DE")));
    assert_eq!(d.tags(), ["new-country"]);
    // Now known.
    assert!(decide(&p, &login("ana", "2024-05-04T08:00:00Z", paris())).is_empty());
    // Failed logins and other users are not part of ana's history.
    let failed = json!({"action": "user.login", "outcome": "failure", "user": "ana", "time": "2024-05-05T08:00:00Z",
                        "details": {"geo": new_york()}});
    assert!(decide(&p, &failed).is_empty());
    assert!(decide(&p, &login("ben", "2024-05-05T08:00:00Z", new_york())).is_empty());
    let p = policy(json!({"new_country": false}));
    assert!(decide(&p, &login("ana", "2024-05-09T08:00:00Z", new_york())).is_empty());
}

#[test]
fn impossible_travel_between_consecutive_logins() {
    native::reset();
    let p = policy(json!({"new_country": false}));
    assert!(decide(&p, &login("cy", "2024-05-01T08:00:00Z", berlin())).is_empty());
    // Berlin → New York (~6400 km) in 30 minutes.
    let d = decide(&p, &login("cy", "2024-05-01T08:30:00Z", new_york()));
    assert_eq!(rules(&d), [rule::IMPOSSIBLE_TRAVEL]);
    assert_eq!(d.alerts()[0].severity, Severity::High);
    assert_eq!((label(&d, "from"), label(&d, "to")), (Some("DE"), Some("US")));
    assert_eq!(label(&d, "minutes"), Some("30.0"));
    let km: f64 = label(&d, "distance_km").and_then(|k| k.parse().ok()).expect("distance");
    assert!((6300.0..6500.0).contains(&km), "{km}");
    assert_eq!(d.tags(), ["impossible-travel"]);
    // New York → Paris in 10 hours (~585 km/h): possible.
    assert!(decide(&p, &login("cy", "2024-05-01T18:30:00Z", paris())).is_empty());
    // Paris → Berlin (~880 km) in 20 minutes; Berlin → Munich (~500 km) is under
    // min_travel_km when raised to 600.
    assert_eq!(rules(&decide(&p, &login("cy", "2024-05-01T18:50:00Z", berlin()))), [rule::IMPOSSIBLE_TRAVEL]);
    let p = policy(json!({"new_country": false, "min_travel_km": 600}));
    assert!(decide(&p, &login("cy", "2024-05-01T18:51:00Z", munich())).is_empty());
}

#[test]
fn geo_from_the_lookup_table_when_not_enriched() {
    native::reset();
    native::insert_lookup("geo", "192.0.2.10", r#"{"country":"DE","lat":"52.52","lon":"13.40"}"#);
    native::insert_lookup("geo", "203.0.113.10", r#"{"country":"AU","lat":"-33.87","lon":"151.21"}"#);
    let p = policy(json!({}));
    let ev = |ip: &str, time: &str| json!({"action": "user.login", "outcome": "success", "user": "dee", "ip": ip, "time": time});
    assert!(decide(&p, &ev("192.0.2.10", "2024-05-01T08:00:00Z")).is_empty());
    let d = decide(&p, &ev("203.0.113.10", "2024-05-01T09:00:00Z"));
    assert_eq!(rules(&d), [rule::NEW_COUNTRY, rule::IMPOSSIBLE_TRAVEL]);
    // No table configured: no geo, nothing.
    native::reset();
    native::insert_lookup("geo", "192.0.2.10", r#"{"country":"DE","lat":"52.52","lon":"13.40"}"#);
    let p = policy(json!({"geo_table": ""}));
    assert!(decide(&p, &ev("192.0.2.10", "2024-05-01T08:00:00Z")).is_empty());
    assert_eq!(host::state_get("user:dee"), None);
}

#[test]
fn scanners_are_tagged_always_and_alerted_once_per_source() {
    native::reset();
    let p = policy(json!({}));
    let ev =
        |ua: &str, ip: &str| json!({"action": "api.call", "outcome": "failure", "ip": ip, "user_agent": ua});
    let d = decide(&p, &ev("sqlmap/1.8#stable (https://sqlmap.org)", "198.51.100.99"));
    assert_eq!(rules(&d), [rule::SCANNER]);
    assert_eq!((label(&d, "scanner"), label(&d, "source")), (Some("sqlmap"), Some("198.51.100.99")));
    assert_eq!(d.tags(), ["scanner"]);
    let d = decide(&p, &ev("Mozilla/5.00 (Nikto/2.5.0)", "198.51.100.99"));
    assert!(d.alerts().is_empty());
    assert_eq!(d.tags(), ["scanner"]);
    assert_eq!(rules(&decide(&p, &ev("masscan/1.3", "198.51.100.100"))), [rule::SCANNER]);
    assert!(decide(&p, &ev("curl/8.5.0", "198.51.100.101")).is_empty());
    // The enrichment's verdict wins over the header when present.
    let enriched = json!({"action": "api.call", "outcome": "success", "ip": "192.0.2.77", "user_agent": "x",
                          "details": {"ua": {"scanner": true, "bot_name": "Nuclei"}}});
    assert_eq!(label(&decide(&p, &enriched), "scanner"), Some("Nuclei"));
    let p = policy(json!({"scanner": false}));
    assert!(decide(&p, &ev("sqlmap/1.8", "192.0.2.200")).is_empty());
}

#[test]
fn bad_config_is_refused_with_its_reason() {
    let err = |c: Json| init::<AlertAnomaly>(c.to_string().as_bytes()).err().unwrap_or_default();
    assert!(err(json!({"time_zone": "Nowhere/Land"})).contains("\"Nowhere/Land\""));
    assert!(err(json!({"memory_days": 0})).contains("memory_days"));
    assert!(err(json!({"max_speed_kmh": -1})).contains("max_speed_kmh"));
    assert!(err(json!({"scanner_alert_secs": 0})).contains("scanner_alert_secs"));
    assert!(err(json!({"privilege_actions": [""]})).contains("empty"));
    assert!(err(json!({"speed": 1})).contains("unknown field `speed`"));
}
