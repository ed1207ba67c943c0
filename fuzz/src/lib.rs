//! What the fuzz targets share: the checks every accepted event must pass.

use std::net::IpAddr;

use auditgate::event::{self, GATEWAY_FIELDS, ValidEvent};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The receive time the targets pass in (fixed, so a crash input replays the same way).
pub fn received() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap_or_default()
}

/// Panics unless `ev` keeps the event schema's promises (design §4): the required fields
/// are there and well-formed, `time` is normalized RFC 3339 matching `time_micros`, `ip`
/// is canonical, no gateway field came through, and validating the normalized event
/// again changes nothing.
pub fn check_valid_event(ev: &ValidEvent) {
    let f = &ev.fields;
    let text = |name: &str| f.get(name).and_then(Value::as_str);
    for name in GATEWAY_FIELDS {
        assert!(!f.contains_key(name), "gateway field {name} accepted");
    }
    let action = text("action").expect("action is a string");
    assert!(!action.is_empty() && action.chars().count() <= 128, "action length: {action:?}");
    assert!(
        action.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b)),
        "action charset: {action:?}"
    );
    let outcome = text("outcome").expect("outcome is a string");
    assert!(["success", "failure", "error", "unknown"].contains(&outcome), "outcome {outcome:?}");
    let severity = text("severity").expect("severity is always set");
    assert!(["info", "low", "medium", "high", "critical"].contains(&severity), "severity {severity:?}");

    let time = text("time").expect("time is always set");
    let parsed = DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|e| panic!("stored time {time:?} is not RFC 3339: {e}"));
    assert_eq!(parsed.timestamp_micros(), ev.time_micros, "time {time:?} vs time_micros");
    assert_eq!(event::format_time(parsed.with_timezone(&Utc)), time, "time is not normalized");

    if let Some(ip) = f.get("ip") {
        let ip = ip.as_str().expect("ip is a string");
        let addr: IpAddr = ip.parse().unwrap_or_else(|e| panic!("stored ip {ip:?} does not parse: {e}"));
        assert_eq!(addr.to_string(), ip, "ip is not canonical");
    }
    assert_eq!(ev.client_id.as_deref(), text("id"), "client_id is the id field");

    // Normalization is a fixed point; `time` is present, so the receive time is unused.
    let again = event::validate(Value::Object(f.clone()), DateTime::UNIX_EPOCH)
        .unwrap_or_else(|e| panic!("the normalized event is refused: {e}"));
    assert_eq!(&again, ev, "validating the normalized event changed it");
}
