//! Native tests through the SDK's host stand-in.

use auditgate_sdk::host::native;
use auditgate_sdk::runtime::{evaluate_one, init};
use serde_json::{Value as Json, json};

use super::*;

const BERLIN_ROW: &str = r#"{"country":"DE","city":"Berlin","lat":"52.52","lon":"13.40","asn":"AS3320"}"#;
const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

fn policy(config: Json) -> EnrichContext {
    init::<EnrichContext>(config.to_string().as_bytes()).expect("valid config")
}

fn decide(p: &EnrichContext, event: Json) -> Decision {
    evaluate_one(p, event.to_string().as_bytes()).expect("evaluates")
}

/// The JSON set at `path`, if any.
fn set_at(d: &Decision, path: &str) -> Option<Json> {
    d.patches().iter().find_map(|p| match p {
        PatchOp::Set((at, json)) if at == path => Some(serde_json::from_str(json).expect("set takes JSON")),
        _ => None,
    })
}

#[test]
fn geo_comes_from_the_configured_table() {
    native::reset();
    native::insert_lookup("geo", "198.51.100.7", BERLIN_ROW);
    native::insert_lookup("corp", "10.1.2.3", r#"{"country":"FR","site":"Lyon DC"}"#);
    let p = policy(json!({}));
    let d = decide(&p, json!({"action": "user.login", "outcome": "success", "ip": "198.51.100.7"}));
    assert_eq!(
        set_at(&d, "/details/geo"),
        Some(json!({"country": "DE", "city": "Berlin", "lat": 52.52, "lon": 13.4, "asn": "AS3320"}))
    );
    assert!(d.tags().is_empty());
    // An address the table does not know: nothing.
    let d = decide(&p, json!({"action": "user.login", "outcome": "success", "ip": "192.0.2.1"}));
    assert!(d.is_empty(), "{d:?}");
    // Another table by config; geo off with an empty name.
    let corp = policy(json!({"geo_table": "corp"}));
    let d = decide(&corp, json!({"action": "a", "outcome": "success", "ip": "10.1.2.3"}));
    assert_eq!(set_at(&d, "/details/geo"), Some(json!({"country": "FR", "site": "Lyon DC"})));
    let off = policy(json!({"geo_table": ""}));
    assert!(decide(&off, json!({"action": "a", "outcome": "success", "ip": "198.51.100.7"})).is_empty());
}

#[test]
fn a_bad_table_answer_is_logged_not_fatal() {
    native::reset();
    native::insert_lookup("geo", "192.0.2.9", "DE");
    let p = policy(json!({}));
    let d = decide(&p, json!({"action": "a", "outcome": "success", "ip": "192.0.2.9"}));
    assert!(d.is_empty());
    let logs = native::take_logs();
    assert_eq!(logs.len(), 1);
    assert!(logs[0].1.contains("\"geo\""), "{logs:?}");
}

#[test]
fn user_agent_is_classified() {
    native::reset();
    let p = policy(json!({}));
    let d = decide(&p, json!({"action": "a", "outcome": "success", "user_agent": CHROME_WIN}));
    assert_eq!(
        set_at(&d, "/details/ua"),
        Some(
            json!({"browser": "Chrome", "version": "124", "os": "Windows", "device": "desktop", "bot": false, "scanner": false})
        )
    );
    assert!(d.tags().is_empty());
    let d = decide(&p, json!({"action": "a", "outcome": "failure", "user_agent": "sqlmap/1.8#stable"}));
    assert_eq!(
        set_at(&d, "/details/ua"),
        Some(json!({"device": "bot", "bot": true, "bot_name": "sqlmap", "scanner": true}))
    );
    assert_eq!(d.tags(), [SCANNER_TAG]);
    let off = policy(json!({"user_agent": false}));
    assert!(decide(&off, json!({"action": "a", "outcome": "success", "user_agent": CHROME_WIN})).is_empty());
}

#[test]
fn local_time_and_off_hours_follow_the_zone() {
    native::reset();
    let p = policy(json!({"time_zone": "America/New_York", "work_start": "09:00", "work_end": "17:00"}));
    // Tuesday 2024-05-07 14:00 UTC = 10:00 EDT: working hours.
    let d = decide(&p, json!({"action": "a", "outcome": "success", "time": "2024-05-07T14:00:00.000000Z"}));
    assert_eq!(
        set_at(&d, "/details/local_time"),
        Some(
            json!({"time": "2024-05-07T10:00:00-04:00", "time_zone": "America/New_York", "weekday": "tue", "off_hours": false})
        )
    );
    assert!(d.tags().is_empty());
    // 02:00 UTC = 22:00 the day before.
    let d = decide(&p, json!({"action": "a", "outcome": "success", "time": "2024-05-07T02:00:00Z"}));
    assert_eq!(set_at(&d, "/details/local_time").map(|v| v["off_hours"].clone()), Some(json!(true)));
    assert_eq!(d.tags(), ["off-hours"]);
    // Saturday, custom tag.
    let p = policy(json!({"time_zone": "UTC", "off_hours_tag": "weekend-or-night"}));
    let d = decide(&p, json!({"action": "a", "outcome": "success", "time": "2024-05-11T12:00:00Z"}));
    assert_eq!(d.tags(), ["weekend-or-night"]);
    // No time zone: no local time at all.
    let p = policy(json!({}));
    assert!(
        decide(&p, json!({"action": "a", "outcome": "success", "time": "2024-05-11T12:00:00Z"})).is_empty()
    );
}

#[test]
fn all_three_together_and_irrelevant_events() {
    native::reset();
    native::insert_lookup("geo", "203.0.113.5", BERLIN_ROW);
    let p = policy(json!({"time_zone": "Europe/Berlin"}));
    let d = decide(
        &p,
        json!({"action": "user.login", "outcome": "success", "ip": "203.0.113.5", "user_agent": "curl/8.5.0",
               "time": "2024-05-08T10:00:00Z", "details": {"k": 1}}),
    );
    let paths: Vec<&str> = d
        .patches()
        .iter()
        .map(|p| match p {
            PatchOp::Set((path, _)) => path.as_str(),
            other => panic!("only sets expected: {other:?}"),
        })
        .collect();
    assert_eq!(paths, ["/details/geo", "/details/ua", "/details/local_time"]);
    assert!(d.alerts().is_empty());
    // Nothing to enrich.
    assert!(decide(&p, json!({"action": "a", "outcome": "success", "user": "u"})).is_empty());
}

#[test]
fn bad_config_is_refused_with_its_reason() {
    let err = |c: Json| init::<EnrichContext>(c.to_string().as_bytes()).err().unwrap_or_default();
    assert!(err(json!({"time_zone": "Moon/Base"})).contains("\"Moon/Base\""));
    assert!(err(json!({"time_zone": "UTC", "work_days": ["someday"]})).contains("\"someday\""));
    assert!(err(json!({"geo": "x"})).contains("unknown field `geo`"));
    assert!(err(json!({"off_hours_tag": ""})).contains("off_hours_tag"));
}

#[test]
fn geo_rows_and_user_agent_classes_are_remembered_per_input() {
    native::reset();
    native::insert_lookup("geo", "198.51.100.7", BERLIN_ROW);
    let p = policy(json!({}));
    let event = json!({"action": "a", "outcome": "success", "ip": "198.51.100.7", "user_agent": CHROME_WIN});
    let first = decide(&p, event.clone());
    // The table does not change under a running instance; if it did, the instance would
    // still answer what it saw first: the proof that it asked only once.
    native::insert_lookup("geo", "198.51.100.7", r#"{"country":"FR"}"#);
    native::insert_lookup("geo", "192.0.2.1", r#"{"country":"FR"}"#);
    let second = decide(&p, event);
    assert_eq!(first, second);
    assert_eq!(set_at(&second, "/details/geo").map(|g| g["country"].clone()), Some(json!("DE")));
    // A miss is remembered too; a fresh instance sees the table as it is now.
    assert!(decide(&p, json!({"action": "a", "outcome": "success", "ip": "192.0.2.2"})).is_empty());
    let fresh = policy(json!({}));
    let d = decide(&fresh, json!({"action": "a", "outcome": "success", "ip": "198.51.100.7"}));
    assert_eq!(set_at(&d, "/details/geo"), Some(json!({"country": "FR"})));
    assert_eq!((p.geo_rows.borrow().len(), p.ua_classes.borrow().len()), (2, 1));
    // The remembered text is what classifying anew writes.
    let class = ua::Classifier::new().classify(CHROME_WIN);
    assert_eq!(set_at(&second, "/details/ua"), Some(Json::Object(class.to_json())));
}

#[test]
fn the_caches_stay_bounded() {
    native::reset();
    let p = policy(json!({}));
    for i in 0..GEO_CACHE_ENTRIES + 10 {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        let agent = format!("agent/{i}");
        decide(&p, json!({"action": "a", "outcome": "success", "ip": ip, "user_agent": agent}));
    }
    assert!(p.geo_rows.borrow().len() <= GEO_CACHE_ENTRIES);
    assert!(p.ua_classes.borrow().len() <= UA_CACHE_ENTRIES);
    assert_eq!(p.geo_rows.borrow().len(), 10, "emptied when full, then filled again");
}
