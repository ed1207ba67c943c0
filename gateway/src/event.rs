//! The event schema (design §4): parsing and validating what apps send, before any policy
//! sees it. Everything here is about client input, so every failure is a clear 4xx naming
//! the field or the limit.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// Size and shape limits of one event (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_event_bytes: usize,
    pub max_depth: usize,
}

/// Why an event was refused. `code()` and `status()` give its HTTP form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("the event must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error("unknown field `{0}`: allowed fields are {allowed}", allowed = KNOWN_FIELDS.join(", "))]
    UnknownField(String),
    #[error("field `{0}` is set by the gateway and may not be sent")]
    ReservedField(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("invalid field `{field}`: {message}")]
    InvalidField { field: String, message: String },
    #[error("the event is nested {depth} levels deep; the limit is {limit} (server.max_depth)")]
    TooDeep { depth: usize, limit: usize },
    #[error("the event is {size} bytes; the limit is {limit} bytes (server.max_event_bytes)")]
    TooLarge { size: usize, limit: usize },
}

/// Fields the gateway adds to every stored record; clients may not send them.
pub const GATEWAY_FIELDS: [&str; 6] = ["seq", "received_at", "source", "policy_set", "redacted", "tags"];

impl EventError {
    /// The machine-readable error code of the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::InvalidJson(_) => "invalid_json",
            EventError::NotAnObject(_) => "invalid_event",
            EventError::UnknownField(_) => "unknown_field",
            EventError::ReservedField(_) => "reserved_field",
            EventError::MissingField(_) => "missing_field",
            EventError::InvalidField { .. } => "invalid_field",
            EventError::TooDeep { .. } => "too_deep",
            EventError::TooLarge { .. } => "event_too_large",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            EventError::TooLarge { .. } => 413,
            _ => 400,
        }
    }

    fn invalid(field: &str, message: impl Into<String>) -> Self {
        EventError::InvalidField { field: field.to_string(), message: message.into() }
    }
}

/// An event that passed validation: its fields in normalized form.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    /// The client's `id`, the idempotency key.
    pub client_id: Option<String>,
    /// All fields, normalized: `time` in UTC RFC 3339 with microseconds, `ip` canonical,
    /// `severity` present.
    pub fields: Map<String, Value>,
    /// `time` in microseconds since the epoch.
    pub time_micros: i64,
}

/// Formats a time the way the gateway stores every time: UTC, RFC 3339, microseconds.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses the bytes of one event (size, JSON, depth, schema).
pub fn parse_event(bytes: &[u8], limits: Limits, received: DateTime<Utc>) -> Result<ValidEvent, EventError> {
    if bytes.len() > limits.max_event_bytes {
        return Err(EventError::TooLarge { size: bytes.len(), limit: limits.max_event_bytes });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| json_error(e, limits.max_depth))?;
    check_depth(&value, limits.max_depth)?;
    validate(value, received)
}

/// How deep serde_json parses: it refuses the 128th level of nesting, so `server.max_depth`
/// can be at most this.
pub const PARSER_MAX_DEPTH: usize = 127;

/// Maps a serde_json error to the API's wording. serde_json's own nesting limit surfaces
/// as `too_deep`: the event reached level `PARSER_MAX_DEPTH + 1`, beyond any `limit`.
pub fn json_error(e: serde_json::Error, limit: usize) -> EventError {
    let text = e.to_string();
    if text.contains("recursion limit") {
        EventError::TooDeep { depth: PARSER_MAX_DEPTH + 1, limit }
    } else {
        EventError::InvalidJson(format!("malformed JSON: {text}"))
    }
}

/// Refuses values nested deeper than `limit` (the top-level object is depth 1).
pub fn check_depth(value: &Value, limit: usize) -> Result<(), EventError> {
    // Iterative, so a hostile input cannot exhaust the stack here.
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    let mut deepest = 0;
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Object(m) => {
                deepest = deepest.max(depth);
                stack.extend(m.values().map(|c| (c, depth + 1)));
            }
            Value::Array(a) => {
                deepest = deepest.max(depth);
                stack.extend(a.iter().map(|c| (c, depth + 1)));
            }
            _ => {}
        }
        if deepest > limit {
            return Err(EventError::TooDeep { depth: deepest, limit });
        }
    }
    Ok(())
}

