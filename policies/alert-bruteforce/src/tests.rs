//! Native tests through the SDK's host stand-in. They hold whether or not the stand-in
//! lets windows expire (every event of a test is "at once").

use auditgate_sdk::host::native;
use auditgate_sdk::runtime::{evaluate_one, init};
use serde_json::{Value as Json, json};

use super::*;

fn policy(config: Json) -> AlertBruteforce {
    init::<AlertBruteforce>(config.to_string().as_bytes()).expect("valid config")
}

fn decide(p: &AlertBruteforce, event: &Json) -> Decision {
    evaluate_one(p, event.to_string().as_bytes()).expect("evaluates")
}

fn failure(user: &str, ip: &str) -> Json {
    json!({"action": "user.login", "outcome": "failure", "user": user, "ip": ip})
}

fn rules(d: &Decision) -> Vec<&str> {
    d.alerts().iter().map(|a| a.rule.as_str()).collect()
}

#[test]
fn fifth_failure_for_a_user_alerts_once() {
    native::reset();
    let p = policy(json!({"per_ip": false}));
    for n in 1..=4 {
        let d = decide(&p, &failure("alice", &format!("192.0.2.{n}")));
        assert!(d.is_empty(), "failure {n}: {d:?}");
    }
    let d = decide(&p, &failure("alice", "192.0.2.5"));
    assert_eq!(rules(&d), [RULE_USER]);
    let alert = &d.alerts()[0];
    assert_eq!(alert.severity, Severity::High);
    assert_eq!(
        alert.labels,
        [("user".into(), "alice".into()), ("count".into(), "5".into()), ("window_secs".into(), "300".into())]
    );
    assert_eq!(d.tags(), ["bruteforce"]);
    // The attack goes on: tagged, no new alert.
    for _ in 0..10 {
        let d = decide(&p, &failure("alice", "192.0.2.9"));
        assert!(d.alerts().is_empty(), "{d:?}");
        assert_eq!(d.tags(), ["bruteforce"]);
    }
    // Another user has their own count.
    assert!(decide(&p, &failure("bob", "192.0.2.9")).is_empty());
}

#[test]
fn one_ip_against_many_users_alerts_per_ip() {
    native::reset();
    let p = policy(json!({}));
    let mut alerts = Vec::new();
    for n in 0..8 {
        let d = decide(&p, &failure(&format!("user{n}"), "203.0.113.66"));
        if n < 4 {
            assert!(d.is_empty(), "{d:?}");
        } else {
            assert_eq!(d.tags(), ["bruteforce"]);
        }
        alerts.extend(d.alerts().iter().map(|a| (a.rule.clone(), a.labels[0].clone())));
    }
    assert_eq!(alerts, [(RULE_IP.to_string(), ("ip".to_string(), "203.0.113.66".to_string()))]);
}

#[test]
fn user_and_ip_crossing_together_give_two_alerts_one_tag() {
    native::reset();
    let p = policy(json!({"threshold": 3}));
    decide(&p, &failure("carol", "198.51.100.3"));
    decide(&p, &failure("carol", "198.51.100.3"));
    let d = decide(&p, &failure("carol", "198.51.100.3"));
    assert_eq!(rules(&d), [RULE_USER, RULE_IP]);
    assert_eq!(d.tags(), ["bruteforce"]);
}

#[test]
fn only_configured_failures_count() {
    native::reset();
    let p = policy(json!({"threshold": 2, "actions": ["auth.*"], "replace_defaults": ["actions"],
                          "outcome": "error", "severity": "critical"}));
    let ev = |action: &str, outcome: &str| json!({"action": action, "outcome": outcome, "user": "dave"});
    for e in [ev("user.login", "error"), ev("auth.password", "failure"), ev("auth.password", "success")] {
        assert!(decide(&p, &e).is_empty(), "{e}");
    }
    assert!(decide(&p, &ev("auth.password", "error")).is_empty());
    let d = decide(&p, &ev("auth.otp", "error"));
    assert_eq!(rules(&d), [RULE_USER]);
    assert_eq!(d.alerts()[0].severity, Severity::Critical);
    // No user and no IP: nothing to count.
    assert!(decide(&p, &json!({"action": "auth.x", "outcome": "error"})).is_empty());
}

#[test]
fn configured_actions_extend_the_defaults() {
    native::reset();
    let p = policy(json!({"threshold": 2, "actions": ["sso.login"], "lockout_actions": ["user.locked"]}));
    assert!(decide(&p, &json!({"action": "user.login", "outcome": "failure", "user": "erin"})).is_empty());
    let d = decide(&p, &json!({"action": "sso.login", "outcome": "failure", "user": "erin"}));
    assert_eq!(rules(&d), [RULE_USER], "user.login and sso.login both count");
    for action in ["account.lockout", "user.locked"] {
        let d = decide(&p, &json!({"action": action, "outcome": "success", "user": "erin"}));
        assert_eq!(rules(&d), [RULE_LOCKOUT], "{action}");
    }
    let err = init::<AlertBruteforce>(json!({"replace_defaults": ["action"]}).to_string().as_bytes()).err();
    assert!(err.is_some_and(|e| e.contains("the lists with defaults are: actions, lockout_actions")));
}

#[test]
fn lockouts_alert_every_time() {
    native::reset();
    let p = policy(json!({}));
    let lock = json!({"action": "account.lockout", "outcome": "success", "user": "erin", "ip": "192.0.2.44"});
    for _ in 0..2 {
        let d = decide(&p, &lock);
        assert_eq!(rules(&d), [RULE_LOCKOUT]);
        assert_eq!(d.alerts()[0].severity, Severity::Medium);
        assert_eq!(
            d.alerts()[0].labels,
            [("user".into(), "erin".into()), ("ip".into(), "192.0.2.44".into())]
        );
        assert_eq!(d.tags(), [LOCKOUT_TAG]);
    }
    let d = decide(&p, &json!({"action": "account.lockout", "outcome": "success"}));
    assert_eq!(d.alerts()[0].summary, "account (unknown user) locked out");
    assert!(d.alerts()[0].labels.is_empty());
}

#[test]
fn irrelevant_events_touch_no_counter() {
    native::reset();
    let p = policy(json!({"threshold": 1}));
    for e in [
        json!({"action": "user.login", "outcome": "success", "user": "f", "ip": "192.0.2.1"}),
        json!({"action": "api.call", "outcome": "failure", "user": "f", "ip": "192.0.2.1"}),
        json!({"outcome": "failure", "user": "f"}),
    ] {
        assert!(decide(&p, &e).is_empty(), "{e}");
    }
    // Had a counter moved, this first real failure would not be the one that alerts.
    assert_eq!(host::counter_add("fail:user:f", 0, 300), 0);
    assert_eq!(rules(&decide(&p, &failure("f", "192.0.2.1"))), [RULE_USER, RULE_IP]);
}

#[test]
fn bad_config_is_refused_with_its_reason() {
    let err = |c: Json| init::<AlertBruteforce>(c.to_string().as_bytes()).err().unwrap_or_default();
    assert!(err(json!({"threshold": 0})).contains("threshold"));
    assert!(err(json!({"window_secs": 0})).contains("window_secs"));
    assert!(err(json!({"severity": "urgent"})).contains("\"urgent\""));
    assert!(err(json!({"lockout_severity": "x"})).contains("lockout_severity"));
    assert!(err(json!({"actions": [""]})).contains("empty"));
    assert!(err(json!({"treshold": 3})).contains("unknown field `treshold`"));
}