/// Validates and normalizes a parsed event against the schema of design §4.
pub fn validate(value: Value, received: DateTime<Utc>) -> Result<ValidEvent, EventError> {
    let mut fields = match value {
        Value::Object(m) => m,
        other => return Err(EventError::NotAnObject(kind(&other))),
    };
    for key in fields.keys() {
        if GATEWAY_FIELDS.contains(&key.as_str()) {
            return Err(EventError::ReservedField(key.clone()));
        }
        if !is_known(key) {
            return Err(EventError::UnknownField(key.clone()));
        }
    }

    let action = required_str(&fields, "action")?;
    check_len("action", action, 128)?;
    if !action.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b)) {
        return Err(EventError::invalid("action", "expected only a-z 0-9 _ . : -"));
    }
    let outcome = required_str(&fields, "outcome")?;
    if !OUTCOMES.contains(&outcome) {
        return Err(EventError::invalid("outcome", "expected one of success, failure, error, unknown"));
    }

    let client_id = match optional_str(&fields, "id")? {
        Some(id) => {
            check_len("id", id, 128)?;
            Some(id.to_string())
        }
        None => None,
    };
    for (field, max) in [
        ("user", 256),
        ("user_agent", 2048),
        ("session_id", 256),
        ("request_id", 256),
        ("resource_type", 256),
        ("resource_id", 1024),
        ("reason", 1024),
    ] {
        if let Some(s) = optional_str(&fields, field)? {
            check_len(field, s, max)?;
        }
    }
    if let Some(sev) = optional_str(&fields, "severity")? {
        if !SEVERITIES.contains(&sev) {
            return Err(EventError::invalid("severity", "expected one of info, low, medium, high, critical"));
        }
    } else {
        fields.insert("severity".into(), Value::from("info"));
    }
    if let Some(ip) = optional_str(&fields, "ip")? {
        let parsed: IpAddr = ip
            .parse()
            .map_err(|_| EventError::invalid("ip", format!("{ip:?} is not an IPv4 or IPv6 address")))?;
        fields.insert("ip".into(), Value::from(parsed.to_string()));
    }
    match fields.get("details") {
        None | Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(EventError::invalid("details", format!("expected an object, found {}", kind(other))));
        }
    }
    if let Some(changes) = fields.get("changes") {
        let Value::Object(m) = changes else {
            return Err(EventError::invalid("changes", "expected an object with `before` and/or `after`"));
        };
        for (k, v) in m {
            if k != "before" && k != "after" {
                return Err(EventError::invalid(
                    "changes",
                    format!("unknown key `{k}`: expected `before` and/or `after`"),
                ));
            }
            if !v.is_object() {
                return Err(EventError::invalid(
                    &format!("changes.{k}"),
                    format!("expected an object, found {}", kind(v)),
                ));
            }
        }
    }
    // Numbers are stored as RFC 8785 (doubles): an integer a double would change is
    // refused here, naming where it is, not at the writer.
    for field in ["details", "changes"] {
        if let Some(v) = fields.get(field) {
            crate::ledger::jcs::check(v).map_err(|e| EventError::invalid(field, e.to_string()))?;
        }
    }
    let time = match optional_str(&fields, "time")? {
        Some(t) => {
            let time = DateTime::parse_from_rfc3339(t)
                .map_err(|e| EventError::invalid("time", format!("{t:?} is not an RFC 3339 time ({e})")))?
                .with_timezone(&Utc);
            // The stored form is UTC, and RFC 3339 has four-digit years only.
            if !(0..=9999).contains(&time.year()) {
                return Err(EventError::invalid(
                    "time",
                    format!("{t:?} is outside the years 0000-9999 in UTC"),
                ));
            }
            time
        }
        None => received,
    };
    fields.insert("time".into(), Value::from(format_time(time)));

    Ok(ValidEvent { client_id, fields, time_micros: time.timestamp_micros() })
}

const OUTCOMES: [&str; 4] = ["success", "failure", "error", "unknown"];
const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];
/// The top-level fields a client may send (the event schema); anything else is refused.
pub const KNOWN_FIELDS: [&str; 15] = [
    "id",
    "time",
    "action",
    "outcome",
    "user",
    "ip",
    "user_agent",
    "session_id",
    "request_id",
    "resource_type",
    "resource_id",
    "reason",
    "severity",
    "details",
    "changes",
];

fn is_known(key: &str) -> bool {
    KNOWN_FIELDS.contains(&key)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_str<'a>(fields: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, EventError> {
    match fields.get(field) {
        None => Err(EventError::MissingField(field)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(EventError::invalid(field, "must not be empty")),
        Some(other) => Err(EventError::invalid(field, format!("expected a string, found {}", kind(other)))),
    }
}

fn optional_str<'a>(fields: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, EventError> {
    match fields.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(EventError::invalid(field, format!("expected a string, found {}", kind(other)))),
    }
}

fn check_len(field: &str, s: &str, max: usize) -> Result<(), EventError> {
    if s.is_empty() {
        return Err(EventError::invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(EventError::invalid(field, format!("longer than {max} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: Limits = Limits { max_event_bytes: 65536, max_depth: 32 };

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").expect("time").with_timezone(&Utc)
    }

    fn check(v: Value) -> Result<ValidEvent, EventError> {
        validate(v, now())
    }

    /// An event whose `details` holds `levels` nested arrays: `levels + 1` deep in all.
    fn nested(levels: usize) -> Vec<u8> {
        let mut text = String::from(r#"{"action":"a.b","outcome":"success","details":{"x":"#);
        text.push_str(&"[".repeat(levels.saturating_sub(2)));
        text.push_str(&"]".repeat(levels.saturating_sub(2)));
        text.push_str("}}");
        text.into_bytes()
    }

    #[test]
    fn the_deepest_allowed_limit_is_what_the_parser_reads_and_deeper_names_the_configured_limit() {
        let deepest = Limits { max_event_bytes: 65536, max_depth: PARSER_MAX_DEPTH };
        assert!(parse_event(&nested(PARSER_MAX_DEPTH), deepest, now()).is_ok());
        assert_eq!(
            parse_event(&nested(PARSER_MAX_DEPTH + 1), deepest, now()).err(),
            Some(EventError::TooDeep { depth: PARSER_MAX_DEPTH + 1, limit: PARSER_MAX_DEPTH })
        );
        // Beyond what the parser reads, the message still names the configured limit.
        assert_eq!(
            parse_event(&nested(500), LIMITS, now()).err(),
            Some(EventError::TooDeep { depth: PARSER_MAX_DEPTH + 1, limit: 32 })
        );
        // Within what the parser reads, the first level beyond the limit is named.
        assert_eq!(
            parse_event(&nested(40), LIMITS, now()).err(),
            Some(EventError::TooDeep { depth: 33, limit: 32 })
        );
    }

    #[test]
    fn a_minimal_event_gets_defaults() {
        let e = check(json!({"action": "user.login", "outcome": "success"})).expect("valid");
        assert_eq!(e.fields["severity"], "info");
        assert_eq!(e.fields["time"], "2026-01-02T03:04:05.000000Z");
        assert_eq!(e.time_micros, now().timestamp_micros());
        assert_eq!(e.client_id, None);
    }

    #[test]
    fn times_are_normalized_to_utc() {
        let e = check(json!({"action": "a", "outcome": "success", "time": "2026-01-02T05:04:05+02:00"}))
            .expect("valid");
        assert_eq!(e.fields["time"], "2026-01-02T03:04:05.000000Z");
    }

    #[test]
    fn times_outside_four_digit_years_in_utc_are_refused() {
        // Found with the fuzz targets' check that a stored time is RFC 3339: an offset moved
        // these into year -1 and 10000, stored as "-0001-…" and "+10000-…".
        for t in ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"] {
            let err = check(json!({"action": "a", "outcome": "success", "time": t})).expect_err(t);
            assert_eq!(err.code(), "invalid_field", "{t}");
            assert!(err.to_string().contains("0000-9999"), "{t}: {err}");
        }
        for (t, stored) in [
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000000Z"),
            ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        ] {
            let e = check(json!({"action": "a", "outcome": "success", "time": t})).expect(t);
            assert_eq!(e.fields["time"], stored);
        }
    }

    #[test]
    fn ips_are_canonical() {
        let e = check(json!({"action": "a", "outcome": "success", "ip": "2001:DB8:0:0::1"})).expect("valid");
        assert_eq!(e.fields["ip"], "2001:db8::1");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"outcome": "success"}), "missing_field", "action"),
            (json!({"action": "a"}), "missing_field", "outcome"),
            (json!({"action": "A", "outcome": "success"}), "invalid_field", "action"),
            (json!({"action": "a", "outcome": "maybe"}), "invalid_field", "outcome"),
            (json!({"action": "a", "outcome": "success", "ip": "300.1.1.1"}), "invalid_field", "ip"),
            (json!({"action": "a", "outcome": "success", "time": "yesterday"}), "invalid_field", "time"),
            (json!({"action": "a", "outcome": "success", "user": 5}), "invalid_field", "user"),
            (json!({"action": "a", "outcome": "success", "usr": "x"}), "unknown_field", "usr"),
            (json!({"action": "a", "outcome": "success", "seq": 1}), "reserved_field", "seq"),
            (json!({"action": "a", "outcome": "success", "details": []}), "invalid_field", "details"),
            (
                json!({"action": "a", "outcome": "success", "changes": {"during": {}}}),
                "invalid_field",
                "changes",
            ),
            (json!({"action": "a", "outcome": "success", "severity": "meh"}), "invalid_field", "severity"),
            (
                json!({"action": "a", "outcome": "success", "reason": "x".repeat(1025)}),
                "invalid_field",
                "reason",
            ),
            (json!([1]), "invalid_event", "object"),
        ];
        for (input, code, named) in cases {
            let err = check(input.clone()).expect_err("must be refused");
            assert_eq!(err.code(), code, "{input}");
            assert!(err.to_string().contains(named), "{input}: {err}");
        }
    }

    #[test]
    fn depth_and_size_limits() {
        let mut deep = json!("x");
        for _ in 0..40 {
            deep = json!({ "d": deep });
        }
        let body =
            serde_json::to_vec(&json!({"action": "a", "outcome": "success", "details": deep})).expect("json");
        let err = parse_event(&body, LIMITS, now()).expect_err("too deep");
        assert_eq!(err.code(), "too_deep");

        let big =
            serde_json::to_vec(&json!({"action": "a", "outcome": "success", "reason": "x".repeat(70_000)}))
                .expect("json");
        let err = parse_event(&big, LIMITS, now()).expect_err("too large");
        assert_eq!((err.code(), err.status()), ("event_too_large", 413));

        let err = parse_event(b"{\"action\": ", LIMITS, now()).expect_err("malformed");
        assert_eq!(err.code(), "invalid_json");
    }
}
